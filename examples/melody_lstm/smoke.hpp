#pragma once
// melody_lstm --smoke: a tiny model, a few steps, every subcommand end to end,
// in a few seconds. Each check can fail and names what went wrong:
//   1. train 3 epochs (sequence mode): checkpoint per epoch, held-out NLL
//      below the uniform model's log V;
//   2. stop in the middle of epoch 2, --resume to epoch 3: the weights are
//      bit-identical to those of the uninterrupted run (Adam state, song
//      order, dropout masks and the lanes' carried state all restored);
//   3. window mode (the seed's regime) trains and checkpoints;
//   4. evaluate: LSTM metrics, the n-gram baseline, seed-style accuracy;
//   5. generate and complete write .mid and .krn files that read back;
//   6. bad input is refused: temperature 0, a model of another vocabulary,
//      a file that is not a checkpoint.
// The corpus is the shipped data/ folder when it has training and held-out
// songs, else a tiny one written into the work folder.

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "examples/common/smoke_folder.hpp"
#include "legato/music/corpus.hpp"
#include "legato/music/kern_reader.hpp"
#include "legato/music/song_io.hpp"
#include "legato/util/file.hpp"
#include "legato/util/timer.hpp"

#include "data.hpp"
#include "evaluate.hpp"
#include "generate.hpp"
#include "model.hpp"
#include "train.hpp"

namespace melody_lstm {

struct SmokeOptions {
  std::string work_dir;  // "" = a temporary folder, removed afterwards
  std::string corpus;    // "" or unusable = write a tiny one
};

namespace smoke {

// Writes about 30 short C-major melodies (random walks on the scale) as
// **kern, with names chosen so that a few of them are held out.
inline void write_tiny_corpus(const std::filesystem::path& dir) {
  using namespace legato::music;
  std::filesystem::create_directories(dir);
  legato::Rng rng(2024);
  const int scale[] = {60, 62, 64, 65, 67, 69, 71, 72};
  const double durations[] = {0.5, 1.0, 1.0, 0.5, 2.0, 0.25};
  int held = 0, train = 0;
  for (int i = 0; held < 3 || train < 24; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "tiny%03d.krn", i);
    const bool is_held = is_held_out(name);
    if ((is_held && held >= 3) || (!is_held && train >= 24)) continue;
    (is_held ? held : train)++;
    Melody melody;
    int degree = static_cast<int>(rng.below(5));
    const int notes = 8 + static_cast<int>(rng.below(9));
    for (int n = 0; n < notes; ++n) {
      degree = std::clamp(degree + static_cast<int>(rng.below(5)) - 2, 0, 7);
      melody.push_back({scale[degree], durations[rng.below(6)]});
    }
    melody.push_back({60, 2.0});  // end on the tonic, as folk songs do
    MelodyInfo info;
    info.title = std::string("tiny song ") + std::to_string(i);
    write_melody_kern(dir / name, melody, info);
  }
}

inline bool usable_corpus(const std::string& dir) {
  if (dir.empty()) return false;
  try {
    const MelodyData data = load_melody_data(dir);
    return data.train.size() >= 4 && !data.held_out.empty();
  } catch (const legato::Error&) {
    return false;
  }
}

inline bool same_weights(const MelodyLstm& a, const MelodyLstm& b, std::string& first_difference) {
  const legato::nn::NamedTensors x = a.state_dict(), y = b.state_dict();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::memcmp(x[i].second.data(), y[i].second.data(), sizeof(float) * static_cast<std::size_t>(x[i].second.numel()))) {
      first_difference = x[i].first;
      return false;
    }
  return true;
}

// --device cuda: the GPU's training steps (cuda_step.hpp) against the CPU's,
// from the same initial weights, with dropout off (the two draw different
// masks), two layers, clipping and AdamW: three sequence-mode steps (the
// carried state crosses two chunk boundaries), then one window-mode step.
// Returns the number of checks made; 0 where there is no GPU.
inline int check_cuda_step(const MelodyData& data) {
  try {
    legato::cuda::require_device();
  } catch (const legato::Error& e) {
    // No GPU here: training on one is refused with an error, not run on the CPU.
    TrainOptions opt;
    opt.corpus = "unused";
    opt.out = (std::filesystem::temp_directory_path() / "never_written.safetensors").string();
    opt.epochs = 1;
    opt.device = "cuda";
    opt.quiet = true;
    Hyper h;
    bool refused = false;
    try {
      train(opt, h, {}, &data);
    } catch (const legato::Error& refusal) {
      refused = std::string(refusal.what()).find("cuda") != std::string::npos;
    }
    legato::check(refused, "smoke: FAILED: train --device cuda without a GPU was not refused");
    std::printf("smoke: --device cuda: refused without a GPU (%s); the GPU's step was not compared\n", e.what());
    return 1;
  }
#ifdef LEGATO_CUDA
  Hyper h;
  h.hidden = 24;
  h.layers = 2;
  h.dropout = 0.f;
  h.batch = 4;
  h.seq_len = 16;
  h.clip = 0.5f;
  h.lr = 3e-3f;
  const std::int64_t L = h.layers, B = h.batch, H = h.hidden;
  const std::int32_t slash = data.vocab.delimiter_id();
  MelodyLstm cpu(data.vocab.size(), h), gpu(data.vocab.size(), h);
  cpu.train();
  gpu.train();
  legato::optim::AdamW cpu_adam(cpu.parameters(), h.lr, 0.9f, 0.999f, 1e-7f, h.weight_decay);
  legato::optim::AdamW gpu_adam(gpu.parameters(), h.lr, 0.9f, 0.999f, 1e-7f, h.weight_decay);
  legato::nn::LSTMState cpu_carry{Tensor::zeros({L, B, H}), Tensor::zeros({L, B, H})};
  legato::nn::LSTMState gpu_carry{Tensor::zeros({L, B, H}), Tensor::zeros({L, B, H})};
  ShardedStep cpu_step(cpu, h, 1);
  CudaStep gpu_step(gpu, h, gpu_adam, gpu_carry);
  SequenceBatcher batcher(data.train, cpu.coding(), B, h.seq_len, slash, 1, /*repeat=*/true, 7, 0.0);
  double worst_loss = 0;
  for (std::int64_t step = 0; step < 3; ++step) {
    SequenceBatch batch;
    batcher.next(batch);
    detail::reset_lanes(cpu_carry, batch.reset);
    cpu_adam.zero_grad();
    const double expected = cpu_step.sequence(batch, cpu_carry, step);
    legato::optim::clip_grad_norm(cpu.parameters(), h.clip);
    cpu_adam.step();
    const double got = gpu_step.sequence(batch, step, h.lr);
    worst_loss = std::max(worst_loss, std::fabs(got - expected) / std::fabs(expected));
  }
  gpu_step.download(gpu_adam, gpu_carry);
  // Adam moves every weight by about lr per step whatever the gradient's
  // size, so a wrong gradient shows as a difference of that order; rounding
  // leaves a few thousandths of it.
  const auto largest_difference = [](const std::vector<std::pair<std::string, Tensor>>& a,
                                     const std::vector<std::pair<std::string, Tensor>>& b, std::string& where) {
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
      for (std::int64_t j = 0; j < a[i].second.numel(); ++j) {
        const double d = std::fabs(double(a[i].second.data()[j]) - double(b[i].second.data()[j]));
        if (d > worst) worst = d, where = a[i].first;
      }
    return worst;
  };
  std::string where, carry_where = "h";
  const double weights = largest_difference(cpu.named_parameters(), gpu.named_parameters(), where);
  const double carry = largest_difference({{"h", cpu_carry.h}, {"c", cpu_carry.c}},
                                          {{"h", gpu_carry.h}, {"c", gpu_carry.c}}, carry_where);
  std::printf("smoke: --device cuda, 3 sequence steps: loss differs by %.2e (relative), weights by %.2e (%s), "
              "carried state by %.2e\n", worst_loss, weights, where.c_str(), carry);
  legato::check(worst_loss < 1e-4 && weights < 0.05 * h.lr && carry < 1e-4,
                "smoke: FAILED: the GPU's sequence steps differ from the CPU's (tolerances: loss 1e-4 relative, "
                "weights 0.05 lr, carried state 1e-4)");

  // Window mode: the head and the loss on the last step only, zero state.
  WindowBatcher windows(data.train, cpu.coding(), B, h.seq_len, slash);
  windows.begin_epoch(3);
  WindowBatch wb;
  windows.next(wb);
  cpu_adam.zero_grad();
  const double expected = cpu_step.window(wb, 3);
  legato::optim::clip_grad_norm(cpu.parameters(), h.clip);
  cpu_adam.step();
  const double got = gpu_step.window(wb, 3, h.lr);
  gpu_step.download(gpu_adam, gpu_carry);
  const double window_weights = largest_difference(cpu.named_parameters(), gpu.named_parameters(), where);
  std::printf("smoke: --device cuda, a window step: loss %.6f against %.6f, weights differ by %.2e (%s)\n", got,
              expected, window_weights, where.c_str());
  legato::check(std::fabs(got - expected) < 1e-4 * std::fabs(expected) && window_weights < 0.05 * h.lr,
                "smoke: FAILED: the GPU's window step differs from the CPU's");
  return 2;
#else
  return 0;
#endif
}

template <class F>
bool throws(F&& f) {
  try {
    f();
  } catch (const legato::Error&) {
    return true;
  }
  return false;
}

}  // namespace smoke

inline int run_smoke(const SmokeOptions& o) {
  namespace fs = std::filesystem;
  using legato::check;
  legato::Stopwatch clock;
  const legato::examples::SmokeFolder folder("melody_lstm", o.work_dir);
  const fs::path& dir = folder.path();
  int checks = 0;
  auto ok = [&](bool condition, const std::string& what) {
    check(condition, "smoke: FAILED: ", what);
    ++checks;
  };

  std::string corpus = o.corpus;
  if (!smoke::usable_corpus(corpus)) {
    corpus = (dir / "corpus").string();
    smoke::write_tiny_corpus(corpus);
  }
  const MelodyData data = load_melody_data(corpus);
  std::printf("smoke: corpus %s, %zu training and %zu held-out songs, vocabulary of %d\n", corpus.c_str(),
              data.train.size(), data.held_out.size(), data.vocab.size());

  // 0. the metric and lookback inputs: the input that predicts step t of a
  // song carries that step's place in the bar (a step right after a barline
  // is 0), the bar's and the beat's lengths, and the tokens 1, 2, 4 and 8
  // bars before step t.
  {
    const SongIds& song = data.train.front();
    const std::int32_t V = data.vocab.size();
    const InputCoding coding = InputCoding::named("tokens+meter+lookback", V);
    const std::int64_t T = 64, K = coding.ids_per_step();
    SequenceBatcher one(data.train, coding, 1, T, data.vocab.delimiter_id(), 1, /*repeat=*/false, 0);
    SequenceBatch batch;
    one.next(batch);
    bool aligned = batch.inputs.shape == legato::Shape{T, 1, K} && K == 4 + std::int64_t(kLookbackBars.size());
    int bar_starts = 0, lookbacks = 0;
    for (std::int64_t t = 0; t < T && t < std::int64_t(song.ids.size()); ++t) {
      const legato::music::StepMeter& m = song.meter[static_cast<std::size_t>(t)];
      const std::int32_t token = t ? song.ids[static_cast<std::size_t>(t - 1)] : data.vocab.delimiter_id();
      const int position = m.position >= 0 && m.position < kPositionIds - 1 ? m.position : kPositionIds - 1;
      const std::int32_t* in = batch.inputs.values.data() + t * K;
      aligned = aligned && batch.targets.values[static_cast<std::size_t>(t)] == song.ids[static_cast<std::size_t>(t)] &&
                in[0] == token && in[1] == V + position && in[2] == V + kPositionIds + m.bar_steps &&
                in[3] == V + kPositionIds + kBarLengthIds + m.beat_steps;
      for (std::size_t n = 0; n < kLookbackBars.size(); ++n) {
        const std::int64_t back = t - std::int64_t(kLookbackBars[n]) * m.bar_steps;
        const std::int32_t expected = back >= 0 ? song.ids[static_cast<std::size_t>(back)] : V;
        aligned = aligned && in[4 + n] == coding.lookback_base() + std::int32_t(n) * (V + 1) + expected;
        lookbacks += back >= 0;
      }
      bar_starts += m.position == 0;
    }
    ok(aligned && bar_starts > 0 && lookbacks > 0 && song.meter.front().bar_steps > 0,
       "the input predicting each step carries that step's position in the bar, the bar's and the beat's lengths "
       "and the tokens 1, 2, 4 and 8 bars before it");
  }
  // A window of the seed's regime starts its lookback at its own start: the
  // step a bar after step 16 of the first song, read by a window that starts
  // at the song or at the step's input token, sees the token one bar back
  // only in the first case.
  {
    const SongIds& song = data.train.front();
    const std::int32_t V = data.vocab.size();
    const InputCoding coding = InputCoding::named("tokens+meter+lookback", V);
    const DelimitedStream stream = delimited_stream(data.train, data.vocab.delimiter_id());
    const std::size_t next = 16 + static_cast<std::size_t>(song.meter[16].bar_steps), i = next - 1;
    std::vector<std::int32_t> whole(static_cast<std::size_t>(coding.ids_per_step())), late(whole.size());
    stream.write_input(coding, i, 0, whole.data());
    stream.write_input(coding, i, i, late.data());
    const std::int32_t one_bar = coding.lookback_base();  // the first lookback's range
    const int bar = song.meter[next].bar_steps;
    const std::size_t first_lookback = 4;  // after the token, the position, the bar and the beat
    ok(song.ids.size() > next && bar >= 2 && std::size_t(bar) <= next &&
           whole[first_lookback] == one_bar + song.ids[next - std::size_t(bar)] && late[first_lookback] == one_bar + V &&
           whole[0] == late[0] && whole[1] == late[1],
       "a window's lookback inputs see nothing before the window's start");
  }
  // The repeat inputs: the longest earlier run of the newest tokens, the most
  // recent of equal ones, capped at kRepeatCap, and only among known tokens.
  {
    const std::int32_t a[] = {5, 6, 7, 5, 6}, b[] = {1, 2, 1, 3, 1};
    const std::vector<std::int32_t> held(2 * kRepeatCap, 4);
    const Repeat found = longest_repeat(SongContext{a, 5, 0});  // "5 6" ends at 1 too, and 7 followed it
    const Repeat cut = longest_repeat(SongContext{a, 5, 2});    // only "7 5 6" known: no repeat
    const Repeat recent = longest_repeat(SongContext{b, 5, 0});  // "1" ends at 2 and at 0; 3 followed the later
    const Repeat capped = longest_repeat(SongContext{held.data(), static_cast<std::int64_t>(held.size()), 0});
    const Repeat first = longest_repeat(SongContext{a, 1, 0});  // one token: nothing earlier
    ok(found.next == 7 && found.length == 2 && cut.next == -1 && cut.length == 0 && recent.next == 3 &&
           recent.length == 1 && capped.next == 4 && capped.length == kRepeatCap && first.next == -1,
       "longest_repeat finds the longest, most recent earlier run of the newest tokens and the token after it");

    const SongIds& song = data.train.front();
    const std::int32_t V = data.vocab.size();
    const InputCoding coding = InputCoding::named("tokens+meter+lookback+repeat", V);
    const DelimitedStream stream = delimited_stream(data.train, data.vocab.delimiter_id());
    const std::int64_t K = coding.ids_per_step();
    const std::int32_t next_base = coding.lookback_base() + std::int32_t(kLookbackBars.size()) * (V + 1);
    const std::int32_t length_base = next_base + V + 1;
    bool matches = K == 10 && coding.input_size() == length_base + kRepeatLengthIds;
    int repeats = 0;
    for (std::size_t next = 1; next < song.ids.size(); ++next) {
      std::vector<std::int32_t> whole(static_cast<std::size_t>(K)), late(whole.size());
      stream.write_input(coding, next - 1, 0, whole.data());
      stream.write_input(coding, next - 1, next - 1, late.data());  // a window that starts at the input token
      const Repeat r = longest_repeat(SongContext{song.ids.data(), static_cast<std::int64_t>(next), 0});
      std::int32_t length_id = 0;
      for (std::int64_t l = r.length; l > 0; l >>= 1) ++length_id;
      matches = matches && whole[8] == next_base + (r.next >= 0 ? r.next : V) && whole[9] == length_base + length_id &&
                late[8] == next_base + V && late[9] == length_base;
      repeats += r.next >= 0;
    }
    ok(matches && repeats > 0,
       "the repeat inputs carry the token after the longest repeat and its length class, and a window's see nothing "
       "before the window's start");
  }
  // Mid-song starts: a lane that starts inside a song reads it from the zero
  // state, its inputs see nothing before its first token, every step it
  // reads has a target, and the song's end is not one of them.
  {
    const std::int32_t V = data.vocab.size(), slash = data.vocab.delimiter_id();
    const InputCoding coding = InputCoding::named("tokens+meter+lookback+repeat", V);
    const std::int64_t K = coding.ids_per_step(), T = 4096;  // longer than any song: one chunk per song
    const std::int32_t no_repeat = static_cast<std::int32_t>(coding.input_size()) - kRepeatLengthIds - 1;
    SequenceBatcher lanes(data.train, coding, 1, T, slash, 1, /*repeat=*/true, 3, /*mid_song_starts=*/0.5);
    int mid = 0, whole = 0;
    bool right = true;
    for (int song = 0; song < 20; ++song) {
      SequenceBatch batch;
      lanes.next(batch);
      std::int64_t read = 0;  // the targets come first, then padding
      while (read < T && batch.targets.values[static_cast<std::size_t>(read)] != kIgnore) ++read;
      std::int64_t padding = 0;
      for (std::int64_t t = read; t < T; ++t) padding += batch.targets.values[static_cast<std::size_t>(t)] == kIgnore;
      const std::int32_t* first = batch.inputs.values.data();
      const bool starts_inside = first[0] != slash;
      right = right && batch.reset[0] == 1 && read > 0 && read == batch.target_count && padding == T - read &&
              (batch.targets.values[static_cast<std::size_t>(read - 1)] == slash) == !starts_inside;
      if (!starts_inside) {
        ++whole;
        continue;
      }
      ++mid;
      for (std::size_t n = 0; n < kLookbackBars.size(); ++n)
        right = right && first[4 + n] == coding.lookback_base() + std::int32_t(n) * (V + 1) + V;
      right = right && first[K - 2] == no_repeat && first[K - 1] == no_repeat + 1;
    }
    ok(right && mid > 0 && whole > 0,
       "a mid-song start reads from the zero state, sees nothing before its first token and has no end target");
  }

  Hyper h;
  h.hidden = 32;
  h.batch = 4;
  h.seq_len = 16;
  h.lr = 1e-2f;
  h.seed = 7;  // the default cosine schedule: over the 3 epochs, so the resumed run must restore it too
  TrainOptions t;
  t.corpus = corpus;
  t.quiet = true;
  t.final_extras = false;
  t.threads = legato::num_threads();

  // 1. three epochs in one go
  t.out = (dir / "model.safetensors").string();
  t.epochs = 3;
  const TrainResult full = train(t, h);
  ok(full.history.size() == 3 && full.progress.epochs_done == 3, "3 epochs recorded");
  const double uniform = std::log(double(data.vocab.size()));
  ok(full.held_out.nll() < uniform, legato::detail::concat("held-out NLL ", full.held_out.nll(),
                                                             " is below the uniform model's ", uniform));
  std::printf("smoke: trained 3 epochs (%lld steps): held-out %s\n", static_cast<long long>(full.steps),
              format_metrics(full.held_out).c_str());

  // 2. stop in the middle of epoch 2, then resume to epoch 3
  t.out = (dir / "resumed.safetensors").string();
  const std::int64_t per_epoch = full.steps / 3;
  t.stop_after_steps = per_epoch + std::max<std::int64_t>(1, per_epoch / 2);
  const TrainResult part = train(t, h);
  ok(part.progress.epochs_done == 1 && part.progress.step_in_epoch > 0, "the interrupted run stopped inside epoch 2");
  t.stop_after_steps = 0;
  t.resume = true;
  const TrainResult rest = train(t, Hyper{}, {});
  t.resume = false;
  ok(rest.progress.epochs_done == 3 && rest.progress.global_step == full.progress.global_step,
     "the resumed run finished epoch 3 with the same number of steps");
  {
    const LoadedModel a = load_model(dir / "model.safetensors"), b = load_model(t.out);
    std::string difference;
    ok(smoke::same_weights(*a.model, *b.model, difference),
       "resumed weights equal the uninterrupted run's (first difference: " + difference + ")");
  }
  std::printf("smoke: stopped after %lld steps and resumed: weights bit-identical to the uninterrupted run\n",
              static_cast<long long>(part.steps));
  {  // a finished cosine run resumed with more epochs: the decay is replanned, so epoch 4 still learns
    TrainOptions more = t;
    more.out = (dir / "extended.safetensors").string();
    std::filesystem::copy_file(dir / "model.safetensors", more.out, std::filesystem::copy_options::overwrite_existing);
    more.resume = true;
    more.epochs = 4;
    const std::int64_t planned_3 = load_model(more.out).progress.planned_steps;  // 3 x the steps an epoch plans
    const TrainResult r = train(more, Hyper{}, {});
    ok(r.progress.epochs_done == 4 && r.progress.planned_steps == planned_3 / 3 * 4,
       legato::detail::concat("resuming a 3-epoch cosine run with --epochs 4 plans the decay over 4 epochs (",
                              r.progress.epochs_done, " epochs done, ", r.progress.planned_steps,
                              " steps planned, 3 epochs planned ", planned_3, ")"));
    const LoadedModel a = load_model(dir / "model.safetensors"), b = load_model(more.out);
    std::string difference;
    ok(!smoke::same_weights(*a.model, *b.model, difference), "the fourth epoch changed the weights (the rate was not 0)");
    // Resumed without --epochs (nor --time-budget): to the end of its own plan, here already reached.
    std::filesystem::copy_file(dir / "model.safetensors", more.out, std::filesystem::copy_options::overwrite_existing);
    more.epochs = 0;
    const TrainResult same = train(more, Hyper{}, {});
    ok(same.progress.epochs_done == 3 && same.progress.planned_steps == planned_3,
       "a finished run resumed without --epochs keeps its plan and trains no further");
  }
  {  // the weight decay (AdamW) is part of the checkpoint, and a resume keeps it
    ok(load_model(t.out).hyper.weight_decay == h.weight_decay, "the weight decay is saved in the checkpoint");
    Hyper other = h;
    other.weight_decay = h.weight_decay + 0.5f;
    t.resume = true;
    ok(smoke::throws([&] { train(t, other, {"weight-decay"}); }), "resuming with another --weight-decay is refused");
    ok(load_model(t.out).hyper.mid_song_starts == h.mid_song_starts && h.mid_song_starts > 0,
       "the share of mid-song starts is saved in the checkpoint");
    other = h;
    other.mid_song_starts = 0.f;
    ok(smoke::throws([&] { train(t, other, {"mid-song-starts"}); }), "resuming with another --mid-song-starts is refused");
    t.resume = false;
  }

  // 2b. --precision bf16 (where the CPU has it): the same run in bf16 products
  if (legato::bf16_supported()) {
    TrainOptions tp = t;
    tp.out = (dir / "bf16.safetensors").string();
    tp.epochs = 3;
    tp.precision = legato::MatmulPrecision::bf16;
    const TrainResult r = train(tp, h);
    const LoadedModel a = load_model(dir / "model.safetensors"), b = load_model(tp.out);
    std::string difference;
    ok(!smoke::same_weights(*a.model, *b.model, difference), "bf16 training really ran in bf16 (weights differ)");
    ok(std::fabs(r.held_out.nll() - full.held_out.nll()) < 0.1 * full.held_out.nll(),
       legato::detail::concat("bf16 training reaches held-out NLL ", r.held_out.nll(), ", within 10% of fp32's ",
                              full.held_out.nll()));
    ok(legato::matmul_precision() == legato::MatmulPrecision::fp32, "the precision is fp32 again after training");
    std::printf("smoke: bf16 training: held-out NLL %.6f (fp32: %.6f)\n", r.held_out.nll(), full.held_out.nll());
  }

  // 3. the seed's window regime
  {
    Hyper w = Hyper::window_defaults();
    w.hidden = h.hidden;
    w.seed = h.seed;
    w.seq_len = 32;
    w.batch = 16;
    TrainOptions tw = t;
    tw.out = (dir / "window.safetensors").string();
    tw.epochs = 1;
    tw.stop_after_steps = 10;
    const TrainResult r = train(tw, w);
    const LoadedModel m = load_model(tw.out);
    ok(r.steps == 10 && m.hyper.mode == "window" && m.hyper.start_symbols() == 64, "window mode trains and saves");
    ok(std::isfinite(r.held_out.nll()), "window mode evaluates");
  }

  // 3b. --best-out: a validation slice held back, the best epoch kept
  {
    TrainOptions tb = t;
    tb.out = (dir / "last.safetensors").string();
    tb.best_out = (dir / "best.safetensors").string();
    tb.epochs = 3;
    const TrainResult r = train(tb, h);
    double lowest = INFINITY;
    std::int64_t lowest_epoch = 0;
    for (const EpochRecord& e : r.history)
      if (e.validation_nll < lowest) lowest = e.validation_nll, lowest_epoch = e.epoch;
    ok(r.validation_songs > 0 && r.training_songs + r.validation_songs == data.train.size(),
       "--best-out holds back validation songs from the training songs");
    ok(r.progress.best_epoch == lowest_epoch && r.progress.best_validation_nll == lowest,
       "--best-out keeps the epoch with the lowest validation NLL");
    const LoadedModel best = load_model(tb.best_out);
    ok(best.progress.epochs_done == lowest_epoch && std::fabs(best.progress.best_validation_nll - lowest) < 1e-6 * lowest,
       "the --best-out file is that epoch's model (its metadata keeps 9 digits)");
    tb.resume = true;
    tb.best_out.clear();
    ok(smoke::throws([&] { train(tb, Hyper{}, {}); }), "resuming without the --best-out of the first run is refused");
  }

  // 3c. --patience: the run stops at the first epoch that ends `patience`
  // epochs after the best one. A high rate makes the tiny model over-fit
  // within a few epochs, so the stop is exercised; resuming a stopped run
  // trains no more.
  {
    TrainOptions tp = t;
    tp.out = (dir / "patience.safetensors").string();
    tp.best_out = (dir / "patience_best.safetensors").string();
    tp.epochs = 24;  // data/ stops within about 5; the tiny written corpus (no data/) needs longer to over-fit
    tp.patience = 2;
    Hyper hp = h;
    hp.lr = 0.05f;
    hp.schedule = "constant";
    const TrainResult r = train(tp, hp);
    std::int64_t expected_stop = tp.epochs, best_epoch = 0;
    double best = INFINITY;
    for (const EpochRecord& e : r.history) {
      if (e.validation_nll < best) best = e.validation_nll, best_epoch = e.epoch;
      if (e.epoch - best_epoch >= tp.patience) {
        expected_stop = e.epoch;
        break;
      }
    }
    ok(r.progress.epochs_done == expected_stop && r.stopped_early == (expected_stop < tp.epochs) &&
           r.progress.best_epoch == best_epoch,
       "--patience 2 stops two epochs after the best validation NLL (stopped after " +
           std::to_string(r.progress.epochs_done) + " of " + std::to_string(tp.epochs) + " epochs, best " +
           std::to_string(best_epoch) + ")");
    ok(r.stopped_early, "--patience is exercised: the high-rate run stops before its " + std::to_string(tp.epochs) +
                            " epochs (stopped after " + std::to_string(r.progress.epochs_done) + ")");
    TrainOptions again = tp;
    again.resume = true;
    const TrainResult resumed = train(again, hp);
    ok(resumed.steps == 0 && resumed.progress.epochs_done == r.progress.epochs_done,
       "resuming a run that --patience stopped trains no more epochs");
    TrainOptions bad = tp;
    bad.best_out.clear();
    ok(smoke::throws([&] { train(bad, hp); }), "--patience without --best-out is refused");
  }

  // 4. evaluate
  LoadedModel model = load_model(dir / "model.safetensors");
  const EvaluationReport report = evaluate_model(*model.model, model.hyper, data, t.threads);
  ok(std::fabs(report.lstm.nll() - full.held_out.nll()) < 1e-9, "evaluate reproduces train's held-out NLL");
  ok(report.ngram.order >= 1 && std::isfinite(report.ngram.metrics.nll()), "the n-gram baseline is computed");
  ok(report.seed_style.accuracy >= 0 && report.seed_style.accuracy <= 1 && report.seed_style.windows > 0,
     "seed-style accuracy is computed");
  if (legato::bf16_supported()) {
    const auto& g = report.generation;
    ok(g && g->targets == report.lstm.targets && std::fabs(g->nll_bf16 - g->nll_fp32) < 0.01 && g->kl < 1e-3 &&
           g->top_agreement > 0.95,
       "the generation step in bf16 predicts as fp32 does (NLL within 0.01, KL < 1e-3, same top token > 95%)");
    ok(g && std::fabs(g->nll_fp32 - report.lstm.nll()) < 1e-5,
       "the generator, fed token by token with each step's place in the bar, scores the held-out songs as "
       "evaluation's batches do (NLL within 1e-5)");
  }
  {  // where generate and complete put each step in the bar (MelodyMeter)
    using legato::music::StepMeter;
    MelodyMeter waltz = MelodyMeter::of(legato::music::parse_meter("3/4"), legato::music::Rational(1));
    ok(waltz.at(0) == StepMeter{8, 12, 4} && waltz.at(3) == StepMeter{11, 12, 4} && waltz.at(4) == StepMeter{0, 12, 4},
       "generate --meter 3/4 --pickup 1: step 0 is 8 16ths into a 12-step bar of 4-step beats, step 4 starts the next bar");
    const MelodyMeter jig = MelodyMeter::of(legato::music::parse_meter("6/8"), legato::music::Rational(0));
    ok(jig.at(13) == StepMeter{1, 12, 6}, "generate --meter 6/8: the bar of 3/4, in beats of a dotted quarter");
    MelodyMeter primer = waltz;  // a 2/4 primer of 3 steps; the step after it is at 5 of 8
    primer.seed = {{2, 8, 4}, {3, 8, 4}, {4, 8, 4}, {5, 8, 4}};
    ok(primer.at(2) == StepMeter{4, 8, 4} && primer.at(3) == StepMeter{5, 8, 4} && primer.at(4) == StepMeter{6, 8, 4} &&
           primer.at(6) == StepMeter{0, 8, 4},
       "complete: the primer's own places, then counting on in its bar");
    MelodyMeter unknown = waltz;  // a primer without barlines or meter: the output meter from step 0
    unknown.seed = {{-1, 0, 0}, {-1, 0, 0}};
    ok(unknown.at(1) == StepMeter{-1, 0, 0} && unknown.at(2) == StepMeter{10, 12, 4},
       "complete with a primer of no known meter counts in the output meter from the primer's start");
    ok(waltz.bar_end(1) == 16 && waltz.bar_end(2) == 28 && jig.bar_end(1) == 12 && jig.bar_end(3) == 36 &&
           primer.bar_end(1) == 14,
       "--bars counts bars from the first full one: the barline that closes an upbeat (3/4 after one quarter, the "
       "primer's 2/4 from 2 16ths in) ends no bar");
  }
  print_evaluation(report, stdout);

  // 5. generate and complete
  GenerateRequest g;
  g.out_dir = (dir / "melodies").string();
  g.count = 2;
  g.sample.max_steps = 48;
  g.seed = {data.vocab.token(data.train[0].ids[0])};  // a token this vocabulary has
  const GenerateReport gen = generate_melodies(model, g);
  ok(gen.samples.size() == 2 && gen.microseconds_per_token > 0, "generate draws 2 melodies and times them");
  for (const std::string& file : gen.files) {
    ok(fs::file_size(file) > 0, file + " is written");
    if (fs::path(file).extension() == ".krn") ok(legato::music::read_kern_file(file).note_count() > 0, file + " reads back");
  }
  {  // a melody that draws no end within --max-steps ends at its likeliest end
    GenerateRequest short_run = g;
    short_run.out_dir = (dir / "melodies_short").string();
    short_run.count = 3;
    short_run.sample.max_steps = 12;
    short_run.print = false;
    const GenerateReport cut_back = generate_melodies(model, short_run);
    short_run.sample.cut_at_max_steps = true;
    const GenerateReport cut = generate_melodies(model, short_run);
    const legato::music::MelodyOutput output = short_run.output.over({});
    const MelodyMeter meter = MelodyMeter::of(output.meter, output.pickup);
    const std::int32_t slash = model.vocab.delimiter_id();
    int checked = 0;
    for (std::size_t i = 0; i < cut_back.samples.size(); ++i) {
      const Sample& s = cut_back.samples[i];
      if (!s.ended_at_likeliest) continue;
      // Read the uncut melody again: P("/") after each prefix with a drawn
      // token is at most the one reported, and it is reached at the cut.
      const std::vector<std::string>& whole = cut.samples[i].tokens;
      Generator replay(*model.model, slash, short_run.sample.precision);
      replay.start(model.hyper.start_symbols(), meter.at(0));
      double highest = -1;
      std::size_t at = 0;
      for (std::size_t t = 0; t < whole.size(); ++t) {
        replay.feed(*model.vocab.find(whole[t]), meter.at(t + 1));
        if (t + 1 <= g.seed.size()) continue;
        const double p = token_probability(replay.logits(), replay.vocab_size(), slash);
        if (p >= highest) highest = p, at = t + 1;
      }
      ok(!cut.samples[i].ended && whole.size() == g.seed.size() + 12 && s.tokens.size() == at &&
             std::equal(s.tokens.begin(), s.tokens.end(), whole.begin()) && s.end_probability == highest,
         "a melody without an end is cut back to where P(end) was highest (" + std::to_string(at) + " of " +
             std::to_string(whole.size()) + " steps, P = " + std::to_string(highest) + ")");
      ++checked;
    }
    ok(checked > 0, "--max-steps 12 leaves a melody without a drawn end, so the cut back is exercised");
  }
  {  // --bars MIN:MAX: every melody ends from the end of bar MIN to the end of bar MAX
    GenerateRequest bounded = g;
    bounded.out_dir = (dir / "melodies_bars").string();
    bounded.count = 4;
    bounded.sample.max_steps = 500;
    bounded.print = false;
    bounded.sample.min_bars = 2, bounded.sample.max_bars = 3;  // 4/4: 32..48 steps
    const GenerateReport range = generate_melodies(model, bounded);
    bounded.sample.max_bars = 2;  // exactly 2 bars
    const GenerateReport exact = generate_melodies(model, bounded);
    bool in_range = range.samples.size() == 4 && exact.samples.size() == 4;
    for (const Sample& s : range.samples)
      in_range = in_range && s.tokens.size() >= 32 && s.tokens.size() <= 48 && s.tries >= 1 && s.tries <= kBarsTries;
    for (const Sample& s : exact.samples) in_range = in_range && s.tokens.size() == 32;
    ok(in_range, "--bars 2:3 gives melodies of 32 to 48 steps in 4/4, --bars 2 of 32");
    bounded.sample.max_bars = 1;  // a seed longer than the bound fails before anything is written
    bounded.seed.assign(17, g.seed.front());
    bounded.out_dir = (dir / "melodies_bars_refused").string();
    ok(smoke::throws([&] { generate_melodies(model, bounded); }) && !fs::exists(bounded.out_dir),
       "--bars 1 with a seed of 17 steps is refused, and no folder is made");
  }
  const std::string primer = legato::music::list_kern_files(corpus).front().string();
  const GenerateReport comp = complete_melody(model, read_primer(primer, 16), g);
  ok(comp.samples.size() == 2 && fs::exists(fs::path(g.out_dir) / "primer.mid"), "complete continues a primer");
  if (legato::bf16_supported()) {  // --precision bf16: the LSTM step in bf16 products
    GenerateRequest in_bf16 = g;
    in_bf16.out_dir = (dir / "melodies_bf16").string();
    in_bf16.sample.precision = legato::MatmulPrecision::bf16;
    const GenerateReport b = generate_melodies(model, in_bf16);
    ok(b.samples.size() == 2 && b.files.size() == gen.files.size(), "generate --precision bf16 draws and writes 2 melodies");
  }

  // 5b. how the files are written: --transpose, --bpm, --meter, and complete
  // writing back in the primer's key, tempo and meter.
  {
    using namespace legato::music;
    auto pitches = [](const Song& song) {
      std::vector<int> out;
      for (const Event& e : song.events)
        if (e.is_note() && !e.tie_in) out.push_back(e.pitch);
      return out;
    };
    GenerateRequest moved = g;
    moved.count = 1;
    moved.out_dir = (dir / "moved").string();
    moved.output.transpose = 2;
    moved.output.tempo_qpm = 90;
    generate_melodies(model, moved);
    const Song plain = read_kern_file((fs::path(g.out_dir) / "melody_01.krn").string());
    const Song up = read_kern_file((fs::path(moved.out_dir) / "melody_01.krn").string());
    std::vector<int> expected = pitches(plain);
    for (int& p : expected) p += 2;
    ok(pitches(up) == expected, "--transpose 2 moves every note of the same draw up 2 semitones");
    // The model reads the meter (--inputs tokens+meter[+lookback]): the same draw in 3/4 is another melody.
    GenerateRequest in_3_4 = moved;
    in_3_4.out_dir = (dir / "in_3_4").string();
    in_3_4.output.meter = parse_meter("3/4");
    const GenerateReport three = generate_melodies(model, in_3_4);
    const Song waltz = read_kern_file((fs::path(in_3_4.out_dir) / "melody_01.krn").string());
    ok(waltz.tempo_qpm == 90 && waltz.header_meter() && waltz.header_meter()->numerator == 3 &&
           waltz.header_meter()->denominator == 4,
       "--bpm 90 --meter 3/4 are written into the .krn");
    ok(three.samples.size() == 1, "generate --meter 3/4 draws the melody asked for");
    GenerateRequest in_6_8 = in_3_4;  // the same bar of 12 16ths, beaten in two dotted quarters
    in_6_8.out_dir = (dir / "in_6_8").string();
    in_6_8.output.meter = parse_meter("6/8");
    generate_melodies(model, in_6_8);
    // The bar's and the beat's lengths reach the network: the first step's
    // scores differ. (Compared as scores, not draws: this tiny corpus has few
    // songs in some meters, weight decay shrinks their columns, and a sampler
    // may then draw the same melody.)
    Generator step(*model.model, model.vocab.delimiter_id());
    step.start(1, StepMeter{0, 16, 4});
    const std::vector<float> in_4_4(step.logits(), step.logits() + step.vocab_size());
    step.start(1, StepMeter{0, 12, 4});
    const std::vector<float> in_3_4_scores(step.logits(), step.logits() + step.vocab_size());
    ok(model.hyper.metric_inputs() && in_4_4 != in_3_4_scores,
       "a model with the metric inputs scores the first step of 3/4 otherwise than that of 4/4");
    step.start(1, StepMeter{0, 12, 6});
    ok(!std::equal(in_3_4_scores.begin(), in_3_4_scores.end(), step.logits()),
       "and it scores the first step of 6/8 otherwise than that of 3/4 (it reads the beat's length, not only the bar's)");

    // A G-major primer in 3/4 at 84 qpm with a one-beat upbeat: D5 | G4 A4 B4 |
    // C5 D5 B4 | G4 (G4 A4 B4 C5 D5 are C4 D4 E4 F4 G4 once in C).
    const fs::path primer_g = dir / "primer_g.krn";
    legato::write_file_atomically(primer_g.string(),
                                  "!!!OTL: G major primer\n**kern\n*M3/4\n*MM84\n*k[f#]\n*G:\n4dd\n=1\n4g\n4a\n4b\n=2\n4cc\n"
                                  "4dd\n4b\n=3\n2.g\n==\n*-\n");
    GenerateRequest back = g;
    back.count = 1;
    back.out_dir = (dir / "in_g").string();
    complete_melody(model, read_primer(primer_g.string(), 24), back);
    const Song primer_out = read_kern_file((fs::path(back.out_dir) / "primer.krn").string());
    const Song completion = read_kern_file((fs::path(back.out_dir) / "completion_01.krn").string());
    std::vector<int> original = pitches(read_kern_file(primer_g.string()));
    original.resize(6);  // 24 steps: the first six quarter notes
    const std::vector<int> written = pitches(primer_out), continued = pitches(completion);
    ok(written == original, "complete writes the primer's first 24 steps back in G major, note for note");
    ok(continued.size() >= original.size() && std::equal(original.begin(), original.end(), continued.begin()),
       "the completion starts with the primer in its own key");
    ok(completion.tempo_qpm == 84 && completion.header_meter() && completion.header_meter()->numerator == 3,
       "the completion keeps the primer's tempo and meter");
    ok(primer_out.header_key() && primer_out.header_key()->key == (Key{7, Mode::major}),
       "the written primer is designated G major (the key of its notes)");
    ok(pickup_of(primer_out) == Rational(1) && pickup_of(completion) == Rational(1),
       "the primer's one-beat upbeat is kept: the bars fall where the primer's do");
    {  // the model reads the primer in its own bars, unless --meter / --pickup say where they fall
      const Primer p = read_primer(primer_g.string(), 24);
      MelodyMeter own = MelodyMeter::of(*p.meter, p.pickup);
      own.seed = primer_reading(p, back.output);
      legato::examples::OutputFlags downbeat;
      downbeat.pickup = Rational(0);
      MelodyMeter moved = MelodyMeter::of(*p.meter, Rational(0));
      moved.seed = primer_reading(p, downbeat);
      ok(own.at(0) == StepMeter{8, 12, 4} && own.at(4) == StepMeter{0, 12, 4} && moved.seed.empty() &&
             moved.at(0) == StepMeter{0, 12, 4} && moved.at(4) == StepMeter{4, 12, 4},
         "complete reads the primer's upbeat from its barlines, and from --pickup when given (--pickup 0: no upbeat)");
    }
    // --transpose counts from the primer's key: +2 writes it in A major.
    GenerateRequest in_a_major = back;
    in_a_major.out_dir = (dir / "in_a").string();
    in_a_major.output.transpose = 2;
    in_a_major.output.meter = parse_meter("3/4");  // the primer's own meter: the upbeat stays
    complete_melody(model, read_primer(primer_g.string(), 24), in_a_major);
    const Song primer_a = read_kern_file((fs::path(in_a_major.out_dir) / "primer.krn").string());
    std::vector<int> in_a = original;
    for (int& p : in_a) p += 2;
    ok(pitches(primer_a) == in_a && primer_a.header_key() && primer_a.header_key()->key == (Key{9, Mode::major}) &&
           pickup_of(primer_a) == Rational(1),
       "complete --transpose 2 writes the G-major primer in A major, upbeat kept");
  }

  // 6. bad input
  GenerateRequest cold = g;
  cold.sample.temperature = 0;
  ok(smoke::throws([&] { generate_melodies(model, cold); }), "temperature 0 is refused");
  const Vocabulary other = Vocabulary::from_tokens({"_", "r", "40", "41"});
  ok(smoke::throws([&] { require_same_vocabulary(model.vocab, "model", other, "other"); }),
     "another vocabulary is refused");
  legato::write_file_atomically((dir / "not_a_model.safetensors").string(), "not a checkpoint");
  ok(smoke::throws([&] { load_model((dir / "not_a_model.safetensors").string()); }), "a non-checkpoint is refused");
  {  // a format-3 checkpoint whose meter_beat is neither 0 nor 1, or missing
    legato::SafetensorsFile f = legato::load_safetensors((dir / "model.safetensors").string());
    f.metadata["meter_beat"] = "yes";
    const std::string odd = (dir / "odd_beat.safetensors").string();
    legato::save_safetensors(odd, f.tensors, f.metadata);
    f.metadata.erase("meter_beat");
    const std::string none = (dir / "no_beat.safetensors").string();
    legato::save_safetensors(none, f.tensors, f.metadata);
    auto refused_naming = [](const std::string& path) {
      try {
        load_model(path);
      } catch (const legato::Error& e) {
        return std::string(e.what()).find("meter_beat") != std::string::npos;
      }
      return false;
    };
    ok(refused_naming(odd) && refused_naming(none), "a checkpoint with a bad or missing meter_beat is refused, naming it");
  }

  // 7. the GPU's training step (skipped without one)
  checks += smoke::check_cuda_step(data);

  std::printf("melody_lstm smoke: ok (%d checks) in %.1f s\n", checks, clock.seconds());
  return 0;
}

}  // namespace melody_lstm

#pragma once
// melody_lstm training loop: sequence mode (truncated BPTT over whole songs,
// the default) or window mode (the seed's regime), Adam, a checkpoint after
// every epoch and at the end, --resume, a time budget, metrics after every
// epoch and a final evaluation (held-out metrics, n-gram baseline,
// seed-style accuracy) written to --metrics-json.
//
// Determinism: the song order of epoch e, the dropout masks of step s and the
// initial weights each come from their own generator seeded by (--seed, e or
// s), and the checkpoint keeps the Adam state and the lanes' carried LSTM
// state. So a run stopped and resumed at any step (same thread count) gives
// the same weights as an uninterrupted one; the smoke test checks this. (A
// run whose cosine schedule follows --time-budget decays the rate by the
// clock, so only its step-bounded parts are reproducible bit for bit.)

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "examples/common/metrics_file.hpp"
#include "legato/ops/loss.hpp"
#include "legato/optim/adam.hpp"
#include "legato/cuda/device.hpp"
#include "legato/optim/clip.hpp"
#include "legato/util/file.hpp"
#include "legato/util/progress.hpp"
#include "legato/util/threads.hpp"
#include "legato/util/timer.hpp"

#include "data.hpp"
#include "evaluate.hpp"
#include "model.hpp"
#include "legato/ops/bf16.hpp"
#include "parallel.hpp"
#include "cuda_step.hpp"

namespace melody_lstm {

using legato::examples::load_average;
using legato::examples::write_metrics_json;

struct TrainOptions {
  std::string corpus;
  std::string out;                // the checkpoint, written after every epoch and at the end
  std::int64_t epochs = 0;        // stop after this many epochs in all (0: no limit)
  double time_budget = 0;         // seconds for this run's training loop (0: no limit)
  std::string metrics_json;       // "" = none
  bool resume = false;            // continue from `out`
  bool final_extras = true;       // n-gram baseline and seed-style accuracy after training
  bool quiet = false;             // no per-epoch lines or progress bar (the smoke test)
  std::int64_t stop_after_steps = 0;  // stop after this many steps of this run, as if out of time (tests)
  int threads = 1;
  std::string parallel = "lanes";  // lanes: a replica per thread (parallel.hpp) | units: the kernels split H
  std::string best_out;  // "" = none; else hold back a validation slice and keep the best model here
  std::int64_t patience = 0;  // with best_out: stop once this many epochs in a row bring no better validation NLL (0: never)
  // Training steps' recurrent GEMMs in bf16 products (legato/ops/bf16.hpp);
  // evaluation always runs in fp32 (generation has its own --precision).
  legato::MatmulPrecision precision = legato::MatmulPrecision::fp32;
  // Where the training steps run: "cpu", or "cuda" (cuda_step.hpp). The
  // evaluations run on the CPU either way.
  std::string device = "cpu";
};

struct EpochRecord {
  std::int64_t epoch = 0;
  double seconds = 0;      // loop time when the epoch ended
  double train_loss = 0;   // mean over the epoch's steps
  Metrics held_out;
  double validation_nll = NAN;  // with --best-out
};

struct TrainResult {
  Hyper hyper;  // as used (a resumed run takes the checkpoint's)
  Progress progress;
  Metrics held_out;
  std::optional<NGramResult> ngram;
  std::optional<SeedStyleResult> seed_style;
  std::vector<EpochRecord> history;
  double step_seconds = 0;       // time inside training steps only (no evaluation, no checkpoint)
  std::int64_t steps = 0;        // optimiser steps in this run
  std::int64_t lane_steps = 0;   // T·B per step (window mode: T·B too), summed
  std::int64_t targets = 0;      // targets that counted in the loss
  double last_loss = NAN;
  std::size_t training_songs = 0, validation_songs = 0;
  bool stopped_early = false;  // --patience ended the run before its epochs or time budget
};

inline std::string format_metrics(const Metrics& m) {
  char text[200];
  std::snprintf(text, sizeof text, "NLL %.4f nats/step (%.4f bits, perplexity %.3f), accuracy %.4f, non-hold %.4f",
                m.nll(), m.bits(), m.perplexity(), m.accuracy(), m.accuracy_nonhold());
  return text;
}

namespace detail {

// The learning rate of step `step`. Cosine decays from --lr to 0 over the
// planned steps (--epochs) or, without --epochs, over the time budget
// (time_fraction = seconds so far / budget): a timed run ends at lr 0
// whatever the machine's speed.
inline float learning_rate(const Hyper& h, const Progress& p, std::int64_t step, double time_fraction) {
  if (h.schedule != "cosine") return h.lr;
  const double progress =
      std::clamp(p.planned_steps > 0 ? double(step) / double(p.planned_steps) : time_fraction, 0.0, 1.0);
  return static_cast<float>(h.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
}

// Zeroes the carried state of the lanes that start a new song.
inline void reset_lanes(legato::nn::LSTMState& state, const std::vector<char>& reset) {
  const std::int64_t L = state.h.size(0), B = state.h.size(1), H = state.h.size(2);
  for (std::int64_t b = 0; b < B; ++b)
    if (reset[static_cast<std::size_t>(b)])
      for (Tensor* s : {&state.h, &state.c})
        for (std::int64_t l = 0; l < L; ++l) std::fill_n(s->data() + (l * B + b) * H, H, 0.f);
}

}  // namespace detail

// --best-out: the training songs of the n-gram's tuning slice (about 10 %;
// every 10th song on a corpus too small for it) become a validation set that
// is never trained on. After every epoch the model with the lowest validation
// NLL so far is written to the --best-out file, so a long run keeps the model
// from before it over-fits (docs/results.md). The held-out songs stay out of
// every choice and only report.
inline void split_validation(const std::vector<SongIds>& songs, std::vector<SongIds>& training,
                             std::vector<SongIds>& validation) {
  for (const SongIds& s : songs) (in_tuning_slice(s.name) ? validation : training).push_back(s);
  if (!validation.empty() && !training.empty()) return;
  training.clear();
  validation.clear();
  for (std::size_t i = 0; i < songs.size(); ++i) (i % 10 == 0 ? validation : training).push_back(songs[i]);
}

// Every option of a training run that can be refused without reading the
// corpus; `train` runs it first, and the command before its banner. The
// outputs are written after minutes of training, so their folders are checked
// here.
inline void check_train_options(const TrainOptions& opt) {
  using legato::check;
  check(!opt.out.empty(), "train: --out MODEL.safetensors is required");
  check(opt.stop_after_steps >= 0, "--steps must be >= 0, got ", opt.stop_after_steps);
  check(opt.epochs >= 0, "--epochs must be >= 0, got ", opt.epochs);
  check(std::isfinite(opt.time_budget) && opt.time_budget >= 0,
        "--time-budget must be a finite number of seconds >= 0, got ", opt.time_budget);
  check(opt.parallel == "lanes" || opt.parallel == "units", "--parallel must be 'lanes' or 'units', got '",
        opt.parallel, "'");
  check(opt.patience >= 0, "--patience must be >= 0, got ", opt.patience);
  check(opt.patience == 0 || !opt.best_out.empty(), "--patience needs --best-out (it watches the validation NLL)");
  check(opt.device == "cpu" || opt.device == "cuda", "--device must be 'cpu' or 'cuda', got '", opt.device, "'");
  check(opt.device == "cpu" || opt.precision == legato::MatmulPrecision::fp32,
        "--precision bf16 is for the CPU; --device cuda trains in fp32");
  legato::check_output_file(opt.out, "out");
  legato::check_output_file(opt.best_out, "best-out");
  legato::check_output_file(opt.metrics_json, "metrics-json");
  legato::check_distinct_outputs({{"out", opt.out}, {"best-out", opt.best_out}, {"metrics-json", opt.metrics_json}});
}

// With --resume, the hyperparameter flags the user typed (`given`) must
// agree with the checkpoint's: a resumed run keeps the checkpoint's.
inline void check_resume_flags(const Hyper& h, const Hyper& saved, const std::vector<std::string>& given,
                               const std::string& path) {
  for (const std::string& flag : given) {
    const auto differs = [&]() {
      if (flag == "hidden") return h.hidden != saved.hidden;
      if (flag == "layers") return h.layers != saved.layers;
      if (flag == "dropout") return h.dropout != saved.dropout;
      if (flag == "batch") return h.batch != saved.batch;
      if (flag == "seq-len") return h.seq_len != saved.seq_len;
      if (flag == "lr") return h.lr != saved.lr;
      if (flag == "schedule") return h.schedule != saved.schedule;
      if (flag == "clip") return h.clip != saved.clip;
      if (flag == "weight-decay") return h.weight_decay != saved.weight_decay;
      if (flag == "mid-song-starts") return h.mid_song_starts != saved.mid_song_starts;
      if (flag == "mode") return h.mode != saved.mode;
      if (flag == "inputs") return h.inputs != saved.inputs;
      if (flag == "seed") return h.seed != saved.seed;
      return false;
    }();
    legato::check(!differs, "--resume: --", flag, " differs from the value saved in '", path,
                  "'; a resumed run keeps the checkpoint's hyperparameters");
  }
}

// `given` lists the hyperparameter flags the user typed: with --resume they
// must agree with the checkpoint's.
// `preloaded` is the corpus already read from opt.corpus, if the caller has it.
inline TrainResult train(const TrainOptions& opt, Hyper h, const std::vector<std::string>& given = {},
                         const MelodyData* preloaded = nullptr) {
  using legato::check;
  h.validate();
  check_train_options(opt);
  const int lane_threads = opt.parallel == "lanes" ? std::max(1, opt.threads) : 1;
  require_precision(opt.precision);
  std::optional<MelodyData> own;
  if (!preloaded) own = load_melody_data(opt.corpus);
  const MelodyData& data = preloaded ? *preloaded : *own;
  const std::int32_t slash = data.vocab.delimiter_id();
  const bool keep_best = !opt.best_out.empty();
  std::vector<SongIds> kept_for_training, validation_songs;
  if (keep_best) split_validation(data.train, kept_for_training, validation_songs);
  const std::vector<SongIds>& training_songs = keep_best ? kept_for_training : data.train;
  check(!training_songs.empty() && (!keep_best || !validation_songs.empty()),
        "--best-out: too few training songs to hold back a validation set (", data.train.size(), ")");
  if (!opt.quiet) {
    std::fprintf(stderr, "%s", data.report.substr(0, data.report.find('\n') + 1).c_str());
    std::fprintf(stderr, "vocabulary: %d tokens [%s]; %zu training songs (%lld tokens), %zu held out (%lld tokens)\n",
                 data.vocab.size(), data.vocab.to_string().c_str(), data.train.size(),
                 static_cast<long long>(data.train_tokens()), data.held_out.size(),
                 static_cast<long long>(data.held_out_tokens()));
    if (data.held_out.empty())
      std::fprintf(stderr, "note: no song of this corpus is held out (FNV-1a(name) %% 10 == 0), so there are no "
                           "held-out metrics: they print as nan and are null in --metrics-json\n");
  }

  // ---- the model, the optimiser, and where we start ----
  std::unique_ptr<MelodyLstm> model;
  Progress progress;
  legato::nn::LSTMState carry;
  std::optional<LoadedModel> loaded;
  if (opt.resume) {
    loaded = load_model(opt.out);
    require_same_vocabulary(loaded->vocab, opt.out, data.vocab, opt.corpus);
    const Hyper& saved = loaded->hyper;
    check_resume_flags(h, saved, given, opt.out);
    h = saved;
    model = std::move(loaded->model);
    progress = loaded->progress;
    check(progress.validation_split == keep_best, "--resume: '", opt.out, "' was trained ",
          progress.validation_split ? "with" : "without", " --best-out; resume it the same way");
  } else {
    model = std::make_unique<MelodyLstm>(data.vocab.size(), h);
    progress.validation_split = keep_best;
  }
  model->train();
  // Keras's eps (the seed's); with --weight-decay, AdamW's decoupled decay.
  std::unique_ptr<legato::optim::Adam> optimizer =
      h.weight_decay > 0 ? std::make_unique<legato::optim::AdamW>(model->parameters(), h.lr, 0.9f, 0.999f, 1e-7f,
                                                                  h.weight_decay)
                         : std::make_unique<legato::optim::Adam>(model->parameters(), h.lr, 0.9f, 0.999f, 1e-7f);
  legato::optim::Adam& adam = *optimizer;
  const std::int64_t L = h.layers, B = h.batch, H = h.hidden, T = h.seq_len;
  carry = {Tensor::zeros({L, B, H}), Tensor::zeros({L, B, H})};
  if (loaded) {
    legato::StateDict optim_state;
    for (auto& [name, t] : loaded->file.tensors)
      if (name.rfind("optim.", 0) == 0) optim_state.emplace_back(name.substr(6), t);
    if (!optim_state.empty()) adam.load_state(optim_state);
    if (const Tensor* ch = loaded->file.find("train.carry_h")) {
      const Tensor* cc = loaded->file.find("train.carry_c");
      check(cc && ch->shape() == carry.h.shape() && cc->shape() == carry.c.shape(), "'", opt.out,
            "': the saved lane state does not match (layers, batch, hidden) = ", legato::shape_str(carry.h.shape()));
      carry = {ch->clone(), cc->clone()};
    }
  }

  ShardedStep stepper(*model, h, lane_threads);
  const bool window = h.mode == "window";
  // --device cuda: the steps run on the GPU, which keeps the weights, Adam's
  // state and the carried state. gpu_step() runs a whole step there (forward,
  // backward, clipping, Adam) and returns its loss, or nothing when training
  // on the CPU; to_host() brings the state back before an evaluation or a
  // checkpoint.
#ifdef LEGATO_CUDA
  std::unique_ptr<CudaStep> gpu;
  if (opt.device == "cuda") gpu = std::make_unique<CudaStep>(*model, h, adam, carry);
  const auto gpu_step = [&](const SequenceBatch& s, const WindowBatch& w) -> std::optional<double> {
    if (!gpu) return std::nullopt;
    return window ? gpu->window(w, progress.global_step, adam.lr())
                  : gpu->sequence(s, progress.global_step, adam.lr());
  };
  const auto to_host = [&] {
    if (gpu) gpu->download(adam, carry);
  };
#else
  if (opt.device == "cuda") legato::cuda::require_device();  // throws: this build has no CUDA
  const auto gpu_step = [](const SequenceBatch&, const WindowBatch&) -> std::optional<double> { return std::nullopt; };
  const auto to_host = [] {};
#endif
  const std::int64_t songs = static_cast<std::int64_t>(training_songs.size());
  SequenceBatcher seq_batcher(training_songs, model->coding(), B, T, slash, 1, /*repeat=*/true,
                              derived_seed(h.seed, 4, 0) | 1, window ? 0.0 : h.mid_song_starts);
  std::optional<WindowBatcher> win_batcher;
  if (window) win_batcher.emplace(training_songs, model->coding(), B, T, slash);
  if (!window && !progress.lanes.empty()) {
    try {
      seq_batcher.load_state(progress.lanes);
    } catch (const legato::Error& e) {  // a damaged file, or another corpus of the same vocabulary
      legato::fail("--resume: '", opt.out, "': its song positions do not fit corpus '", opt.corpus, "': ", e.what());
    }
  }
  const std::int64_t steps_per_epoch = window ? win_batcher->steps_per_epoch() : seq_batcher.steps_per_pass();
  // The run's length in epochs (0: the time budget's). A resumed run given
  // neither --epochs nor --time-budget continues to the end of its own plan.
  std::int64_t epochs = opt.epochs;
  if (opt.resume && epochs == 0 && opt.time_budget <= 0)
    epochs = progress.planned_steps > 0
                 ? std::max<std::int64_t>(1, progress.planned_steps / std::max<std::int64_t>(1, steps_per_epoch))
                 : 10;
  if (h.schedule == "cosine" && progress.planned_steps == 0) {
    check(epochs > 0 || opt.time_budget > 0, "--schedule cosine needs --epochs N or --time-budget S (the length of "
          "the decay)");
    if (epochs > 0) progress.planned_steps = epochs * steps_per_epoch;
  } else if (h.schedule == "cosine" && progress.planned_steps != epochs * steps_per_epoch) {
    // A resumed run of another length: the decay is replanned to end with it,
    // over the epochs asked for or, with only --time-budget, over the budget
    // (planned_steps 0). Kept, the rate would be 0 past the old plan's end.
    if (!opt.quiet)
      std::fprintf(stderr, "note: the cosine decay of '%s' was planned over %lld steps; it now ends %s\n",
                   opt.out.c_str(), static_cast<long long>(progress.planned_steps),
                   epochs > 0 ? legato::detail::concat("after ", epochs, " epochs").c_str() : "with the time budget");
    progress.planned_steps = epochs * steps_per_epoch;
  }
  if (!opt.quiet)
    std::fprintf(stderr,
                 "model: LSTM(V=%d, inputs %s, H=%lld, layers=%lld) + dropout %.2f + Linear, %lld parameters; mode %s, "
                 "batch %lld, seq-len %lld, lr %g (%s), weight decay %g, mid-song starts %g, %s products, about %lld "
                 "steps per epoch%s\n",
                 data.vocab.size(), h.inputs.c_str(), static_cast<long long>(H), static_cast<long long>(L), h.dropout,
                 static_cast<long long>(model->parameter_count()), h.mode.c_str(), static_cast<long long>(B),
                 static_cast<long long>(T), h.lr, h.schedule.c_str(), h.weight_decay, h.mid_song_starts,
                 legato::precision_name(opt.precision),
                 static_cast<long long>(steps_per_epoch),
                 opt.resume ? legato::detail::concat(", resuming after ", progress.epochs_done, " epochs + ",
                                                     progress.step_in_epoch, " steps").c_str()
                            : "");

  auto save = [&]() {
    if (!window) progress.lanes = seq_batcher.save_state();
    save_checkpoint(opt.out, *model, h, data.vocab, progress, opt.corpus,
                    {&adam, window ? Tensor() : carry.h, window ? Tensor() : carry.c});
  };

  TrainResult result;
  legato::Stopwatch loop_clock;
  const double seconds_before = progress.train_seconds;
  bool out_of_time = false;
  const auto time_left = [&] { return opt.time_budget <= 0 || loop_clock.seconds() < opt.time_budget; };
  // Early stopping (--patience): the best model is already in --best-out, and
  // later epochs only over-fit further (docs/results.md). Tested before every
  // epoch, so a resumed run that had already stopped trains no more.
  const auto out_of_patience = [&] {
    return opt.patience > 0 && progress.best_epoch > 0 && progress.epochs_done - progress.best_epoch >= opt.patience;
  };
  while ((epochs == 0 || progress.epochs_done < epochs) && !out_of_time && !out_of_patience()) {
    const std::int64_t epoch = progress.epochs_done;
    if (window) {  // sequence mode needs no set-up: its lanes run on from song to song
      win_batcher->begin_epoch(derived_seed(h.seed, 4, static_cast<std::uint64_t>(epoch)));
      win_batcher->skip(progress.step_in_epoch);
    }
    legato::ProgressBar bar("epoch " + std::to_string(epoch + 1), steps_per_epoch);
    double loss_sum = 0;
    std::int64_t loss_steps = 0;
    SequenceBatch sb;
    WindowBatch wb;
    for (;;) {
      if (!time_left() || (opt.stop_after_steps > 0 && result.steps >= opt.stop_after_steps)) {
        out_of_time = true;
        break;
      }
      if (window ? !win_batcher->next(wb) : !seq_batcher.next(sb)) break;
      legato::Stopwatch step_clock;
      const legato::MatmulPrecisionScope step_precision(opt.precision);  // this step only
      adam.set_lr(detail::learning_rate(h, progress, progress.global_step,
                                        opt.time_budget > 0 ? loop_clock.seconds() / opt.time_budget : 0.0));
      adam.zero_grad();
      double value;  // the mean loss over the step's targets
      if (const std::optional<double> on_gpu = gpu_step(sb, wb)) {
        value = *on_gpu;
      } else {
        if (window) {
          value = stepper.window(wb, progress.global_step);
        } else {
          detail::reset_lanes(carry, sb.reset);
          value = stepper.sequence(sb, carry, progress.global_step);  // carry: the state after the chunk, detached
        }
        if (h.clip > 0) legato::optim::clip_grad_norm(model->parameters(), h.clip);
        adam.step();
      }
      result.targets += window ? wb.targets.shape[0] : sb.target_count;
      result.lane_steps += T * (window ? wb.targets.shape[0] : B);
      result.step_seconds += step_clock.seconds();
      ++result.steps;
      ++progress.global_step;
      ++progress.step_in_epoch;
      check(std::isfinite(value), "train: the loss became ", value, " at step ", progress.global_step,
            " (try a lower --lr or --clip 5)");
      loss_sum += value;
      ++loss_steps;
      result.last_loss = value;
      if (!opt.quiet) {
        char extra[160];
        std::snprintf(extra, sizeof extra, "loss %.4f  %.1f steps/s  %.0f timesteps/s", loss_sum / double(loss_steps),
                      double(result.steps) / result.step_seconds, double(result.lane_steps) / result.step_seconds);
        bar.update(std::min(progress.step_in_epoch, steps_per_epoch), extra);
      }
      // An epoch of sequence mode is over once every song of its pass has been handed out.
      if (!window && seq_batcher.songs_started() >= (epoch + 1) * songs) break;
    }
    if (!opt.quiet) bar.finish();
    if (out_of_time) break;
    to_host();
    ++progress.epochs_done;
    progress.step_in_epoch = 0;
    EpochRecord record;
    record.epoch = progress.epochs_done;
    record.train_loss = loss_steps ? loss_sum / double(loss_steps) : NAN;
    record.held_out = held_out_metrics(*model, data.held_out, data.vocab, h.start_symbols(), lane_threads);
    record.seconds = seconds_before + loop_clock.seconds();
    progress.train_seconds = record.seconds;
    bool best = false;
    if (keep_best) {
      record.validation_nll =
          held_out_metrics(*model, validation_songs, data.vocab, h.start_symbols(), lane_threads).nll();
      best = std::isfinite(record.validation_nll) &&
             !(record.validation_nll >= progress.best_validation_nll);  // true while the best is NaN (none yet)
      if (best) {
        progress.best_validation_nll = record.validation_nll;
        progress.best_epoch = progress.epochs_done;
        save_checkpoint(opt.best_out, *model, h, data.vocab, progress, opt.corpus);
      }
    }
    save();
    result.history.push_back(record);
    if (!opt.quiet)
      std::fprintf(stderr, "epoch %lld  %.1fs  train loss %.4f  %sheld-out %s\n", static_cast<long long>(record.epoch),
                   record.seconds, record.train_loss,
                   keep_best ? legato::detail::concat("validation NLL ", record.validation_nll, best ? " (best)  " : "  ")
                                   .c_str()
                             : "",
                   format_metrics(record.held_out).c_str());
  }
  if (out_of_patience()) {
    result.stopped_early = epochs == 0 || progress.epochs_done < epochs;
    if (!opt.quiet && result.stopped_early)
      std::fprintf(stderr, "no better validation NLL in the %lld epochs since epoch %lld: stopping (--patience %lld)\n",
                   static_cast<long long>(progress.epochs_done - progress.best_epoch),
                   static_cast<long long>(progress.best_epoch), static_cast<long long>(opt.patience));
  }
  progress.train_seconds = seconds_before + loop_clock.seconds();
  to_host();
  save();  // the end (possibly in the middle of an epoch)
  if (!opt.quiet)
    std::fprintf(stderr, "trained %lld steps in %.1f s (%.1f s inside steps), %lld epochs + %lld steps in all; saved %s\n",
                 static_cast<long long>(result.steps), loop_clock.seconds(), result.step_seconds,
                 static_cast<long long>(progress.epochs_done), static_cast<long long>(progress.step_in_epoch),
                 opt.out.c_str());

  // ---- the final evaluation (after the time budget) ----
  result.progress = progress;
  result.hyper = h;
  result.training_songs = training_songs.size();
  result.validation_songs = validation_songs.size();
  if (keep_best && !opt.quiet)
    std::fprintf(stderr, "best model: epoch %lld, validation NLL %.4f (%zu validation songs), in %s\n",
                 static_cast<long long>(progress.best_epoch), progress.best_validation_nll, validation_songs.size(),
                 progress.best_epoch > 0 ? opt.best_out.c_str() : "(no epoch completed: not written)");
  result.held_out = held_out_metrics(*model, data.held_out, data.vocab, h.start_symbols(), lane_threads);
  if (opt.final_extras && !data.held_out.empty()) {
    result.ngram = ngram_baseline(data);
    result.seed_style = seed_style_accuracy(*model, data.held_out, data.vocab, window, lane_threads);
  }
  return result;
}

// The --metrics-json object.
inline nlohmann::ordered_json metrics_json(const TrainResult& r, const Hyper& h, const TrainOptions& opt,
                                           double load_start) {
  nlohmann::ordered_json j;
  const Metrics& m = r.held_out;
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
  j["val_nll_nats"] = number(m.nll());
  j["val_nll_bits"] = number(m.bits());
  j["val_perplexity"] = number(m.perplexity());
  j["val_accuracy"] = number(m.accuracy());
  j["val_accuracy_nonhold"] = number(m.accuracy_nonhold());
  j["val_targets"] = m.targets;
  j["train_seconds"] = r.progress.train_seconds;
  j["step_seconds"] = r.step_seconds;
  j["epochs"] = r.progress.epochs_done;
  j["steps_in_last_epoch"] = r.progress.step_in_epoch;
  j["global_steps"] = r.progress.global_step;
  j["timesteps_per_second"] = r.step_seconds > 0 ? double(r.lane_steps) / r.step_seconds : 0.0;
  j["targets_per_second"] = r.step_seconds > 0 ? double(r.targets) / r.step_seconds : 0.0;
  j["threads"] = opt.threads;
  j["parallel"] = opt.parallel;
  j["precision"] = legato::precision_name(opt.precision);
  j["device"] = opt.device;
  j["peak_rss_mb"] = legato::peak_rss_mb();
  if (r.ngram) {
    j["ngram_nll_nats"] = number(r.ngram->metrics.nll());
    j["ngram_order"] = r.ngram->order;
    j["ngram_accuracy"] = number(r.ngram->metrics.accuracy());
    j["improvement_over_ngram"] = number(1.0 - m.nll() / r.ngram->metrics.nll());
  }
  if (r.seed_style) {
    j["seed_style_accuracy"] = number(r.seed_style->accuracy);
    j["seed_style_windows"] = r.seed_style->windows;
  }
  j["final_train_loss"] = number(r.last_loss);
  j["training_songs"] = r.training_songs;
  if (!opt.best_out.empty()) {
    j["validation_songs"] = r.validation_songs;
    j["best_out"] = opt.best_out;
    j["best_epoch"] = r.progress.best_epoch;
    j["best_validation_nll"] = number(r.progress.best_validation_nll);
    j["patience"] = opt.patience;
    j["stopped_early"] = r.stopped_early;
  }
  j["mode"] = h.mode;
  j["hidden"] = h.hidden;
  j["layers"] = h.layers;
  auto shortest = [](float v) { return std::stod(legato::detail::concat(v)); };  // 0.003, not 0.0030000000261
  j["dropout"] = shortest(h.dropout);
  j["batch"] = h.batch;
  j["seq_len"] = h.seq_len;
  j["lr"] = shortest(h.lr);
  j["schedule"] = h.schedule;
  j["weight_decay"] = shortest(h.weight_decay);
  j["mid_song_starts"] = shortest(h.mid_song_starts);
  j["inputs"] = h.inputs;
  j["seed"] = h.seed;
  j["corpus"] = opt.corpus;
  j["time_budget"] = opt.time_budget;
  j["load_average_start"] = number(load_start);
  j["load_average_end"] = number(load_average());
  nlohmann::ordered_json history = nlohmann::ordered_json::array();
  for (const EpochRecord& e : r.history)
    history.push_back({{"epoch", e.epoch},
                       {"seconds", e.seconds},
                       {"train_loss", number(e.train_loss)},
                       {"val_nll_nats", number(e.held_out.nll())},
                       {"val_accuracy", number(e.held_out.accuracy())},
                       {"val_accuracy_nonhold", number(e.held_out.accuracy_nonhold())},
                       {"validation_nll_nats", number(e.validation_nll)}});
  j["history"] = history;
  return j;
}

}  // namespace melody_lstm

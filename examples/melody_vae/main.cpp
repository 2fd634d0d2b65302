// melody_vae: the seed's second-generation VAEs, rebuilt faithfully
// (`--arch seed-notes`, `--arch seed-rhythm`), and the VAE its report meant:
// the correct reparameterisation and a categorical output per position for
// pitch and duration, either with one latent code for the whole 100-event
// melody (`--arch mlp`) or, the default, with convolutional bodies, a latent
// column per 4 events, a code for the whole melody and a length head
// (`--arch conv`, sequence_vae.hpp; docs/results_vae.md says why).
//
//   melody_vae train --corpus /data/esac/han --out vae.safetensors
//   melody_vae evaluate --model vae.safetensors --corpus /data/esac/han
//   melody_vae generate --model vae.safetensors --count 8 --out-dir out/vae
//   melody_vae generate --model vae.safetensors --from han0001.krn --variation 0.5 --out-dir out/vae
//   melody_vae generate --model vae.safetensors --interpolate a.krn b.krn --steps 8 --out-dir out/vae
//   melody_vae train --arch seed-notes --corpus ... --out notes.safetensors     (the seed's vae_model.pth)
//   melody_vae train --arch seed-rhythm --corpus ... --out rhythm.safetensors   (vae_model_durations.pth)
//   melody_vae evaluate --model notes.safetensors --rhythm-model rhythm.safetensors --corpus ...
//   melody_vae --smoke
//
// Songs go through the shared pipeline (music/corpus.hpp: filtered, in C
// major / A minor, FNV-1a split) and the seed's E-2SEQ encoding (100 events).
// Training never sees the held-out songs; `evaluate` and the end of `train`
// report on them.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// matmul.hpp first: it must be the first to include Eigen, to silence GCC 12's
// false AVX-512 warnings (see there); example_main.hpp would include it bare.
#include "legato/ops/matmul.hpp"
// (keep the line above first)
#include "../common/example_main.hpp"
#include "../common/output_flags.hpp"
#include "legato/autograd.hpp"
#include "legato/optim/adam.hpp"
#include "legato/optim/clip.hpp"
#include "legato/util/file.hpp"
#include "legato/util/progress.hpp"
#include "legato/util/timer.hpp"
#include "vae_eval.hpp"
#include "vae_model.hpp"

using legato::examples::answered_help;

namespace {

using namespace legato;
using namespace melody_vae;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kProgram = "melody_vae";
constexpr std::uint64_t kEvalSeed = 20250429;  // the draws of "sampled z" in every evaluation

// ------------------------------------------------------------- helpers ----

void write_json(const std::string& path, const json& j) {
  if (path.empty()) return;
  write_file_atomically(path, j.dump(2) + "\n");
  std::fprintf(stderr, "metrics written to %s\n", path.c_str());
}

// The 1-minute load average, to record how busy the shared machine was.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

// See melody_random: --threads is declared first so that the build banner
// (printed by examples::setup_threads) comes only after the flags passed.
void declare_threads(CommandLine& cli) {
  cli.integer("threads", init_threads_from_env(), "worker threads for OpenMP and Eigen");
}

// An integer flag stored as an int: a value beyond int would wrap when cast
// (and might then pass ModelConfig::validate), so it is refused here.
int int_flag(CommandLine& cli, const std::string& name, int fallback, const std::string& help) {
  const long v = cli.integer(name, fallback, help);
  check(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(), "--", name, " = ", v,
        " is out of range");
  return int(v);
}

std::vector<const VaeSong*> pointers(const std::vector<VaeSong>& songs) {
  std::vector<const VaeSong*> out;
  for (const VaeSong& s : songs) out.push_back(&s);
  return out;
}

std::string text(double x) { return legato::detail::concat(x); }

// What a set of melodies looks like, to tell music from noise: events, rests,
// notes inside the C-major / A-minor scale (the corpus is transposed there),
// and the mean size of the step between consecutive notes in semitones.
struct MelodyStats {
  long melodies = 0, events = 0, rests = 0, notes = 0, in_scale = 0, steps = 0;
  double step_sum = 0;

  void add(const music::Melody& m) {
    ++melodies;
    int previous = -1;
    for (const music::MelodyNote& n : m) {
      ++events;
      if (n.pitch == music::kRest) {
        ++rests;
        continue;
      }
      ++notes;
      const int pc = n.pitch % 12;
      in_scale += pc == 0 || pc == 2 || pc == 4 || pc == 5 || pc == 7 || pc == 9 || pc == 11;
      if (previous >= 0) {
        step_sum += std::abs(n.pitch - previous);
        ++steps;
      }
      previous = n.pitch;
    }
  }
  json to_json() const {
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    return {{"melodies", melodies},
            {"events_per_melody", ratio(double(events), double(melodies))},
            {"rest_share", ratio(double(rests), double(events))},
            {"in_scale_share", ratio(double(in_scale), double(notes))},
            {"mean_step_semitones", ratio(step_sum, double(steps))}};
  }
  std::string line() const {
    const json j = to_json();
    char b[200];
    std::snprintf(b, sizeof b, "%ld melodies, %.1f events each, rests %.1f%%, notes in the C-major scale %.1f%%, "
                  "mean step %.2f semitones", melodies, j["events_per_melody"].get<double>(),
                  100 * j["rest_share"].get<double>(), 100 * j["in_scale_share"].get<double>(),
                  j["mean_step_semitones"].get<double>());
    return b;
  }
};

// ------------------------------------------------------------- training ----

struct TrainRun {
  std::string corpus, out, metrics;
  long limit = 0, eval_every = 1;
  double time_budget = 0;  // seconds; 0 = none
};

// What every training loop reports per epoch and at the end.
struct TrainLog {
  std::vector<double> epoch_loss;  // per arch: see below
  json epochs = json::array();
  long epochs_done = 0;
  double seconds = 0;

  void end_epoch(long epoch, double loss, json row, std::string line, Model& model,
                 const std::vector<const VaeSong*>& held_out, const TrainRun& run, ProgressBar& bar);
};

// The end of an epoch, for every arch: the log row, the held-out evaluation
// every `eval_every` epochs and after the last, and the printed line.
void TrainLog::end_epoch(long epoch, double loss, json row, std::string line, Model& model,
                         const std::vector<const VaeSong*>& held_out, const TrainRun& run, ProgressBar& bar) {
  epoch_loss.push_back(loss);
  epochs_done = epoch;
  if (!held_out.empty() && (epoch % run.eval_every == 0 || epoch == model.config.epochs)) {
    const Evaluation e = evaluate_model(model, held_out, kEvalSeed);
    row["held_out"] = e.json();
    line += "  held-out: " + e.brief();
  }
  epochs.push_back(std::move(row));
  bar.finish();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Stops before an epoch that would overrun the budget (by the last epoch's time).
bool out_of_time(const TrainRun& run, const Stopwatch& clock, double last_epoch_seconds) {
  return run.time_budget > 0 && clock.seconds() + last_epoch_seconds > run.time_budget;
}

// The seed's loop (spec §5): contiguous batches in dataset order, no shuffle,
// the last partial batch kept, loss = sum squared error + KL per batch, and the
// printed epoch loss = sum of batch losses / (N // batch).
TrainLog train_seed(Model& model, const VaeCorpus& data, const TrainRun& run) {
  const ModelConfig& c = model.config;
  const auto train = pointers(data.train);
  const auto held_out = pointers(data.held_out);
  const std::size_t N = train.size(), B = std::size_t(c.batch);
  const std::size_t batches = (N + B - 1) / B;
  optim::Adam opt(model.module().parameters(), float(c.lr), 0.9f, 0.999f, 1e-8f, float(c.weight_decay));
  Rng rng(c.seed ^ 0x5eedULL);
  TrainLog log;
  Stopwatch clock;
  ProgressBar bar("train " + arch_name(c.arch), c.epochs * long(batches));
  double last_epoch = 0;
  for (long epoch = 1; epoch <= c.epochs; ++epoch) {
    if (out_of_time(run, clock, last_epoch)) {
      std::fprintf(stderr, "\ntime budget of %.0f s reached after %ld epochs\n", run.time_budget, epoch - 1);
      break;
    }
    const double start = clock.seconds();
    double total = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const std::size_t begin = b * B, end = std::min(N, begin + B);
      Tensor x = seed_batch(c.arch, train, begin, end);  // (n 100, 1)
      const SeedVae::Pass pass = model.seed->forward(x, rng, 1.f);
      auto [squared, kl] = SeedVae::loss_terms(pass, x);
      Tensor loss = c.kl_weight == 1.0 ? add(squared, kl) : add(squared, mul(kl, float(c.kl_weight)));
      opt.zero_grad();
      loss.backward();
      if (c.clip > 0) optim::clip_grad_norm(opt.params(), float(c.clip));
      opt.step();
      total += loss.item();
      bar.update((epoch - 1) * long(batches) + long(b) + 1,
                 legato::detail::concat("epoch ", epoch, "/", c.epochs, " batch loss ", loss.item()));
    }
    last_epoch = clock.seconds() - start;
    const double epoch_loss = total / double(std::max<std::size_t>(1, N / B));
    json row = {{"epoch", epoch}, {"loss", epoch_loss}, {"seconds", clock.seconds()}};
    std::string line = legato::detail::concat("epoch ", epoch, ": seed-style loss ", epoch_loss, " (", last_epoch, " s)");
    log.end_epoch(epoch, epoch_loss, std::move(row), line, model, held_out, run, bar);
  }
  log.seconds = clock.seconds();
  return log;
}

// A random variant of a training song (vae_data.hpp `augmented`): a later
// start, and a transposition that keeps every note inside the vocabulary.
VaeSong augment(const VaeSong& s, const ModelConfig& c, Rng& rng) {
  const std::size_t n = s.whole.events;
  const std::size_t shift = rng.below(std::min<std::size_t>(std::size_t(c.augment_shift), n / 2) + 1);
  int lowest = 1000, highest = -1000;
  for (std::size_t i = shift; i < n && i < shift + std::size_t(kTwoSeqLength); ++i)
    if (s.whole.notes[i] != music::kTwoSeqRest) {
      lowest = std::min(lowest, s.whole.notes[i]);
      highest = std::max(highest, s.whole.notes[i]);
    }
  std::vector<int> moves;
  for (int t = -c.augment_transpose; t <= c.augment_transpose; ++t)
    if (lowest > highest || (lowest + t >= c.vocab.low && highest + t <= c.vocab.high)) moves.push_back(t);
  const int t = moves.empty() ? 0 : moves[rng.below(moves.size())];
  return augmented(s, shift, t, c.vocab);
}

// The default: shuffled batches, loss per song = cross-entropies summed over
// the 100 positions + beta KL, beta ramped linearly from 0 over `warmup`
// epochs (if any). The logged epoch loss is the mean over songs of
// reconstruction + KL, i.e. the negative ELBO at beta = 1.
TrainLog train_sequence_vae(Model& model, const VaeCorpus& data, const TrainRun& run) {
  const ModelConfig& c = model.config;
  SequenceVae& vae = *model.sequence;
  auto train = pointers(data.train);
  const auto held_out = pointers(data.held_out);
  const std::size_t N = train.size(), B = std::size_t(c.batch);
  const std::size_t batches = (N + B - 1) / B;
  optim::Adam opt(model.module().parameters(), float(c.lr), 0.9f, 0.999f, 1e-8f, float(c.weight_decay));
  Rng rng(c.seed ^ 0x5eedULL), shuffle(c.seed ^ 0x5a1dULL);
  TrainLog log;
  Stopwatch clock;
  ProgressBar bar("train " + arch_name(c.arch), c.epochs * long(batches));
  double last_epoch = 0;
  vae.train();
  for (long epoch = 1; epoch <= c.epochs; ++epoch) {
    if (out_of_time(run, clock, last_epoch)) {
      std::fprintf(stderr, "\ntime budget of %.0f s reached after %ld epochs\n", run.time_budget, epoch - 1);
      break;
    }
    const double start = clock.seconds();
    for (std::size_t i = N; i > 1; --i) std::swap(train[i - 1], train[shuffle.below(i)]);  // Fisher-Yates
    double recon_total = 0, kl_total = 0, beta = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const std::size_t begin = b * B, end = std::min(N, begin + B);
      const float songs = float(end - begin);
      std::vector<VaeSong> variants;  // augmented copies of the batch, when asked for
      std::vector<const VaeSong*> view(train.begin() + long(begin), train.begin() + long(end));
      if (c.augment_shift > 0 || c.augment_transpose > 0) {
        for (const VaeSong* s : view) variants.push_back(augment(*s, c, rng));
        for (std::size_t k = 0; k < view.size(); ++k) view[k] = &variants[k];
      }
      const SequenceBatch batch = sequence_batch(view, 0, view.size());
      const SequenceVae::Posterior q = vae.encode(batch.pitch_in, batch.duration_in);
      const SequenceVae::Logits logits = vae.decode(SequenceVae::reparameterise(q, rng));
      // cross_entropy averages over the kept targets; scale to a sum per song.
      auto summed = [&](const Tensor& l, const Ids& targets) {
        return mul(cross_entropy(l, targets, kUnknown), float(kept_targets(targets)) / songs);
      };
      Tensor recon;
      if (logits.length.defined()) {  // events and lengths (sequence_vae.hpp)
        const LengthTargets t = length_targets(batch, c.vocab);
        recon = add(add(summed(logits.pitch, t.pitch), summed(logits.duration, t.duration)),
                    summed(logits.length, t.length));
      } else {
        recon = add(summed(logits.pitch, batch.pitch_target), summed(logits.duration, batch.duration_target));
      }
      Tensor kl = mul(gaussian_kl(q.mu, q.logvar), 1.f / songs);
      const double progress = double(epoch - 1) + double(b + 1) / double(batches);
      beta = c.kl_weight * (c.warmup > 0 ? std::min(1.0, progress / c.warmup) : 1.0);
      Tensor loss = add(recon, mul(kl, float(beta)));
      opt.zero_grad();
      loss.backward();
      if (c.clip > 0) optim::clip_grad_norm(opt.params(), float(c.clip));
      opt.step();
      recon_total += recon.item() * songs;
      kl_total += kl.item() * songs;
      bar.update((epoch - 1) * long(batches) + long(b) + 1,
                 legato::detail::concat("epoch ", epoch, "/", c.epochs, " recon ", recon.item(), " KL ", kl.item()));
    }
    last_epoch = clock.seconds() - start;
    const double epoch_loss = (recon_total + kl_total) / double(N);
    json row = {{"epoch", epoch},
                {"neg_elbo", epoch_loss},
                {"recon", recon_total / double(N)},
                {"kl", kl_total / double(N)},
                {"beta", beta},
                {"seconds", clock.seconds()}};
    std::string line = legato::detail::concat("epoch ", epoch, ": train -ELBO ", epoch_loss, " (recon ",
                                              recon_total / double(N), ", KL ", kl_total / double(N), ", beta ", beta,
                                              ", ", last_epoch, " s)");
    log.end_epoch(epoch, epoch_loss, std::move(row), line, model, held_out, run, bar);
  }
  log.seconds = clock.seconds();
  vae.eval();
  return log;
}

int cmd_train(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae train", args);
  const Arch arch = parse_arch(cli.text("arch", "conv", "conv, mlp, seed-notes or seed-rhythm"));
  const ModelConfig d = ModelConfig::defaults(arch);
  TrainRun run;
  run.corpus = examples::corpus_dir(cli, "");
  run.out = cli.text("out", "", "checkpoint to write (.safetensors)");
  run.metrics = cli.text("metrics-json", "", "write the training log and held-out metrics as JSON here");
  run.limit = cli.integer("limit", 0, "read only the first N .krn files in name order (the seed took 1000); 0 = all");
  run.time_budget = cli.real("time-budget", 0, "stop before an epoch that would end after this many seconds; 0 = none");
  run.eval_every = cli.integer("eval-every", arch == Arch::seed_notes ? 10 : 1, "held-out evaluation every N epochs");
  ModelConfig c = d;
  c.epochs = cli.integer("epochs", d.epochs, "training epochs");
  c.batch = cli.integer("batch", d.batch, "songs per batch");
  c.lr = cli.real("lr", d.lr, "Adam learning rate");
  c.weight_decay = cli.real("weight-decay", d.weight_decay, "Adam L2 weight decay (PyTorch style)");
  c.hidden = int_flag(cli, "hidden", d.hidden, "hidden units");
  c.latent = int_flag(cli, "latent", d.latent,
                      "latent size: per melody (mlp), per 4-event column (conv), per position (seed archs)");
  c.kl_weight = cli.real("kl-weight", d.kl_weight, "weight of the KL term (beta)");
  c.clip = cli.real("clip", d.clip, "clip the gradient norm to this (0 = no clipping)");
  if (!is_seed_arch(arch)) {
    c.warmup = cli.real("warmup", d.warmup, "epochs over which beta ramps up from 0 (0 = none)");
    c.pitch_embed = int_flag(cli, "pitch-embed", d.pitch_embed, "pitch embedding size");
    c.duration_embed = int_flag(cli, "duration-embed", d.duration_embed, "duration embedding size");
    c.dropout = float(cli.real("dropout", d.dropout, "dropout after the first encoder layer"));
    const long tie = cli.integer("tie-embeddings", d.tie_embeddings ? 1 : 0,
                                 "1: the decoder scores each position against the input embeddings (0: own output layer)");
    check(tie == 0 || tie == 1, "--tie-embeddings must be 0 or 1, got ", tie);
    c.tie_embeddings = tie == 1;
    c.augment_shift = int_flag(cli, "augment-shift", d.augment_shift,
                               "training windows start up to N events into the song (at most half of it)");
    c.augment_transpose = int_flag(cli, "augment-transpose", d.augment_transpose,
                                   "training songs move by up to +-N semitones (the vocabulary widens by N)");
    if (arch == Arch::conv)
      c.global_latent = int_flag(cli, "global-latent", d.global_latent,
                                 "conv: size of the latent vector for the whole melody (0 = columns only)");
  }
  const long seed = cli.integer("seed", 1, "random seed (weights, noise, shuffling)");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae train --corpus DIR --out MODEL.safetensors [--arch conv|mlp|seed-notes|seed-rhythm]\n"
                          "Defaults follow --arch: the seed's values (spec §5) for seed-notes / seed-rhythm."))
    return 0;
  cli.finish();
  check(!run.out.empty(), "train needs --out MODEL.safetensors");
  c.validate();  // the ranges Model::load accepts
  check(seed >= 0, "--seed must be >= 0, got ", seed);
  check(run.limit >= 0, "--limit must be >= 0, got ", run.limit);
  check(run.time_budget >= 0, "--time-budget must be >= 0, got ", run.time_budget);
  check(run.eval_every >= 1, "--eval-every must be >= 1, got ", run.eval_every);
  legato::check_output_file(run.out, "out");
  legato::check_output_file(run.metrics, "metrics-json");
  examples::require_directory(run.corpus, "train");
  c.seed = std::uint64_t(seed);

  // The corpus is read before the build banner so that an unusable one is
  // the only line on stderr.
  VaeCorpus data = load_vae_corpus(run.corpus, std::size_t(run.limit));
  check(!data.train.empty(), "train: the corpus '", run.corpus, "' has no training songs");
  if (!is_seed_arch(arch)) {
    c.vocab = vocab_of(data.train);
    c.vocab.low = std::max(0, c.vocab.low - c.augment_transpose);
    c.vocab.high = std::min(music::kTwoSeqRest - 1, c.vocab.high + c.augment_transpose);
    for (VaeSong& s : data.train) assign_classes(s, c.vocab);
    for (VaeSong& s : data.held_out) assign_classes(s, c.vocab);
  }
  const int threads = examples::setup_threads(cli);
  const double load_start = load_average();
  const std::string report = data.report.to_string();
  std::fprintf(stderr, "%s", report.substr(0, report.find('\n') + 1).c_str());  // the summary line
  if (data.skipped) std::fprintf(stderr, "skipped %zu songs with a pitch >= 99 (E-2SEQ cannot hold them)\n", data.skipped);
  std::fprintf(stderr, "%zu training songs, %zu held out; %s, hidden %d, latent %d, %ld epochs, batch %ld, lr %g\n",
               data.train.size(), data.held_out.size(), arch_name(arch).c_str(), c.hidden, c.latent, c.epochs, c.batch,
               c.lr);
  if (!is_seed_arch(arch))
    std::fprintf(stderr, "pitch classes: MIDI %d..%d + rest + padding = %d; KL weight %g, warm-up %g epochs\n",
                 c.vocab.low, c.vocab.high, c.vocab.size(), c.kl_weight, c.warmup);

  Rng init(c.seed);
  Model model = Model::build(c, init);
  const TrainLog log = !is_seed_arch(arch) ? train_sequence_vae(model, data, run) : train_seed(model, data, run);

  json result = {{"program", kProgram},
                 {"command", "train"},
                 {"arch", arch_name(arch)},
                 {"corpus", run.corpus},
                 {"limit", run.limit},
                 {"train_songs", data.train.size()},
                 {"held_out_songs", data.held_out.size()},
                 {"epochs", c.epochs},
                 {"epochs_done", log.epochs_done},
                 {"train_seconds", log.seconds},
                 {"threads", threads},
                 {"load_average_start", load_start},
                 {"load_average_end", load_average()},
                 {"parameters", model.module().parameter_count()},
                 {"final_epoch_loss", log.epoch_loss.empty() ? 0.0 : log.epoch_loss.back()},
                 {"history", log.epochs}};
  std::map<std::string, std::string> extra = {{"epochs_done", text(double(log.epochs_done))},
                                              {"train_seconds", text(log.seconds)},
                                              {"train_songs", text(double(data.train.size()))},
                                              {"corpus", run.corpus},
                                              {"limit", text(double(run.limit))},
                                              {"final_epoch_loss", text(result["final_epoch_loss"].get<double>())}};
  if (!data.held_out.empty()) {
    const Evaluation e = evaluate_model(model, pointers(data.held_out), kEvalSeed);
    std::printf("held-out evaluation after training:\n%s", e.table().c_str());
    result["held_out"] = e.json();
  }
  result["config"] = c.metadata();
  model.save(run.out, extra);
  std::fprintf(stderr, "wrote %s (%lld parameters, %.1f s of training)\n", run.out.c_str(),
               static_cast<long long>(model.module().parameter_count()), log.seconds);
  write_json(run.metrics, result);
  return 0;
}

// ------------------------------------------------------------- evaluate ----

// The models named by --model and --rhythm-model. A seed-notes model and a
// seed-rhythm model go together; the default stands alone.
struct ModelPair {
  Model main;
  std::optional<Model> rhythm;

  // The seed model of one stream, or nullptr.
  Model* seed_notes() { return main.config.arch == Arch::seed_notes ? &main : nullptr; }
  Model* seed_rhythm() {
    if (main.config.arch == Arch::seed_rhythm) return &main;
    return rhythm ? &*rhythm : nullptr;
  }
};

ModelPair load_models(const std::string& model_path, const std::string& rhythm_path) {
  check(!model_path.empty(), "needs --model MODEL.safetensors");
  ModelPair pair{Model::load(model_path), std::nullopt};
  if (!rhythm_path.empty()) {
    check(pair.main.config.arch == Arch::seed_notes, "--rhythm-model goes with a seed-notes --model; '", model_path,
          "' is ", arch_name(pair.main.config.arch));
    pair.rhythm = Model::load(rhythm_path);
    check(pair.rhythm->config.arch == Arch::seed_rhythm, "--rhythm-model '", rhythm_path, "' is ",
          arch_name(pair.rhythm->config.arch), ", not seed-rhythm");
  }
  return pair;
}

// Accuracy of always answering the training songs' most common pitch code and
// duration index, on the real events of `songs`: what "accuracy" means here.
json majority_baseline(const std::vector<VaeSong>& train, const std::vector<const VaeSong*>& songs) {
  std::map<int, long> pitch, duration;
  for (const VaeSong& s : train)
    for (std::size_t i = 0; i < s.events; ++i) {
      ++pitch[s.seq.notes[i]];
      ++duration[s.duration_index[i]];
    }
  auto most = [](const std::map<int, long>& m) {
    return std::max_element(m.begin(), m.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  };
  if (pitch.empty()) return json::object();
  const int p = most(pitch), d = most(duration);
  long events = 0, p_ok = 0, d_ok = 0;
  for (const VaeSong* s : songs)
    for (std::size_t i = 0; i < s->events; ++i) {
      ++events;
      p_ok += s->seq.notes[i] == p;
      d_ok += s->duration_index[i] == d;
    }
  return {{"pitch", p},
          {"duration_index", d},
          {"pitch_accuracy", events ? double(p_ok) / double(events) : 0.0},
          {"duration_accuracy", events ? double(d_ok) / double(events) : 0.0}};
}

int cmd_evaluate(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae evaluate", args);
  const std::string model_path = cli.text("model", "", "checkpoint (any --arch)");
  const std::string rhythm_path = cli.text("rhythm-model", "", "a seed-rhythm checkpoint to go with a seed-notes --model");
  const std::string corpus = examples::corpus_dir(cli, "");
  const std::string split = cli.text("split", "held-out", "held-out, train or all");
  const long limit = cli.integer("limit", 0, "read only the first N .krn files in name order; 0 = all");
  const long seed = cli.integer("seed", long(kEvalSeed), "seed of the sampled-z draws");
  const std::string metrics = cli.text("metrics-json", "", "write the metrics as JSON here");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae evaluate --model M [--rhythm-model R] --corpus DIR [--split held-out]\n"
                          "Reconstruction accuracy per position (pitch, duration), the ELBO and the KL."))
    return 0;
  cli.finish();
  check(split == "held-out" || split == "train" || split == "all", "--split must be held-out, train or all, got '", split,
        "'");
  check(limit >= 0 && seed >= 0, "--limit and --seed must be >= 0");
  legato::check_output_file(metrics, "metrics-json");
  examples::require_directory(corpus, "evaluate");
  ModelPair models = load_models(model_path, rhythm_path);

  // Before the build banner: a corpus without songs to evaluate is one line.
  VaeCorpus data = load_vae_corpus(corpus, std::size_t(limit));
  if (!models.main.config.is_seed()) {
    for (VaeSong& s : data.train) assign_classes(s, models.main.config.vocab);
    for (VaeSong& s : data.held_out) assign_classes(s, models.main.config.vocab);
  }
  std::vector<const VaeSong*> songs;
  if (split != "train") songs = pointers(data.held_out);
  if (split != "held-out")
    for (const VaeSong& s : data.train) songs.push_back(&s);
  check(!songs.empty(), "evaluate: the corpus '", corpus, "' has no ", split, " songs",
        limit > 0 ? " in its first " + std::to_string(limit) + " .krn files (--limit)" : std::string());
  const int threads = examples::setup_threads(cli);

  json out = {{"program", kProgram}, {"command", "evaluate"}, {"corpus", corpus},  {"split", split},
              {"songs", songs.size()}, {"threads", threads},    {"seed", seed}};
  Stopwatch clock;
  std::vector<Model*> list = {&models.main};
  if (models.rhythm) list.push_back(&*models.rhythm);
  for (Model* m : list) {
    const Evaluation e = evaluate_model(*m, songs, std::uint64_t(seed));
    std::printf("%s", e.table().c_str());
    out["models"][arch_name(m->config.arch)] = e.json();
  }
  MelodyStats real;
  for (const VaeSong* s : songs) real.add(music::decode_twoseq(s->seq.notes, s->seq.durations, s->events));
  std::printf("the %s songs themselves (first 100 events): %s\n", split.c_str(), real.line().c_str());
  out["songs_stats"] = real.to_json();
  const json baseline = majority_baseline(data.train, songs);
  if (!baseline.empty()) {
    std::printf("for scale: always the most common training pitch (%d) is right on %.2f%% of the events, the most "
                "common duration on %.2f%%\n",
                baseline["pitch"].get<int>(), 100 * baseline["pitch_accuracy"].get<double>(),
                100 * baseline["duration_accuracy"].get<double>());
    out["majority_baseline"] = baseline;
  }
  out["seconds"] = clock.seconds();
  write_json(metrics, out);
  return 0;
}

// ------------------------------------------------------------- generate ----

struct GenerateOptions {
  bool sample = false;  // decode by sampling instead of argmax (mlp)
  double temperature = 1.0;
};

// Categorical logits of song k -> Melody, as long as the length head says
// (if any), and stopping at the first padding class.
music::Melody decoded_melody(const SequenceVae::Logits& logits, std::int64_t k, const PitchVocab& vocab,
                         const GenerateOptions& g, Rng& rng) {
  music::Melody melody;
  std::int64_t events = kTwoSeqLength;  // with a length head, the melody has the length it draws
  if (logits.length.defined())
    events = g.sample ? sample_row(logits.length, k, g.temperature, rng) : argmax_row(logits.length, k);
  for (std::int64_t i = 0; i < events; ++i) {
    const std::int64_t row = k * kTwoSeqLength + i;
    const int p = g.sample ? sample_row(logits.pitch, row, g.temperature, rng) : argmax_row(logits.pitch, row);
    const int d = g.sample ? sample_row(logits.duration, row, g.temperature, rng) : argmax_row(logits.duration, row);
    if (p == vocab.pad() || d == kDurationPad) break;
    melody.push_back({p == vocab.rest() ? music::kRest : vocab.midi(p), music::twoseq_duration_of_index(d)});
  }
  return melody;
}

// Seed model: the decoded stream (100 codes) of latent rows z (100, Lz).
std::vector<int> seed_stream(Model& m, const Tensor& z) {
  const Tensor x_hat = m.seed->decoder->forward(z);  // (100, 1)
  std::vector<int> out;
  for (std::int64_t i = 0; i < kTwoSeqLength; ++i) out.push_back(seed_decode(m.config.arch, x_hat.data()[i]));
  return out;
}

// Seed encoder means and logvars (100, Lz) of one song.
std::pair<Tensor, Tensor> seed_posterior(Model& m, const VaeSong& s) {
  std::vector<const VaeSong*> one = {&s};
  return m.seed->encode(seed_batch(m.config.arch, one, 0, 1));
}

// Two seed streams -> Melody, keeping the first `keep` events (0: all 100
// minus the trailing (99, 4.0) pairs, which is what padding decodes to).
music::Melody seed_melody(const std::vector<int>& notes, const std::vector<int>& duration_index, std::size_t keep) {
  std::vector<double> quarters;
  for (int d : duration_index) quarters.push_back(music::twoseq_duration_of_index(d));
  if (keep == 0) {
    keep = notes.size();
    while (keep > 0 && notes[keep - 1] == music::kTwoSeqRest && quarters[keep - 1] == music::kTwoSeqPadQuarters) --keep;
  }
  if (keep == 0) return {};
  return music::decode_twoseq(notes, quarters, keep);
}

struct Output {
  std::string dir;
  music::MelodyOutput style;  // key, tempo and meter of the files
  json files = json::array();
  int written = 0;
  MelodyStats stats;  // of the generated melodies (not the --from source)

  void write(const std::string& stem, const music::Melody& melody, const std::string& title) {
    if (melody.empty()) {
      std::printf("%s: empty melody (padding predicted at the first position), not written\n", stem.c_str());
      files.push_back({{"name", stem}, {"events", 0}});
      return;
    }
    const fs::path base = fs::path(dir) / stem;
    music::write_generated_melody(base, melody, style, title);
    double quarters = 0;
    std::string text;
    for (const music::MelodyNote& n : music::transposed(melody, style.transpose)) {  // as written
      quarters += n.quarters;
      if (text.size() < 160) text += " " + music::pitch_name(n.pitch) + "/" + legato::detail::concat(n.quarters);
    }
    std::printf("%s: %zu events, %g quarters:%s%s\n", stem.c_str(), melody.size(), quarters, text.c_str(),
                text.size() >= 160 ? " ..." : "");
    files.push_back({{"name", stem}, {"events", melody.size()}, {"quarters", quarters}, {"mid", base.string() + ".mid"},
                     {"krn", base.string() + ".krn"}});
    ++written;
    if (stem != "vae_source") stats.add(melody);
  }
};

std::string stem_name(const char* mode, long i) {
  char b[64];
  std::snprintf(b, sizeof b, "vae_%s_%03ld", mode, i);
  return b;
}

// Latents between two points: t = 0, 1/(steps-1), ..., 1.
Tensor lerp(const Tensor& a, const Tensor& b, float t) { return add(mul(a, 1.f - t), mul(b, t)); }

void generate_sequence_vae(Model& m, const std::string& mode, const std::vector<UserSong>& sources, long count, double variation,
                  long steps, const GenerateOptions& g, Rng& rng, Output& out) {
  NoGradGuard no_grad;
  SequenceVae& vae = *m.sequence;
  vae.eval();
  const PitchVocab& vocab = m.config.vocab;
  const std::string arch = arch_name(m.config.arch);
  auto posterior = [&](const UserSong& u) {
    VaeSong s = u.song;
    assign_classes(s, vocab);
    std::vector<const VaeSong*> one = {&s};
    const SequenceBatch b = sequence_batch(one, 0, 1);
    return vae.encode(b.pitch_in, b.duration_in);  // (1, Z) each
  };
  if (mode == "prior") {
    const Tensor z = Tensor::normal({count, m.sequence->config.latent_size()}, 0.f, 1.f, rng);  // (count, Z)
    const SequenceVae::Logits logits = vae.decode(z);
    for (long k = 0; k < count; ++k)
      out.write(stem_name("prior", k + 1), decoded_melody(logits, k, vocab, g, rng),
                legato::detail::concat("melody_vae ", arch, " prior sample ", k + 1));
  } else if (mode == "from") {
    const SequenceVae::Posterior q = posterior(sources[0]);
    for (long k = 0; k < count; ++k) {
      // variation 0 is the reconstruction; 1 moves as far as a prior draw.
      const Tensor z = add(q.mu, Tensor::normal(q.mu.shape(), 0.f, float(variation), rng));
      out.write(stem_name("from", k + 1), decoded_melody(vae.decode(z), 0, vocab, g, rng),
                legato::detail::concat("melody_vae ", arch, " variation ", k + 1, " of ", sources[0].song.name));
    }
  } else {
    const Tensor a = posterior(sources[0]).mu, b = posterior(sources[1]).mu;
    for (long k = 0; k < steps; ++k) {
      const float t = float(k) / float(steps - 1);
      out.write(stem_name("interp", k + 1), decoded_melody(vae.decode(lerp(a, b, t)), 0, vocab, g, rng),
                legato::detail::concat("melody_vae ", arch, " interpolation t=", t));
    }
  }
}

// The seed models. Each stream comes from its model; a stream without a model
// is taken from the source song (--from only), as the seed's
// "_reconstructed_notes.mid" kept the original durations.
void generate_seed(ModelPair& models, const std::string& mode, const std::vector<UserSong>& sources, long count,
                   double variation, long steps, Rng& rng, Output& out) {
  NoGradGuard no_grad;
  Model* notes = models.seed_notes();
  Model* rhythm = models.seed_rhythm();
  check(mode == "from" || (notes && rhythm), "generating from the prior or interpolating with the seed's VAEs needs both "
                                             "streams: --model NOTES (seed-notes) --rhythm-model RHYTHM (seed-rhythm)");
  const std::string arch = notes && rhythm ? "seed" : notes ? "seed-notes" : "seed-rhythm";
  // One stream of one output: from its model, or copied from the source.
  auto stream = [&](Model* m, bool is_notes, const std::function<Tensor(Model&)>& latent) {
    if (m) return seed_stream(*m, latent(*m));
    const VaeSong& s = sources[0].song;
    return is_notes ? s.seq.notes : s.duration_index;
  };
  if (mode == "prior") {
    for (long k = 0; k < count; ++k) {
      auto draw = [&](Model& m) { return Tensor::normal({kTwoSeqLength, m.config.latent}, 0.f, 1.f, rng); };
      out.write(stem_name("prior", k + 1), seed_melody(stream(notes, true, draw), stream(rhythm, false, draw), 0),
                legato::detail::concat("melody_vae ", arch, " prior sample ", k + 1));
    }
  } else if (mode == "from") {
    const VaeSong& s = sources[0].song;
    for (long k = 0; k < count; ++k) {
      // The seed's reconstruction, z = mean + logvar eps, plus variation * eps'.
      auto encode = [&](Model& m) {
        auto [mean, logvar] = seed_posterior(m, s);
        Tensor z = add(mean, mul(logvar, Tensor::normal(mean.shape(), 0.f, 1.f, rng)));
        return variation > 0 ? add(z, Tensor::normal(mean.shape(), 0.f, float(variation), rng)) : z;
      };
      out.write(stem_name("from", k + 1), seed_melody(stream(notes, true, encode), stream(rhythm, false, encode), s.events),
                legato::detail::concat("melody_vae ", arch, " reconstruction ", k + 1, " of ", s.name));
    }
  } else {
    const VaeSong &a = sources[0].song, &b = sources[1].song;
    for (long k = 0; k < steps; ++k) {
      const float t = float(k) / float(steps - 1);
      auto mix = [&](Model& m) { return lerp(seed_posterior(m, a).first, seed_posterior(m, b).first, t); };
      const auto keep = std::size_t(std::lround((1 - t) * double(a.events) + t * double(b.events)));
      out.write(stem_name("interp", k + 1), seed_melody(stream(notes, true, mix), stream(rhythm, false, mix), keep),
                legato::detail::concat("melody_vae ", arch, " interpolation t=", t));
    }
  }
}

int cmd_generate(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae generate", args);
  const std::string model_path = cli.text("model", "", "checkpoint (any --arch)");
  const std::string rhythm_path = cli.text("rhythm-model", "", "a seed-rhythm checkpoint to go with a seed-notes --model");
  const std::string out_dir = cli.text("out-dir", "out/vae", "folder for the .mid and .krn files");
  const long count = cli.integer("count", 4, "melodies (prior samples, or variations with --from)");
  const std::string from = cli.text("from", "", "reconstruct and vary this song (.krn or .mid)");
  const double variation = cli.real("variation", 0.5, "with --from: 0 = reconstruction, 1 = as far as a prior draw");
  const std::string interp_a = cli.text("interpolate", "", "A.krn B.krn: walk the latent line from A to B");
  const std::string interp_b = cli.text("interpolate-to", "", "(the B of --interpolate A B)");
  const long steps = cli.integer("steps", 8, "with --interpolate: melodies on the line, ends included");
  const std::string decode = cli.text("decode", "argmax", "argmax or sample (sampling: mlp and conv only)");
  const double temperature = cli.real("temperature", 1.0, "with --decode sample: softmax temperature");
  const long seed = cli.integer("seed", 1, "random seed");
  const std::string metrics = cli.text("metrics-json", "", "write the list of files as JSON here");
  const examples::OutputFlags output =
      examples::read_output_flags(cli, "the model's C major / A minor (--from, --interpolate: the (first) song's key)",
                                  "120 qpm, 4/4; --from and --interpolate: the (first) song's");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae generate --model M [--rhythm-model R] --out-dir DIR\n"
                          "       [--count N | --from FILE --variation V | --interpolate A B --steps N]\n"
                          "       [--decode argmax|sample --temperature T] [--seed S] [--transpose N --bpm Q --meter N/D]\n"
                          "The model writes in C major / A minor (the corpus is transposed so); --from and --interpolate\n"
                          "write in the key, tempo and meter of the (first) song."))
    return 0;
  cli.finish();
  check(interp_b.empty() || !interp_a.empty(), "--interpolate-to needs --interpolate");
  check(interp_a.empty() || !interp_b.empty(), "--interpolate needs two songs: --interpolate A.krn B.krn");
  check(from.empty() || interp_a.empty(), "give --from or --interpolate, not both");
  check(count >= 1 && count <= 100000, "--count must be in 1..100000, got ", count);
  check(steps >= 2 && steps <= 10000, "--steps must be in 2..10000, got ", steps);
  check(std::isfinite(variation) && variation >= 0 && variation <= 100, "--variation must be in [0, 100], got ", variation);
  check(decode == "argmax" || decode == "sample", "--decode must be argmax or sample, got '", decode, "'");
  check(std::isfinite(temperature) && temperature > 0 && temperature <= 100, "--temperature must be in (0, 100], got ",
        temperature);
  check(seed >= 0, "--seed must be >= 0, got ", seed);
  legato::check_output_dir(out_dir, "out-dir");
  legato::check_output_file(metrics, "metrics-json");
  ModelPair models = load_models(model_path, rhythm_path);
  check(!models.main.config.is_seed() || decode == "argmax",
        "--decode sample applies to the default model; the seed's VAEs decode by rounding");
  const std::string mode = !from.empty() ? "from" : !interp_a.empty() ? "interpolate" : "prior";
  std::vector<UserSong> sources;
  if (mode == "from") sources.push_back(read_user_song(from));
  if (mode == "interpolate") {
    sources.push_back(read_user_song(interp_a));
    sources.push_back(read_user_song(interp_b));
  }
  music::MelodyOutput style;
  if (!sources.empty()) {  // back in the (first) song's key, tempo, meter and upbeat
    style.transpose = -sources[0].shift;
    style.key = sources[0].original_key;
    style.tempo_qpm = examples::usable_tempo(sources[0].tempo_qpm, style.tempo_qpm);
    if (sources[0].meter) {
      style.meter = *sources[0].meter;
      style.pickup = sources[0].pickup;
    }
  }
  music::check_melody_output(output.over(style));  // a bad --pickup: one line, before anything is written
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  check(!ec && fs::is_directory(out_dir), "--out-dir '", out_dir, "' cannot be created: ", ec.message());
  examples::setup_threads(cli);

  Output out;
  out.dir = out_dir;
  out.style = output.over(style);
  Rng rng{std::uint64_t(seed)};
  Stopwatch clock;
  if (mode == "from") {
    // The source as the model sees it (transposed, first 100 events), for comparison.
    const VaeSong& s = sources[0].song;
    std::vector<int> indices = s.duration_index;
    out.write("vae_source", seed_melody(s.seq.notes, indices, s.events), "melody_vae source " + s.name);
  }
  if (models.main.config.is_seed())
    generate_seed(models, mode, sources, count, variation, steps, rng, out);
  else
    generate_sequence_vae(models.main, mode, sources, count, variation, steps, {decode == "sample", temperature}, rng, out);
  std::fprintf(stderr, "wrote %d melodies (.mid and .krn) to %s in %.3f s\n", out.written, out_dir.c_str(),
               clock.seconds());
  std::printf("generated: %s\n", out.stats.line().c_str());
  write_json(metrics, {{"program", kProgram},
                       {"command", "generate"},
                       {"mode", mode},
                       {"files", out.files},
                       {"stats", out.stats.to_json()}});
  return 0;
}

// ---------------------------------------------------------------- smoke ----

// A small corpus of made-up tunes (stepwise in C major, a few rests), written
// as .krn files. Names are chosen so that the shared split holds some out.
void write_smoke_corpus(const fs::path& dir) {
  fs::create_directories(dir);
  Rng rng(7);
  const int scale[] = {57, 59, 60, 62, 64, 65, 67, 69, 71, 72, 74, 76};
  const double durations[] = {0.5, 1.0, 0.5, 0.25, 1.0, 2.0, 0.75, 1.5};
  int train = 0, held = 0;
  for (int i = 0; train < 36 || held < 4; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "tune%03d.krn", i);
    const bool h = music::is_held_out(name);
    if ((h && held >= 4) || (!h && train >= 36)) continue;
    ++(h ? held : train);
    music::Melody m;
    int degree = 2 + int(rng.below(5));
    const int events = 12 + int(rng.below(40));
    for (int e = 0; e < events; ++e) {
      const bool rest = rng.uniform() < 0.05f;
      degree = std::clamp(degree + int(rng.below(5)) - 2, 0, 11);
      m.push_back({rest ? music::kRest : scale[degree], durations[rng.below(8)]});
    }
    music::MelodyInfo info;
    info.title = name;
    info.barlines = false;  // keep every duration a single value of T
    music::write_melody_kern(dir / name, m, info);
  }
}

void expect_error(const std::function<int()>& f, const std::string& what, int& failures) {
  try {
    f();
    std::fprintf(stderr, "smoke: %s was accepted\n", what.c_str());
    ++failures;
  } catch (const Error&) {
  }
}

int cmd_smoke(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae --smoke", args);
  std::string corpus = cli.text("corpus", "",
                                "use this corpus (default: the repository's data/ when it has at least 8 training "
                                "songs and a held-out one, else a tiny made-up one in a temporary folder)");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae --smoke [--corpus DIR] [--threads N]\n"
                          "A few seconds of end-to-end checks: train, evaluate and generate with every --arch."))
    return 0;
  cli.finish();
  const std::string threads = std::to_string(examples::setup_threads(cli));
  const fs::path dir = fs::temp_directory_path() / ("melody_vae_smoke_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  // The small corpus shipped in the repository's data/ folder when it is
  // usable (enough songs on both sides of the split), else a made-up one.
#ifdef LEGATO_SOURCE_DIR
  if (corpus.empty()) {
    const fs::path shipped = fs::path(LEGATO_SOURCE_DIR) / "data";
    std::error_code ec;
    if (fs::is_directory(shipped, ec)) {
      const VaeCorpus probe = load_vae_corpus(shipped.string(), 60);
      if (probe.train.size() >= 8 && !probe.held_out.empty()) corpus = shipped.string();
    }
  }
#endif
  if (corpus.empty()) {
    corpus = (dir / "corpus").string();
    write_smoke_corpus(corpus);
  }
  std::fprintf(stderr, "smoke corpus: %s\n", corpus.c_str());
  auto p = [&](const char* name) { return (dir / name).string(); };
  auto metrics = [&](const char* name) { return json::parse(read_file(p(name))); };
  const std::vector<std::string> common = {"--corpus", corpus, "--threads", threads, "--limit", "60"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), common.begin(), common.end());
    return a;
  };

  // 1. Train each architecture (tiny sizes); the categorical ones must learn.
  // vae.safetensors is the default (conv, with a length head), mlp.safetensors the whole-melody MLP.
  check(cmd_train(with({"--out", p("vae.safetensors"), "--epochs", "25", "--hidden", "32", "--latent", "4",
                        "--global-latent", "4", "--pitch-embed", "4", "--duration-embed", "4", "--batch", "8", "--lr",
                        "3e-3", "--warmup", "5", "--metrics-json", p("train_vae.json")})) == 0,
        "smoke: train the default failed");
  check(cmd_train(with({"--arch", "mlp", "--out", p("mlp.safetensors"), "--epochs", "25", "--hidden", "32", "--latent",
                        "8", "--pitch-embed", "4", "--duration-embed", "4", "--batch", "8", "--lr", "3e-3", "--warmup",
                        "5", "--metrics-json", p("train_mlp.json")})) == 0,
        "smoke: train mlp failed");
  const json train_vae_log = metrics("train_vae.json");
  for (const char* log : {"train_vae.json", "train_mlp.json"}) {
    const json history = metrics(log)["history"];
    const double first = history.front()["recon"].get<double>(), last = history.back()["recon"].get<double>();
    check(last < 0.8 * first, "smoke: ", log, ": the model did not learn (reconstruction ", first, " -> ", last, ")");
  }
  check(cmd_train(with({"--arch", "seed-notes", "--out", p("notes.safetensors"), "--epochs", "2", "--hidden", "16",
                        "--latent", "8", "--lr", "1e-3"})) == 0,
        "smoke: train seed-notes failed");
  check(cmd_train(with({"--arch", "seed-rhythm", "--out", p("rhythm.safetensors"), "--epochs", "2", "--hidden", "16",
                        "--latent", "8", "--metrics-json", p("train_rhythm.json")})) == 0,
        "smoke: train seed-rhythm failed");
  check(std::isfinite(metrics("train_rhythm.json")["final_epoch_loss"].get<double>()), "smoke: seed-rhythm loss not finite");

  // The seed model's shared encoder computes what the seed's per-row encoder
  // does: same loss, same gradients.
  {
    VaeCorpus data = load_vae_corpus(corpus, 60);
    const auto songs = pointers(data.train);
    Rng init(5);
    SeedVae vae(16, 8, init);
    const Tensor x = seed_batch(Arch::seed_notes, songs, 0, std::min<std::size_t>(8, songs.size()));
    std::vector<std::vector<float>> grads[2];
    float losses[2];
    for (int share = 0; share < 2; ++share) {
      Rng rng(9);
      const SeedVae::Pass pass = vae.forward(x, rng, 1.f, share == 1);
      auto [squared, kl] = SeedVae::loss_terms(pass, x);
      Tensor loss = add(squared, kl);
      vae.zero_grad();
      loss.backward();
      losses[share] = loss.item();
      for (const Tensor& t : vae.parameters()) {
        const Tensor g = t.grad();
        grads[share].emplace_back(g.data(), g.data() + g.numel());
      }
    }
    check(std::abs(losses[0] - losses[1]) <= 1e-4f * std::abs(losses[0]), "smoke: shared encoder loss ", losses[1],
          " != per-row ", losses[0]);
    for (std::size_t i = 0; i < grads[0].size(); ++i)
      for (std::size_t j = 0; j < grads[0][i].size(); ++j)
        check(std::abs(grads[0][i][j] - grads[1][i][j]) <= 1e-3f * (1.f + std::abs(grads[0][i][j])),
              "smoke: shared encoder gradient of parameter ", i, " differs at ", j, ": ", grads[1][i][j], " vs ",
              grads[0][i][j]);
  }

  // 2. The checkpoint holds the whole configuration, and evaluate after a
  // reload gives exactly the numbers train reported.
  const Model reloaded = Model::load(p("vae.safetensors"));
  check(reloaded.config.arch == Arch::conv && reloaded.config.hidden == 32 && reloaded.config.latent == 4 &&
            reloaded.config.global_latent == 4 && reloaded.config.pitch_embed == 4 && reloaded.config.warmup == 5 &&
            reloaded.config.vocab.size() > 2,
        "smoke: the checkpoint metadata lost the configuration");
  check(cmd_evaluate(with({"--model", p("vae.safetensors"), "--metrics-json", p("eval_vae.json")})) == 0,
        "smoke: evaluate the default failed");
  const json e = metrics("eval_vae.json")["models"]["conv"];
  const json t = train_vae_log["held_out"];
  for (const char* key : {"neg_elbo_per_song", "kl_per_song"})
    check(e[key].get<double>() == t[key].get<double>(), "smoke: ", key, " after reload ", e[key], " != ", t[key]);
  check(e["pitch_accuracy_mean_z"] == t["pitch_accuracy_mean_z"], "smoke: pitch accuracy changed after reload");
  for (const char* key : {"pitch_accuracy_mean_z", "duration_accuracy_mean_z"}) {
    const double a = e[key]["events"].get<double>();
    check(a >= 0 && a <= 1 && e[key]["event_count"].get<long>() > 0, "smoke: ", key, " = ", a);
  }
  check(cmd_evaluate(with({"--model", p("notes.safetensors"), "--rhythm-model", p("rhythm.safetensors"),
                           "--metrics-json", p("eval_seed.json")})) == 0,
        "smoke: evaluate seed failed");
  const json seed_eval = metrics("eval_seed.json")["models"];
  check(seed_eval.contains("seed-notes") && seed_eval.contains("seed-rhythm") &&
            seed_eval["seed-notes"].contains("pitch_accuracy_mean_z") &&
            seed_eval["seed-rhythm"].contains("duration_accuracy_sampled_z"),
        "smoke: the seed evaluation lacks a stream");

  // 3. Generation in every mode; files read back; a seed repeats itself.
  // Two songs that the pipeline can encode (a shipped file may hold triplets).
  std::vector<std::string> usable;
  for (const auto& f : music::list_kern_files(corpus)) {
    try {
      read_user_song(f.string());
      usable.push_back(f.string());
    } catch (const Error&) {
    }
  }
  check(usable.size() >= 2, "smoke: fewer than two encodable songs in ", corpus);
  const std::string a = usable.front(), b = usable.back();
  auto gen = [&](const char* out, std::vector<std::string> extra) {
    std::vector<std::string> g = {"--out-dir", p(out), "--threads", threads, "--seed", "3"};
    g.insert(g.end(), extra.begin(), extra.end());
    check(cmd_generate(g) == 0, "smoke: generate into ", out, " failed");
    return json::parse(read_file(p("gen.json")));
  };
  const json prior = gen("prior", {"--model", p("vae.safetensors"), "--count", "3", "--metrics-json", p("gen.json")});
  check(prior["files"].size() == 3, "smoke: prior sampling gave ", prior["files"].size(), " entries");
  gen("prior2", {"--model", p("vae.safetensors"), "--count", "3", "--metrics-json", p("gen.json")});
  for (const auto& f : prior["files"])
    if (f["events"].get<long>() > 0) {
      const std::string name = f["name"].get<std::string>() + ".krn";
      check(read_file(p("prior") + "/" + name) == read_file(p("prior2") + "/" + name), "smoke: seed 3 gave two ", name);
      check(!music::read_song(p("prior") + "/" + name).events.empty(), "smoke: ", name, " reads back empty");
    }
  gen("mlp_prior", {"--model", p("mlp.safetensors"), "--count", "2", "--metrics-json", p("gen.json")});
  gen("from", {"--model", p("vae.safetensors"), "--from", a, "--variation", "0.5", "--count", "2", "--decode", "sample",
               "--temperature", "0.8", "--metrics-json", p("gen.json")});
  check(fs::exists(p("from") + "/vae_source.krn"), "smoke: --from did not write the source");
  const json interp = gen("interp", {"--model", p("vae.safetensors"), "--interpolate", a, "--interpolate-to", b,
                                     "--steps", "3", "--metrics-json", p("gen.json")});
  check(interp["files"].size() == 3, "smoke: interpolation gave ", interp["files"].size(), " entries");
  gen("seed_prior", {"--model", p("notes.safetensors"), "--rhythm-model", p("rhythm.safetensors"), "--count", "2",
                     "--metrics-json", p("gen.json")});
  const json seed_from = gen("seed_from", {"--model", p("notes.safetensors"), "--from", a, "--count", "1",
                                           "--metrics-json", p("gen.json")});
  check(seed_from["files"][1]["events"] == seed_from["files"][0]["events"],
        "smoke: the seed reconstruction does not keep the source's length");
  gen("seed_interp", {"--model", p("notes.safetensors"), "--rhythm-model", p("rhythm.safetensors"), "--interpolate", a,
                      "--interpolate-to", b, "--steps", "2", "--metrics-json", p("gen.json")});

  // 4. Bad input is a legato::Error (one line, exit 1), never a crash.
  int failures = 0;
  const std::string vae = p("vae.safetensors"), notes = p("notes.safetensors"), rhythm = p("rhythm.safetensors");
  const std::string out = p("bad");
  expect_error([&] { return cmd_train(with({"--arch", "transformer", "--out", out})); }, "--arch transformer", failures);
  expect_error([&] { return cmd_train(with({"--kl-weight", "-1", "--out", out})); }, "--kl-weight -1", failures);
  expect_error([&] { return cmd_train(with({"--global-latent", "-1", "--out", out})); }, "--global-latent -1", failures);
  expect_error([&] { return cmd_train(with({"--arch", "mlp", "--global-latent", "4", "--out", out})); },
               "--global-latent with --arch mlp", failures);
  expect_error([&] { return cmd_train({"--corpus", p("nowhere"), "--out", out}); }, "a missing corpus", failures);
  expect_error([&] { return cmd_train(with({"--epochs", "0", "--out", out})); }, "--epochs 0", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--steps", "1", "--interpolate", a, "--interpolate-to", b}); },
               "--steps 1", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--temperature", "0", "--decode", "sample"}); },
               "--temperature 0", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--from", p("missing.krn")}); }, "a missing --from", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--interpolate", a}); }, "--interpolate with one song", failures);
  expect_error([&] { return cmd_generate({"--model", notes, "--out-dir", out}); }, "seed prior without rhythm", failures);
  expect_error([&] { return cmd_generate({"--model", notes, "--rhythm-model", vae, "--out-dir", out}); },
               "a conv model as --rhythm-model", failures);
  expect_error([&] { return cmd_evaluate({"--model", a, "--corpus", corpus}); }, "a .krn as --model", failures);
  expect_error([&] { return cmd_evaluate({"--model", rhythm, "--rhythm-model", notes, "--corpus", corpus}); },
               "swapped seed models", failures);
  expect_error([&] { return cmd_train(with({"--weight-decay", "inf", "--out", out})); }, "--weight-decay inf", failures);
  expect_error([&] { return cmd_train(with({"--warmup", "1e300", "--out", out})); }, "--warmup 1e300", failures);
  expect_error([&] { return cmd_train(with({"--out", p("nowhere/m.safetensors")})); }, "--out in a missing folder",
               failures);
  check(failures == 0, "smoke: ", failures, " bad inputs were accepted");
  // The largest values train accepts give a checkpoint that loads again:
  // train and the loader share ModelConfig::validate.
  check(cmd_train(with({"--arch", "mlp", "--out", p("edge.safetensors"), "--epochs", "1", "--hidden", "4", "--latent",
                        "2", "--pitch-embed", "2", "--duration-embed", "2", "--weight-decay", "1000", "--kl-weight",
                        "1e6", "--warmup", "1e9", "--clip", "1e9", "--dropout", "0.99"})) == 0,
        "smoke: train with the largest accepted values failed");
  check(Model::load(p("edge.safetensors")).config.kl_weight == 1e6, "smoke: the largest accepted values did not reload");
  std::printf("melody_vae smoke: OK\n");
  return 0;
}

// ----------------------------------------------------------------- main ----

constexpr const char* kUsage =
    "usage: melody_vae COMMAND [flags]   (COMMAND --help lists the flags)\n"
    "  train      train a VAE: --arch conv (default), mlp, seed-notes or seed-rhythm (the seed's VAE gen 2)\n"
    "  evaluate   held-out reconstruction accuracy per position, ELBO and KL\n"
    "  generate   sample the prior, vary a song (--from), or interpolate two songs (--interpolate A B)\n"
    "  --smoke    a few seconds of end-to-end checks (CI)\n";

// `--interpolate A B` takes two values; the flag parser takes one, so the
// second becomes `--interpolate-to B`.
std::vector<std::string> expand_interpolate(std::vector<std::string> args) {
  for (std::size_t i = 0; i + 2 < args.size(); ++i)
    if (args[i] == "--interpolate" && args[i + 1].rfind("--", 0) != 0 && args[i + 2].rfind("--", 0) != 0)
      args.insert(args.begin() + long(i) + 2, "--interpolate-to");
  return args;
}

int run(const std::vector<std::string>& all) {
  check(!all.empty(), "no command given (expected train, evaluate, generate or --smoke; see --help)");
  if (all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  const std::string command = all[0];
  const std::vector<std::string> args = expand_interpolate({all.begin() + 1, all.end()});
  if (command == "train") return cmd_train(args);
  if (command == "evaluate") return cmd_evaluate(args);
  if (command == "generate") return cmd_generate(args);
  if (command == "--smoke" || command == "smoke") return cmd_smoke(args);
  fail("unknown command '", command, "' (expected train, evaluate, generate or --smoke; see --help)");
}

}  // namespace

int main(int argc, char** argv) { return legato::examples::guarded_main(kProgram, argc, argv, run); }

// melody_lstm: the seed's LSTM melody generator (spec §6), trained with
// truncated BPTT over whole songs by default, or in the seed's own window
// regime for comparison. See docs/melody_lstm.md.
//
//   melody_lstm train    --corpus DIR --out MODEL.safetensors [--time-budget S] [--metrics-json F] …
//   melody_lstm generate --model MODEL --out-dir DIR [--count 10] [--temperature 0.7] …
//   melody_lstm complete --model MODEL --primer FILE.krn|FILE.mid --out-dir DIR [--primer-steps 29] …
//   melody_lstm evaluate --model MODEL --corpus DIR
//   melody_lstm --smoke  [--work-dir DIR] [--corpus DIR]
//
// Every error is one line on stderr and a non-zero exit (1 for bad input).

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "examples/common/example_main.hpp"
#include "legato/music/timeseries.hpp"
#include "legato/util/cli.hpp"
#include "legato/util/file.hpp"
#include "legato/util/timer.hpp"

#include "data.hpp"
#include "evaluate.hpp"
#include "generate.hpp"
#include "model.hpp"
#include "smoke.hpp"
#include "train.hpp"

using legato::examples::answered_help;

namespace {

using legato::CommandLine;
using namespace melody_lstm;

// The corpus the project ships (data/), used when neither --corpus nor
// LEGATO_ESAC_DIR is given and the folder exists.
std::string default_corpus() {
#ifdef MELODY_LSTM_DATA_DIR
  std::error_code ec;
  if (std::filesystem::is_directory(MELODY_LSTM_DATA_DIR, ec)) return MELODY_LSTM_DATA_DIR;
#endif
  return "";
}

// Generation draws one token at a time: a team of threads per token costs
// more than it saves when other programs share the cores (measured in
// docs/results.md), so generate and complete use one thread unless told.
void one_thread_unless_told(const CommandLine& cli) {
  const char* env = std::getenv("LEGATO_NUM_THREADS");
  if (!cli.has("threads") && !(env && *env)) legato::set_num_threads(1);
}

// Declares --threads so that finish() accepts it; setup_threads() applies it later.
void declare_threads(CommandLine& cli, long shown_default = legato::num_threads()) {
  cli.integer("threads", shown_default, "worker threads for OpenMP and Eigen (or LEGATO_NUM_THREADS)");
}

// --precision auto | bf16 | fp32, declared with its help text; parsed by
// precision_of after --help and finish().
std::string precision_flag(CommandLine& cli, const char* what) {
  return cli.text("precision", "auto",
                  std::string("auto | bf16 | fp32: ") + what +
                      " (auto: bf16 when built for a CPU with AVX512_BF16, as -march=native on one is)");
}
legato::MatmulPrecision precision_of(const std::string& text) {
  legato::check(text == "auto" || text == "bf16" || text == "fp32", "--precision must be auto, bf16 or fp32, got '",
                text, "'");
  return legato::parse_matmul_precision(text);
}

constexpr const char* kGenerationPrecisionHelp =
    "bf16 products with float sums in the LSTM step, about half the time per token at H = 256";

// The mode is read first: window mode defaults to the seed's batch, rate, schedule and inputs.
Hyper hyper_flags(CommandLine& cli) {
  const std::string mode =
      cli.text("mode", "sequence", "sequence (truncated BPTT over whole songs) | window (the seed's regime)");
  Hyper h = mode == "window" ? Hyper::window_defaults() : Hyper{};
  h.mode = mode;
  h.hidden = cli.integer("hidden", h.hidden, "LSTM hidden units H");
  h.layers = cli.integer("layers", h.layers, "stacked LSTM layers");
  h.dropout = static_cast<float>(cli.real("dropout", h.dropout, "dropout after the LSTM (and between layers)"));
  h.batch = cli.integer("batch", h.batch, "lanes (sequence mode) or windows (window mode) per step; window: 64");
  h.seq_len = cli.integer("seq-len", h.seq_len, "steps per chunk (sequence) or window length (window)");
  h.lr = static_cast<float>(cli.real("lr", h.lr, "Adam learning rate; window: 0.001"));
  h.schedule = cli.text("schedule", h.schedule,
                        "cosine (decay to 0 over --epochs, else over --time-budget) | constant; window: constant");
  h.clip = static_cast<float>(cli.real("clip", h.clip, "clip the global gradient norm (0 = off)"));
  h.weight_decay = static_cast<float>(
      cli.real("weight-decay", h.weight_decay, "AdamW's decoupled weight decay (0 = Adam, as the seed); window: 0"));
  h.mid_song_starts = static_cast<float>(cli.real(
      "mid-song-starts", h.mid_song_starts,
      "the share of songs read from a random token on, from the zero state and seeing nothing before it, as a "
      "window of the seed's regime reads a song; the rest from the start (sequence mode); window: 0"));
  h.inputs = cli.text("inputs", h.inputs,
                      "tokens+meter+lookback+repeat: each step also reads its position in the bar, the bar's and the "
                      "beat's lengths, the tokens 1, 2, 4 and 8 bars back, and the token that followed the longest "
                      "earlier repeat of the latest notes, with that repeat's length | tokens+meter+lookback: without "
                      "the repeat | tokens+meter: without the lookback | tokens: the token alone, as the seed; "
                      "window: tokens");
  const long seed = cli.integer("seed", static_cast<long>(h.seed), "seed of the weights, song order and dropout");
  legato::check(seed >= 0, "--seed must be >= 0, got ", seed);
  h.seed = static_cast<std::uint64_t>(seed);
  return h;
}

int cmd_train(const std::vector<std::string>& args) {
  CommandLine cli("train", args);
  TrainOptions opt;
  opt.corpus = legato::examples::corpus_dir(cli, default_corpus());
  opt.out = cli.text("out", "", "the checkpoint MODEL.safetensors (written after every epoch and at the end)");
  opt.epochs = cli.integer("epochs", 0, "stop after N epochs in all (0: 10 without --time-budget, else no limit; with --resume, the saved plan's)");
  opt.time_budget = cli.real("time-budget", 0, "seconds for the training loop; the final evaluation comes after");
  opt.stop_after_steps = cli.integer("steps", 0, "stop after N optimiser steps of this run (0 = no limit; timing)");
  opt.metrics_json = cli.text("metrics-json", "", "write the final metrics as one JSON object");
  opt.resume = cli.flag("resume", "continue from --out (model, Adam state, epoch, lane state)");
  opt.best_out = cli.text("best-out", "",
                          "hold back ~10% of the training songs for validation and keep the model with the lowest "
                          "validation NLL here (for long budgets: the model over-fits after about a minute)");
  opt.patience = cli.integer("patience", 0,
                             "with --best-out: stop once N epochs in a row bring no better validation NLL (0: never)");
  opt.final_extras = !cli.flag("no-baseline", "skip the n-gram baseline and seed-style accuracy at the end");
  opt.parallel = cli.text("parallel", opt.parallel,
                          "lanes: each thread trains a share of the batch (robust on a busy machine) | units: the LSTM "
                          "kernels split the hidden units");
  const std::string precision =
      precision_flag(cli, "bf16 products with float sums in the LSTM's recurrent GEMMs while training, about 1.5x the "
                          "steps per second; evaluation always runs in fp32");
  opt.device = cli.text("device", opt.device,
                        "cpu | cuda: run the training steps on the GPU (a build with -DLEGATO_CUDA=ON); the "
                        "evaluations stay on the CPU");
  Hyper h = hyper_flags(cli);
  declare_threads(cli);
  if (answered_help(cli, "melody_lstm train --corpus DIR --out MODEL.safetensors [flags]")) return 0;
  cli.finish();
  // auto is the CPU's best; the GPU steps are fp32 (cuda_step.hpp).
  opt.precision = opt.device == "cuda" && precision == "auto" ? legato::MatmulPrecision::fp32 : precision_of(precision);
  legato::examples::require_directory(opt.corpus, "train");
  h.validate();
  check_train_options(opt);
  if (opt.device == "cuda") {  // a build without CUDA, or no GPU: one line, before the corpus is read
    try {
      legato::cuda::require_device();
    } catch (const legato::Error& e) {
      legato::fail("train --device cuda: ", e.what());
    }
  }
  // The seed's 10 epochs; a resumed run continues to the end of its own plan (train.hpp).
  if (opt.epochs == 0 && opt.time_budget == 0 && !opt.resume) opt.epochs = 10;
  if (opt.resume)
    legato::check(std::filesystem::exists(opt.out), "train: --resume needs an existing checkpoint, '", opt.out,
                  "' does not exist");
  std::vector<std::string> given;
  for (const char* flag :
       {"hidden", "layers", "dropout", "batch", "seq-len", "lr", "schedule", "clip", "weight-decay", "mid-song-starts",
        "mode", "inputs", "seed"})
    if (cli.has(flag)) given.push_back(flag);
  // Read the corpus (and the checkpoint to resume) before the banner, so that
  // bad input gets its one line of error and nothing else.
  const MelodyData data = load_melody_data(opt.corpus);
  if (opt.resume) {
    const LoadedModel saved = load_model(opt.out);
    require_same_vocabulary(saved.vocab, opt.out, data.vocab, opt.corpus);
    check_resume_flags(h, saved.hyper, given, opt.out);
    legato::check(saved.progress.validation_split == !opt.best_out.empty(), "--resume: '", opt.out, "' was trained ",
                  saved.progress.validation_split ? "with" : "without", " --best-out; resume it the same way");
  }
  opt.threads = legato::examples::setup_threads(cli);
  if (opt.device == "cuda" && opt.time_budget > 0 && opt.epochs == 0 && !opt.resume)
    std::fprintf(stderr,
                 "note: a GPU minute holds about 5 times the CPU's epochs, and past about 25 the default model "
                 "over-fits (docs/cuda.md); --epochs N plans the run as the CPU's minute would (about 24 on han, 18 on "
                 "deutsch), or --best-out FILE keeps the best epoch\n");
  if (opt.time_budget > 90 && opt.best_out.empty())
    std::fprintf(stderr,
                 "note: past about a minute the default model over-fits (docs/results.md); --best-out FILE keeps "
                 "the epoch with the lowest validation NLL, and --patience N stops once N epochs bring nothing better\n");
  const double load_start = load_average();
  std::fprintf(stderr, "load average at start: %.2f\n", load_start);

  const TrainResult r = train(opt, h, given, &data);
  std::printf("held-out: %s (%lld targets)\n", format_metrics(r.held_out).c_str(),
              static_cast<long long>(r.held_out.targets));
  if (r.ngram)
    std::printf("n-gram baseline (order %d): NLL %.4f nats/step, accuracy %.4f; LSTM is %s\n", r.ngram->order,
                r.ngram->metrics.nll(), r.ngram->metrics.accuracy(),
                relative_nll(r.held_out.nll(), r.ngram->metrics.nll()).c_str());
  if (r.seed_style) std::printf("seed-style accuracy: %.4f over %lld windows\n", r.seed_style->accuracy,
                                static_cast<long long>(r.seed_style->windows));
  std::printf("train: %.1f s loop, %.1f s in steps, %.0f timesteps/s, peak RSS %.0f MB\n", r.progress.train_seconds,
              r.step_seconds, r.step_seconds > 0 ? double(r.lane_steps) / r.step_seconds : 0.0, legato::peak_rss_mb());
  if (!opt.metrics_json.empty()) write_metrics_json(opt.metrics_json, metrics_json(r, r.hyper, opt, load_start));
  return 0;
}

constexpr const char* kBarsHelp =
    "N or MIN:MAX: the melody's length in bars of its meter, the seed included and an upbeat not counted; the end "
    "cannot be drawn before bar MIN ends, and a melody that ends bar MAX without one stops there (cut back to its "
    "likeliest end from MIN bars on, as at --max-steps) (default: no bound)";

constexpr const char* kCutAtMaxStepsHelp =
    "stop a melody that reaches --max-steps without an end where it is, instead of cutting it back to where the "
    "model gave the end its highest probability";

std::string model_flag(CommandLine& cli) { return cli.text("model", "", "the checkpoint written by train"); }

int cmd_generate(const std::vector<std::string>& args) {
  CommandLine cli("generate", args);
  const std::string model_path = model_flag(cli);
  GenerateRequest r;
  r.out_dir = cli.text("out-dir", "", "folder for the .mid and .krn files");
  r.count = cli.integer("count", r.count, "melodies to generate");
  r.sample.temperature = static_cast<float>(cli.real("temperature", r.sample.temperature, "sampling temperature T > 0"));
  r.sample.max_steps = cli.integer("max-steps", r.sample.max_steps, "at most this many drawn tokens per melody");
  r.sample.cut_at_max_steps = cli.flag("cut-at-max-steps", kCutAtMaxStepsHelp);
  const std::string bars = cli.text("bars", "", kBarsHelp);
  const long rng_seed = cli.integer("rng-seed", 1, "seed of the sampler");
  r.seed = legato::music::split_tokens(cli.text("seed-melody", "55", "the melody's first tokens (E-TS)"));
  r.output = legato::examples::read_output_flags(cli, "the model's C major / A minor", "120 qpm, 4/4");
  const std::string precision = precision_flag(cli, kGenerationPrecisionHelp);
  declare_threads(cli, 1);
  if (answered_help(cli, "melody_lstm generate --model MODEL --out-dir DIR [flags]")) return 0;
  cli.finish();
  legato::check(!model_path.empty(), "generate: --model MODEL.safetensors is required");
  legato::check(!r.out_dir.empty(), "generate: --out-dir DIR is required");
  legato::check(rng_seed >= 0, "--rng-seed must be >= 0, got ", rng_seed);
  r.sample.rng_seed = static_cast<std::uint64_t>(rng_seed);
  r.sample.precision = precision_of(precision);
  parse_bars(bars, r.sample);
  check_sample_options(r.sample);
  legato::music::check_melody_output(r.output.over({}));
  const LoadedModel m = load_model(model_path);
  check_generate_request(m, r, r.output.over({}));  // before the banner: an error is its one line
  one_thread_unless_told(cli);
  legato::examples::setup_threads(cli);
  generate_melodies(m, r);
  return 0;
}

int cmd_complete(const std::vector<std::string>& args) {
  CommandLine cli("complete", args);
  const std::string model_path = model_flag(cli);
  const std::string primer = cli.text("primer", "", "a .krn or .mid melody to continue");
  const long primer_steps =
      cli.integer("primer-steps", 29, "16th steps of the primer to keep (29: the seed's cut of france12)");
  GenerateRequest r;
  r.count = 5;
  r.out_dir = cli.text("out-dir", "", "folder for the .mid and .krn files");
  r.count = cli.integer("count", r.count, "completions to generate");
  r.sample.temperature = static_cast<float>(cli.real("temperature", r.sample.temperature, "sampling temperature T > 0"));
  r.sample.max_steps = cli.integer("max-steps", r.sample.max_steps, "at most this many drawn tokens per melody");
  r.sample.cut_at_max_steps = cli.flag("cut-at-max-steps", kCutAtMaxStepsHelp);
  const std::string bars = cli.text("bars", "", kBarsHelp);
  const long rng_seed = cli.integer("rng-seed", 1, "seed of the sampler");
  r.output = legato::examples::read_output_flags(
      cli, "the primer's key", "the primer's, else 120 qpm, 4/4",
      "the primer's upbeat; with --meter or --pickup the model also reads the primer in those bars");
  const std::string precision = precision_flag(cli, kGenerationPrecisionHelp);
  declare_threads(cli, 1);
  if (answered_help(cli, "melody_lstm complete --model MODEL --primer FILE.krn|FILE.mid --out-dir DIR [flags]")) return 0;
  cli.finish();
  legato::check(!model_path.empty(), "complete: --model MODEL.safetensors is required");
  legato::check(!primer.empty(), "complete: --primer FILE.krn|FILE.mid is required");
  legato::check(!r.out_dir.empty(), "complete: --out-dir DIR is required");
  legato::check(rng_seed >= 0, "--rng-seed must be >= 0, got ", rng_seed);
  r.sample.rng_seed = static_cast<std::uint64_t>(rng_seed);
  r.sample.precision = precision_of(precision);
  parse_bars(bars, r.sample);
  check_sample_options(r.sample);
  const LoadedModel m = load_model(model_path);
  const Primer p = read_primer(primer, primer_steps);
  check_generate_request(m, completion_request(p, r), r.output.over(primer_output(p)));  // before the banner
  one_thread_unless_told(cli);
  legato::examples::setup_threads(cli);
  complete_melody(m, p, r);
  return 0;
}

int cmd_evaluate(const std::vector<std::string>& args) {
  CommandLine cli("evaluate", args);
  const std::string model_path = model_flag(cli);
  const std::string corpus = legato::examples::corpus_dir(cli, default_corpus());
  const bool on_training = cli.flag("seed-style-on-training",
                                    "also score the seed-style accuracy on the training songs, as the seed measured its own");
  declare_threads(cli);
  if (answered_help(cli, "melody_lstm evaluate --model MODEL --corpus DIR [--seed-style-on-training]")) return 0;
  cli.finish();
  legato::check(!model_path.empty(), "evaluate: --model MODEL.safetensors is required");
  legato::examples::require_directory(corpus, "evaluate");
  LoadedModel m = load_model(model_path);
  const MelodyData data = load_melody_data(corpus);
  require_same_vocabulary(m.vocab, model_path, data.vocab, corpus);
  legato::check(!data.held_out.empty(), "evaluate: the corpus '", corpus,
                "' has no held-out song (FNV-1a(name) % 10 == 0)");
  const int threads = legato::examples::setup_threads(cli);
  std::printf("model %s: %s mode, inputs %s, H=%lld, %lld layer(s), trained %lld epochs + %lld steps in %.1f s on %s\n",
              model_path.c_str(), m.hyper.mode.c_str(), m.hyper.inputs.c_str(), static_cast<long long>(m.hyper.hidden),
              static_cast<long long>(m.hyper.layers), static_cast<long long>(m.progress.epochs_done),
              static_cast<long long>(m.progress.step_in_epoch), m.progress.train_seconds, m.corpus.c_str());
  legato::Stopwatch clock;
  const EvaluationReport report = evaluate_model(*m.model, m.hyper, data, threads);
  print_evaluation(report, stdout);
  if (on_training) {  // the seed's 0.7676 / 0.8677 are this number for its own model
    const SeedStyleResult t = seed_style_accuracy(*m.model, data.train, data.vocab, m.hyper.mode == "window", threads);
    std::printf("seed-style accuracy on the %zu training songs: %.4f over %lld windows\n", data.train.size(), t.accuracy,
                static_cast<long long>(t.windows));
  }
  std::printf("evaluated in %.1f s, peak RSS %.0f MB\n", clock.seconds(), legato::peak_rss_mb());
  return 0;
}

int cmd_smoke(const std::vector<std::string>& args) {
  CommandLine cli("--smoke", args);
  SmokeOptions opt;
  opt.work_dir = cli.text("work-dir", "", "keep the corpus, model and melodies here (default: a temporary folder)");
  opt.corpus = cli.text("corpus", default_corpus(),
                        "corpus to use (default: data/, else a tiny written one; \"\" for the tiny one)");
  declare_threads(cli);
  if (answered_help(cli, "melody_lstm --smoke [--work-dir DIR] [--corpus DIR]")) return 0;
  cli.finish();
  std::error_code ec;
  legato::check(opt.work_dir.empty() || !std::filesystem::exists(opt.work_dir, ec) ||
                    std::filesystem::is_directory(opt.work_dir, ec),
                "--smoke: --work-dir '", opt.work_dir, "' is a file, not a folder");
  if (cli.has("corpus") && !opt.corpus.empty()) {  // a corpus asked for is used, or refused: never replaced
    legato::examples::require_directory(opt.corpus, "--smoke");
    legato::check(smoke::usable_corpus(opt.corpus), "--smoke: corpus '", opt.corpus,
                  "' needs at least 4 training songs and 1 held-out song");
  }
  legato::examples::setup_threads(cli);
  return run_smoke(opt);
}

constexpr const char* kUsage =
    "usage: melody_lstm COMMAND [flags]   (COMMAND --help lists the flags)\n"
    "  train     --corpus DIR --out MODEL.safetensors [--epochs N] [--time-budget S] [--mode sequence|window]\n"
    "            [--best-out BEST.safetensors [--patience N]] …\n"
    "  generate  --model MODEL --out-dir DIR [--count 10] [--temperature 0.7] [--seed-melody \"55\"] …\n"
    "  complete  --model MODEL --primer FILE.krn|FILE.mid --out-dir DIR [--primer-steps 29] …\n"
    "  evaluate  --model MODEL --corpus DIR [--seed-style-on-training]\n"
    "  --smoke   [--work-dir DIR] [--corpus DIR]   a tiny end-to-end run for CI\n";

}  // namespace

int main(int argc, char** argv) {
  return legato::examples::guarded_main("melody_lstm", argc, argv, [](const std::vector<std::string>& all) {
    if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
      std::fputs(kUsage, all.empty() ? stderr : stdout);
      return all.empty() ? 1 : 0;
    }
    const std::string command = all[0];
    if (command == "--smoke") return cmd_smoke({all.begin() + 1, all.end()});
    const std::vector<std::string> args(all.begin() + 1, all.end());
    if (command == "train") return cmd_train(args);
    if (command == "generate") return cmd_generate(args);
    if (command == "complete") return cmd_complete(args);
    if (command == "evaluate") return cmd_evaluate(args);
    legato::fail("unknown command '", command, "' (expected train, generate, complete, evaluate or --smoke)");
  });
}

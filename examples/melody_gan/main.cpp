// melody_gan: the seed's three GANs (spec §7), rebuilt, with the seed's setup
// kept for comparison. See docs/results_gan.md.
//
//   melody_gan train    --corpus DIR --out MODEL.safetensors [--arch simple|conv|complex] [--separate] …
//   melody_gan generate --model MODEL --out-dir DIR [--count 10] [--seed-decoding]
//   melody_gan evaluate --model MODEL --corpus DIR [--count 100] [--metrics-json F]
//   melody_gan --smoke  [--work-dir DIR] [--corpus DIR]
//
// Every error is one line on stderr and a non-zero exit (1 for bad input).

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "examples/common/example_main.hpp"
#include "examples/common/output_flags.hpp"
#include "legato/util/cli.hpp"
#include "legato/util/file.hpp"

#include "commands.hpp"
#include "smoke.hpp"

using legato::examples::answered_help;

namespace {

using legato::CommandLine;
using namespace melody_gan;

std::string default_corpus() {
#ifdef MELODY_GAN_DATA_DIR
  std::error_code ec;
  if (std::filesystem::is_directory(MELODY_GAN_DATA_DIR, ec)) return MELODY_GAN_DATA_DIR;
#endif
  return "";
}

void declare_threads(CommandLine& cli) {
  cli.integer("threads", legato::num_threads(), "worker threads for OpenMP and Eigen (or LEGATO_NUM_THREADS)");
}

std::uint64_t non_negative(long v, const char* flag) {
  legato::check(v >= 0, "--", flag, " must be >= 0, got ", v);
  return static_cast<std::uint64_t>(v);
}

int cmd_train(const std::vector<std::string>& args) {
  CommandLine cli("train", args);
  TrainRequest req;
  req.corpus = legato::examples::corpus_dir(cli, default_corpus());
  req.out = cli.text("out", "", "the checkpoint MODEL.safetensors");
  req.metrics_json = cli.text("metrics-json", "", "write the losses per epoch and the run's facts as JSON");
  req.time_budget = cli.real("time-budget", 0, "stop after the epoch that passes S seconds (0 = no limit)");
  GanConfig c;
  c.arch = cli.text("arch", c.arch, "simple (dense) | conv (Conv1d) | complex (deeper dense, BatchNorm, dropout)");
  c.separate = cli.flag("separate", "two GANs, notes and durations, as the seed (default: one GAN, two channels)");
  c.seed_range = cli.flag("seed-range", "keep the seed's [0,1] data against tanh's (-1,1) (default: data in [-1,1])");
  const bool seed_setup = cli.flag("seed-setup", "the seed's setup: --separate --seed-range");
  c.latent = cli.integer("latent", 0, "latent size (default: 200 simple, 100 conv/complex)");
  c.seq_len = cli.integer("seq-len", 0, "events per melody L (default: 20 simple, 30 conv/complex)");
  c.batch = cli.integer("batch", c.batch, "songs per batch");
  c.epochs = cli.integer("epochs", c.epochs, "epochs");
  c.d_steps = cli.integer("d-steps", c.d_steps, "discriminator updates per generator update");
  c.lr_g = cli.real("lr-g", c.lr_g, "generator Adam learning rate");
  c.lr_d = cli.real("lr-d", 0, "discriminator Adam learning rate (default: 2e-4 simple, 1e-4 conv/complex)");
  c.seed = non_negative(cli.integer("seed", 1, "seed of the weights, batch order, z and dropout"), "seed");
  declare_threads(cli);
  if (answered_help(cli, "melody_gan train --corpus DIR --out MODEL.safetensors [flags]")) return 0;
  cli.finish();
  if (seed_setup) c.separate = c.seed_range = true;
  legato::examples::require_directory(req.corpus, "train");
  legato::check(!req.out.empty(), "train: --out MODEL.safetensors is required");
  legato::check(req.time_budget >= 0, "--time-budget must be >= 0, got ", req.time_budget);
  c.resolve();
  c.validate();
  legato::check_output_file(req.out, "out");
  legato::check_output_file(req.metrics_json, "metrics-json");
  legato::check_distinct_outputs({{"out", req.out}, {"metrics-json", req.metrics_json}});
  // Read before the build banner: an unusable corpus is the only line on stderr.
  const GanData data = load_train_data(req.corpus, c);
  legato::examples::setup_threads(cli);
  train_model(c, req, data);
  return 0;
}

int cmd_generate(const std::vector<std::string>& args) {
  CommandLine cli("generate", args);
  const std::string model_path = cli.text("model", "", "the checkpoint written by train");
  GenerateRequest req;
  req.out_dir = cli.text("out-dir", "", "folder for sample_NNN.mid and sample_NNN.krn");
  req.count = cli.integer("count", req.count, "melodies to generate");
  req.rng_seed = non_negative(cli.integer("rng-seed", 1, "seed of the latent draws"), "rng-seed");
  if (cli.flag("seed-decoding", "truncate as the seed did (never a rest) instead of rounding to the nearest class"))
    req.rounding = Rounding::truncate;
  req.output = legato::examples::read_output_flags(cli, "the model's C major / A minor", "120 qpm, 4/4").over({});
  declare_threads(cli);
  if (answered_help(cli, "melody_gan generate --model MODEL --out-dir DIR [flags]")) return 0;
  cli.finish();
  legato::check(!model_path.empty(), "generate: --model MODEL.safetensors is required");
  legato::check(!req.out_dir.empty(), "generate: --out-dir DIR is required");
  legato::check(req.count >= 1 && req.count <= 100000, "--count must be between 1 and 100000, got ", req.count);
  legato::music::check_melody_output(req.output);
  legato::check_output_dir(req.out_dir, "out-dir");
  LoadedGan loaded = load_gan(model_path);
  legato::examples::setup_threads(cli);
  write_samples(*loaded.model, req);
  std::printf("wrote %ld melodies (.mid and .krn) to %s\n", req.count, req.out_dir.c_str());
  return 0;
}

int cmd_evaluate(const std::vector<std::string>& args) {
  CommandLine cli("evaluate", args);
  const std::string model_path = cli.text("model", "", "the checkpoint written by train");
  EvaluateRequest req;
  req.corpus = legato::examples::corpus_dir(cli, default_corpus());
  req.count = cli.integer("count", req.count, "generated melodies (and at most as many held-out songs) to compare");
  req.rng_seed = non_negative(cli.integer("rng-seed", 1, "seed of the latent draws"), "rng-seed");
  req.metrics_json = cli.text("metrics-json", "", "write the evaluation as JSON");
  declare_threads(cli);
  if (answered_help(cli, "melody_gan evaluate --model MODEL --corpus DIR [flags]")) return 0;
  cli.finish();
  legato::check(!model_path.empty(), "evaluate: --model MODEL.safetensors is required");
  legato::examples::require_directory(req.corpus, "evaluate");
  legato::check(req.count >= 2 && req.count <= 10000, "--count must be between 2 and 10000, got ", req.count);
  legato::check_output_file(req.metrics_json, "metrics-json");
  LoadedGan loaded = load_gan(model_path);
  const GanData data = load_evaluate_data(req.corpus, loaded.model->config);  // before the banner, as in train
  legato::examples::setup_threads(cli);
  evaluate_model(loaded, req, data);
  return 0;
}

int cmd_smoke(const std::vector<std::string>& args) {
  CommandLine cli("--smoke", args);
  SmokeOptions opt;
  opt.work_dir = cli.text("work-dir", "", "keep the models and melodies here (default: a temporary folder)");
  opt.corpus = cli.text("corpus", default_corpus(), "a small corpus (default: the repository's data/)");
  declare_threads(cli);
  if (answered_help(cli, "melody_gan --smoke [--work-dir DIR] [--corpus DIR]")) return 0;
  cli.finish();
  if (!opt.work_dir.empty()) legato::check_output_dir(opt.work_dir, "work-dir");
  legato::check(!opt.corpus.empty() && std::filesystem::is_directory(opt.corpus), "--smoke: corpus '", opt.corpus,
                "' is not a folder (pass --corpus DIR)");
  legato::examples::setup_threads(cli);
  return run_smoke(opt);
}

constexpr const char* kUsage =
    "usage: melody_gan COMMAND [flags]   (COMMAND --help lists the flags)\n"
    "  train     --corpus DIR --out MODEL.safetensors [--arch simple|conv|complex] [--separate] [--d-steps 1] …\n"
    "  generate  --model MODEL --out-dir DIR [--count 10] [--seed-decoding]\n"
    "  evaluate  --model MODEL --corpus DIR [--count 100] [--metrics-json F]\n"
    "  --smoke   [--work-dir DIR] [--corpus DIR]   a short end-to-end run for CI\n";

}  // namespace

int main(int argc, char** argv) {
  return legato::examples::guarded_main("melody_gan", argc, argv, [](const std::vector<std::string>& all) {
    if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
      std::fputs(kUsage, all.empty() ? stderr : stdout);
      return all.empty() ? 1 : 0;
    }
    const std::string command = all[0];
    const std::vector<std::string> args(all.begin() + 1, all.end());
    if (command == "--smoke") return cmd_smoke(args);
    if (command == "train") return cmd_train(args);
    if (command == "generate") return cmd_generate(args);
    if (command == "evaluate") return cmd_evaluate(args);
    legato::fail("unknown command '", command, "' (expected train, generate, evaluate or --smoke)");
  });
}

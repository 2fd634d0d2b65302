// melody_random: the seed's random baseline (spec §3), the floor every
// learned model has to clear.
//
//   melody_random generate --config all --count 4 --seed 7 --out-dir out/random
//   melody_random evaluate --count 100 --corpus /data/esac/han
//   melody_random train --config chord --out chord.safetensors   (no learning: stores the configuration)
//   melody_random generate --model chord.safetensors --out-dir out/random
//   melody_random --smoke
//
// A melody is built until it lasts `quarters` (16) quarters: draw a duration
// uniformly from T = {0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4}, clipping it to what
// is left; then a rest with probability p, else a pitch drawn uniformly from
// the configuration's list. The three configurations of the seed:
//   basic      C D E F G A B (MIDI 60..71, white keys)  p = 0.2   (random.mid)
//   chromatic  the 12 pitch classes C..B (MIDI 60..71)  p = 0.1
//   chord      C E G B-flat (60, 64, 67, 70)            p = 0.05  (random_with_chords.mid)
//
// There is nothing to learn: `train` only writes the configuration as a
// safetensors file (the pitch list as a tensor, the rest in the metadata) so
// that `generate --model` works as for the other programs; `evaluate` reports
// statistics of generated samples (rests, scale, distinct melodies) and,
// given a corpus, the same statistics of the held-out songs next to them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/example_main.hpp"
#include "../common/metrics_file.hpp"
#include "../common/smoke_folder.hpp"
#include "../common/output_flags.hpp"
#include "legato/io/safetensors.hpp"
#include "legato/music/corpus.hpp"
#include "legato/music/duration_table.hpp"
#include "legato/music/song_io.hpp"
#include "legato/util/file.hpp"
#include "legato/util/progress.hpp"
#include "legato/util/random.hpp"
#include "legato/util/timer.hpp"

using legato::examples::answered_help;
using legato::examples::write_metrics_json;

namespace {

using namespace legato;
using music::Melody;
using music::MelodyNote;

constexpr const char* kProgram = "melody_random";

// ------------------------------------------------------- configurations ----

struct RandomConfig {
  std::string name;
  std::vector<int> pitches;  // MIDI numbers, drawn uniformly
  double p_rest = 0;         // probability of a rest per event
  double quarters = 16;      // target length
};

const std::vector<RandomConfig>& seed_configs() {
  static const std::vector<RandomConfig> configs = {
      {"basic", {60, 62, 64, 65, 67, 69, 71}, 0.2, 16},
      {"chromatic", {60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71}, 0.1, 16},
      {"chord", {60, 64, 67, 70}, 0.05, 16},
  };
  return configs;
}

const RandomConfig& config_named(const std::string& name) {
  for (const RandomConfig& c : seed_configs())
    if (c.name == name) return c;
  fail("--config must be basic, chromatic, chord or all, got '", name, "'");
}

// The generator of melody `index` of configuration `config_index`: each file
// depends only on (seed, configuration, index), not on --count or --config all.
Rng melody_rng(std::uint64_t seed, std::size_t config_index, std::size_t index) {
  return Rng(seed * 0x9E3779B97F4A7C15ULL ^ (std::uint64_t(config_index + 1) << 40) ^ std::uint64_t(index));
}

// The seed's loop (spec §3): duration first, clipped to what is left; then
// rest or pitch. Durations are exact multiples of 1/4, so the sum is exact.
Melody random_melody(const RandomConfig& config, Rng& rng) {
  const auto& table = music::duration_table();
  Melody melody;
  double length = 0;
  while (length < config.quarters) {
    double d = table[rng.below(table.size())].to_double();
    if (length + d > config.quarters) d = config.quarters - length;
    const bool rest = double(rng.uniform()) < config.p_rest;
    const int pitch = rest ? music::kRest : config.pitches[rng.below(config.pitches.size())];
    melody.push_back({pitch, d});
    length += d;
  }
  return melody;
}

// A melody's length in quarters: whole 16ths (durations come from T, whose
// smallest value is a 16th), at least one and at most 4096 quarters.
bool valid_quarters(double q) { return q >= 0.25 && q <= 4096 && q * 4 == std::floor(q * 4); }

// ---------------------------------------------------------------- files ----

// A configuration as a "checkpoint": the pitch list as a (P,) tensor and
// everything else in the metadata.
void save_config(const std::string& path, const RandomConfig& c) {
  std::vector<float> values(c.pitches.begin(), c.pitches.end());
  Tensor pitches = Tensor::from_vector({std::int64_t(values.size())}, values);
  save_safetensors(path, {{"pitches", pitches}},
                   {{"model", "melody_random"},
                    {"config", c.name},
                    {"p_rest", detail::concat(c.p_rest)},
                    {"quarters", detail::concat(c.quarters)}});
}

RandomConfig load_config(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  auto meta = [&](const std::string& key) {
    const auto it = f.metadata.find(key);
    check(it != f.metadata.end(), path, ": not a melody_random file (metadata '", key, "' missing)");
    return it->second;
  };
  check(meta("model") == "melody_random", path, ": written by '", meta("model"), "', not melody_random");
  // A number in the metadata; a malformed one is bad input, not a crash.
  auto number = [&](const std::string& key) {
    const std::string v = meta(key);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    check(!v.empty() && end && *end == '\0', path, ": metadata '", key, "' = '", v, "' is not a number");
    return x;
  };
  RandomConfig c;
  c.name = meta("config");
  // The name goes into the file names of the melodies: only the seed's three.
  bool known = false;
  for (const RandomConfig& seed : seed_configs()) known = known || seed.name == c.name;
  check(known, path, ": metadata 'config' = '", c.name, "' is not basic, chromatic or chord");
  c.p_rest = number("p_rest");
  c.quarters = number("quarters");
  const Tensor* p = f.find("pitches");
  check(p != nullptr && p->dim() == 1 && p->numel() > 0, path, ": tensor 'pitches' missing or not a non-empty list");
  for (std::int64_t i = 0; i < p->numel(); ++i) {
    const float v = p->data()[i];
    check(v >= 0 && v <= 127 && v == float(int(v)), path, ": pitch ", v, " is not a MIDI number");
    c.pitches.push_back(int(v));
  }
  check(c.p_rest >= 0 && c.p_rest <= 1, path, ": p_rest ", c.p_rest, " is outside [0, 1]");
  check(valid_quarters(c.quarters), path, ": quarters ", c.quarters, " is not a multiple of 0.25 in [0.25, 4096]");
  return c;
}

// The configurations a command works on: --model FILE, else --config NAME|all,
// with --p-rest / --quarters overriding the seed's values when given.
std::vector<RandomConfig> chosen_configs(CommandLine& cli) {
  const std::string model = cli.text("model", "", "a configuration written by `train` (instead of --config)");
  const std::string name = cli.text("config", "all", "basic, chromatic, chord or all");
  const double p_rest = cli.real("p-rest", -1, "rest probability (default: the configuration's)");
  const double quarters = cli.real("quarters", 16, "length of each melody in quarters, in 16ths (0.25)");
  std::vector<RandomConfig> out;
  if (!model.empty()) {
    check(!cli.has("config"), "give --model or --config, not both");
    out.push_back(load_config(model));
  } else if (name == "all") {
    out = seed_configs();
  } else {
    out.push_back(config_named(name));
  }
  check(!cli.has("p-rest") || (p_rest >= 0 && p_rest <= 1), "--p-rest must be in [0, 1], got ", p_rest);
  check(valid_quarters(quarters), "--quarters must be a multiple of 0.25 (a 16th) in [0.25, 4096], got ", quarters);
  for (RandomConfig& c : out) {
    if (cli.has("p-rest")) c.p_rest = p_rest;
    if (cli.has("quarters")) c.quarters = quarters;
  }
  return out;
}

std::uint64_t seed_flag(CommandLine& cli) {
  const long seed = cli.integer("seed", 1, "random seed (a seed gives the same melodies every run)");
  check(seed >= 0, "--seed must be >= 0, got ", seed);
  return std::uint64_t(seed);
}

// Declares --threads up front so that --help lists it and a bad flag is
// reported before examples::setup_threads prints the build banner: an error
// stays one line.
void declare_threads(CommandLine& cli) {
  cli.integer("threads", init_threads_from_env(), "worker threads for OpenMP and Eigen");
}

// ------------------------------------------------------------- commands ----

int cmd_generate(const std::vector<std::string>& args) {
  CommandLine cli("melody_random generate", args);
  auto configs = chosen_configs(cli);
  const std::uint64_t seed = seed_flag(cli);
  const long count = cli.integer("count", 1, "melodies per configuration");
  const std::string out_dir = cli.text("out-dir", "out/random", "folder for the .mid and .krn files");
  const std::string metrics = cli.text("metrics-json", "", "write a JSON summary here");
  const bool quiet = cli.flag("quiet", "do not print the melodies");
  const music::MelodyOutput output =
      examples::read_output_flags(cli, "the configuration's pitches", "120 qpm, 4/4").over({});
  declare_threads(cli);
  if (answered_help(cli, "melody_random generate [--config basic|chromatic|chord|all] [--count N] "
                          "[--seed S] [--out-dir DIR]"))
    return 0;
  cli.finish();
  check(count >= 1 && count <= 100000, "--count must be in 1..100000, got ", count);
  music::check_melody_output(output);
  legato::check_output_dir(out_dir, "out-dir");
  legato::check_output_file(metrics, "metrics-json");
  examples::setup_threads(cli);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  check(!ec && std::filesystem::is_directory(out_dir), "--out-dir '", out_dir, "' cannot be created: ", ec.message());

  nlohmann::json summary = {{"program", kProgram}, {"command", "generate"}, {"seed", seed}, {"files", nlohmann::json::array()}};
  ProgressBar bar("generate", long(configs.size()) * count);
  long done = 0;
  for (std::size_t k = 0; k < configs.size(); ++k) {
    const RandomConfig& c = configs[k];
    // For a --model file the index is that of its seed configuration, so a
    // stored "chord" gives the same melodies as --config chord.
    std::size_t config_index = k;
    for (std::size_t s = 0; s < seed_configs().size(); ++s)
      if (seed_configs()[s].name == c.name) config_index = s;
    for (long i = 0; i < count; ++i) {
      Rng rng = melody_rng(seed, config_index, std::size_t(i));
      const Melody melody = random_melody(c, rng);
      char name[64];
      std::snprintf(name, sizeof name, "random_%s_%03ld", c.name.c_str(), i + 1);
      const std::filesystem::path stem = std::filesystem::path(out_dir) / name;
      music::write_generated_melody(stem, melody, output,
                                    detail::concat(kProgram, " ", c.name, " #", i + 1, " (seed ", seed, ")"));
      if (!quiet) {
        std::printf("%s:", name);
        for (const MelodyNote& n : melody) std::printf(" %s/%g", music::pitch_name(n.pitch).c_str(), n.quarters);
        std::printf("\n");
      }
      summary["files"].push_back(stem.string() + ".mid");
      bar.update(++done, c.name);
    }
  }
  bar.finish();
  std::fprintf(stderr, "wrote %ld melodies (.mid and .krn) to %s\n", done, out_dir.c_str());
  write_metrics_json(metrics, summary);
  return 0;
}

int cmd_train(const std::vector<std::string>& args) {
  CommandLine cli("melody_random train", args);
  auto configs = chosen_configs(cli);
  const std::string out = cli.text("out", "", "where to write the configuration (.safetensors)");
  if (answered_help(cli, "melody_random train --config basic|chromatic|chord --out FILE.safetensors\n"
                          "There is nothing to learn: this stores the configuration for `generate --model`."))
    return 0;
  cli.finish();
  check(!out.empty(), "train needs --out FILE.safetensors");
  check(configs.size() == 1, "train stores one configuration: pass --config basic, chromatic or chord");
  legato::check_output_file(out, "out");
  save_config(out, configs[0]);
  std::printf("melody_random has no parameters to learn; wrote configuration '%s' (p_rest %g, %zu pitches) to %s\n",
              configs[0].name.c_str(), configs[0].p_rest, configs[0].pitches.size(), out.c_str());
  return 0;
}

// Statistics of a set of melodies: how many events, how many rests, how many
// notes inside the C-major / A-minor scale, how many distinct melodies.
struct MelodyStats {
  std::size_t melodies = 0, events = 0, rests = 0, notes = 0, in_scale = 0, distinct = 0;
  double quarters = 0;

  static MelodyStats of(const std::vector<Melody>& set) {
    MelodyStats s;
    std::set<std::vector<std::pair<int, double>>> seen;
    for (const Melody& m : set) {
      ++s.melodies;
      std::vector<std::pair<int, double>> key;
      for (const MelodyNote& n : m) {
        ++s.events;
        s.quarters += n.quarters;
        key.emplace_back(n.pitch, n.quarters);
        if (n.pitch == music::kRest) {
          ++s.rests;
          continue;
        }
        ++s.notes;
        const int pc = n.pitch % 12;
        s.in_scale += pc == 0 || pc == 2 || pc == 4 || pc == 5 || pc == 7 || pc == 9 || pc == 11;
      }
      seen.insert(key);
    }
    s.distinct = seen.size();
    return s;
  }
  nlohmann::json json() const {
    auto ratio = [](std::size_t a, std::size_t b) { return b ? double(a) / double(b) : 0.0; };
    return {{"melodies", melodies},
            {"distinct", distinct},
            {"events_per_melody", ratio(events, melodies)},
            {"quarters_per_melody", melodies ? quarters / double(melodies) : 0.0},
            {"rest_share", ratio(rests, events)},
            {"in_scale_share", ratio(in_scale, notes)}};
  }
};

void print_stats(const std::string& label, const nlohmann::json& s) {
  std::printf("%-28s %6d melodies  %6d distinct  %6.2f events  %6.2f quarters  rests %5.1f%%  in C-major scale %5.1f%%\n",
              label.c_str(), s["melodies"].get<int>(), s["distinct"].get<int>(), s["events_per_melody"].get<double>(),
              s["quarters_per_melody"].get<double>(), 100 * s["rest_share"].get<double>(),
              100 * s["in_scale_share"].get<double>());
}

int cmd_evaluate(const std::vector<std::string>& args) {
  CommandLine cli("melody_random evaluate", args);
  auto configs = chosen_configs(cli);
  const std::uint64_t seed = seed_flag(cli);
  const long count = cli.integer("count", 100, "samples per configuration");
  const std::string corpus = cli.text("corpus", "", "also report the held-out songs of this corpus (optional)");
  const std::string metrics = cli.text("metrics-json", "", "write the statistics as JSON here");
  declare_threads(cli);
  if (answered_help(cli, "melody_random evaluate [--config ...] [--count 100] [--seed S] [--corpus DIR]\n"
                          "Statistics of generated samples (there is no held-out likelihood: the model gives\n"
                          "probability 0 to most real songs, whose pitches leave its list)."))
    return 0;
  cli.finish();
  check(count >= 1 && count <= 1000000, "--count must be in 1..1000000, got ", count);
  legato::check_output_file(metrics, "metrics-json");
  // The held-out songs are read before the build banner, so that a corpus
  // without any is the only line on stderr.
  std::vector<Melody> held_out;
  if (!corpus.empty()) {
    examples::require_directory(corpus, "evaluate");
    music::Corpus c = music::load_corpus(corpus);
    for (const music::CorpusSong* s : c.split(music::Split::held_out)) held_out.push_back(music::melody_of(s->song));
    check(!held_out.empty(), "evaluate: the corpus '", corpus, "' has no held-out songs");
  }
  examples::setup_threads(cli);

  nlohmann::json out = {{"program", kProgram}, {"command", "evaluate"}, {"seed", seed}, {"count", count}};
  Stopwatch clock;
  for (std::size_t k = 0; k < configs.size(); ++k) {
    std::size_t config_index = k;
    for (std::size_t s = 0; s < seed_configs().size(); ++s)
      if (seed_configs()[s].name == configs[k].name) config_index = s;
    std::vector<Melody> set;
    for (long i = 0; i < count; ++i) {
      Rng rng = melody_rng(seed, config_index, std::size_t(i));
      set.push_back(random_melody(configs[k], rng));
    }
    nlohmann::json s = MelodyStats::of(set).json();
    s["p_rest"] = configs[k].p_rest;
    print_stats("random " + configs[k].name, s);
    out["configs"][configs[k].name] = s;
  }
  if (!corpus.empty()) {
    nlohmann::json s = MelodyStats::of(held_out).json();
    // How much of the real music each configuration could produce at all.
    for (const RandomConfig& cfg : configs) {
      std::size_t notes = 0, covered = 0;
      for (const Melody& m : held_out)
        for (const MelodyNote& n : m)
          if (n.pitch != music::kRest) {
            ++notes;
            covered += std::find(cfg.pitches.begin(), cfg.pitches.end(), n.pitch) != cfg.pitches.end();
          }
      s["pitch_coverage"][cfg.name] = notes ? double(covered) / double(notes) : 0.0;
    }
    print_stats("held-out songs (transposed)", s);
    for (const RandomConfig& cfg : configs)
      std::printf("  share of held-out notes whose pitch is in the '%s' list: %.1f%%\n", cfg.name.c_str(),
                  100 * s["pitch_coverage"][cfg.name].get<double>());
    out["held_out"] = s;
    out["corpus"] = corpus;
  }
  out["seconds"] = clock.seconds();
  write_metrics_json(metrics, out);
  return 0;
}

// ---------------------------------------------------------------- smoke ----

// A melody with tied notes joined and adjacent rests joined, as it sounds:
// the kern writer splits notes at barlines (tied) and rests (untied).
Melody merged(const music::Melody& m) {
  Melody out;
  for (const MelodyNote& n : m) {
    if (!out.empty() && n.pitch == music::kRest && out.back().pitch == music::kRest) out.back().quarters += n.quarters;
    else out.push_back(n);
  }
  return out;
}
Melody merged(const music::Song& song) {
  Melody out;
  for (const music::Event& e : song.events) {
    const bool join = !out.empty() && ((e.is_rest() && out.back().pitch == music::kRest) || e.tie_in);
    if (join) out.back().quarters += e.duration.to_double();
    else out.push_back({e.pitch, e.duration.to_double()});
  }
  return out;
}

// Seconds: every command end to end in a temporary folder, with checks that
// can fail (lengths, seeds, files, errors).
int cmd_smoke(const std::vector<std::string>& args) {
  CommandLine cli("melody_random --smoke", args);
  declare_threads(cli);
  if (answered_help(cli, "melody_random --smoke [--threads N]\n"
                          "A few seconds of end-to-end checks of every command, in a temporary folder."))
    return 0;
  cli.finish();
  examples::setup_threads(cli);
  namespace fs = std::filesystem;
  const examples::SmokeFolder folder("melody_random");
  const fs::path& dir = folder.path();

  // 1. Each configuration: exact length, pitches from its list, reproducible.
  for (std::size_t k = 0; k < seed_configs().size(); ++k) {
    const RandomConfig& c = seed_configs()[k];
    std::size_t rests = 0, events = 0;
    for (int i = 0; i < 200; ++i) {
      Rng a = melody_rng(3, k, std::size_t(i)), b = melody_rng(3, k, std::size_t(i));
      const Melody m = random_melody(c, a);
      check(m == random_melody(c, b), "smoke: the same seed gave two different melodies");
      double total = 0;
      for (const MelodyNote& n : m) {
        total += n.quarters;
        ++events;
        check(n.quarters > 0, "smoke: a non-positive duration");
        if (n.pitch == music::kRest) ++rests;
        else check(std::find(c.pitches.begin(), c.pitches.end(), n.pitch) != c.pitches.end(),
                   "smoke: pitch ", n.pitch, " is not in the '", c.name, "' list");
      }
      check(total == c.quarters, "smoke: a '", c.name, "' melody lasts ", total, " quarters, not ", c.quarters);
    }
    const double share = double(rests) / double(events);
    check(std::abs(share - c.p_rest) < 0.05, "smoke: rest share ", share, " of '", c.name, "' is far from ", c.p_rest);
  }
  Rng x = melody_rng(1, 0, 0), y = melody_rng(2, 0, 0);
  check(random_melody(seed_configs()[0], x) != random_melody(seed_configs()[0], y), "smoke: seeds 1 and 2 agree");

  // 2. The commands, as a user runs them.
  const std::string out = (dir / "out").string(), model = (dir / "chord.safetensors").string();
  check(cmd_train({"--config", "chord", "--out", model}) == 0, "smoke: train failed");
  check(cmd_generate({"--config", "all", "--count", "2", "--seed", "5", "--out-dir", out, "--quiet", "--threads", "1"}) == 0,
        "smoke: generate failed");
  for (const char* name : {"random_basic_001", "random_chromatic_002", "random_chord_001"})
    for (const char* ext : {".mid", ".krn"})
      check(fs::file_size(fs::path(out) / (std::string(name) + ext)) > 0, "smoke: ", name, ext, " missing");
  // The kern file reads back as the melody that was generated.
  {
    Rng rng = melody_rng(5, 2, 0);
    const Melody expected = random_melody(seed_configs()[2], rng);
    const music::Song back = music::read_song(fs::path(out) / "random_chord_001.krn");
    double total = 0;
    for (const music::Event& e : back.events) total += e.duration.to_double();
    check(total == 16.0, "smoke: the kern file lasts ", total, " quarters");
    const fs::path from_model = dir / "from_model";
    check(cmd_generate({"--model", model, "--seed", "5", "--out-dir", from_model.string(), "--quiet", "--threads", "1"}) == 0,
          "smoke: generate --model failed");
    check(read_file((from_model / "random_chord_001.krn").string()) == read_file((fs::path(out) / "random_chord_001.krn").string()),
          "smoke: --model chord.safetensors and --config chord disagree");
    check(merged(back) == merged(expected), "smoke: the kern file does not read back as the melody");
  }
  const std::string json = (dir / "eval.json").string();
  check(cmd_evaluate({"--count", "50", "--metrics-json", json, "--threads", "1"}) == 0, "smoke: evaluate failed");
  const auto metrics = nlohmann::json::parse(read_file(json));
  check(metrics["configs"]["chord"]["quarters_per_melody"].get<double>() == 16.0, "smoke: evaluate lengths");

  // 3. Bad input is an error, not a crash.
  int errors = 0;
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--config", "jazz"}, {"--count", "0"}, {"--p-rest", "1.5"}, {"--model", (dir / "missing.safetensors").string()},
           {"--quarters", "0.1"}, {"--metrics-json", (dir / "nowhere" / "m.json").string()}}) {
    try {
      std::vector<std::string> a = bad;
      a.insert(a.end(), {"--out-dir", out, "--quiet"});
      cmd_generate(a);
    } catch (const Error&) {
      ++errors;
    }
  }
  check(errors == 6, "smoke: ", 6 - errors, " bad inputs were accepted");
  // A model file whose configuration name would lead the melodies' file names
  // out of --out-dir.
  RandomConfig escaping = seed_configs()[0];
  escaping.name = "../escape";
  const std::string odd_model = (dir / "escape.safetensors").string();
  save_config(odd_model, escaping);
  bool refused = false;
  try {
    load_config(odd_model);
  } catch (const Error&) {
    refused = true;
  }
  check(refused, "smoke: a model named '../escape' was loaded");
  std::printf("melody_random smoke: OK\n");
  return 0;
}

constexpr const char* kUsage =
    "usage: melody_random COMMAND [flags]   (COMMAND --help lists the flags)\n"
    "  generate   write random melodies (.mid and .krn) with the seed's configurations\n"
    "  evaluate   statistics of generated samples, and of held-out songs with --corpus\n"
    "  train      nothing to learn: store a configuration for `generate --model`\n"
    "  --smoke    a few seconds of end-to-end checks (CI)\n";

int run(const std::vector<std::string>& args) {
  check(!args.empty(), "no command given (expected generate, evaluate, train or --smoke; see --help)");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "generate") return cmd_generate(rest);
  if (command == "evaluate") return cmd_evaluate(rest);
  if (command == "train") return cmd_train(rest);
  if (command == "--smoke" || command == "smoke") return cmd_smoke(rest);
  fail("unknown command '", command, "' (expected generate, evaluate, train or --smoke; see --help)");
}

}  // namespace

int main(int argc, char** argv) { return legato::examples::guarded_main(kProgram, argc, argv, run); }

#pragma once
// What melody_vae's subcommands share: the program's name, small helpers for
// flags and JSON, the statistics of a set of melodies, and the models that
// --model and --rhythm-model name.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
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
#include "../common/metrics_file.hpp"
#include "../common/output_flags.hpp"
#include "legato/autograd.hpp"
#include "legato/optim/adam.hpp"
#include "legato/optim/clip.hpp"
#include "legato/util/file.hpp"
#include "legato/util/progress.hpp"
#include "legato/util/timer.hpp"
#include "vae_eval.hpp"
#include "vae_model.hpp"

namespace melody_vae {

using namespace legato;
using legato::examples::answered_help;
using legato::examples::load_average;
using legato::examples::write_metrics_json;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kProgram = "melody_vae";
constexpr std::uint64_t kEvalSeed = 20250429;  // the draws of "sampled z" in every evaluation

// See melody_random: --threads is declared first so that the build banner
// (printed by examples::setup_threads) comes only after the flags passed.
inline void declare_threads(CommandLine& cli) {
  cli.integer("threads", init_threads_from_env(), "worker threads for OpenMP and Eigen");
}

// An integer flag stored as an int: a value beyond int would wrap when cast
// (and might then pass ModelConfig::validate), so it is refused here.
inline int int_flag(CommandLine& cli, const std::string& name, int fallback, const std::string& help) {
  const long v = cli.integer(name, fallback, help);
  check(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(), "--", name, " = ", v,
        " is out of range");
  return int(v);
}

inline std::vector<const VaeSong*> pointers(const std::vector<VaeSong>& songs) {
  std::vector<const VaeSong*> out;
  for (const VaeSong& s : songs) out.push_back(&s);
  return out;
}

inline std::string text(double x) { return legato::detail::concat(x); }

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

inline ModelPair load_models(const std::string& model_path, const std::string& rhythm_path) {
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

}  // namespace melody_vae

#pragma once
// --transpose, --bpm, --meter and --pickup: how every generator writes its melodies
// (music/melody_output.hpp). A flag that is not given leaves the program's
// own default, which is why each is kept as an optional: complete writes in
// the primer's key by default, a prior sample in C major / A minor.

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "legato/music/melody_output.hpp"
#include "legato/util/cli.hpp"
#include "legato/util/error.hpp"

namespace legato::examples {

struct OutputFlags {
  std::optional<int> transpose;  // semitones from the program's default key
  std::optional<double> tempo_qpm;
  std::optional<music::Meter> meter;
  std::optional<music::Rational> pickup;  // quarters before the first barline

  // These flags over the program's defaults. --transpose counts from the
  // default: from C major / A minor for a prior sample, from the source's key
  // for a completion, whose key designation moves with it.
  music::MelodyOutput over(music::MelodyOutput defaults) const {
    if (transpose) {
      defaults.transpose += *transpose;
      if (defaults.key) defaults.key->tonic = ((defaults.key->tonic + *transpose) % 12 + 12) % 12;
    }
    if (tempo_qpm) defaults.tempo_qpm = *tempo_qpm;
    if (meter && !(*meter == defaults.meter)) {
      defaults.meter = *meter;
      defaults.pickup = 0;  // an upbeat measured in another meter means nothing in this one
    }
    if (pickup) defaults.pickup = *pickup;
    return defaults;
  }
};

// Declares the four flags (for --help; `base` says where --transpose counts
// from, `defaults` what tempo and meter apply without the flags and
// `pickup_default` what upbeat) and reads those given.
inline OutputFlags read_output_flags(CommandLine& cli, const std::string& base, const std::string& defaults,
                                     const std::string& pickup_default = "0") {
  const long transpose = cli.integer("transpose", 0, "semitones up (+) or down (-) from " + base);
  const std::string bpm = cli.text("bpm", "", "tempo in quarter notes per minute, 10..400 (default: " + defaults + ")");
  const std::string meter = cli.text("meter", "", "meter N/D, e.g. 3/4 or 6/8 (default: " + defaults + ")");
  OutputFlags flags;
  if (cli.has("transpose")) {
    check(transpose >= -48 && transpose <= 48, "--transpose must be in -48..48 semitones, got ", transpose);
    flags.transpose = static_cast<int>(transpose);
  }
  if (cli.has("bpm")) {
    char* end = nullptr;
    const double value = std::strtod(bpm.c_str(), &end);
    check(!bpm.empty() && end && *end == '\0', "--bpm expects a number, got '", bpm, "'");
    check(value >= 10 && value <= 400, "--bpm must be in 10..400, got ", bpm);
    flags.tempo_qpm = value;
  }
  if (cli.has("meter")) flags.meter = music::parse_meter(meter);
  const std::string pickup =
      cli.text("pickup", "", "an upbeat: quarters before the first barline, in 16ths (0.25), shorter than a bar (default " +
                                 pickup_default + ")");
  if (cli.has("pickup")) {
    char* end = nullptr;
    const double value = std::strtod(pickup.c_str(), &end);
    check(!pickup.empty() && end && *end == '\0' && value >= 0 && value <= 64 && value * 4 == double(long(value * 4)),
          "--pickup expects quarters in steps of 0.25 (a 16th) from 0 to 64, got '", pickup, "'");
    flags.pickup = music::Rational(static_cast<std::int64_t>(value * 4), 4);
  }
  return flags;
}

// A source song's tempo when it is one the writers accept, else `fallback`.
inline double usable_tempo(double qpm, double fallback) { return qpm >= 10 && qpm <= 400 ? qpm : fallback; }

}  // namespace legato::examples

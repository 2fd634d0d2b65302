#pragma once
// --transpose, --bpm and --meter: how every generator writes its melodies
// (music/melody_output.hpp). A flag that is not given leaves the program's
// own default, which is why each is kept as an optional: complete writes in
// the primer's key by default, a prior sample in C major / A minor.

#include <optional>
#include <string>

#include "legato/music/melody_output.hpp"
#include "legato/util/cli.hpp"
#include "legato/util/error.hpp"

namespace legato::examples {

struct OutputFlags {
  std::optional<int> transpose;
  std::optional<double> tempo_qpm;
  std::optional<music::Meter> meter;

  // These flags over the program's defaults.
  music::MelodyOutput over(music::MelodyOutput defaults) const {
    if (transpose) defaults.transpose = *transpose;
    if (tempo_qpm) defaults.tempo_qpm = *tempo_qpm;
    if (meter) {
      defaults.meter = *meter;
      defaults.pickup = 0;  // an upbeat measured in another meter means nothing in this one
    }
    return defaults;
  }
};

// Declares the three flags (for --help, with `defaults` saying what happens
// without them) and reads those given.
inline OutputFlags read_output_flags(CommandLine& cli, const std::string& defaults) {
  const long transpose = cli.integer("transpose", 0, "semitones to move the written melodies by (" + defaults + ")");
  const double bpm = cli.real("bpm", 120, "tempo of the written melodies, quarter notes per minute (" + defaults + ")");
  const std::string meter = cli.text("meter", "4/4", "meter of the written melodies, N/D (" + defaults + ")");
  OutputFlags flags;
  if (cli.has("transpose")) {
    check(transpose >= -48 && transpose <= 48, "--transpose must be in -48..48 semitones, got ", transpose);
    flags.transpose = static_cast<int>(transpose);
  }
  if (cli.has("bpm")) {
    check(bpm >= 10 && bpm <= 400, "--bpm must be in 10..400, got ", bpm);
    flags.tempo_qpm = bpm;
  }
  if (cli.has("meter")) flags.meter = music::parse_meter(meter);
  return flags;
}

}  // namespace legato::examples

#pragma once
// How a generated melody is written out: in which key, at what tempo, in
// what meter. The models think in C major / A minor (the corpus is
// transposed there, key.hpp); a musician wants the tune in a key they can
// play, with bars they can count.
//
//   MelodyOutput out;                       // defaults: as generated, 120 qpm, 4/4
//   out.transpose = 7;                      // up a fifth: C major -> G major
//   out.meter = parse_meter("3/4");
//   write_generated_melody("out/tune_1", melody, out, "tune 1");  // tune_1.mid and tune_1.krn
//   // which is: Melody moved = transposed(melody, out.transpose);
//   //           write_melody_midi("out/tune_1.mid", moved, melody_info(moved, out, "tune 1")); and .krn
//
// The key written into the .krn (*G: and its signature) is the source song's
// key when there is one (a completion, a variation), moved with the notes;
// otherwise the key the notes are in, estimated with the Aarden-Essen
// profiles, so a generated A-minor tune is written as a minor, not C major.

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "legato/music/from_melody.hpp"
#include "legato/music/key.hpp"
#include "legato/music/song.hpp"
#include "legato/music/song_io.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

struct MelodyOutput {
  int transpose = 0;       // semitones added to every note
  double tempo_qpm = 120;  // quarter notes per minute
  Meter meter = Meter::regular_meter(4, 4);
  Rational pickup = 0;     // an upbeat before the first full bar, in quarters
  std::optional<Key> key = std::nullopt;  // the written notes' key when known (a source's); else estimated
};

// The upbeat of a song: the music before its first inner barline, when that
// is shorter than a bar of its header meter. ESAC writes "=1" after a full
// first bar, and before the first note of an incomplete one (deut1465:
// "=1 4g 4d =2" in 3/4); either way the short first bar is the upbeat, and
// the bars must fall where the song's do. A first segment of a bar or more,
// or a song with no barline inside its music, has none. 0 without a regular
// meter.
inline Rational pickup_of(const Song& song) {
  const Meter* meter = song.header_meter();
  if (!meter || !meter->regular || meter->bar_length() <= 0) return 0;
  for (const Barline& b : song.barlines) {
    if (b.at == 0) continue;                              // "=1" before the first note
    if (b.final || b.at >= song.events.size()) return 0;  // no barline inside the music
    Rational before;
    for (std::size_t i = 0; i < b.at; ++i) before += song.events[i].duration;
    return before < meter->bar_length() ? before : Rational(0);
  }
  return 0;
}

// "3/4" -> *M3/4. Numerator 1..64, denominator a power of two up to 64.
inline Meter parse_meter(std::string_view text) {
  const std::size_t slash = text.find('/');
  auto number = [&](std::string_view part) {
    int value = 0;
    bool digits = !part.empty() && part.size() <= 2;
    for (char ch : part) {
      digits = digits && ch >= '0' && ch <= '9';
      value = value * 10 + (ch - '0');
    }
    return digits ? value : -1;
  };
  const int numerator = slash == std::string_view::npos ? -1 : number(text.substr(0, slash));
  const int denominator = slash == std::string_view::npos ? -1 : number(text.substr(slash + 1));
  const bool power_of_two = denominator > 0 && (denominator & (denominator - 1)) == 0;
  check(numerator >= 1 && numerator <= 64 && power_of_two && denominator <= 64, "meter '", std::string(text),
        "' is not N/D with N in 1..64 and D a power of two up to 64 (e.g. 3/4, 6/8)");
  return Meter::regular_meter(numerator, denominator);
}

// Every note moved by `semitones` (rests stay); an error names the first
// note that would leave MIDI 0..127.
inline Melody transposed(const Melody& melody, int semitones) {
  Melody out = melody;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].pitch == kRest) continue;
    const int moved = out[i].pitch + semitones;
    check(moved >= 0 && moved <= 127, "transposing by ", semitones, " semitones moves note ", i + 1, " (",
          pitch_name(out[i].pitch), ") outside MIDI 0..127");
    out[i].pitch = moved;
  }
  return out;
}

// Refuses what no file should carry; call it before writing anything.
inline void check_melody_output(const MelodyOutput& output) {
  check(std::isfinite(output.tempo_qpm) && output.tempo_qpm >= 10 && output.tempo_qpm <= 400,
        "tempo ", output.tempo_qpm, " is outside 10..400 quarter notes per minute");
  check(output.pickup >= 0 && (output.pickup == 0 || output.pickup < output.meter.bar_length()), "an upbeat of ",
        output.pickup.to_string(), " quarters is not shorter than a bar of ", output.meter.token);
}

// The MelodyInfo for writing `melody` (already transposed) with `output`:
// title, tempo, meter, upbeat, and output.key, or else the key its notes are
// in (C major for a melody with no notes).
inline MelodyInfo melody_info(const Melody& melody, const MelodyOutput& output, const std::string& title) {
  check_melody_output(output);
  MelodyInfo info;
  info.title = title;
  info.tempo_qpm = output.tempo_qpm;
  info.meter = output.meter;
  info.pickup = output.pickup;
  if (output.key) {
    info.key = output.key;
    return info;
  }
  MelodyInfo keyless = info;
  keyless.key.reset();
  bool has_note = false;
  for (const MelodyNote& n : melody) has_note = has_note || n.pitch != kRest;
  if (has_note) info.key = estimate_key(song_from_melody(melody, keyless)).key;
  return info;
}

// Writes STEM.mid and STEM.krn: the melody moved by output.transpose, with
// output's tempo, meter, upbeat and key. Each file is written atomically.
inline void write_generated_melody(const std::filesystem::path& stem, const Melody& melody, const MelodyOutput& output,
                                   const std::string& title) {
  const Melody moved = transposed(melody, output.transpose);
  const MelodyInfo info = melody_info(moved, output, title);
  write_melody_kern(stem.string() + ".krn", moved, info);
  // MIDI has no upbeat: it starts at a bar. Start with the rest of the
  // upbeat's bar, so that a sequencer shows the bars where the .krn has them.
  if (info.pickup > 0 && info.meter.regular && info.pickup < info.meter.bar_length()) {
    Melody padded{{kRest, (info.meter.bar_length() - info.pickup).to_double()}};
    padded.insert(padded.end(), moved.begin(), moved.end());
    MelodyInfo at_bar = info;
    at_bar.pickup = 0;
    write_melody_midi(stem.string() + ".mid", padded, at_bar);
  } else {
    write_melody_midi(stem.string() + ".mid", moved, info);
  }
}

}  // namespace legato::music

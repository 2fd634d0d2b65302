#pragma once
// Melody (what a model emits) -> Song (what the writers take), with bars.
//
//   Melody tune = decode_timeseries(tokens);
//   MelodyInfo info; info.title = "LSTM sample 3";          // 4/4, 120 qpm, C major by default
//   Song song = song_from_melody(tune, info);
//
// Durations (doubles) become exact fractions (nearest with denominator
// <= 960). With a regular meter, the song gets numbered barlines: a note
// that crosses a barline is split and tied, and a duration that no single
// note value spells (5/4 quarters) is written as tied standard values, so
// the score reads naturally in Verovio. Rests are split the same way,
// without ties. The MIDI writer merges the ties again, so what you hear is
// the melody as given.

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "legato/music/kern_writer.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

struct MelodyInfo {
  std::string title = "legato melody";
  Meter meter = Meter::regular_meter(4, 4);  // an irregular / empty meter writes no barlines
  std::optional<Key> key = Key{0, Mode::major};  // designation and signature; nullopt writes neither
  double tempo_qpm = 120;
  bool barlines = true;  // split at barlines (needs a regular meter)
  Rational pickup = 0;   // an upbeat: quarters before the first full bar (0 <= pickup < a bar)
};

// A duration as standard note values (each with a single kern recip), largest
// first: 5/4 -> {1, 1/4}; 7/2 -> {3, 1/2}. Falls back to {quarters} when no
// sum of at most 8 values spells it.
inline std::vector<Rational> notated_pieces(const Rational& quarters) {
  if (kern_recip(quarters)) return {quarters};
  static const std::vector<Rational> values = [] {
    std::vector<Rational> v;
    for (int n : {1, 2, 4, 8, 16, 32, 64})  // plain values, up to two dots
      for (int dots = 0; dots <= 2; ++dots)
        v.push_back(Rational(4, n) * Rational((std::int64_t(2) << dots) - 1, std::int64_t(1) << dots));
    for (int n : {3, 6, 12, 24, 48}) v.push_back(Rational(4, n));  // tuplets, undotted
    v.push_back(8);  // breve
    std::sort(v.begin(), v.end(), [](const Rational& a, const Rational& b) { return b < a; });
    return v;
  }();
  std::vector<Rational> pieces;
  Rational rest = quarters;
  while (rest > 0 && pieces.size() < 8) {
    const auto it = std::find_if(values.begin(), values.end(), [&](const Rational& v) { return v <= rest; });
    if (it == values.end()) break;
    pieces.push_back(*it);
    rest -= *it;
  }
  if (rest != 0) return {quarters};
  return pieces;
}

inline Song song_from_melody(const Melody& melody, const MelodyInfo& info = {}) {
  Song song;
  song.title = info.title;
  if (!info.title.empty()) song.references.emplace_back("OTL", info.title);  // what a reader of the .krn gets
  song.tempo_qpm = info.tempo_qpm;
  if (info.meter.numerator > 0) song.meters.push_back({0, info.meter});
  if (info.key) {
    song.key_signatures.push_back({0, KeySignature::from_fifths(key_fifths(*info.key))});
    song.keys.push_back({0, {*info.key, legato::detail::concat("*", key_kern_name(*info.key), ":")}});
  }
  const bool bars = info.barlines && info.meter.regular && info.meter.bar_length() > 0;
  const Rational bar = bars ? info.meter.bar_length() : Rational(0);
  check(info.pickup >= 0, "song_from_melody: pickup ", info.pickup.to_string(), " is negative");
  check(!bars || info.pickup < bar, "song_from_melody: pickup ", info.pickup.to_string(),
        " is not shorter than a bar of ", info.meter.token);
  // With an upbeat the melody starts that far before a barline, and the bar it
  // completes is bar 1 (ESAC's numbering); otherwise bar 1 starts at once.
  const bool upbeat = bars && info.pickup > 0;
  Rational position = upbeat ? bar - info.pickup : Rational(0);  // from the start of a bar
  int bar_number = upbeat ? 0 : 1;
  if (bars && !upbeat) song.barlines.push_back({0, bar_number, false, "=1"});

  for (std::size_t i = 0; i < melody.size(); ++i) {
    const MelodyNote& n = melody[i];
    check(n.pitch == kRest || (n.pitch >= 0 && n.pitch <= 127), "song_from_melody: note ", i, " has pitch ", n.pitch,
          " (expected MIDI 0..127 or kRest)");
    check(std::isfinite(n.quarters) && n.quarters > 0 && n.quarters < 1e6, "song_from_melody: note ", i,
          " has duration ", n.quarters, " (expected a positive number of quarters)");
    Rational left = Rational::approximate(n.quarters, 960);
    check(left > 0, "song_from_melody: note ", i, " duration ", n.quarters, " rounds to 0");
    bool first = true;
    while (left > 0) {
      Rational chunk = left;
      if (bars) {
        const Rational into_bar = position - bar * Rational(Rational(position / bar).floor());
        chunk = std::min(left, bar - into_bar);
      }
      for (const Rational& piece : notated_pieces(chunk)) {
        Event e{n.pitch, piece};
        if (n.pitch != kRest) {
          e.tie_in = !first;
          e.tie_out = left - piece > 0;
        }
        song.events.push_back(e);
        first = false;
        left -= piece;
        position += piece;
      }
      const bool more_music = left > 0 || i + 1 < melody.size();
      if (bars && Rational(position / bar).is_integer() && more_music) {
        ++bar_number;
        song.barlines.push_back({song.events.size(), bar_number, false, legato::detail::concat("=", bar_number)});
      }
    }
  }
  if (!melody.empty()) song.barlines.push_back({song.events.size(), -1, true, "=="});
  return song;
}

}  // namespace legato::music

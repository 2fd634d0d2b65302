#pragma once
// E-VAE1, the numeric time series of the seed's first VAE (spec §2.2, §4).
//
// Same 16th steps as E-TS, but numbers: a note onset is its MIDI number, a
// rest onset is 0, every held step (of a note or a rest) is 1. Fixed length
// 128 (cut, or padded with 0 at the end), then divided by 100: holds 0.01,
// rests and padding 0.0, notes 0.50-0.98.
//
//   std::vector<float> x = encode_vae1(song);            // (L) = 128 values in [0, 1.27]
//   Melody m = decode_vae1(x);                            // correct rest merging
//   Melody seed = decode_vae1(x, {.seed_quirks = true});  // the seed's decoder
//
// Decoding (the seed's rule): walk the values; an onset's symbol is
// int(v * 100 + 0.001), truncated (the nudge makes float(k / 100) give k
// back); following values with 0 < v <= 0.5 are holds and add 0.25 each.
// Symbol <= 0 is a rest, otherwise a note (clamped to 127).
// Consecutive rests are merged: summed by default, or, with seed_quirks, the
// later one is dropped with its duration (what the seed did).

#include <cmath>
#include <vector>

#include "legato/music/song.hpp"
#include "legato/music/timeseries.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

inline constexpr int kVae1Length = 128;

// The integer series before normalisation: pitch, 0 (rest onset), 1 (hold).
inline std::vector<int> encode_vae1_values(const Song& song, int length = kVae1Length) {
  check(length > 0, "encode_vae1: length must be positive, got ", length);
  std::vector<int> values;
  for (const Event& e : song.events) {
    const std::int64_t steps = timeseries_steps(e.duration);
    for (std::int64_t s = 0; s < steps && int(values.size()) < length; ++s)
      values.push_back(s > 0 ? 1 : e.is_rest() ? 0 : e.pitch);
  }
  values.resize(std::size_t(length), 0);
  return values;
}

inline std::vector<float> encode_vae1(const Song& song, int length = kVae1Length) {
  std::vector<float> out;
  for (int v : encode_vae1_values(song, length)) out.push_back(float(v) / 100.f);
  return out;
}

struct Vae1DecodeOptions {
  bool seed_quirks = false;  // drop (not sum) the later of two consecutive rests
};

inline Melody decode_vae1(const std::vector<float>& values, const Vae1DecodeOptions& options = {}) {
  Melody melody;
  for (std::size_t i = 0; i < values.size();) {
    const double v = values[i];
    check(std::isfinite(v), "decode_vae1: value ", v, " at position ", i, " is not finite");
    // Truncation as in the seed, after a 1e-3 nudge: float(0.58) * 100 is 57.99999…
    const int symbol = int(std::max(-1e6, std::min(1e6, v * 100.0 + 1e-3)));
    double quarters = 0.25;
    ++i;
    while (i < values.size() && values[i] > 0.f && values[i] <= 0.5f) quarters += 0.25, ++i;
    melody.push_back({symbol <= 0 ? kRest : std::min(127, symbol), quarters});
  }
  Melody merged;
  for (const MelodyNote& n : melody) {
    if (!merged.empty() && merged.back().pitch == kRest && n.pitch == kRest) {
      if (!options.seed_quirks) merged.back().quarters += n.quarters;
      continue;
    }
    merged.push_back(n);
  }
  return merged;
}

}  // namespace legato::music

#pragma once
// E-2SEQ, the two-sequence encoding of the seed's second VAE and its GANs
// (spec §2.3, §5, §7.1): one sequence of pitches, one of durations.
//
// Each event gives (MIDI pitch, quarters); a rest gives (99, quarters). The
// sequences are padded to 100 events with (99, 4.0) or cut to the first 100.
// Models see indices and normalised values:
//   duration index = position in T (0.25 -> 0 … 4.0 -> 7), 8 for anything else
//   note'     = (note - 50) / 49      (rest and padding -> 1.0, MIDI 50 -> 0)
//   duration' = index / 7
//
//   TwoSeq seq = encode_twoseq(song);                     // 100 notes, 100 durations
//   TwoSeqNormalised x = normalise_twoseq(seq);           // floats for the network
//   Melody m = decode_twoseq_normalised(x.notes, x.durations, Rounding::truncate);  // GAN rule
//
// Decoding: 99 -> rest; index 0..7 -> T, any other index -> 8.0 quarters. The
// GANs truncate (int(x*49 + 50), int(x*7)); the VAE rounds half to even (Python
// round). Pitches are clamped to MIDI 0..127.

#include <cmath>
#include <string>
#include <vector>

#include "legato/music/duration_table.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

inline constexpr int kTwoSeqLength = 100;
inline constexpr int kTwoSeqRest = 99;          // the pitch code of a rest and of padding
inline constexpr double kTwoSeqPadQuarters = 4.0;
inline constexpr int kTwoSeqPitchLow = 50;      // note' = (note - 50) / 49
inline constexpr int kTwoSeqUnknownIndex = 8;   // a duration outside T

struct TwoSeq {
  std::vector<int> notes;         // (L) MIDI pitch, or 99 for rest / padding
  std::vector<double> durations;  // (L) quarters
  std::size_t events = 0;         // events before padding / truncation (the seed's original_len)
};

struct TwoSeqNormalised {
  std::vector<float> notes;      // (L) (note - 50) / 49
  std::vector<float> durations;  // (L) index / 7
};

// Index of a duration in T, or 8 when it is not there (the seed printed
// "Unknown duration"). Exact comparison: quarters are multiples of 1/4 here.
inline int twoseq_duration_index(double quarters) {
  const auto& table = duration_table();
  for (int i = 0; i < int(table.size()); ++i)
    if (table[std::size_t(i)].to_double() == quarters) return i;
  return kTwoSeqUnknownIndex;
}

// Inverse: 0..7 -> T, anything else -> 8.0 quarters (the seed's fallback).
inline double twoseq_duration_of_index(int index) {
  const auto& table = duration_table();
  return index >= 0 && index < int(table.size()) ? table[std::size_t(index)].to_double() : 8.0;
}

inline TwoSeq encode_twoseq(const Song& song, int length = kTwoSeqLength) {
  check(length > 0, "encode_twoseq: length must be positive, got ", length);
  TwoSeq seq;
  seq.events = song.events.size();
  for (const Event& e : song.events) {
    if (int(seq.notes.size()) == length) break;
    check(e.is_rest() || e.pitch < kTwoSeqRest, "encode_twoseq: pitch ", e.pitch,
          " collides with the rest code 99 (E-2SEQ holds pitches below 99)");
    seq.notes.push_back(e.is_rest() ? kTwoSeqRest : e.pitch);
    seq.durations.push_back(e.duration.to_double());
  }
  while (int(seq.notes.size()) < length) {
    seq.notes.push_back(kTwoSeqRest);
    seq.durations.push_back(kTwoSeqPadQuarters);
  }
  return seq;
}

inline std::vector<int> twoseq_duration_indices(const TwoSeq& seq) {
  std::vector<int> out;
  for (double d : seq.durations) out.push_back(twoseq_duration_index(d));
  return out;
}

inline TwoSeqNormalised normalise_twoseq(const TwoSeq& seq) {
  TwoSeqNormalised out;
  for (int n : seq.notes) out.notes.push_back(float(n - kTwoSeqPitchLow) / float(kTwoSeqRest - kTwoSeqPitchLow));
  for (double d : seq.durations) out.durations.push_back(float(twoseq_duration_index(d)) / 7.f);
  return out;
}

// (pitch or 99, quarters) pairs -> Melody. `keep` cuts to the first events
// (the seed cut reconstructions to original_len); 0 keeps all.
inline Melody decode_twoseq(const std::vector<int>& notes, const std::vector<double>& durations, std::size_t keep = 0) {
  check(notes.size() == durations.size(), "decode_twoseq: ", notes.size(), " notes but ", durations.size(),
        " durations");
  const std::size_t n = keep == 0 ? notes.size() : std::min(keep, notes.size());
  Melody melody;
  for (std::size_t i = 0; i < n; ++i) {
    const int p = notes[i] == kTwoSeqRest ? kRest : std::max(0, std::min(127, notes[i]));
    melody.push_back({p, durations[i]});
  }
  return melody;
}

enum class Rounding {
  truncate,  // int(x): the GANs
  nearest,   // round half to even (Python round): the second VAE
};

// Network outputs -> Melody: note = R(x*49 + 50), index = R(x*7), where R is
// the rounding rule; index -> T or 8.0.
inline Melody decode_twoseq_normalised(const std::vector<float>& notes, const std::vector<float>& durations,
                                       Rounding rounding, std::size_t keep = 0) {
  check(notes.size() == durations.size(), "decode_twoseq_normalised: ", notes.size(), " notes but ",
        durations.size(), " durations");
  auto apply = [rounding](double x) {
    check(std::isfinite(x), "decode_twoseq_normalised: value ", x, " is not finite");
    x = std::max(-1e6, std::min(1e6, x));
    return int(rounding == Rounding::truncate ? std::trunc(x) : std::nearbyint(x));
  };
  std::vector<int> pitch;
  std::vector<double> quarters;
  for (std::size_t i = 0; i < notes.size(); ++i) {
    pitch.push_back(apply(double(notes[i]) * (kTwoSeqRest - kTwoSeqPitchLow) + kTwoSeqPitchLow));
    quarters.push_back(twoseq_duration_of_index(apply(double(durations[i]) * 7)));
  }
  return decode_twoseq(pitch, quarters, keep);
}

}  // namespace legato::music

#pragma once
// Key finding and transposition to C major / A minor (spec §1.5-1.6).
//
//   KeyChoice k = find_key(song);          // the designation, or an estimate
//   Song c = transpose(song, transposition_to_c(k.key));
//   // or in one step:
//   Song c = transpose_to_c(song);
//
// find_key's rule: when the header has a regular meter *Mn/d AND a key
// designation, the designation is the key (*G: -> G major, *e: -> e minor).
// Otherwise (*MX, *MZ, *MFREI6/8, no designation) the key is estimated with
// the Aarden-Essen profiles, as music21's analyze("key") did in the seed;
// han0140 is designated A major but estimated b minor.
//
// The shift puts the tonic (in octave 4) on C4 for major keys and on A4 for
// minor keys: major -pc (0 … -11), minor 9 - pc (+9 … -2). G major -7,
// e minor +5, b minor -2.

#include <array>
#include <cmath>
#include <string>

#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

struct KeyEstimate {
  Key key;
  double correlation = 0;  // Pearson correlation of the winning profile
};

// Aarden-Essen key estimation. Histogram: each note adds its duration (in
// quarters) to its pitch class; rests add nothing; tied segments add
// separately. The key is the (tonic, mode) whose rotated profile correlates
// best with the histogram. A zero variance gives correlation 0. On an exact
// tie the larger tonic wins, then minor over major (the seed's Python tuple
// ordering; it never happens on the corpus).
inline KeyEstimate estimate_key(const Song& song) {
  static const std::array<double, 12> major = {17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587,
                                               0.291248, 22.062,  0.145624, 8.15494,  0.232998, 4.95122};
  static const std::array<double, 12> minor = {18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362,
                                               0.702494, 18.6161, 4.56621, 1.93186, 7.37619,  1.75623};
  std::array<double, 12> histogram{};
  for (const Event& e : song.events)
    if (e.is_note()) histogram[std::size_t(e.pitch % 12)] += e.duration.to_double();

  // Same summation order as music21 (means first, then one pass per tonic).
  auto correlation = [&](const std::array<double, 12>& profile, int tonic) {
    double profile_mean = 0, histogram_mean = 0;
    for (int j = 0; j < 12; ++j) profile_mean += profile[std::size_t(j)], histogram_mean += histogram[std::size_t(j)];
    profile_mean /= 12, histogram_mean /= 12;
    double top = 0, profile_var = 0, histogram_var = 0;
    for (int j = 0; j < 12; ++j) {
      const double p = profile[std::size_t(((j - tonic) % 12 + 12) % 12)] - profile_mean;
      const double h = histogram[std::size_t(j)] - histogram_mean;
      top += p * h;
      profile_var += p * p;
      histogram_var += h * h;
    }
    if (profile_var == 0 || histogram_var == 0) return 0.0;
    return top / std::sqrt(profile_var * histogram_var);
  };

  KeyEstimate best{{0, Mode::major}, -2.0};
  for (int tonic = 0; tonic < 12; ++tonic) {
    for (Mode mode : {Mode::major, Mode::minor}) {
      const double r = correlation(mode == Mode::major ? major : minor, tonic);
      // >= lets a later (larger tonic, or minor) candidate win an exact tie.
      if (r >= best.correlation) best = {{tonic, mode}, r};
    }
  }
  return best;
}

struct KeyChoice {
  Key key;
  bool estimated = false;  // true when Aarden-Essen chose the key
  double correlation = 0;  // set when estimated
};

// The seed's rule (see the top of this file).
inline KeyChoice find_key(const Song& song) {
  const Meter* meter = song.header_meter();
  const KeyDesignation* designation = song.header_key();
  if (meter && meter->regular && designation) return {designation->key, false, 0};
  const KeyEstimate e = estimate_key(song);
  return {e.key, true, e.correlation};
}

// Semitones that move `key` to C major (tonic in octave 4 -> C4) or A minor
// (-> A4).
inline int transposition_to_c(const Key& key) {
  const int pc = ((key.tonic % 12) + 12) % 12;
  return key.mode == Mode::major ? -pc : 9 - pc;
}

// Moves every note by `semitones`; rests are unchanged. Key designations
// and signatures move with the music (a transposed G-major song is written
// *C: *k[]). Throws when a note leaves MIDI 0..127.
inline Song transpose(const Song& song, int semitones) {
  Song out = song;
  if (semitones == 0) return out;
  for (Event& e : out.events) {
    if (e.is_rest()) continue;
    const int moved = e.pitch + semitones;
    check(moved >= 0 && moved <= 127, "transpose: ", pitch_name(e.pitch), " moved by ", semitones,
          " semitones leaves MIDI 0..127");
    e.pitch = moved;
  }
  for (auto& placed : out.keys) {
    placed.value.key.tonic = ((placed.value.key.tonic + semitones) % 12 + 12) % 12;
    placed.value.token = legato::detail::concat("*", key_kern_name(placed.value.key), ":");
  }
  for (auto& placed : out.key_signatures) {
    // Up a semitone adds 7 fifths (mod 12); keep the spelling with at most 6 accidentals.
    int fifths = ((placed.value.fifths + 7 * semitones) % 12 + 12) % 12;
    if (fifths > 6) fifths -= 12;
    placed.value = KeySignature::from_fifths(fifths);
  }
  return out;
}

struct Transposed {
  Song song;
  KeyChoice key;  // the key found in the original
  int shift = 0;  // semitones applied
};

// find_key, then transpose to C major / A minor.
inline Transposed transpose_to_c(const Song& song) {
  const KeyChoice key = find_key(song);
  const int shift = transposition_to_c(key.key);
  return {transpose(song, shift), key, shift};
}

}  // namespace legato::music

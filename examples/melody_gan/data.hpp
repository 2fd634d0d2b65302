#pragma once
// melody_gan's data: each song becomes its first L events in E-2SEQ (spec
// §2.3, §7.1), two rows of L values, notes then durations:
//   note' = (note - 50) / 49   (rest and padding -> 1)     duration' = index / 7
// The seed fed these [0, 1] values to generators that end in tanh (-1, 1);
// by default they are scaled to [-1, 1] (x = 2 v - 1) so that the data and the
// generator's range agree. --seed-range keeps the seed's [0, 1].
//
// Decoding (sample -> Melody) undoes the scaling, then rounds to the nearest
// pitch and duration class (so the rest code 99 and the 4-quarter class are
// reachable), or truncates as the seed did (Rounding::truncate), which never
// produced a rest.

#include <string>
#include <vector>

#include "legato/music/corpus.hpp"
#include "legato/music/twoseq.hpp"

#include "config.hpp"

namespace melody_gan {

using legato::music::Melody;
using legato::music::Rounding;

// One sample: 2 L floats, notes' (L) then durations' (L), in the model's range.
using Row = std::vector<float>;

inline float to_model_range(float v, bool seed_range) { return seed_range ? v : 2.f * v - 1.f; }
inline float from_model_range(float x, bool seed_range) { return seed_range ? x : 0.5f * (x + 1.f); }

// A song's first L events (padded with (99, 4.0) when shorter) as a Row.
inline Row encode_row(const legato::music::Song& song, long length, bool seed_range) {
  const auto seq = legato::music::encode_twoseq(song, static_cast<int>(length));
  const auto norm = legato::music::normalise_twoseq(seq);
  Row row;
  row.reserve(2 * static_cast<std::size_t>(length));
  for (float v : norm.notes) row.push_back(to_model_range(v, seed_range));
  for (float v : norm.durations) row.push_back(to_model_range(v, seed_range));
  return row;
}

// A Row (model range) back to a melody of L events.
inline Melody decode_row(const Row& row, long length, bool seed_range, Rounding rounding) {
  legato::check(row.size() == 2 * static_cast<std::size_t>(length), "decode_row: ", row.size(), " values for L = ",
                length);
  std::vector<float> notes, durations;
  for (long i = 0; i < length; ++i) {
    notes.push_back(from_model_range(row[std::size_t(i)], seed_range));
    durations.push_back(from_model_range(row[std::size_t(length + i)], seed_range));
  }
  return legato::music::decode_twoseq_normalised(notes, durations, rounding);
}

struct GanData {
  std::vector<Row> train, held_out;
  std::vector<Melody> held_out_melodies;  // the same first L events, exactly (no rounding)
  std::string report;                     // the corpus report's first line
};

inline GanData load_gan_data(const std::string& corpus_dir, const GanConfig& config) {
  const legato::music::Corpus corpus = legato::music::load_corpus(corpus_dir);
  GanData data;
  const std::string text = corpus.report.to_string();
  data.report = text.substr(0, text.find('\n'));
  for (const auto& s : corpus.songs) {
    // Pitches at or above the rest code 99 cannot be encoded; such a song is skipped.
    bool fits = true;
    for (const auto& e : s.song.events) fits = fits && (e.is_rest() || e.pitch < legato::music::kTwoSeqRest);
    if (!fits) continue;
    Row row = encode_row(s.song, config.seq_len, config.seed_range);
    if (s.held_out) {
      const auto seq = legato::music::encode_twoseq(s.song, static_cast<int>(config.seq_len));
      data.held_out_melodies.push_back(legato::music::decode_twoseq(seq.notes, seq.durations));
      data.held_out.push_back(std::move(row));
    } else {
      data.train.push_back(std::move(row));
    }
  }
  return data;
}

}  // namespace melody_gan

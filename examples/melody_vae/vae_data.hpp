#pragma once
// melody_vae's view of the corpus: every song as the seed's two sequences
// (E-2SEQ, music/twoseq.hpp: 100 pitches, 100 durations, padded with
// (99, 4.0)), plus the class ids the default model reads and predicts.
//
//   pitch classes     the training songs' MIDI range low..high, then rest, then padding
//   duration classes  the 8 values of T (0.25 … 4.0), then padding
//
// A held-out pitch outside low..high cannot be predicted: its target is -1
// (never equal to a prediction, left out of the loss) and the encoder reads
// the nearest pitch of the range instead.

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "legato/music/corpus.hpp"
#include "legato/music/key.hpp"
#include "legato/music/melody_output.hpp"
#include "legato/music/song_io.hpp"
#include "legato/music/twoseq.hpp"

namespace melody_vae {

using namespace legato;
using music::kTwoSeqLength;  // L = 100 positions

constexpr int kDurationClasses = 8;             // T
constexpr int kDurationPad = kDurationClasses;  // the padding class of the durations
constexpr int kUnknown = -1;                    // a target outside the vocabulary

struct PitchVocab {
  int low = 60, high = 60;  // MIDI range of the training songs

  int notes() const { return high - low + 1; }
  int rest() const { return notes(); }
  int pad() const { return notes() + 1; }
  int size() const { return notes() + 2; }  // Vp

  // Target class of a E-2SEQ pitch code at a real event (99 = rest).
  int target(int code) const {
    if (code == music::kTwoSeqRest) return rest();
    return code >= low && code <= high ? code - low : kUnknown;
  }
  // What the encoder reads: the nearest class for an out-of-range pitch.
  int input(int code) const {
    if (code == music::kTwoSeqRest) return rest();
    return std::clamp(code, low, high) - low;
  }
  // Class -> MIDI pitch or music::kRest; padding -> kRest too (callers stop there).
  int midi(int id) const { return id >= 0 && id < notes() ? low + id : music::kRest; }
};

// One song ready for both model families.
struct VaeSong {
  std::string name;
  music::TwoSeq seq;               // pitch codes and quarters, padded to L
  std::vector<int> duration_index;  // (L) index in T; padding (4.0) is 7, as in the seed
  std::size_t events = 0;          // real events among the L positions: min(song events, L)
  bool held_out = false;
  music::TwoSeq whole;             // every event, unpadded (for augmented windows)

  // Default model: class ids, padding included (L each).
  std::vector<int> pitch_in, pitch_target, duration_in, duration_target;
};

// E-2SEQ of a transposed song. Throws (legato::Error) when a pitch collides
// with the rest code 99.
inline VaeSong encode_song(const music::Song& song, const std::string& name, bool held_out) {
  VaeSong s;
  s.name = name;
  s.held_out = held_out;
  s.seq = music::encode_twoseq(song);
  s.whole = music::encode_twoseq(song, int(std::max<std::size_t>(1, song.events.size())));
  s.events = std::min<std::size_t>(s.seq.events, kTwoSeqLength);
  s.duration_index = music::twoseq_duration_indices(s.seq);
  return s;
}

// Fills the class ids of the default model from the vocabulary.
inline void assign_classes(VaeSong& s, const PitchVocab& vocab) {
  s.pitch_in.assign(kTwoSeqLength, vocab.pad());
  s.pitch_target.assign(kTwoSeqLength, vocab.pad());
  s.duration_in.assign(kTwoSeqLength, kDurationPad);
  s.duration_target.assign(kTwoSeqLength, kDurationPad);
  for (std::size_t i = 0; i < s.events; ++i) {
    s.pitch_in[i] = vocab.input(s.seq.notes[i]);
    s.pitch_target[i] = vocab.target(s.seq.notes[i]);
    const int d = s.duration_index[i];
    // Corpus songs are filtered to T; an index of 8 cannot occur, but stay safe.
    s.duration_in[i] = d < kDurationClasses ? d : 0;
    s.duration_target[i] = d < kDurationClasses ? d : kUnknown;
  }
}

// Training-time augmentation of the default model: the 100-event window
// starts `shift` events into the song, and every note moves by `transpose`
// semitones. Returns the song as the model would see that variant.
inline VaeSong augmented(const VaeSong& s, std::size_t shift, int transpose, const PitchVocab& vocab) {
  VaeSong a;
  a.name = s.name;
  const std::size_t n = s.whole.events;
  shift = std::min(shift, n == 0 ? 0 : n - 1);
  for (std::size_t i = shift; i < n && a.seq.notes.size() < std::size_t(kTwoSeqLength); ++i) {
    const int code = s.whole.notes[i];
    a.seq.notes.push_back(code == music::kTwoSeqRest ? code : code + transpose);
    a.seq.durations.push_back(s.whole.durations[i]);
  }
  a.events = a.seq.notes.size();
  a.seq.events = n - shift;
  while (a.seq.notes.size() < std::size_t(kTwoSeqLength)) {
    a.seq.notes.push_back(music::kTwoSeqRest);
    a.seq.durations.push_back(music::kTwoSeqPadQuarters);
  }
  a.duration_index = music::twoseq_duration_indices(a.seq);
  assign_classes(a, vocab);
  return a;
}

// The MIDI range of the training songs.
inline PitchVocab vocab_of(const std::vector<VaeSong>& songs) {
  int low = 1000, high = -1000;
  for (const VaeSong& s : songs) {
    if (s.held_out) continue;
    for (std::size_t i = 0; i < s.events; ++i) {
      const int p = s.seq.notes[i];
      if (p == music::kTwoSeqRest) continue;
      low = std::min(low, p);
      high = std::max(high, p);
    }
  }
  check(high >= low, "melody_vae: the training songs contain no notes");
  return {low, high};
}

struct VaeCorpus {
  std::vector<VaeSong> train, held_out;
  std::size_t skipped = 0;  // songs that E-2SEQ cannot hold (a pitch >= 99)
  music::CorpusReport report;
};

// Loads, filters (correctly, unlike the seed), transposes and encodes a
// corpus. `limit` keeps the first N files in name order (the seed took the
// first 1000 files of its directory walk).
inline VaeCorpus load_vae_corpus(const std::string& dir, std::size_t limit = 0) {
  music::CorpusOptions options;
  options.limit = limit;
  music::Corpus corpus = music::load_corpus(dir, options);
  VaeCorpus out;
  out.report = corpus.report;
  for (const music::CorpusSong& cs : corpus.songs) {
    try {
      VaeSong s = encode_song(cs.song, cs.file_name, cs.held_out);
      (s.held_out ? out.held_out : out.train).push_back(std::move(s));
    } catch (const Error&) {
      ++out.skipped;
    }
  }
  return out;
}

// A song given by the user (--from, --interpolate): read (.krn or .mid),
// checked, transposed to C major / A minor like the corpus.
struct UserSong {
  VaeSong song;
  music::Key key;  // C major or A minor after transposition
  int shift = 0;   // semitones that took it there from its own key
  music::Key original_key;            // that key
  double tempo_qpm = 0;              // 0 when the file gives none
  std::optional<music::Meter> meter;  // its first meter, when regular
  music::Rational pickup;             // its upbeat, in quarters
};

inline UserSong read_user_song(const std::string& path) {
  std::error_code ec;
  check(std::filesystem::exists(path, ec), path, ": no such file");
  check(std::filesystem::is_regular_file(path, ec), path, ": not a regular file (a folder, a pipe or a device?)");
  const music::Song raw = music::read_song(path);
  std::vector<music::Rational> bad;
  if (const auto reason = music::filter_reason(raw, &bad)) {
    std::string detail = *reason == "empty" ? "it has no notes" : "a duration is outside T = {1/4 … 4} quarters:";
    for (const auto& d : bad) {
      detail += ' ';  // (two appends: GCC 12 gives a false -Wrestrict on " " + string)
      detail += d.to_string();
    }
    fail(path, ": cannot be encoded (", detail, ")");
  }
  const music::Transposed t = music::transpose_to_c(raw);
  UserSong u;
  u.key = music::Key{t.key.key.mode == music::Mode::major ? 0 : 9, t.key.key.mode};
  u.shift = t.shift;
  u.original_key = t.key.key;
  u.tempo_qpm = raw.tempo_qpm;
  if (const music::Meter* m = raw.header_meter(); m && m->regular) u.meter = *m;
  u.pickup = music::pickup_of(raw);
  u.song = encode_song(t.song, std::filesystem::path(path).filename().string(), false);
  return u;
}

}  // namespace melody_vae

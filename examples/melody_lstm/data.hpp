#pragma once
// melody_lstm data: the corpus as token ids, and the two batching regimes.
//
//   MelodyData data = load_melody_data("/data/esac/han");   // vocabulary + train / held-out ids
//   InputCoding coding = InputCoding::named("tokens+meter+lookback", V);  // what the LSTM reads per step
//   SequenceBatcher seq(data.train, coding, B, T, delimiter, 1, true, seed);  // --mode sequence (default)
//   WindowBatcher win(data.train, coding, B, T, delimiter);  // --mode window (the seed's regime)
//
// Sequence mode. Each of the B lanes reads one song at a time, in chunks of T
// steps. A song of L tokens is read as
//     input   /  s1 s2 … sL          (L + 1 steps, "/" is the start symbol)
//     target  s1 s2 … sL  /          (the end of the song is a target too)
// The LSTM state is carried from one chunk of a song to the next (truncated
// BPTT) and reset to zero when the lane starts a new song. A chunk that runs
// past the end of its song is padded: the padding targets are kIgnore and
// never count. Every song token is a target once per epoch (but see
// mid-song starts), and a lane that finishes a song takes the next one at
// once, from the next epoch's order if need be, so that no lane idles.
//
// Mid-song starts (--mid-song-starts P). A share P of the songs handed out
// is read from a random token on, as a window of the seed's regime reads a
// song it starts inside of: for a song ids[0 .. L-1] and f drawn from
// 0 .. L-2, the zero state, inputs ids[f .. L-2], targets ids[f+1 .. L-1],
// and none of the inputs sees a token before ids[f]. The model learns to pick
// up a melody in its middle, and it over-fits less: ids[0 .. f] are not
// targets of that song in that epoch. The song's end is no target of such a
// reading either: the model would learn that songs end after fewer notes
// than they do (han's generated melodies came out 43 % shorter,
// docs/results.md).
//
// Window mode (spec §6.1). The training songs form one stream, each song
// followed by 64 "/"; window i is input ids[i .. i+T-1] and target ids[i+T],
// every window read from the zero state, the loss on the last step only.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "legato/music/corpus.hpp"
#include "legato/music/metric_position.hpp"
#include "legato/music/timeseries.hpp"
#include "legato/music/vocabulary.hpp"
#include "legato/tensor.hpp"
#include "legato/util/error.hpp"
#include "legato/util/random.hpp"

namespace melody_lstm {

using legato::Ids;
using legato::Rng;
using legato::music::Vocabulary;

inline constexpr std::int32_t kIgnore = -1;  // a target that never counts (padding)

// A seed derived from the run's seed for one purpose (stream) and one index
// (epoch, step), so that each is reproducible on its own and a resumed run
// draws exactly what an uninterrupted run would have drawn.
inline std::uint64_t derived_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ULL ^ (stream + 1) * 0xbf58476d1ce4e5b9ULL ^ (index + 1) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// One song: its file name, its E-TS tokens as ids (no delimiters), and where
// each step falls in its bar (music/metric_position.hpp).
struct SongIds {
  std::string name;
  std::vector<std::int32_t> ids;
  std::vector<legato::music::StepMeter> meter;  // ids.size() + 1: every step, and the one after the end
};

// ------------------------------------------------------------- inputs ----

// The tokens of a song before the step being predicted, as far back as the
// reader may look: tokens[i] is song token i, and those with
// earliest <= i < count are known (a window of the seed's regime starts
// later than its song). count is the index of the step being predicted.
struct SongContext {
  const std::int32_t* tokens = nullptr;
  std::int64_t count = 0;
  std::int64_t earliest = 0;

  // Token i, or -1 where it is not known.
  std::int32_t at(std::int64_t i) const { return i >= earliest && i < count ? tokens[i] : -1; }
};

// What the LSTM reads at a step. The seed's model reads the token alone (a
// one-hot row of V). Each richer coding adds one-hot features side by side,
// as K ids per step in disjoint ranges of the input (ops/lstm.hpp,
// lstm_sequence_ids with ids (T, B, K)); each feature's range follows the
// last one's ("+ i" is i past its start). All of them but the token describe
// the step the input predicts:
//   tokens        the token                        0 .. V-1
//   +meter        its position in the bar          + 0 .. 47 16ths; + 48 when unknown or later
//                 the bar's length                 + 1 .. 48 16ths; + 0 when unknown or longer
//                 the beat's length (since format 3: 3/4 from 6/8)
//                                                  + 1 .. 48 16ths; + 0 when unknown or longer
//   +lookback     for each n of kLookbackBars, the token n bars before the
//                 predicted step, at the same place in its bar
//                                                  + 0 .. V-1; + V when there is none
//   +repeat       the token after the longest repeat (longest_repeat below)
//                                                  + 0 .. V-1; + V when there is none
//                 that repeat's length             + 0 none, + 1 + floor(log2(length))
// Knowing the bar and the beat, the model need not infer them from the
// rhythm so far (and writes jigs in 6/8 where 3/4 gets waltzes); the
// lookback (Magenta's Lookback RNN had the same idea) hands it the tokens a
// repeated bar or phrase would copy, which folk songs do all the time; the
// repeat finds a repeated phrase wherever it began, bar-aligned or not, and
// how long the match is says how far to trust it (a cache or copy model, as
// in language modelling). All of them lower the held-out NLL (docs/results.md).
inline constexpr std::int32_t kPositionIds = 49;
inline constexpr std::int32_t kBarLengthIds = 49;
inline constexpr std::int32_t kBeatLengthIds = 49;
inline constexpr std::array<int, 4> kLookbackBars = {1, 2, 4, 8};
inline constexpr std::int64_t kRepeatCap = 64;     // longest repeat looked for, in steps
inline constexpr std::int32_t kRepeatLengthIds = 8;  // 0 (none), then one id per power of two up to the cap

// The longest repeat: the longest run of the newest known tokens that also
// ends earlier in the song, and the token that followed that earlier run
// (the most recent one among equally long runs). A song that repeats a
// phrase, at whatever distance and across meter changes, hands the model the
// token the phrase continued with the first time. Only known tokens are
// compared (SongContext: a window of the seed's regime sees nothing before
// its start). The search is a plain scan back, O(song length · match length)
// per step and stopped by a match of kRepeatCap: about 0.3 µs on melodies of
// 280 tokens, a few % of a generated token (docs/results.md).
struct Repeat {
  std::int32_t next = -1;   // the token after the earlier run; -1: none
  std::int64_t length = 0;  // the run's length, at most kRepeatCap
};

inline Repeat longest_repeat(const SongContext& song) {
  Repeat best;
  const std::int64_t last = song.count - 1;  // the newest known token
  for (std::int64_t end = last - 1; end >= song.earliest && best.length < kRepeatCap; --end) {
    std::int64_t length = 0;
    while (length < kRepeatCap && end - length >= song.earliest && song.tokens[end - length] == song.tokens[last - length])
      ++length;
    if (length > best.length) best = {song.tokens[end + 1], length};
  }
  return best;
}

struct InputCoding {
  std::int32_t vocab_size = 0;  // V
  bool metric = false;
  bool beat = false;      // with metric: the beat's length too (models of format 3 on)
  bool lookback = false;  // only with metric: a bar's length is needed
  bool repeat = false;    // only with lookback (format 4 on): the longest repeat's next token and length

  // The coding an --inputs name stands for; names() lists them. `beat`:
  // whether the meter includes the beat (false for a format-2 checkpoint).
  static InputCoding named(const std::string& inputs, std::int32_t V, bool beat = true) {
    legato::check(inputs == "tokens" || inputs == "tokens+meter" || inputs == "tokens+meter+lookback" ||
                      inputs == "tokens+meter+lookback+repeat",
                  "--inputs must be one of ", names(), ", got '", inputs, "'");
    const bool metric = inputs != "tokens";
    const bool repeat = inputs == "tokens+meter+lookback+repeat";
    return {V, metric, metric && beat, repeat || inputs == "tokens+meter+lookback", repeat};
  }
  static std::string names() { return "tokens, tokens+meter, tokens+meter+lookback, tokens+meter+lookback+repeat"; }
  std::string name() const {
    return repeat ? "tokens+meter+lookback+repeat" : lookback ? "tokens+meter+lookback" : metric ? "tokens+meter" : "tokens";
  }

  std::int64_t ids_per_step() const {
    return 1 + (metric ? 2 : 0) + (beat ? 1 : 0) + (lookback ? static_cast<std::int64_t>(kLookbackBars.size()) : 0) +
           (repeat ? 2 : 0);
  }
  // Where the lookback ids begin: after the token and the meter.
  std::int32_t lookback_base() const {
    return vocab_size + (metric ? kPositionIds + kBarLengthIds : 0) + (beat ? kBeatLengthIds : 0);
  }
  std::int64_t input_size() const {
    return lookback_base() + (lookback ? static_cast<std::int64_t>(kLookbackBars.size()) * (vocab_size + 1) : 0) +
           (repeat ? vocab_size + 1 + kRepeatLengthIds : 0);
  }

  // Writes ids_per_step() ids: the input token, then what is known of the
  // step it predicts (`next`, the song before it).
  void write(std::int32_t token, const legato::music::StepMeter& next, const SongContext& song,
             std::int32_t* out) const {
    out[0] = token;
    if (!metric) return;
    std::int32_t base = vocab_size;
    out[1] = base + (next.position >= 0 && next.position < kPositionIds - 1 ? next.position : kPositionIds - 1);
    base += kPositionIds;
    out[2] = base + (next.bar_steps >= 1 && next.bar_steps < kBarLengthIds ? next.bar_steps : 0);
    base += kBarLengthIds;
    std::int32_t* rest = out + 3;
    if (beat) {
      *rest++ = base + (next.beat_steps >= 1 && next.beat_steps < kBeatLengthIds ? next.beat_steps : 0);
      base += kBeatLengthIds;
    }
    if (!lookback) return;
    for (std::size_t n = 0; n < kLookbackBars.size(); ++n, base += vocab_size + 1) {
      const std::int32_t earlier =
          next.bar_steps > 0 ? song.at(song.count - std::int64_t(kLookbackBars[n]) * next.bar_steps) : -1;
      *rest++ = base + (earlier >= 0 ? earlier : vocab_size);
    }
    if (!repeat) return;
    const Repeat r = longest_repeat(song);
    *rest++ = base + (r.next >= 0 ? r.next : vocab_size);
    base += vocab_size + 1;
    std::int32_t length_id = 0;  // 0: none; 1 + floor(log2(length)) otherwise
    for (std::int64_t l = r.length; l > 0; l >>= 1) ++length_id;
    *rest++ = base + std::min(length_id, kRepeatLengthIds - 1);
  }
  // The shape of the inputs of T steps of B lanes: (T, B), or (T, B, K).
  legato::Shape shape(std::int64_t T, std::int64_t B) const {
    return metric ? legato::Shape{T, B, ids_per_step()} : legato::Shape{T, B};
  }
};

// The metric of a step nothing is known about (padding, extra start symbols).
inline constexpr legato::music::StepMeter kUnknownStep{};

struct MelodyData {
  Vocabulary vocab;               // deterministic ids, from every kept song (both sides of the split)
  std::vector<SongIds> train;     // file order
  std::vector<SongIds> held_out;  // FNV-1a(name) % 10 == 0 (music/corpus.hpp)
  std::string report;             // the corpus report (seen / kept / filtered …)

  std::int64_t train_tokens() const { return count(train); }
  std::int64_t held_out_tokens() const { return count(held_out); }

 private:
  static std::int64_t count(const std::vector<SongIds>& songs) {
    std::int64_t n = 0;
    for (const SongIds& s : songs) n += static_cast<std::int64_t>(s.ids.size());
    return n;
  }
};

// Reads, filters, transposes and encodes the corpus under `dir`.
inline MelodyData load_melody_data(const std::filesystem::path& dir) {
  using namespace legato::music;
  legato::check(std::filesystem::is_directory(dir), "corpus directory '", dir.string(), "' does not exist");
  const Corpus corpus = load_corpus(dir);
  legato::check(!corpus.songs.empty(), "corpus '", dir.string(), "' has no usable song (",
                corpus.report.seen, " .krn files seen",
                corpus.report.issues.empty() ? std::string(")")
                                             : "; the first refused: " + corpus.report.issues.front().message + ")");
  std::vector<std::vector<std::string>> tokens;
  tokens.reserve(corpus.songs.size());
  for (const CorpusSong& s : corpus.songs) tokens.push_back(encode_timeseries(s.song));

  MelodyData data;
  data.vocab = Vocabulary::from_songs(tokens);
  data.report = corpus.report.to_string();
  for (std::size_t i = 0; i < corpus.songs.size(); ++i) {
    if (tokens[i].empty()) continue;  // cannot happen for kept songs (every duration is >= 1 step)
    const std::vector<int> ids = data.vocab.encode(tokens[i]);
    SongIds song{corpus.songs[i].file_name, std::vector<std::int32_t>(ids.begin(), ids.end()),
                 step_meters(corpus.songs[i].song)};
    (corpus.songs[i].held_out ? data.held_out : data.train).push_back(std::move(song));
  }
  legato::check(!data.train.empty(), "corpus '", dir.string(), "' has no training song (all ",
                data.held_out.size(), " kept songs are held out)");
  return data;
}

// A deterministic permutation of 0..n-1 (Fisher-Yates).
inline std::vector<std::size_t> shuffled_order(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  Rng rng(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

// ------------------------------------------------------------ sequence ----

struct SequenceBatch {
  Ids inputs;                  // (T, B) token ids, or (T, B, K) with richer inputs (InputCoding)
  Ids targets;                 // (T·B) ids, kIgnore for padding; row t·B + b
  std::vector<char> reset;     // (B): the lane starts a new song, its state restarts at zero
  std::int64_t target_count = 0;
};

// Lanes that read whole songs in chunks of T (see the top of this file).
//
// The songs are handed out as one endless sequence of passes: pass p is a
// permutation of all songs (seeded by (order_seed, p); file order when
// order_seed is 0). A lane that finishes a song takes the next one, even if
// it belongs to the next pass, so no lane ever idles at the end of an epoch;
// an epoch is over once every song of its pass has been handed out. With
// repeat = false (evaluation) there is a single pass and next() returns false
// when every song has been read.
//
// `start` is the number of "/" read before each song (1 in training; a model
// trained in window mode is evaluated after the seed's 64 start symbols): the
// first start-1 of them have no target.
class SequenceBatcher {
 public:
  SequenceBatcher(const std::vector<SongIds>& songs, const InputCoding& coding, std::int64_t B, std::int64_t T,
                  std::int32_t delimiter, std::int64_t start, bool repeat, std::uint64_t order_seed,
                  double mid_song_starts = 0)
      : songs_(songs), coding_(coding), B_(B), T_(T), delimiter_(delimiter), start_(start), repeat_(repeat),
        order_seed_(order_seed), mid_song_starts_(mid_song_starts), lanes_(static_cast<std::size_t>(B)) {
    legato::check(B > 0 && T > 0 && start >= 1, "SequenceBatcher: B, T and start must be positive");
    legato::check(mid_song_starts >= 0 && mid_song_starts < 1 && (mid_song_starts == 0 || order_seed != 0),
                  "SequenceBatcher: mid-song starts need a share in [0, 1) and a song order seed");
    legato::check(!songs.empty(), "SequenceBatcher: no songs");
  }

  // Songs handed out to lanes so far (over all passes).
  std::int64_t songs_started() const { return next_; }
  std::int64_t songs_per_pass() const { return static_cast<std::int64_t>(songs_.size()); }

  // Fills the next chunk; false when (repeat = false) every song has been read.
  bool next(SequenceBatch& batch) {
    const std::int64_t B = B_, T = T_, K = coding_.ids_per_step();
    batch.inputs.shape = coding_.shape(T, B);
    batch.inputs.values.resize(static_cast<std::size_t>(T * B * K));
    for (std::int64_t k = 0; k < T * B; ++k)  // padding: "/" at an unknown step
      coding_.write(delimiter_, kUnknownStep, {}, batch.inputs.values.data() + k * K);
    batch.targets.shape = {T * B};
    batch.targets.values.assign(static_cast<std::size_t>(T * B), kIgnore);
    batch.reset.assign(static_cast<std::size_t>(B), 0);
    batch.target_count = 0;
    bool any = false;
    for (std::int64_t b = 0; b < B; ++b) {
      Lane& lane = lanes_[static_cast<std::size_t>(b)];
      if (lane.song < 0 || lane.position >= reading_end(lane)) {  // finished: take the next song
        if (!repeat_ && next_ >= songs_per_pass()) {
          lane.song = -1;
          batch.reset[static_cast<std::size_t>(b)] = 1;  // idle lane: all padding
          continue;
        }
        lane.global = next_++;
        lane.song = song_at(lane.global);
        lane.first = first_token(lane.global, lane.song);
        lane.position = lane.first >= 0 ? start_ + lane.first : 0;
        batch.reset[static_cast<std::size_t>(b)] = 1;
      }
      any = true;
      const SongIds& song = songs_[static_cast<std::size_t>(lane.song)];
      const std::vector<std::int32_t>& ids = song.ids;
      const std::int64_t L = static_cast<std::int64_t>(ids.size());
      const std::int64_t end = std::min(reading_end(lane), lane.position + T);
      for (std::int64_t p = lane.position; p < end; ++p) {
        // Stream position p: the input is "/" during the start symbols, then
        // song token p - start; the target is the token after it, and "/"
        // after the last song token.
        const std::int64_t t = p - lane.position;
        const std::int64_t song_at = p - start_;  // index into ids of the input token (< 0: a start "/")
        const std::size_t k = static_cast<std::size_t>(t * B + b);
        const std::int64_t target_at = song_at + 1;
        coding_.write(song_at < 0 ? delimiter_ : ids[static_cast<std::size_t>(song_at)],
                      target_at < 0 ? kUnknownStep : song.meter[static_cast<std::size_t>(target_at)],
                      SongContext{ids.data(), std::max<std::int64_t>(target_at, 0), std::max<std::int64_t>(lane.first, 0)},
                      batch.inputs.values.data() + static_cast<std::int64_t>(k) * K);
        if (target_at < 0) continue;  // an extra start symbol: nothing to predict yet
        batch.targets.values[k] = target_at < L ? ids[static_cast<std::size_t>(target_at)] : delimiter_;
        ++batch.target_count;
      }
      lane.position = end;
    }
    return any;
  }

  // About how many steps one pass takes: every song's chunks spread over B
  // lanes; a mid-song start reads L - 1 - f steps from input token f, f
  // uniform in 0 .. L-2, so its expected chunks are counted.
  std::int64_t steps_per_pass() const {
    double chunks = 0;
    for (std::size_t i = 0; i < songs_.size(); ++i) {
      const std::int64_t whole = (length(static_cast<std::int64_t>(i)) + T_ - 1) / T_;
      const std::int64_t L = static_cast<std::int64_t>(songs_[i].ids.size());
      if (mid_song_starts_ <= 0 || L < 2) {
        chunks += double(whole);
        continue;
      }
      double mid = 0;
      for (std::int64_t f = 0; f <= L - 2; ++f) mid += double((L - 1 - f + T_ - 1) / T_);
      chunks += (1 - mid_song_starts_) * double(whole) + mid_song_starts_ * mid / double(L - 1);
    }
    return (static_cast<std::int64_t>(std::ceil(chunks)) + B_ - 1) / B_;
  }

  // The lanes and the song counter as text ("next k:pos k:pos …"), so that a
  // checkpoint can resume in the middle of a song.
  std::string save_state() const {
    std::string text = std::to_string(next_);
    for (const Lane& lane : lanes_) text += " " + std::to_string(lane.global) + ":" + std::to_string(lane.position);
    return text;
  }
  void load_state(const std::string& text) {
    std::istringstream in(text);
    std::int64_t next = -1;
    in >> next;
    legato::check(bool(in) && next >= 0, "SequenceBatcher: bad saved state '", text, "'");
    std::vector<Lane> lanes(lanes_.size());
    for (Lane& lane : lanes) {
      char colon = 0;
      in >> lane.global >> colon >> lane.position;
      legato::check(bool(in) && colon == ':' && lane.global >= -1 && lane.global < next && lane.position >= 0,
                    "SequenceBatcher: bad saved state '", text, "' (", lanes_.size(), " lanes expected)");
      lane.song = lane.global < 0 ? -1 : song_at(lane.global);
      lane.first = lane.song < 0 ? -1 : first_token(lane.global, lane.song);
      legato::check(lane.song < 0 || lane.position <= reading_end(lane), "SequenceBatcher: saved position ",
                    lane.position, " is past the end of its song");
    }
    std::string rest;
    legato::check(!(in >> rest), "SequenceBatcher: saved state has more lanes than ", lanes_.size());
    next_ = next;
    lanes_ = std::move(lanes);
  }

 private:
  struct Lane {
    std::int64_t song = -1;    // index into songs_, -1 when none
    std::int64_t global = -1;  // its number in the endless sequence of songs
    std::int64_t position = 0;
    std::int64_t first = -1;  // a mid-song start: the index of its first input token; -1: from "/"
  };

  // Where song number k (index `song`) is read from: -1, its start symbol,
  // or for a mid-song start the index of a random input token 0 .. L-2 (the
  // first target is the token after it). Drawn from (order seed, k) alone, so
  // that a resumed run reads every song as the uninterrupted one did.
  std::int64_t first_token(std::int64_t k, std::int64_t song) const {
    const std::int64_t L = static_cast<std::int64_t>(songs_[static_cast<std::size_t>(song)].ids.size());
    if (mid_song_starts_ <= 0 || L < 2) return -1;
    Rng rng(derived_seed(order_seed_, 5, static_cast<std::uint64_t>(k)));
    if (rng.uniform() >= mid_song_starts_) return -1;
    return static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(L - 1)));
  }

  // Steps of a song's stream: start symbols, then its tokens.
  std::int64_t length(std::int64_t song) const {
    return start_ + static_cast<std::int64_t>(songs_[static_cast<std::size_t>(song)].ids.size());
  }
  // Where a lane's reading of its song stops: after the last token, whose
  // target is the song's end; a mid-song start, which has no end target,
  // one step earlier, so that every step it reads has a target.
  std::int64_t reading_end(const Lane& lane) const { return length(lane.song) - (lane.first >= 0 ? 1 : 0); }

  // The song with number k in the endless sequence of passes.
  std::int64_t song_at(std::int64_t k) {
    const std::int64_t n = songs_per_pass(), pass = k / n;
    if (order_seed_ == 0) return k % n;
    if (pass != order_pass_) {
      order_ = shuffled_order(static_cast<std::size_t>(n), derived_seed(order_seed_, 4, static_cast<std::uint64_t>(pass)));
      order_pass_ = pass;
    }
    return static_cast<std::int64_t>(order_[static_cast<std::size_t>(k % n)]);
  }

  const std::vector<SongIds>& songs_;
  InputCoding coding_;
  std::int64_t B_, T_;
  std::int32_t delimiter_;
  std::int64_t start_;
  bool repeat_;
  std::uint64_t order_seed_;
  double mid_song_starts_;
  std::vector<Lane> lanes_;
  std::int64_t next_ = 0;  // the next song number to hand out
  std::vector<std::size_t> order_;
  std::int64_t order_pass_ = -1;
};

// -------------------------------------------------------------- window ----

// The seed's delimited stream: every song followed by `delimiters` "/".
// meter[i] is where token i falls in its bar: the first "/" after a song is
// its end, the step after its last; the padding after it is unknown.
// song_begin[i] is where the song of token i (or of the end it marks) starts;
// a padding "/" starts nothing (song_begin[i] = i).
struct DelimitedStream {
  std::vector<std::int32_t> tokens;
  std::vector<legato::music::StepMeter> meter;
  std::vector<std::size_t> song_begin;

  // Writes the input ids of position i: token i, and what is known of the
  // token after it (the one it predicts) to a reader that starts at
  // position `first` (a window's start).
  void write_input(const InputCoding& coding, std::size_t i, std::size_t first, std::int32_t* out) const {
    const std::size_t next = i + 1;
    if (next >= tokens.size()) return coding.write(tokens[i], kUnknownStep, {}, out);
    const std::size_t begin = song_begin[next];
    const SongContext song{tokens.data() + begin, static_cast<std::int64_t>(next - begin),
                           first > begin ? static_cast<std::int64_t>(first - begin) : 0};
    coding.write(tokens[i], meter[next], song, out);
  }
};

inline DelimitedStream delimited_stream(const std::vector<SongIds>& songs, std::int32_t delimiter,
                                        std::int64_t delimiters = legato::music::kSequenceLength) {
  DelimitedStream stream;
  for (const SongIds& s : songs) {
    const std::size_t begin = stream.tokens.size();
    stream.tokens.insert(stream.tokens.end(), s.ids.begin(), s.ids.end());
    stream.tokens.insert(stream.tokens.end(), static_cast<std::size_t>(delimiters), delimiter);
    stream.meter.insert(stream.meter.end(), s.meter.begin(), s.meter.end());  // the songs' steps and their ends
    stream.meter.insert(stream.meter.end(), static_cast<std::size_t>(delimiters - 1), kUnknownStep);
    stream.song_begin.insert(stream.song_begin.end(), s.ids.size() + 1, begin);
    for (std::size_t i = begin + s.ids.size() + 1; i < stream.tokens.size(); ++i) stream.song_begin.push_back(i);
  }
  return stream;
}

struct WindowBatch {
  Ids inputs;   // (T, B), or (T, B, K) with richer inputs (InputCoding)
  Ids targets;  // (B): the token after each window
};

// Sliding windows of T over the delimited stream, shuffled each epoch, in
// batches of B (the last one may be smaller), as Keras' fit did for the seed.
class WindowBatcher {
 public:
  WindowBatcher(const std::vector<SongIds>& songs, const InputCoding& coding, std::int64_t B, std::int64_t T,
                std::int32_t delimiter)
      : stream_(delimited_stream(songs, delimiter)), coding_(coding), B_(B), T_(T) {
    legato::check(B > 0 && T > 0, "WindowBatcher: B and T must be positive");
    legato::check(static_cast<std::int64_t>(stream_.tokens.size()) > T, "window mode: the training stream has ",
                  stream_.tokens.size(), " tokens, not more than --seq-len ", T);
    windows_ = static_cast<std::int64_t>(stream_.tokens.size()) - T;
  }

  std::int64_t windows() const { return windows_; }
  std::int64_t steps_per_epoch() const { return (windows_ + B_ - 1) / B_; }

  void begin_epoch(std::uint64_t shuffle_seed) {
    order_ = shuffled_order(static_cast<std::size_t>(windows_), shuffle_seed);
    next_ = 0;
  }
  // Jumps over `steps` batches (a resumed run continues where it stopped).
  void skip(std::int64_t steps) { next_ = std::min<std::size_t>(order_.size(), next_ + static_cast<std::size_t>(steps * B_)); }

  bool next(WindowBatch& batch) {
    if (next_ >= order_.size()) return false;
    const std::int64_t B = std::min<std::int64_t>(B_, static_cast<std::int64_t>(order_.size() - next_));
    const std::int64_t K = coding_.ids_per_step();
    batch.inputs.shape = coding_.shape(T_, B);
    batch.inputs.values.resize(static_cast<std::size_t>(T_ * B * K));
    batch.targets.shape = {B};
    batch.targets.values.resize(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) {
      const std::size_t start = order_[next_ + static_cast<std::size_t>(b)];
      for (std::int64_t t = 0; t < T_; ++t)
        stream_.write_input(coding_, start + static_cast<std::size_t>(t), start,
                            batch.inputs.values.data() + (t * B + b) * K);
      batch.targets.values[static_cast<std::size_t>(b)] = stream_.tokens[start + static_cast<std::size_t>(T_)];
    }
    next_ += static_cast<std::size_t>(B);
    return true;
  }

 private:
  DelimitedStream stream_;
  InputCoding coding_;
  std::int64_t B_, T_, windows_ = 0;
  std::vector<std::size_t> order_;
  std::size_t next_ = 0;
};

}  // namespace melody_lstm

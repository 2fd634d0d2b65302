#pragma once
// melody_lstm generation: incremental sampling, O(1) work per token.
//
// The seed re-ran the whole 64-step window for every new token (spec §6.4).
// Here the LSTM state (h, c) is carried from token to token, so a token costs
// one LSTM step (ops/lstm_infer.hpp) plus the Linear head and one draw:
//
//   state = zero; read the start symbols ("/" once, or 64 for a window-mode
//   model) and the seed melody ("55" by default);
//   (a model with the metric inputs, data.hpp, also reads at every step where
//   the next step falls in the bar: in --meter from its --pickup for
//   generate, as in the primer and then on in its meter for complete; with
//   the lookback inputs, also the tokens 1, 2, 4 and 8 bars before it, from
//   the melody so far;)
//   repeat up to --max-steps times:
//     p = softmax(logits);  p' = p^(1/T) / Σ p^(1/T)  (= softmax(logits / T));
//     draw a token from p'; if it is "/", stop (the "/" is not kept);
//     append it and feed it back.
//
// The tokens (seed + drawn) become notes with decode_timeseries (spec §6.5,
// without the seed's dropped last token) and are written as .mid and .krn,
// moved by --transpose, at --bpm, in --meter, with the key the notes are in
// (music/melody_output.hpp). complete writes in the primer's own key, tempo,
// meter and upbeat; --transpose then counts from the primer's key.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "legato/music/key.hpp"
#include "legato/music/melody_output.hpp"
#include "legato/music/metric_position.hpp"
#include "legato/music/song_io.hpp"
#include "legato/music/timeseries.hpp"
#include "legato/ops/lstm_infer.hpp"
#include "legato/util/file.hpp"

#include "examples/common/output_flags.hpp"

#include "model.hpp"

namespace melody_lstm {

// The trained network as plain arrays for one-row steps (no autograd). In
// bf16 the LSTM's recurrent product rounds its inputs to bf16 and sums in
// float (ops/lstm_infer.hpp), as training's default does.
class Generator {
 public:
  // `delimiter`: the id of "/", the start symbol.
  Generator(const MelodyLstm& model, std::int32_t delimiter,
            legato::MatmulPrecision precision = legato::MatmulPrecision::fp32)
      : head_(model.head->weight, model.head->bias), coding_(model.coding()), delimiter_(delimiter) {
    const legato::nn::NamedTensors params = model.lstm->named_parameters();
    auto find = [&](const std::string& name) {
      for (const auto& [n, t] : params)
        if (n == name) return t;
      legato::fail("Generator: the LSTM has no parameter '", name, "'");
    };
    for (std::int64_t k = 0; k < model.lstm->options().num_layers; ++k) {
      const std::string s = "_l" + std::to_string(k);
      layers_.emplace_back(find("weight_ih" + s), find("weight_hh" + s), find("bias_ih" + s), find("bias_hh" + s),
                           precision);
    }
    H_ = model.hidden_size();
    logits_.resize(static_cast<std::size_t>(head_.out_features()));
    input_.resize(static_cast<std::size_t>(coding_.ids_per_step()));
    start(0, kUnknownStep);
  }

  std::int64_t vocab_size() const { return head_.out_features(); }
  bool bf16() const { return layers_.front().bf16(); }

  // Starts a melody: zero state, then `symbols` start symbols "/", the last
  // of which predicts the melody's first step, whose place in the bar is
  // `first` (the others predict nothing: a window-mode model's padding).
  void start(std::int64_t symbols, const legato::music::StepMeter& first) {
    h_.assign(layers_.size() * static_cast<std::size_t>(H_), 0.f);
    c_.assign(h_.size(), 0.f);
    melody_.clear();
    for (std::int64_t i = 0; i < symbols; ++i) read(delimiter_, i + 1 == symbols ? first : kUnknownStep);
  }

  // Reads the melody's next token, and where the step after it falls in the
  // bar (read by a model with the metric inputs); logits() then holds the
  // scores of that step's token.
  void feed(std::int32_t token, const legato::music::StepMeter& next) {
    melody_.push_back(token);
    read(token, next);
  }
  const float* logits() const { return logits_.data(); }

 private:
  void read(std::int32_t token, const legato::music::StepMeter& next) {
    coding_.write(token, next, SongContext{melody_.data(), static_cast<std::int64_t>(melody_.size())}, input_.data());
    for (std::size_t k = 0; k < layers_.size(); ++k) {
      float* h = h_.data() + k * static_cast<std::size_t>(H_);
      float* c = c_.data() + k * static_cast<std::size_t>(H_);
      if (k == 0 && input_.size() == 1)
        layers_[k].step_ids(input_.data(), 1, h, c);
      else if (k == 0)
        layers_[k].step_multi_hot(input_.data(), static_cast<std::int64_t>(input_.size()), 1, h, c);
      else
        layers_[k].step(h_.data() + (k - 1) * static_cast<std::size_t>(H_), 1, h, c);
    }
    head_.logits(h_.data() + (layers_.size() - 1) * static_cast<std::size_t>(H_), logits_.data());
  }

  std::vector<legato::LstmInferLayer> layers_;
  legato::LinearInfer head_;
  InputCoding coding_;
  std::int32_t delimiter_;
  std::vector<std::int32_t> melody_;  // the tokens read since start(), for the lookback inputs
  std::vector<std::int32_t> input_;  // the ids of one step (InputCoding)
  std::int64_t H_ = 0;
  std::vector<float> h_, c_;  // (layers, H)
  std::vector<float> logits_;  // (V)
};

struct SampleOptions {
  float temperature = 0.7f;
  std::int64_t max_steps = 500;
  std::uint64_t rng_seed = 1;
  legato::MatmulPrecision precision = legato::MatmulPrecision::fp32;  // of the LSTM step (Generator)
  // A melody that reaches max_steps without drawing "/": false, it ends
  // where the model gave the end its highest probability (see sample_melody);
  // true, it stops where it is, often mid-phrase.
  bool cut_at_max_steps = false;
  // --bars MIN:MAX, the melody's length in bars of its meter (the seed
  // included, an upbeat not counted; MelodyMeter::bar_end). "/" cannot be
  // drawn before bar MIN has ended; a melody that ends bar MAX without one
  // stops there, as at max_steps. 0: no bound.
  std::int64_t min_bars = 0, max_bars = 0;
};

struct Sample {
  std::vector<std::string> tokens;  // the seed, then the drawn tokens (no "/")
  std::int64_t drawn = 0;           // tokens drawn, the final "/" included
  bool ended = false;               // the model drew "/" before max_steps
  bool ended_at_likeliest = false;  // it did not, and was cut back to an earlier, likelier end
  bool reached_max_bars = false;    // it reached the end of bar --bars MAX without drawing "/"
  double end_probability = NAN;     // where it ended without drawing "/": P("/") there, when known
  int tries = 1;                    // --bars: the try kept, of up to kBarsTries
  double seconds = 0;               // time spent drawing (feed + head + draw)
};

constexpr std::int64_t kMaxBars = 1000;

// --bars "N" (exactly N bars) or "MIN:MAX" into o.min_bars, o.max_bars.
inline void parse_bars(const std::string& text, SampleOptions& o) {
  if (text.empty()) return;
  const auto whole = [&](const std::string& part) {
    std::int64_t n = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), n);
    legato::check(!part.empty() && error == std::errc() && end == part.data() + part.size() && n >= 1 && n <= kMaxBars,
                  "--bars must be N or MIN:MAX with 1 <= MIN <= MAX <= ", kMaxBars, ", got '", text, "'");
    return n;
  };
  const std::size_t colon = text.find(':');
  o.min_bars = whole(text.substr(0, colon));
  o.max_bars = colon == std::string::npos ? o.min_bars : whole(text.substr(colon + 1));
  legato::check(o.min_bars <= o.max_bars, "--bars: MIN ", o.min_bars, " is above MAX ", o.max_bars, " in '", text, "'");
}

inline void check_sample_options(const SampleOptions& o) {
  legato::check(o.temperature > 0.f && std::isfinite(o.temperature), "--temperature must be > 0, got ", o.temperature);
  legato::check(o.max_steps >= 1 && o.max_steps <= 1000000, "--max-steps must be in 1..1000000, got ", o.max_steps);
  legato::check(o.min_bars >= 0 && o.max_bars >= 0 && o.max_bars <= kMaxBars && o.min_bars <= kMaxBars &&
                    (o.max_bars == 0 || o.min_bars <= o.max_bars),
                "--bars must be N or MIN:MAX with 1 <= MIN <= MAX <= ", kMaxBars, ", got ", o.min_bars, ":", o.max_bars);
  require_precision(o.precision);
}

// Ids of seed tokens, or an error naming the token and the vocabulary.
inline std::vector<std::int32_t> seed_ids(const std::vector<std::string>& tokens, const Vocabulary& vocab,
                                          const std::string& what) {
  std::vector<std::int32_t> ids;
  for (const std::string& t : tokens) {
    legato::check(t != legato::music::kDelimiterToken, what, ": the seed contains the delimiter '/'");
    const auto id = vocab.find(t);
    legato::check(id.has_value(), what, ": token '", t, "' is not in the model's vocabulary [", vocab.to_string(), "]");
    ids.push_back(*id);
  }
  return ids;
}

// Where the steps of a melody fall in the bar. `seed` gives the seed's steps
// and the one after it (seed.size() + 1 entries) where they are known (a
// primer's, from its barlines); later steps, or all of them without a seed
// meter, come from a clock: counting on from the seed's last known step, in
// its bar, or else in the output meter from its upbeat at step 0, which is
// where the written file puts its bars.
struct MelodyMeter {
  std::vector<legato::music::StepMeter> seed;
  int bar_steps = 16;    // the output meter's bar, in 16ths
  int beat_steps = 4;    // its beat
  int pickup_steps = 0;  // the output's upbeat, in 16ths

  // The output meter, `pickup` quarters before its first barline.
  static MelodyMeter of(const legato::music::Meter& meter, const legato::music::Rational& pickup) {
    using legato::music::timeseries_steps;
    MelodyMeter m;
    m.bar_steps = std::max<int>(1, static_cast<int>(timeseries_steps(meter.bar_length())));
    m.beat_steps = legato::music::beat_steps_of(meter);
    m.pickup_steps = static_cast<int>(timeseries_steps(pickup)) % m.bar_steps;
    return m;
  }

  // Step i of the melody (0 is the first token after the start symbol).
  legato::music::StepMeter at(std::size_t i) const {
    if (i < seed.size()) return seed[i];
    return clock().at(static_cast<std::int64_t>(i));
  }

  // The length, in steps, of a melody whose n-th bar (n >= 1) has just
  // ended: where its n-th barline falls, not counting the barline that
  // closes an upbeat. The clock reaches a downbeat within a bar, so this ends.
  std::size_t bar_end(std::int64_t n) const {
    std::int64_t closed = at(0).position > 0 ? -1 : 0;  // an upbeat's barline closes no bar
    for (std::size_t i = 1;; ++i)
      if (at(i).position == 0 && ++closed == n) return i;
  }

 private:
  legato::music::MetricClock clock() const {
    using legato::music::MetricClock;
    if (!seed.empty() && seed.back().position >= 0) {
      const bool own = seed.back().bar_steps > 0;  // the seed's own meter, else the output's
      return MetricClock::through(seed.back(), static_cast<std::int64_t>(seed.size()) - 1,
                                  own ? seed.back().bar_steps : bar_steps, own ? seed.back().beat_steps : beat_steps);
    }
    return MetricClock(bar_steps, pickup_steps, beat_steps);
  }
};

// log Σ_v exp(row[v]) over a row of V scores, shifted by the row's maximum
// so that no exp overflows. log softmax(row)[v] = row[v] - log_sum_exp(row).
inline double log_sum_exp(const float* row, std::int64_t V) {
  const double top = *std::max_element(row, row + V);
  double total = 0;
  for (std::int64_t v = 0; v < V; ++v) total += std::exp(double(row[v]) - top);
  return top + std::log(total);
}

// The probability of token `id` under softmax(logits), at temperature 1.
inline double token_probability(const float* logits, std::int64_t V, std::int32_t id) {
  return std::exp(double(logits[id]) - log_sum_exp(logits, V));
}

// One melody: start symbols, the seed, then draws until "/" or max_steps.
// A melody that never draws "/" has wandered off the songs the model knows,
// where it rarely sees a close (docs/results.md, "Melodies that reach
// --max-steps"). Rather than stopping it mid-phrase, it is cut back to the
// point, after at least one drawn token, where the model's P("/") at
// temperature 1 was highest (the later one on a tie): where the model itself
// most expected the song to stop.
// The input of each step carries where the step it predicts falls in the bar.
//
// --bars MIN:MAX conditions the draws on the melody's length: "/" is masked
// (logit -inf) until bar MIN has ended, which is exactly conditioning on "no
// end before MIN"; and a try that reaches the end of bar MAX without drawing
// "/" there is rejected and drawn again, up to kBarsTries times, which is
// conditioning on "an end by MAX". If every try fails, the one whose cut back
// (within MIN..MAX bars) has the highest P("/") is kept.
constexpr int kBarsTries = 10;

// --bars as lengths in steps: the shortest melody that may end, and the
// longest. `seed` names the seed in the error when it is already longer.
struct LengthBounds {
  std::size_t min_length = 0;
  std::size_t max_length = std::numeric_limits<std::size_t>::max();
};
inline LengthBounds length_bounds(const MelodyMeter& meter, std::size_t seed_steps, const SampleOptions& o,
                                  const std::string& seed = "the seed") {
  LengthBounds bounds;
  if (o.min_bars > 0) bounds.min_length = meter.bar_end(o.min_bars);
  if (o.max_bars > 0) bounds.max_length = meter.bar_end(o.max_bars);
  legato::check(seed_steps <= bounds.max_length, "--bars: ", seed, " has ", seed_steps, " steps, past the end of bar ",
                o.max_bars, " (step ", bounds.max_length, ")");
  return bounds;
}

namespace detail {

// One try of sample_melody, drawing from rng.
inline Sample draw_melody(Generator& g, const Vocabulary& vocab, std::int64_t start_symbols,
                          const std::vector<std::string>& seed, const std::vector<std::int32_t>& seed_id,
                          const MelodyMeter& meter, const SampleOptions& o, std::size_t min_length,
                          std::size_t max_length, legato::Rng& rng) {
  const std::int32_t slash = vocab.delimiter_id();
  Sample s;
  s.tokens = seed;
  std::size_t step = 0;  // the step the next input predicts
  g.start(start_symbols, meter.at(step++));
  for (std::int32_t id : seed_id) g.feed(id, meter.at(step++));
  const auto begin = std::chrono::steady_clock::now();
  // The likeliest end so far: P("/") after the tokens drawn until then.
  double likeliest_end = -1;
  std::size_t likeliest_length = 0;
  const auto consider_ending_here = [&] {
    const double p_end = token_probability(g.logits(), g.vocab_size(), slash);
    if (p_end >= likeliest_end) likeliest_end = p_end, likeliest_length = s.tokens.size();
  };
  std::vector<float> no_end;  // the logits with "/" masked, before bar MIN has ended
  for (std::int64_t k = 0; k < o.max_steps; ++k) {
    const bool may_end = s.tokens.size() >= min_length;
    if (k > 0 && may_end && !o.cut_at_max_steps) consider_ending_here();
    const float* logits = g.logits();
    if (!may_end) {
      no_end.assign(logits, logits + g.vocab_size());
      no_end[static_cast<std::size_t>(slash)] = -std::numeric_limits<float>::infinity();
      logits = no_end.data();
    }
    const std::int32_t next = legato::sample_logits(logits, g.vocab_size(), o.temperature, rng);
    ++s.drawn;
    if (next == slash) {
      s.ended = true;
      break;
    }
    if (s.tokens.size() == max_length) {  // bar MAX has ended and "/" was not drawn
      s.reached_max_bars = true;
      break;
    }
    s.tokens.push_back(vocab.token(next));
    g.feed(next, meter.at(step++));
  }
  if (!s.ended && !o.cut_at_max_steps && s.tokens.size() >= min_length) {
    consider_ending_here();  // after the last token drawn
    if (likeliest_length > 0) s.end_probability = likeliest_end;  // 0: no finite P(end) at all
    if (likeliest_length > 0 && likeliest_length < s.tokens.size()) {
      s.tokens.resize(likeliest_length);
      s.ended_at_likeliest = true;
    }
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return s;
}

}  // namespace detail

inline Sample sample_melody(Generator& g, const Vocabulary& vocab, std::int64_t start_symbols,
                            const std::vector<std::string>& seed, const MelodyMeter& meter, const SampleOptions& o,
                            std::uint64_t index) {
  legato::Rng rng(derived_seed(o.rng_seed, 5, index));
  const std::vector<std::int32_t> seed_id = seed_ids(seed, vocab, "--seed-melody");
  legato::check(meter.seed.empty() || meter.seed.size() == seed.size() + 1, "sample_melody: ", meter.seed.size(),
                " metric steps for a seed of ", seed.size(), " tokens");
  const LengthBounds bounds = length_bounds(meter, seed.size(), o);
  const int tries = o.max_bars > 0 ? kBarsTries : 1;
  Sample kept;
  double seconds = 0;
  std::int64_t drawn = 0;
  for (int attempt = 1; attempt <= tries; ++attempt) {
    Sample s = detail::draw_melody(g, vocab, start_symbols, seed, seed_id, meter, o, bounds.min_length,
                                   bounds.max_length, rng);
    seconds += s.seconds;
    drawn += s.drawn;
    s.tries = attempt;
    const bool better = attempt == 1 || s.ended || s.end_probability > kept.end_probability;
    if (better) kept = std::move(s);
    if (kept.ended) break;
  }
  kept.seconds = seconds;  // every try's
  kept.drawn = drawn;
  return kept;
}

// Writes tokens as DIR/NAME.mid and DIR/NAME.krn; returns false for an empty melody.
inline bool write_tokens(const std::filesystem::path& dir, const std::string& name, const std::vector<std::string>& tokens,
                         const std::string& title, const legato::music::MelodyOutput& output) {
  const legato::music::Melody melody = legato::music::decode_timeseries(tokens);
  if (melody.empty()) return false;
  legato::music::write_generated_melody(dir / name, melody, output, title);
  return true;
}

inline void make_output_dir(const std::string& dir) {
  legato::check(!dir.empty(), "--out-dir DIR is required");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  legato::check(!ec && std::filesystem::is_directory(dir), "--out-dir '", dir, "' cannot be created: ", ec.message());
}

// The first `steps` E-TS tokens of a primer file (.krn or .mid), transposed to
// C major / A minor as the training songs were (spec §6.6).
struct Primer {
  std::string path;                 // the file, for messages and titles
  std::vector<std::string> tokens;
  std::vector<legato::music::StepMeter> steps_meter;  // tokens.size() + 1: where its steps fall in the bar
  std::string key;  // of the original, for display
  legato::music::Key original_key;
  int shift = 0;
  std::size_t total_steps = 0;
  double tempo_qpm = 0;                           // 0 when the file gives none
  std::optional<legato::music::Meter> meter;      // its first meter, when regular
  legato::music::Rational pickup;                 // its upbeat, in quarters
};

inline Primer read_primer(const std::string& path, std::int64_t steps) {
  using namespace legato::music;
  legato::check(steps >= 1, "--primer-steps must be >= 1, got ", steps);
  legato::check(std::filesystem::is_regular_file(path), "--primer '", path, "' is not a file");
  const Song song = read_song(path);
  legato::check(song.note_count() > 0, "--primer '", path, "' has no notes");
  const Transposed t = transpose_to_c(song);
  Primer p;
  p.path = path;
  p.tokens = encode_timeseries(t.song);
  legato::check(!p.tokens.empty(), "--primer '", path, "' has no 16th-note steps");
  p.total_steps = p.tokens.size();
  // The tokens cut every event down to whole 16ths (as the seed's encoding
  // does); say so when that loses time, rather than change the primer quietly.
  std::size_t cut = 0, dropped = 0;
  for (const auto& e : t.song.events) {
    const std::int64_t whole = timeseries_steps(e.duration);
    if (Rational(whole, 4) != e.duration) ++cut, dropped += whole == 0;
  }
  if (cut > 0)
    std::fprintf(stderr, "note: --primer '%s': %zu of %zu notes and rests are not whole 16ths and were cut down to "
                 "them (%zu shorter than a 16th dropped)\n", path.c_str(), cut, t.song.events.size(), dropped);
  if (static_cast<std::int64_t>(p.tokens.size()) > steps) p.tokens.resize(static_cast<std::size_t>(steps));
  p.steps_meter = step_meters(t.song);
  p.steps_meter.resize(p.tokens.size() + 1);
  p.key = key_display_name(t.key.key);
  p.original_key = t.key.key;
  p.shift = t.shift;
  p.tempo_qpm = song.tempo_qpm;
  if (const Meter* meter = song.header_meter(); meter && meter->regular) p.meter = *meter;
  // The tokens round each note to 16th steps; keep the upbeat only where the
  // rounded notes still fill it exactly (a triplet upbeat would shift the bars).
  p.pickup = pickup_of(song);
  std::int64_t upbeat_steps = 0;
  Rational covered;
  for (std::size_t i = 0; i < song.events.size() && covered < p.pickup; ++i) {
    covered += song.events[i].duration;
    upbeat_steps += timeseries_steps(song.events[i].duration);
  }
  if (Rational(upbeat_steps, 4) != p.pickup) p.pickup = 0;
  return p;
}

// ------------------------------------------------- the two subcommands ----

struct GenerateRequest {
  std::string out_dir;
  std::string prefix = "melody";       // files PREFIX_01.mid, PREFIX_01.krn, …
  std::int64_t count = 10;
  SampleOptions sample;
  std::vector<std::string> seed{"55"};  // the seed's "un sol" (G3)
  std::string seed_name = "--seed-melody";  // in errors: complete says which primer
  std::vector<legato::music::StepMeter> seed_meter;  // complete: the primer's (Primer::steps_meter); else from the output meter
  std::string title = "melody_lstm";
  bool print = true;                    // the melodies and the timing on stdout
  // --transpose, --bpm, --meter when given; otherwise generate writes as
  // generated, 120 qpm, 4/4, and complete follows the primer.
  legato::examples::OutputFlags output;
};

struct GenerateReport {
  std::vector<Sample> samples;
  std::vector<std::string> files;
  double microseconds_per_token = 0;
};

// Every pitch the model can draw, moved by `transpose` semitones, must stay a
// MIDI note. Checked against the vocabulary before anything is written,
// rather than failing at the first melody that happens to reach the edge.
inline void check_transpose_fits(const Vocabulary& vocab, int transpose) {
  int low = 128, high = -1;
  for (std::int64_t id = 0; id < vocab.size(); ++id) {
    const std::string& token = vocab.token(static_cast<std::int32_t>(id));
    if (token.empty() || !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;  // not a pitch: "_", "r", "/"
    const int pitch = std::stoi(token);
    low = std::min(low, pitch), high = std::max(high, pitch);
  }
  if (high < 0) return;
  legato::check(low + transpose >= 0 && high + transpose <= 127, "transposing by ", transpose,
                " semitones would move the model's pitches ", low, "..", high, " out of MIDI 0..127 (this model allows ",
                -low, "..", 127 - high, " from its tokens)");
}

// Everything in a request that can be refused, refused before any file is
// written (and, called early by the commands, before the banner).
inline MelodyMeter check_generate_request(const LoadedModel& m, const GenerateRequest& r,
                                          const legato::music::MelodyOutput& output) {
  check_sample_options(r.sample);
  legato::music::check_melody_output(output);
  legato::check(r.count >= 1 && r.count <= 10000, "--count must be in 1..10000, got ", r.count);
  seed_ids(r.seed, m.vocab, r.seed_name);
  MelodyMeter meter = MelodyMeter::of(output.meter, output.pickup);
  meter.seed = r.seed_meter;
  length_bounds(meter, r.seed.size(), r.sample, r.seed_name);
  check_transpose_fits(m.vocab, output.transpose);
  legato::check_output_dir(r.out_dir, "out-dir");
  return meter;
}

inline GenerateReport generate_melodies(const LoadedModel& m, const GenerateRequest& r,
                                        const legato::music::MelodyOutput& defaults = {}) {
  const legato::music::MelodyOutput output = r.output.over(defaults);
  const MelodyMeter meter = check_generate_request(m, r, output);
  make_output_dir(r.out_dir);
  Generator g(*m.model, m.vocab.delimiter_id(), r.sample.precision);
  GenerateReport report;
  double seconds = 0;
  std::int64_t drawn = 0;
  for (std::int64_t i = 0; i < r.count; ++i) {
    Sample s = sample_melody(g, m.vocab, m.hyper.start_symbols(), r.seed, meter, r.sample, static_cast<std::uint64_t>(i));
    seconds += s.seconds;
    drawn += s.drawn;
    char name[64];
    std::snprintf(name, sizeof name, "%s_%02lld", r.prefix.c_str(), static_cast<long long>(i + 1));
    const bool written = write_tokens(r.out_dir, name, s.tokens, r.title + " " + std::to_string(i + 1), output);
    if (written) {
      report.files.push_back((std::filesystem::path(r.out_dir) / (std::string(name) + ".mid")).string());
      report.files.push_back((std::filesystem::path(r.out_dir) / (std::string(name) + ".krn")).string());
    }
    if (r.print) {
      const std::size_t shown = std::min<std::size_t>(s.tokens.size(), 24);
      std::vector<std::string> head(s.tokens.begin(), s.tokens.begin() + static_cast<std::ptrdiff_t>(shown));
      char how[160] = "";
      if (s.ended_at_likeliest)
        std::snprintf(how, sizeof how, ", no end drawn: cut back to its likeliest end (P = %.3f)", s.end_probability);
      else if (!s.ended)
        std::snprintf(how, sizeof how, ", stopped at %s", s.reached_max_bars ? "--bars" : "--max-steps");
      if (r.sample.max_bars > 0 && s.ended)  // --bars: which try was kept
        std::snprintf(how, sizeof how, ", ended on try %d", s.tries);
      else if (r.sample.max_bars > 0)
        std::snprintf(how + std::strlen(how), sizeof how - std::strlen(how), "; no end drawn in %d tries, kept try %d",
                      kBarsTries, s.tries);
      std::printf("%s: %zu steps (%.1f quarters)%s  %s%s\n", name, s.tokens.size(), 0.25 * double(s.tokens.size()), how,
                  legato::music::join_tokens(head).c_str(), shown < s.tokens.size() ? " …" : "");
      if (!written) std::printf("  (empty melody: nothing written)\n");
    }
    report.samples.push_back(std::move(s));
  }
  report.microseconds_per_token = drawn ? 1e6 * seconds / double(drawn) : 0;
  if (r.print) {
    std::printf("generated %lld melodies, %lld tokens drawn, %.2f us per token (incremental, %s; %lld start symbols), files in %s\n",
                static_cast<long long>(r.count), static_cast<long long>(drawn), report.microseconds_per_token,
                g.bf16() ? "bf16 products" : "fp32", static_cast<long long>(m.hyper.start_symbols()), r.out_dir.c_str());
    // The tokens above are the model's, in C major / A minor; say how the files differ.
    std::printf("files: %+d semitones from the tokens, %g qpm, %d/%d\n", output.transpose, output.tempo_qpm,
                output.meter.numerator, output.meter.denominator);
  }
  return report;
}

// complete: the primer's first steps are the seed; the primer itself is
// written too (primer.mid / primer.krn) so that one can hear where it starts.
// Both are written back in the primer's key (the model continues it in C
// major / A minor), at its tempo and in its meter, unless flags override.
// How a completion is written unless flags say otherwise: back in the
// primer's key, tempo, meter and upbeat.
inline legato::music::MelodyOutput primer_output(const Primer& p) {
  legato::music::MelodyOutput defaults;
  defaults.transpose = -p.shift;
  defaults.key = p.original_key;
  defaults.tempo_qpm = legato::examples::usable_tempo(p.tempo_qpm, defaults.tempo_qpm);
  if (p.meter) {
    defaults.meter = *p.meter;
    defaults.pickup = p.pickup;
  }
  return defaults;
}

// Where the model reads the primer's steps in the bar: at the places its own
// barlines give, unless --meter or --pickup say where its bars fall (a MIDI
// file has no barlines, and its upbeat is not marked). Then, as in the files
// written, in the output's bars from step 0; the empty result means that
// (MelodyMeter counts every step on its clock).
inline std::vector<legato::music::StepMeter> primer_reading(const Primer& p, const legato::examples::OutputFlags& flags) {
  if (flags.meter || flags.pickup) return {};
  return p.steps_meter;
}

// The request generate_melodies gets for completing primer p.
inline GenerateRequest completion_request(const Primer& p, GenerateRequest r) {
  r.seed = p.tokens;
  r.seed_meter = primer_reading(p, r.output);
  r.seed_name = "the primer '" + p.path + "'";
  r.prefix = "completion";
  r.title = "melody_lstm completion of " + std::filesystem::path(p.path).filename().string();
  return r;
}

inline GenerateReport complete_melody(const LoadedModel& m, const Primer& p, const GenerateRequest& request) {
  const std::string& primer_path = p.path;
  const legato::music::MelodyOutput defaults = primer_output(p);
  const legato::music::MelodyOutput output = request.output.over(defaults);
  const GenerateRequest r = completion_request(p, request);
  check_generate_request(m, r, output);  // before the primer's files
  make_output_dir(r.out_dir);
  if (r.print)
    std::printf("primer %s: key %s, shifted %+d semitones to C, %zu of %zu steps: %s\n"
                "written %+d semitones from the tokens, at %g qpm, in %d/%d\n",
                primer_path.c_str(), p.key.c_str(), p.shift, p.tokens.size(), p.total_steps,
                legato::music::join_tokens(p.tokens).c_str(), output.transpose, output.tempo_qpm,
                output.meter.numerator, output.meter.denominator);
  write_tokens(r.out_dir, "primer", p.tokens, "primer", output);
  return generate_melodies(m, r, defaults);
}

}  // namespace melody_lstm

#pragma once
// E-TS, the time-series tokens of the seed's LSTM (spec §2.1, §6.5).
//
// Time runs in 16th-note steps (0.25 quarters). Each event gives
// steps = int(duration / 0.25) tokens (truncated, as the seed did): the first
// is the MIDI number as text ("55") or "r" for a rest, the others are "_"
// (hold). A G3 quarter then an eighth rest: "55 _ _ _ r _". Tied segments are
// re-articulated. A song delimiter is "/" (64 of them after each song in a
// dataset, see vocabulary.hpp).
//
//   std::vector<std::string> tokens = encode_timeseries(song);
//   std::string line = join_tokens(tokens);              // "60 _ _ _ 60 _ …"
//   Melody m = decode_timeseries(split_tokens(line));    // back to (pitch, quarters)
//
// decode_timeseries is correct by default: every event keeps all its steps.
// With seed_quirks it reproduces the seed's convert_to_midi exactly: the final
// token is never emitted (a trailing "_" leaves the last event one step
// short; a trailing onset is dropped), and holds before the first onset
// lengthen the first event.

#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "legato/music/rational.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

inline const std::string kDelimiterToken = "/";
inline const std::string kHoldToken = "_";
inline const std::string kRestToken = "r";
inline constexpr int kSequenceLength = 64;  // the seed's window and number of delimiters

// Number of 16th steps of a duration: int(quarters / 0.25), truncated.
inline std::int64_t timeseries_steps(const Rational& quarters) {
  return quarters.num() <= 0 ? 0 : (4 * quarters.num()) / quarters.den();
}

inline std::vector<std::string> encode_timeseries(const Song& song) {
  std::vector<std::string> tokens;
  for (const Event& e : song.events) {
    const std::int64_t steps = timeseries_steps(e.duration);
    for (std::int64_t s = 0; s < steps; ++s)
      tokens.push_back(s > 0 ? kHoldToken : e.is_rest() ? kRestToken : std::to_string(e.pitch));
  }
  return tokens;
}

// The same for a Melody (durations as double; 0.25 * k is exact in binary).
inline std::vector<std::string> encode_timeseries(const Melody& melody) {
  std::vector<std::string> tokens;
  for (const MelodyNote& n : melody) {
    check(n.quarters == n.quarters && n.quarters < 1e7, "encode_timeseries: duration ", n.quarters, " is not finite");
    const auto steps = n.quarters > 0 ? std::int64_t(n.quarters / 0.25) : 0;
    for (std::int64_t s = 0; s < steps; ++s)
      tokens.push_back(s > 0 ? kHoldToken : n.pitch == kRest ? kRestToken : std::to_string(n.pitch));
  }
  return tokens;
}

// Tokens joined by single spaces.
inline std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ' ';
    out += tokens[i];
  }
  return out;
}

// Splits on runs of whitespace.
inline std::vector<std::string> split_tokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < text.size() && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    if (i > start) tokens.emplace_back(text.substr(start, i - start));
  }
  return tokens;
}

// A token's MIDI number, kRest for "r", or throws (position is for the message).
inline int timeseries_symbol(std::string_view token, std::size_t position) {
  if (token == kRestToken) return kRest;
  int value = -1;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  check(ec == std::errc() && end == token.data() + token.size() && value >= 0 && value <= 127,
        "decode_timeseries: token '", token, "' at position ", position, " is not a MIDI number 0..127, 'r', '_' or '/'");
  return value;
}

struct TimeseriesDecodeOptions {
  bool seed_quirks = false;  // reproduce the seed's convert_to_midi (see the top of this file)
  double step = 0.25;        // quarters per token
};

// Tokens -> (pitch or rest, quarters). Decoding stops at the first "/".
// Correct mode: holds before the first onset become a rest.
inline Melody decode_timeseries(const std::vector<std::string>& tokens, const TimeseriesDecodeOptions& options = {}) {
  std::size_t end = 0;
  while (end < tokens.size() && tokens[end] != kDelimiterToken) ++end;
  Melody melody;
  if (!options.seed_quirks) {
    for (std::size_t i = 0; i < end; ++i) {
      if (tokens[i] == kHoldToken) {
        if (melody.empty()) melody.push_back({kRest, 0});
        melody.back().quarters += options.step;
      } else {
        melody.push_back({timeseries_symbol(tokens[i], i), options.step});
      }
    }
    return melody;
  }
  // The seed: a pending symbol and a step counter; the last token only flushes.
  bool pending = false;
  int symbol = kRest;
  int counter = 1;
  for (std::size_t i = 0; i < end; ++i) {
    const bool last = i + 1 == end;
    if (tokens[i] != kHoldToken || last) {
      if (pending) {
        melody.push_back({symbol, options.step * counter});
        counter = 1;
      }
      if (tokens[i] != kHoldToken) symbol = timeseries_symbol(tokens[i], i);
      pending = tokens[i] != kHoldToken;  // a trailing "_" becomes the (never emitted) pending symbol
    } else {
      ++counter;
    }
  }
  return melody;
}

}  // namespace legato::music

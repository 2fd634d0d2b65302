#pragma once
// The token vocabulary of E-TS and the dataset stream built from songs.
//
// Ids are deterministic (the seed's came from Python set order and changed
// every run): "/" is 0, then "_", then "r", then MIDI numbers ascending.
// Only tokens that occur are included, except "/" which is always there.
// Build it from ALL kept songs (both sides of the split) so that held-out
// songs have no unknown token, and store vocab.to_string() with the model
// (for example in safetensors metadata): Vocabulary::parse gives it back.
//
//   std::vector<std::vector<std::string>> songs, train;            // E-TS: every kept song; the training side
//   for (const CorpusSong* s : corpus.split(Split::all)) songs.push_back(encode_timeseries(s->song));
//   for (const CorpusSong* s : corpus.split(Split::train)) train.push_back(encode_timeseries(s->song));
//   Vocabulary vocab = Vocabulary::from_songs(songs);              // both sides of the split
//   std::vector<std::string> stream = build_dataset(train);        // song, 64 x "/", song, 64 x "/"…
//   std::vector<int> ids = vocab.encode(stream);
//   std::string saved = vocab.to_string();                         // "/ _ r 55 57 60 …"
//   Vocabulary again = Vocabulary::parse(saved);                   // same ids
//
// A vocabulary in another order (the seed's mapping.json, for its trained
// models) comes in through from_ordered(tokens listed by id).

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "legato/music/timeseries.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

class Vocabulary {
 public:
  Vocabulary() = default;

  // The deterministic vocabulary of the tokens given ("/" is always added).
  static Vocabulary from_tokens(const std::vector<std::string>& tokens) {
    std::set<std::string> distinct(tokens.begin(), tokens.end());
    distinct.insert(kDelimiterToken);
    return from_set(distinct);
  }
  static Vocabulary from_songs(const std::vector<std::vector<std::string>>& songs) {
    std::set<std::string> distinct{kDelimiterToken};
    for (const auto& song : songs) distinct.insert(song.begin(), song.end());
    return from_set(distinct);
  }

  // Tokens listed in id order (token i gets id i). Tokens must be distinct and
  // valid E-TS tokens.
  static Vocabulary from_ordered(std::vector<std::string> tokens) {
    Vocabulary v;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      validate(tokens[i]);
      check(v.ids_.emplace(tokens[i], int(i)).second, "Vocabulary: token '", tokens[i], "' appears twice");
    }
    v.tokens_ = std::move(tokens);
    return v;
  }

  // The inverse of to_string(): tokens separated by spaces, in id order.
  static Vocabulary parse(std::string_view saved) {
    std::vector<std::string> tokens = split_tokens(saved);
    check(!tokens.empty(), "Vocabulary::parse: empty vocabulary string");
    return from_ordered(std::move(tokens));
  }
  std::string to_string() const { return join_tokens(tokens_); }

  int size() const { return int(tokens_.size()); }
  bool contains(std::string_view token) const { return find(token).has_value(); }
  std::optional<int> find(std::string_view token) const {
    const auto it = ids_.find(token);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  int id(std::string_view token) const {
    const auto found = find(token);
    check(found.has_value(), "Vocabulary: unknown token '", token, "' (vocabulary of ", size(), " tokens)");
    return *found;
  }
  const std::string& token(int id) const {
    check(id >= 0 && id < size(), "Vocabulary: id ", id, " is outside 0..", size() - 1);
    return tokens_[std::size_t(id)];
  }
  int delimiter_id() const { return id(kDelimiterToken); }
  const std::vector<std::string>& tokens() const { return tokens_; }

  std::vector<int> encode(const std::vector<std::string>& tokens) const {
    std::vector<int> out;
    out.reserve(tokens.size());
    for (const std::string& t : tokens) out.push_back(id(t));
    return out;
  }
  std::vector<std::string> decode(const std::vector<int>& ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int i : ids) out.push_back(token(i));
    return out;
  }

  friend bool operator==(const Vocabulary& a, const Vocabulary& b) { return a.tokens_ == b.tokens_; }

 private:
  static void validate(const std::string& token) {
    if (token == kDelimiterToken || token == kHoldToken) return;
    timeseries_symbol(token, 0);  // throws for anything but "r" and 0..127
  }

  static Vocabulary from_set(const std::set<std::string>& distinct) {
    std::vector<std::string> ordered;
    std::vector<int> pitches;
    for (const std::string& t : {kDelimiterToken, kHoldToken, kRestToken})
      if (distinct.count(t)) ordered.push_back(t);
    for (const std::string& t : distinct) {
      if (t == kDelimiterToken || t == kHoldToken || t == kRestToken) continue;
      pitches.push_back(timeseries_symbol(t, 0));
    }
    std::sort(pitches.begin(), pitches.end());
    for (int p : pitches) ordered.push_back(std::to_string(p));
    return from_ordered(std::move(ordered));
  }

  std::vector<std::string> tokens_;
  std::map<std::string, int, std::less<>> ids_;
};

// The seed's dataset stream: each song's tokens followed by `delimiters`
// "/" tokens (64 by default; the last song gets them too).
inline std::vector<std::string> build_dataset(const std::vector<std::vector<std::string>>& songs,
                                              int delimiters = kSequenceLength) {
  check(delimiters >= 0, "build_dataset: negative delimiter count ", delimiters);
  std::vector<std::string> stream;
  for (const auto& song : songs) {
    stream.insert(stream.end(), song.begin(), song.end());
    stream.insert(stream.end(), std::size_t(delimiters), kDelimiterToken);
  }
  return stream;
}

// The stream as ids.
inline std::vector<int> build_dataset_ids(const Vocabulary& vocab, const std::vector<std::vector<std::string>>& songs,
                                          int delimiters = kSequenceLength) {
  return vocab.encode(build_dataset(songs, delimiters));
}

}  // namespace legato::music

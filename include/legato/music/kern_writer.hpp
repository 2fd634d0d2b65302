#pragma once
// Song -> Humdrum **kern text, so that melodies open in Humdrum tools and
// Verovio. read_kern_file(write_kern_file(song)) gives back the same events,
// barlines, meters, keys and references (the round-trip test checks it).
//
//   write_kern_file("out.krn", song);
//   std::string text = kern_text(song);
//
// Layout (ESAC style): reference records, "!!" comments, **kern, the tempo
// (*MM, when known), the header interpretations (meter, key signature, key
// designation), then the events
// with barlines and changes at their places, and *-. Pitches are spelled
// with sharps in sharp keys and flats in flat keys (kern spells every pitch
// absolutely; only the spelling of black keys depends on the key). A
// duration that no single recip spells (say 5/4 quarters) is written in the
// rational form "16%5"; song_from_melody (from_melody.hpp) splits such
// durations into tied standard values before they get here.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "legato/util/file.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

// The kern recip of a duration in quarters: "4" (1), "8." (3/4), "12" (1/3),
// "0" (breve, 8), or nullopt when it needs the rational form. Up to 3 dots
// on plain values, at most 1 on tuplets (han has "12.").
inline std::optional<std::string> kern_recip(const Rational& quarters) {
  if (quarters <= 0) return std::nullopt;
  for (int dots = 0; dots <= 3; ++dots) {
    // quarters = base * (2^(dots+1) - 1) / 2^dots  ->  base, then n = 4 / base.
    const Rational base = quarters * Rational(std::int64_t(1) << dots, (std::int64_t(2) << dots) - 1);
    const Rational n = Rational(4) / base;
    std::string recip;
    const bool plain = n.is_integer() && (n.num() & (n.num() - 1)) == 0;  // a power of two
    if (n.is_integer() && n.num() > 0 && (plain || dots <= 1)) recip = std::to_string(n.num());
    else if (base == 8) recip = "0";
    else if (base == 16) recip = "00";
    else if (base == 32) recip = "000";
    else continue;
    return recip + std::string(std::size_t(dots), '.');
  }
  return std::nullopt;
}

// Any positive duration: a standard recip, else "n%m" (4m/n quarters).
inline std::string kern_duration(const Rational& quarters) {
  check(quarters > 0, "kern_duration: duration ", quarters.to_string(), " is not positive");
  if (auto recip = kern_recip(quarters)) return *recip;
  const Rational n = Rational(4) / quarters;  // n%m means 4m/n quarters
  return legato::detail::concat(n.num(), "%", n.den());
}

// Kern spelling of a MIDI pitch: 60 -> "c", 61 -> "c#" (or "d-" in flat keys), 48 -> "C", 72 -> "cc".
inline std::string kern_pitch(int midi, int fifths = 0) {
  check(midi >= 0 && midi <= 127, "kern_pitch: ", midi, " is outside MIDI 0..127");
  // Letter index (c=0 … b=6) and accidental for each pitch class.
  static const int sharp_letter[12] = {0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 5, 6};
  static const int sharp_alter[12] = {0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0};
  static const int flat_letter[12] = {0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 6};
  static const int flat_alter[12] = {0, -1, 0, -1, 0, 0, -1, 0, -1, 0, -1, 0};
  // C major / A minor: the usual C# E- F# G# B-.
  static const int plain_letter[12] = {0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6};
  static const int plain_alter[12] = {0, 1, 0, -1, 0, 0, 1, 0, 1, 0, -1, 0};
  const int pc = midi % 12, octave = midi / 12 - 1;
  const int* letter = fifths > 0 ? sharp_letter : fifths < 0 ? flat_letter : plain_letter;
  const int* alter = fifths > 0 ? sharp_alter : fifths < 0 ? flat_alter : plain_alter;
  const char name = "cdefgab"[letter[pc]];
  std::string out;
  if (octave >= 4) out.assign(std::size_t(octave - 3), name);
  else out.assign(std::size_t(4 - octave), char(name - 'a' + 'A'));
  if (alter[pc] > 0) out += '#';
  if (alter[pc] < 0) out += '-';
  return out;
}

inline std::string kern_text(const Song& song) {
  std::string out;
  auto line = [&out](const std::string& s) {
    check(s.find('\n') == std::string::npos && s.find('\r') == std::string::npos,
          "kern_text: a line break inside '", s.substr(0, 40), "'");
    out += s;
    out += '\n';
  };
  bool has_title = false;
  for (const auto& [code, value] : song.references) {
    line(legato::detail::concat("!!!", code, ": ", value));
    has_title |= code == "OTL";
  }
  if (!has_title && !song.title.empty()) line(legato::detail::concat("!!!OTL: ", song.title));
  for (const std::string& c : song.comments) line(legato::detail::concat("!!", c));
  line("**kern");
  if (song.tempo_qpm > 0 && song.tempo_qpm < 1e6) line(legato::detail::concat("*MM", std::lround(song.tempo_qpm)));

  // Every non-event line with its place, sorted: in the header (at 0) the
  // interpretations come before the first barline; later, barlines come first.
  struct Item {
    std::size_t at;
    int rank;
    std::string text;
    int fifths;  // for a key signature: the spelling from here on; else unused
  };
  std::vector<Item> items;
  const int no_fifths = 99;
  auto rank = [](std::size_t at, int header_rank, int body_rank) { return at == 0 ? header_rank : body_rank; };
  for (const auto& m : song.meters) {
    const std::string token = m.value.token.empty() ? Meter::regular_meter(m.value.numerator, m.value.denominator).token
                                                    : m.value.token;
    items.push_back({m.at, rank(m.at, 0, 1), token, no_fifths});
  }
  for (const auto& k : song.key_signatures)
    items.push_back({k.at, rank(k.at, 1, 2),
                     k.value.token.empty() ? KeySignature::from_fifths(k.value.fifths).token : k.value.token,
                     k.value.fifths});
  for (const auto& k : song.keys)
    items.push_back({k.at, rank(k.at, 2, 3),
                     k.value.token.empty() ? legato::detail::concat("*", key_kern_name(k.value.key), ":") : k.value.token,
                     no_fifths});
  for (const Barline& b : song.barlines) {
    std::string token = b.token;
    if (token.empty()) token = b.final ? "==" : b.number >= 0 ? legato::detail::concat("=", b.number) : "=";
    items.push_back({b.at, rank(b.at, 3, 0), token, no_fifths});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.at != b.at ? a.at < b.at : a.rank < b.rank; });

  int fifths = 0;  // key signature in force, for spelling
  std::size_t next = 0;
  for (std::size_t i = 0; i <= song.events.size(); ++i) {
    for (; next < items.size() && (items[next].at <= i || i == song.events.size()); ++next) {
      if (items[next].fifths != no_fifths) fifths = items[next].fifths;
      line(items[next].text);
    }
    if (i == song.events.size()) break;
    const Event& e = song.events[i];
    std::string token;
    if (e.tie_out && !e.tie_in && e.is_note()) token += '[';
    if (e.duration == 0) {
      token += "8q";  // grace note
    } else {
      token += kern_duration(e.duration);
    }
    token += e.is_rest() ? "r" : kern_pitch(e.pitch, fifths);
    if (e.is_note() && e.tie_in) token += e.tie_out ? "_" : "]";
    line(token);
  }
  line("*-");
  return out;
}

inline void write_kern_file(const std::filesystem::path& path, const Song& song) {
  write_file_atomically(path, kern_text(song));
}

}  // namespace legato::music

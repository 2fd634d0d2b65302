#pragma once
// Humdrum **kern reader for monophonic files (the ESAC folk-song collection).
//
//   Song song = read_kern_file("/data/esac/deutsch/deut0567.krn");
//   Song same = parse_kern(text, "deut0567.krn");   // from memory; the name is for messages
//
// Rules (spec §1.2-1.3; they reproduce music21 where the seed relied on it):
// - Lines starting with '!' are comments; "!!!KEY: value" lines are
//   reference records (kept in Song::references, OTL becomes the title).
//   They may appear anywhere, also after the data.
// - A token's first digit run n and the dots right after it give the
//   duration 4/n quarters (0 = breve = 8, 00 = 16), each dot adding half of the
//   previous increment; "n%m" gives 4m/n. Results are exact fractions: 12 is
//   1/3, 16. is 3/8.
// - The pitch is a run of identical letters: c = C4 = 60, cc = 72, C = 48,
//   CC = 36. '#' adds 1, '-' subtracts 1, 'n' adds nothing, 'x' (ESAC's
//   editorial mark) is skipped: "ggxxxxx#" is G#5. The key signature is NOT
//   applied (kern spells every pitch). 'r' makes a rest.
// - Ties are not merged: '[' / ']' / '_' only set tie flags.
// - A byte outside printable ASCII ends a token, with a warning in
//   Song::warnings: deut1328's "4.B<BS>8G" is a dotted quarter B3.
// - Other signifiers (phrases {}, slurs (), stems / \, beams L J, ...) are
//   ignored. A 'q' / 'Q' token is a grace note of duration 0.
//
// Refused with a KernError whose `problem` says why (the corpus loader counts
// them) and whose message names the file, the line and the token:
//   multiple_spines (a tab on a data line), chord (a space in a token),
//   spine_operation (*^ *v *x *+), not_kern (no **kern spine, or another
//   exclusive interpretation), malformed (a token without duration or pitch,
//   two pitches in one token, a pitch outside MIDI 0..127, data after *-),
//   unreadable (the file cannot be opened).

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "legato/util/file.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

enum class KernProblem { malformed, multiple_spines, chord, spine_operation, not_kern, unreadable };

inline const char* kern_problem_name(KernProblem problem) {
  switch (problem) {
    case KernProblem::malformed: return "malformed";
    case KernProblem::multiple_spines: return "multiple spines";
    case KernProblem::chord: return "chord";
    case KernProblem::spine_operation: return "spine operation";
    case KernProblem::not_kern: return "not **kern";
    case KernProblem::unreadable: return "unreadable";
  }
  return "unknown";
}

struct KernError : Error {
  KernProblem problem;
  KernError(KernProblem p, const std::string& message) : Error(message), problem(p) {}
};

namespace detail {

// A token as it may appear in a one-line message: control and non-ASCII
// bytes as \xNN, cut after 60 bytes.
inline std::string printable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", unsigned(c));
      out += buf;
    }
  }
  if (text.size() > 60) out += "...";
  return out;
}

inline int letter_pitch_class(char lower) {
  switch (lower) {
    case 'c': return 0;
    case 'd': return 2;
    case 'e': return 4;
    case 'f': return 5;
    case 'g': return 7;
    case 'a': return 9;
    case 'b': return 11;
  }
  return -1;
}

inline bool is_pitch_letter(char c) { return letter_pitch_class(char(std::tolower(static_cast<unsigned char>(c)))) >= 0; }

class KernReader {
 public:
  KernReader(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

  Song read() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);  // UTF-8 byte-order mark
    std::size_t start = 0;
    while (start <= text_.size()) {
      const std::size_t end = std::min(text_.find('\n', start), text_.size());
      std::string_view line = text_.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_number_;
      read_line(line);
      if (end == text_.size()) break;
      start = end + 1;
    }
    if (state_ == State::header)
      throw KernError(KernProblem::not_kern, source_ + ": no **kern spine (the file has no \"**kern\" line)");
    if (state_ == State::spine) song_.warnings.push_back(source_ + ": the spine is not terminated by *-");
    song_.title = song_.reference("OTL");
    return std::move(song_);
  }

 private:
  enum class State { header, spine, done };

  [[noreturn]] void fail_at(KernProblem problem, std::string_view token, const std::string& what) const {
    const std::string where = legato::detail::concat(source_, ":", line_number_, ": ");
    const std::string quoted = token.empty() ? "" : legato::detail::concat("token '", printable(token), "': ");
    throw KernError(problem, legato::detail::concat(where, quoted, what));
  }

  void read_line(std::string_view line) {
    if (line.find_first_not_of(" ") == std::string_view::npos) return;  // blank lines are tolerated
    if (line.substr(0, 3) == "!!!") return read_reference(line.substr(3));
    if (line.substr(0, 2) == "!!") {
      song_.comments.emplace_back(line.substr(2));
      return;
    }
    if (line.find('\t') != std::string_view::npos)
      fail_at(KernProblem::multiple_spines, line.substr(0, line.find('\t')),
              "the line has several tab-separated spines; only single-spine **kern is read");
    if (line[0] == '!') return;  // local comment
    if (state_ == State::header) {
      if (line == "**kern") {
        state_ = State::spine;
        return;
      }
      if (line.substr(0, 2) == "**") fail_at(KernProblem::not_kern, line, "the spine is not **kern");
      fail_at(KernProblem::malformed, line, "data before the **kern line");
    }
    if (state_ == State::done) fail_at(KernProblem::malformed, line, "data after the spine terminator *-");
    if (line.substr(0, 2) == "**") fail_at(KernProblem::malformed, line, "a second exclusive interpretation");
    if (line[0] == '*') return read_interpretation(line);
    if (line[0] == '=') return read_barline(line);
    if (line == ".") return;  // null token
    if (line.find(' ') != std::string_view::npos)
      fail_at(KernProblem::chord, line, "a chord (space-separated notes); only monophonic **kern is read");
    read_note(line);
  }

  void read_reference(std::string_view record) {
    const std::size_t colon = record.find(':');
    if (colon == std::string_view::npos) {
      std::string comment(1, '!');  // a "!!!" line without a key: keep it as a comment
      comment.append(record);
      song_.comments.push_back(std::move(comment));
      return;
    }
    std::string_view value = record.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    song_.references.emplace_back(std::string(record.substr(0, colon)), std::string(value));
  }

  // Reads a run of decimal digits at text[i], advancing i. Refuses absurd values.
  std::int64_t read_number(std::string_view token, std::string_view text, std::size_t& i) const {
    std::int64_t value = 0;
    std::size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i] - '0');
      ++i;
      if (++digits > 6) fail_at(KernProblem::malformed, token, "number too large");
    }
    return value;
  }

  void read_interpretation(std::string_view tok) {
    const std::size_t at = song_.events.size();
    if (tok == "*-") {
      state_ = State::done;
      return;
    }
    if (tok == "*^" || tok == "*v" || tok == "*x" || tok == "*+")
      fail_at(KernProblem::spine_operation, tok, "spine split, join or exchange; only a single spine is read");
    if (tok.substr(0, 3) == "*MM") {  // metronome marking, not a meter
      std::size_t i = 3;
      const std::int64_t qpm = read_number(tok, tok, i);
      if (i == tok.size() && qpm > 0) song_.tempo_qpm = double(qpm);
      else song_.warnings.push_back(legato::detail::concat(source_, ":", line_number_, ": tempo '", printable(tok), "' ignored"));
      return;
    }
    if (tok.substr(0, 2) == "*M") return read_meter(tok, at);
    if (tok.substr(0, 3) == "*k[") return read_key_signature(tok, at);
    // Key designation: *G: *e: *B-: *f#:
    if (tok.size() >= 3 && is_pitch_letter(tok[1])) {
      std::size_t i = 2;
      int alter = 0;
      while (i < tok.size() && (tok[i] == '#' || tok[i] == '-')) alter += tok[i++] == '#' ? 1 : -1;
      if (i < tok.size() && tok[i] == ':') {
        const char letter = tok[1];
        const bool major = std::isupper(static_cast<unsigned char>(letter));
        const int pc = letter_pitch_class(char(std::tolower(static_cast<unsigned char>(letter))));
        const Key key{((pc + alter) % 12 + 12) % 12, major ? Mode::major : Mode::minor};
        song_.keys.push_back({at, {key, std::string(tok)}});
      }
    }
    // Anything else (*ICvox, *Ivox, *clefG2, *met(c), *>A, ...) does not affect the melody.
  }

  void read_meter(std::string_view tok, std::size_t at) {
    Meter meter;
    meter.token = std::string(tok);
    // The nominal n/d: the whole rest for *M3/4, the tail for *MFREI6/8.
    const std::size_t slash = tok.rfind('/');
    if (slash != std::string_view::npos && slash > 2) {
      std::size_t begin = slash;
      while (begin > 2 && std::isdigit(static_cast<unsigned char>(tok[begin - 1]))) --begin;
      std::size_t i = begin;
      const std::int64_t n = read_number(tok, tok, i);
      std::size_t j = slash + 1;
      const std::int64_t d = read_number(tok, tok, j);
      if (i == slash && j == tok.size() && j > slash + 1 && n > 0 && d > 0 && n <= 1000 && d <= 1000) {
        meter.numerator = int(n);
        meter.denominator = int(d);
        meter.regular = begin == 2;
      } else if (begin == 2) {
        fail_at(KernProblem::malformed, tok, "a meter must be *Mn/d with 1 <= n, d <= 1000");
      }
    }
    song_.meters.push_back({at, meter});
  }

  void read_key_signature(std::string_view tok, std::size_t at) {
    if (tok.back() != ']') fail_at(KernProblem::malformed, tok, "a key signature must end with ']'");
    const std::string_view body = tok.substr(3, tok.size() - 4);
    static const std::string_view sharp_order = "fcgdaeb", flat_order = "beadgcf";
    int sharps = 0, flats = 0;
    bool in_order = true;
    for (std::size_t i = 0; i < body.size();) {
      const char letter = body[i++];
      if (letter_pitch_class(letter) < 0) fail_at(KernProblem::malformed, tok, "a key signature lists lower-case notes");
      int alter = 0;
      while (i < body.size() && (body[i] == '#' || body[i] == '-')) alter += body[i++] == '#' ? 1 : -1;
      if (alter == 1) {
        in_order = in_order && flats == 0 && sharps < 7 && sharp_order[std::size_t(sharps)] == letter;
        ++sharps;
      } else if (alter == -1) {
        in_order = in_order && sharps == 0 && flats < 7 && flat_order[std::size_t(flats)] == letter;
        ++flats;
      } else {
        fail_at(KernProblem::malformed, tok, "each note of a key signature needs one '#' or '-'");
      }
    }
    KeySignature signature;
    signature.fifths = std::max(-7, std::min(7, sharps - flats));
    signature.standard = in_order;
    signature.token = std::string(tok);
    song_.key_signatures.push_back({at, signature});
  }

  void read_barline(std::string_view tok) {
    Barline bar;
    bar.at = song_.events.size();
    bar.final = tok.substr(0, 2) == "==";
    bar.token = std::string(tok);
    std::size_t i = tok.find_first_not_of('=');
    if (i != std::string_view::npos && std::isdigit(static_cast<unsigned char>(tok[i]))) {
      bar.number = int(read_number(tok, tok, i));
    }
    song_.barlines.push_back(bar);
  }

  void read_note(std::string_view token) {
    std::string_view t = token;
    // A control or non-ASCII byte ends the token (deut1328: "4.B<BS>8G" is 4.B).
    for (std::size_t i = 0; i < t.size(); ++i) {
      const auto c = static_cast<unsigned char>(t[i]);
      if (c < 0x20 || c >= 0x7f) {
        if (i == 0) fail_at(KernProblem::malformed, token, "the token starts with a non-printable byte");
        song_.warnings.push_back(legato::detail::concat(source_, ":", line_number_, ": token '", printable(token),
                                                        "' cut at a non-printable byte; read as '",
                                                        printable(t.substr(0, i)), "'"));
        t = t.substr(0, i);
        break;
      }
    }
    bool has_duration = false, has_pitch = false, rest = false, grace = false;
    Rational duration;
    int pitch = 0;
    Event event;
    for (std::size_t i = 0; i < t.size();) {
      const char c = t[i];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        if (has_duration) fail_at(KernProblem::malformed, token, "two durations in one token");
        has_duration = true;
        duration = read_duration(token, t, i);
      } else if (is_pitch_letter(c)) {
        if (has_pitch) fail_at(KernProblem::malformed, token, "two pitches in one token");
        has_pitch = true;
        pitch = read_pitch(token, t, i);
      } else {
        switch (c) {
          case 'r': rest = true; break;
          case 'q': case 'Q': grace = true; break;
          case '[': event.tie_out = true; break;
          case ']': event.tie_in = true; break;
          case '_': event.tie_in = event.tie_out = true; break;
          case '.': fail_at(KernProblem::malformed, token, "a dot that does not follow a duration");
          case '#': case '-': fail_at(KernProblem::malformed, token, "an accidental that does not follow a pitch");
          default: break;  // articulation, phrase, beam, stem, editorial marks
        }
        ++i;
      }
    }
    if (!has_pitch && !rest) fail_at(KernProblem::malformed, token, "no pitch and no rest");
    if (!has_duration && !grace) fail_at(KernProblem::malformed, token, "no duration");
    event.pitch = rest ? kRest : pitch;
    event.duration = grace ? Rational(0) : duration;
    if (rest) event.tie_in = event.tie_out = false;
    song_.events.push_back(event);
  }

  // Digits, an optional "%m", then dots.
  Rational read_duration(std::string_view token, std::string_view t, std::size_t& i) const {
    const std::size_t begin = i;
    const std::int64_t n = read_number(token, t, i);
    Rational base;
    if (n == 0) {
      const std::size_t zeros = i - begin;  // 0 breve, 00 long, 000 maxima
      if (zeros > 3) fail_at(KernProblem::malformed, token, "too many zeros in a duration");
      base = Rational(8 << (zeros - 1));
    } else if (i + 1 < t.size() && t[i] == '%' && std::isdigit(static_cast<unsigned char>(t[i + 1]))) {
      ++i;
      const std::int64_t m = read_number(token, t, i);
      if (m == 0) fail_at(KernProblem::malformed, token, "zero in a rational duration");
      base = Rational(4 * m, n);
    } else {
      base = Rational(4, n);
    }
    int dots = 0;
    while (i < t.size() && t[i] == '.') {
      ++i;
      if (++dots > 6) fail_at(KernProblem::malformed, token, "more than 6 dots");
    }
    // Each dot adds half of the previous increment: base * (2 - 1/2^dots).
    return base * Rational((std::int64_t(2) << dots) - 1, std::int64_t(1) << dots);
  }

  // A run of identical letters, then accidentals ('#', '-', 'n') and ESAC's
  // editorial 'x' marks in any order.
  int read_pitch(std::string_view token, std::string_view t, std::size_t& i) const {
    const char letter = t[i];
    std::size_t run = 0;
    while (i < t.size() && t[i] == letter) ++i, ++run;
    if (run > 10) fail_at(KernProblem::malformed, token, "pitch outside MIDI 0..127");
    int alter = 0;
    while (i < t.size() && (t[i] == '#' || t[i] == '-' || t[i] == 'n' || t[i] == 'x')) {
      if (t[i] == '#') ++alter;
      if (t[i] == '-') --alter;
      ++i;
    }
    const bool lower = std::islower(static_cast<unsigned char>(letter));
    const int octave = lower ? 3 + int(run) : 4 - int(run);
    const int midi = 12 * (octave + 1) + letter_pitch_class(char(std::tolower(static_cast<unsigned char>(letter)))) + alter;
    if (midi < 0 || midi > 127 || alter > 10 || alter < -10)
      fail_at(KernProblem::malformed, token, "pitch outside MIDI 0..127");
    return midi;
  }

  std::string_view text_;
  std::string source_;
  std::size_t line_number_ = 0;
  State state_ = State::header;
  Song song_;
};

}  // namespace detail

// Parses **kern text. `source` names the input in messages ("deut0567.krn").
inline Song parse_kern(std::string_view text, const std::string& source = "<memory>") {
  return detail::KernReader(text, source).read();
}

inline Song read_kern_file(const std::filesystem::path& path) {
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const Error& e) {
    throw KernError(KernProblem::unreadable, e.what());
  }
  return parse_kern(bytes, path.string());
}

}  // namespace legato::music

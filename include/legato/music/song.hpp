#pragma once
// Song: one monophonic melody as read from a **kern file (or a MIDI file, or
// built from a generated melody), plus Melody, the plain list of
// (pitch or rest, duration) that models produce.
//
// A Song keeps everything a writer needs to give the file back: title and
// reference records, the events (notes and rests, each an exact duration in
// quarters, ties NOT merged, as the seed pipeline needs), and the positions of
// barlines, meters, key signatures and key designations. A position `at` is
// the index of the first event after the item: a meter at 0 is in the
// header, a barline at 4 sits between events 3 and 4.
//
//   Song s = read_kern_file("deut0567.krn");
//   for (const Event& e : s.events) if (e.is_note()) use(e.pitch, e.duration);
//   const Meter* m = s.header_meter();   // *M3/4, or nullptr
//
//   Melody tune = {{60, 1.0}, {62, 0.5}, {kRest, 0.5}, {64, 2.0}};  // what a model emits

#include <array>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "legato/music/rational.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

inline constexpr int kRest = -1;  // the pitch of a rest, in Event and MelodyNote

// One note or rest. Tied segments stay separate events (tie flags set).
struct Event {
  int pitch = kRest;         // MIDI number 0..127 (60 = C4), or kRest
  Rational duration;         // quarters; 0 only for grace notes
  bool tie_in = false;       // continues the previous note (kern ']' or '_')
  bool tie_out = false;      // continues into the next note (kern '[' or '_')

  bool is_rest() const { return pitch == kRest; }
  bool is_note() const { return pitch != kRest; }
  friend bool operator==(const Event&, const Event&) = default;
};

enum class Mode { major, minor };

// A key: tonic pitch class (0 = C … 11 = B) and mode. Spelling is not kept:
// only the pitch class matters for MIDI and for transposition.
struct Key {
  int tonic = 0;
  Mode mode = Mode::major;
  friend bool operator==(const Key&, const Key&) = default;
};

// Conventional spelling of a key's tonic in kern style: "B-" (B-flat major),
// "f#" (F-sharp minor). Upper case for major, lower case for minor.
inline std::string key_kern_name(const Key& key) {
  static const std::array<const char*, 12> major = {"C", "D-", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"};
  static const std::array<const char*, 12> minor = {"c", "c#", "d", "e-", "e", "f", "f#", "g", "g#", "a", "b-", "b"};
  const int pc = ((key.tonic % 12) + 12) % 12;
  return key.mode == Mode::major ? major[pc] : minor[pc];
}

// "G major", "b- minor" (readable form for reports).
inline std::string key_display_name(const Key& key) {
  return key_kern_name(key) + (key.mode == Mode::major ? " major" : " minor");
}

// Sharps (>0) or flats (<0) of a key's conventional signature: G major 1, d minor -1.
inline int key_fifths(const Key& key) {
  static const std::array<int, 12> major = {0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5};
  static const std::array<int, 12> minor = {-3, 4, -1, -6, 1, -4, 3, -2, 5, 0, -5, 2};
  const int pc = ((key.tonic % 12) + 12) % 12;
  return key.mode == Mode::major ? major[pc] : minor[pc];
}

// A meter (*M3/4). Irregular ESAC meters *MX, *MZ and *MFREI6/8 are kept with
// regular = false; *MFREI6/8 still records its nominal 6/8.
struct Meter {
  int numerator = 0;
  int denominator = 0;
  bool regular = false;  // a plain *Mn/d
  std::string token;     // as written, e.g. "*M3/4", "*MX"

  // Quarters per bar (3/4 -> 3, 6/8 -> 3), or 0 when there is no nominal meter.
  Rational bar_length() const {
    if (numerator <= 0 || denominator <= 0) return 0;
    return Rational(4 * std::int64_t(numerator), denominator);
  }
  static Meter regular_meter(int numerator, int denominator) {
    check(numerator > 0 && denominator > 0, "Meter: ", numerator, "/", denominator, " is not a meter");
    return {numerator, denominator, true, legato::detail::concat("*M", numerator, "/", denominator)};
  }
  friend bool operator==(const Meter&, const Meter&) = default;
};

// A key signature (*k[f#c#]). fifths counts sharps (>0) or flats (<0);
// standard is false for a signature whose accidentals are not the usual
// prefix of F C G D A E B / B E A D G C F (deut0791 has *k[c-e-a-]).
struct KeySignature {
  int fifths = 0;
  bool standard = true;
  std::string token;  // as written

  static KeySignature from_fifths(int fifths) {
    check(fifths >= -7 && fifths <= 7, "KeySignature: ", fifths, " fifths is out of range -7..7");
    static const char* sharps[] = {"f#", "c#", "g#", "d#", "a#", "e#", "b#"};
    static const char* flats[] = {"b-", "e-", "a-", "d-", "g-", "c-", "f-"};
    std::string token = "*k[";
    for (int i = 0; i < (fifths < 0 ? -fifths : fifths); ++i) token += fifths > 0 ? sharps[i] : flats[i];
    return {fifths, true, token + "]"};
  }
  friend bool operator==(const KeySignature&, const KeySignature&) = default;
};

// A key designation (*G:, *e:, *B-:).
struct KeyDesignation {
  Key key;
  std::string token;  // as written
  friend bool operator==(const KeyDesignation&, const KeyDesignation&) = default;
};

// A barline before event `at`. number is the bar number written after '='
// (=12 -> 12), or -1; final is the double bar "==".
struct Barline {
  std::size_t at = 0;
  int number = -1;
  bool final = false;
  std::string token;
  friend bool operator==(const Barline&, const Barline&) = default;
};

// An item (meter, key signature, key designation) placed before event `at`.
template <class T>
struct Placed {
  std::size_t at = 0;
  T value;
  friend bool operator==(const Placed&, const Placed&) = default;
};

struct Song {
  std::string title;                                            // !!!OTL, or empty
  std::vector<std::pair<std::string, std::string>> references;  // ("OTL", "..."), in file order
  std::vector<std::string> comments;                            // text of "!!" lines, without "!!"
  std::vector<Event> events;
  std::vector<Barline> barlines;
  std::vector<Placed<Meter>> meters;
  std::vector<Placed<KeySignature>> key_signatures;
  std::vector<Placed<KeyDesignation>> keys;
  double tempo_qpm = 0;               // *MM120 or a MIDI tempo; 0 when not given
  std::vector<std::string> warnings;  // recoverable oddities met while reading

  std::size_t note_count() const {
    std::size_t n = 0;
    for (const Event& e : events) n += e.is_note();
    return n;
  }
  Rational total_duration() const {
    Rational sum;
    for (const Event& e : events) sum += e.duration;
    return sum;
  }
  // The meter / key signature / designation of the header (placed before the
  // first event), or nullptr. Key finding (key.hpp) relies on these.
  const Meter* header_meter() const { return header(meters); }
  const KeySignature* header_key_signature() const { return header(key_signatures); }
  const KeyDesignation* header_key() const { return header(keys); }

  // The value of reference record `code` ("OTL"), or "" when absent.
  std::string reference(const std::string& code) const {
    for (const auto& [c, value] : references)
      if (c == code) return value;
    return "";
  }

 private:
  template <class T>
  static const T* header(const std::vector<Placed<T>>& items) {
    return !items.empty() && items.front().at == 0 ? &items.front().value : nullptr;
  }
};

// What a melody model produces: each note a MIDI pitch (or kRest) and a
// duration in quarters. Durations are doubles because models compute them
// (0.25 * steps, a table lookup); writers bring them back to exact fractions.
struct MelodyNote {
  int pitch = kRest;
  double quarters = 0;
  friend bool operator==(const MelodyNote&, const MelodyNote&) = default;
};
using Melody = std::vector<MelodyNote>;

// The events of a song as a Melody. Tied segments stay separate (as the
// seed's encodings see them) unless merge_ties, which sums each tied chain
// of one pitch into one note (as a listener hears it).
inline Melody melody_of(const Song& song, bool merge_ties = false) {
  Melody melody;
  melody.reserve(song.events.size());
  for (std::size_t i = 0; i < song.events.size(); ++i) {
    const Event& e = song.events[i];
    const bool continues = merge_ties && i > 0 && e.is_note() && e.tie_in && song.events[i - 1].tie_out &&
                           song.events[i - 1].pitch == e.pitch;
    if (continues) melody.back().quarters += e.duration.to_double();
    else melody.push_back({e.pitch, e.duration.to_double()});
  }
  return melody;
}

// Scientific pitch name of a MIDI number, sharps only: 60 -> "C4", 61 -> "C#4".
inline std::string pitch_name(int midi) {
  if (midi == kRest) return "rest";
  static const char* names[] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  const int pc = ((midi % 12) + 12) % 12;
  return names[pc] + std::to_string((midi - pc) / 12 - 1);
}

}  // namespace legato::music

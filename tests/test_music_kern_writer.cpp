// **kern writer and melodies: recips and spellings, the round trip
// read -> write -> read on every shipped and ESAC file, and generated
// melodies written to .mid and .krn with one call each.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "legato/music.hpp"

using namespace legato;
using namespace legato::music;
namespace fs = std::filesystem;

namespace {

// Everything the reader fills, except warnings (the writer does not reproduce control bytes).
void check_same_song(const Song& a, const Song& b) {
  CHECK(a.title == b.title);
  CHECK(a.references == b.references);
  CHECK(a.comments == b.comments);
  CHECK(a.events == b.events);
  CHECK(a.barlines == b.barlines);
  CHECK(a.meters == b.meters);
  CHECK(a.key_signatures == b.key_signatures);
  CHECK(a.keys == b.keys);
}

void round_trip_folder(const fs::path& dir, std::size_t& count) {
  CorpusOptions raw;
  raw.filter_durations = false;
  raw.filter_empty = false;
  raw.transpose = false;
  for (const CorpusSong& s : load_corpus(dir, raw).songs) {
    INFO(s.file_name);
    check_same_song(s.song, parse_kern(kern_text(s.song), s.file_name));
    // Transposed songs (regenerated key tokens, spelled pitches) survive too.
    const Song t = transpose_to_c(s.song).song;
    check_same_song(t, parse_kern(kern_text(t), s.file_name));
    ++count;
  }
}

}  // namespace

TEST_CASE("kern recips: plain, dotted, tuplets, breve; rational form for the rest") {
  CHECK(*kern_recip(1) == "4");
  CHECK(*kern_recip(Rational(3, 4)) == "8.");
  CHECK(*kern_recip(Rational(7, 4)) == "4..");
  CHECK(*kern_recip(Rational(1, 3)) == "12");
  CHECK(*kern_recip(Rational(1, 6)) == "24");
  CHECK(*kern_recip(Rational(3, 8)) == "16.");
  CHECK(*kern_recip(4) == "1");
  CHECK(*kern_recip(6) == "1.");
  CHECK(*kern_recip(8) == "0");
  CHECK(*kern_recip(12) == "0.");
  CHECK_FALSE(kern_recip(Rational(5, 4)).has_value());
  CHECK(kern_duration(Rational(5, 4)) == "16%5");
  CHECK(parse_kern("**kern\n16%5c\n*-\n").events[0].duration == Rational(5, 4));
  CHECK_THROWS_AS(kern_duration(0), Error);
}

TEST_CASE("kern pitch spelling follows the key signature") {
  CHECK(kern_pitch(60) == "c");
  CHECK(kern_pitch(72) == "cc");
  CHECK(kern_pitch(48) == "C");
  CHECK(kern_pitch(36) == "CC");
  CHECK(kern_pitch(59) == "B");
  CHECK(kern_pitch(61) == "c#");
  CHECK(kern_pitch(70) == "b-");
  CHECK(kern_pitch(63, 0) == "e-");
  CHECK(kern_pitch(63, 2) == "d#");
  CHECK(kern_pitch(61, -3) == "d-");
  CHECK_THROWS_AS(kern_pitch(128), Error);
  // Every MIDI number reads back as itself in every kind of key.
  for (int fifths : {-3, 0, 4})
    for (int m = 0; m < 128; ++m) {
      const std::string text = "**kern\n4" + kern_pitch(m, fifths) + "\n*-\n";
      CHECK(parse_kern(text).events[0].pitch == m);
    }
}

TEST_CASE("round trip read -> write -> read on the shipped data/ sample") {
  std::size_t count = 0;
  round_trip_folder(fs::path(LEGATO_SOURCE_DIR) / "data", count);
  CHECK(count >= 20);
}

TEST_CASE("round trip on all ESAC files, including the filtered ones" *
          doctest::skip(!fs::is_directory(fs::path(LEGATO_SOURCE_DIR) / ".." / "shared" / "data" / "esac"))) {
  std::size_t count = 0;
  round_trip_folder(fs::path(LEGATO_SOURCE_DIR) / ".." / "shared" / "data" / "esac", count);
  CHECK(count == 1223 + 1700 + 14);
}

TEST_CASE("song_from_melody: bars, ties across barlines, tied standard values, title, key, meter") {
  // 3/4: a 1.25-quarter note, then a note that crosses the barline, then a rest.
  MelodyInfo info;
  info.title = "generated";
  info.meter = Meter::regular_meter(3, 4);
  info.key = Key{9, Mode::minor};
  const Melody m = {{69, 1.25}, {71, 2.5}, {kRest, 1.0}, {72, 0.25}};
  const Song s = song_from_melody(m, info);
  // 1.25 -> 1 + 1/4 tied; 2.5 -> 1.75 (to the barline: dotted-dotted quarter) + 0.75 tied.
  REQUIRE(s.events.size() == 6);
  CHECK(s.events[0] == Event{69, 1, false, true});
  CHECK(s.events[1] == Event{69, Rational(1, 4), true, false});
  CHECK(s.events[2] == Event{71, Rational(7, 4), false, true});
  CHECK(s.events[3] == Event{71, Rational(3, 4), true, false});
  CHECK(s.events[4] == Event{kRest, 1});
  CHECK(s.events[5] == Event{72, Rational(1, 4)});
  REQUIRE(s.barlines.size() == 3);
  CHECK(s.barlines[1].at == 3);
  CHECK(s.barlines[1].number == 2);
  CHECK(s.barlines[2].final);
  CHECK(s.header_key()->token == "*a:");
  CHECK(s.header_meter()->token == "*M3/4");
  CHECK(s.title == "generated");
  // The kern text reads back to the same song; the MIDI reader merges the ties back.
  check_same_song(s, parse_kern(kern_text(s)));
  const Song heard = song_from_midi(parse_midi(midi_bytes(s)));
  REQUIRE(heard.events.size() == 4);
  CHECK(heard.events[0] == Event{69, Rational(5, 4)});
  CHECK(heard.events[1] == Event{71, Rational(5, 2)});
  CHECK(heard.events[2] == Event{kRest, 1});
  // Bad melodies are refused with the note index.
  CHECK_THROWS_WITH_AS(song_from_melody({{60, 1.0}, {130, 1.0}}), doctest::Contains("note 1 has pitch 130"), Error);
  CHECK_THROWS_AS(song_from_melody({{60, -1.0}}), Error);
  CHECK_THROWS_AS(song_from_melody({{60, std::nan("")}}), Error);
}

TEST_CASE("notated_pieces spells any duration as standard values") {
  CHECK(notated_pieces(Rational(5, 4)) == std::vector<Rational>{1, Rational(1, 4)});
  CHECK(notated_pieces(Rational(3, 4)) == std::vector<Rational>{Rational(3, 4)});
  CHECK(notated_pieces(Rational(17, 4)) == std::vector<Rational>{4, Rational(1, 4)});
  for (int steps = 1; steps <= 64; ++steps) {
    Rational sum;
    for (const Rational& p : notated_pieces(Rational(steps, 4))) {
      CHECK(kern_recip(p).has_value());
      sum += p;
    }
    CHECK(sum == Rational(steps, 4));
  }
}

TEST_CASE("a generated melody is written to .mid and .krn with one call each") {
  const TemporaryFolder scratch("legato_test_music_writer");
  const std::filesystem::path& dir = scratch.path();
  // What an LSTM sample looks like after decode_timeseries.
  const Melody tune = decode_timeseries(split_tokens("60 _ _ _ 62 _ 64 _ _ _ _ _ r _ 67 _ _ _ _ _ _ _ _ _ _ r"));
  write_melody_midi(dir / "sample.mid", tune);
  write_melody_kern(dir / "sample.krn", tune);
  const Song from_midi = read_midi_song(dir / "sample.mid");
  const Song from_kern = read_kern_file(dir / "sample.krn");
  CHECK(melody_of(from_midi) == tune);
  CHECK(from_kern.total_duration() == Rational(26, 4));
  CHECK(melody_of(from_kern, true) == tune);
  CHECK(from_kern.events.size() == tune.size() + 2);  // the last G crosses a barline and needs a tied 2 + 1/4
  CHECK(from_kern.title == "legato melody");
}

TEST_CASE("melody_output: parse_meter accepts N/D and names what it refuses") {
  CHECK(parse_meter("3/4") == Meter::regular_meter(3, 4));
  CHECK(parse_meter("6/8").bar_length() == Rational(3));
  for (const char* bad : {"", "3", "3/", "/4", "3/5", "0/4", "65/4", "3/128", "a/b", "3/4/4", "-3/4"})
    CHECK_THROWS_WITH_AS(parse_meter(bad), doctest::Contains("is not N/D"), Error);
}

TEST_CASE("melody_output: transposed moves notes, keeps rests, refuses to leave MIDI 0..127") {
  const Melody tune = {{60, 1.0}, {kRest, 0.5}, {67, 1.5}};
  const Melody up = transposed(tune, 7);
  CHECK(up == Melody{{67, 1.0}, {kRest, 0.5}, {74, 1.5}});
  CHECK(transposed(tune, 0) == tune);
  CHECK_THROWS_WITH_AS(transposed(tune, 61), doctest::Contains("note 3 (G4) outside MIDI 0..127"), Error);
  CHECK_THROWS_WITH_AS(transposed(tune, -61), doctest::Contains("note 1 (C4) outside MIDI 0..127"), Error);
}

TEST_CASE("melody_output: the written key is the key of the notes; tempo and meter as asked") {
  const TemporaryFolder scratch("legato_test_melody_output");
  const std::filesystem::path& dir = scratch.path();
  // An A-minor tune: A C E, G# leading tone, ending on A. Written as is, then up a fourth (d minor).
  const Melody tune = {{69, 1.0}, {72, 1.0}, {76, 1.0}, {68, 0.5}, {71, 0.5}, {69, 2.0}};
  MelodyOutput as_is;
  CHECK(melody_info(tune, as_is, "t").key == Key{9, Mode::minor});
  MelodyOutput fourth;
  fourth.transpose = 5;
  fourth.tempo_qpm = 72;
  fourth.meter = parse_meter("3/4");
  write_generated_melody(dir / "tune", tune, fourth, "a minor tune, up a fourth");
  const Song krn = read_kern_file(dir / "tune.krn");
  REQUIRE(krn.header_key());
  CHECK(krn.header_key()->key == Key{2, Mode::minor});
  REQUIRE(krn.header_key_signature());
  CHECK(krn.header_key_signature()->fifths == -1);  // one flat
  CHECK(krn.tempo_qpm == 72);
  REQUIRE(krn.header_meter());
  CHECK(*krn.header_meter() == Meter::regular_meter(3, 4));
  CHECK(melody_of(krn, true) == transposed(tune, 5));
  const Song mid = read_midi_song(dir / "tune.mid");
  CHECK(melody_of(mid, true) == transposed(tune, 5));
  CHECK(mid.tempo_qpm == doctest::Approx(72));
  // A known key (a completion's source) is written as given, not estimated.
  MelodyOutput known = as_is;
  known.key = Key{0, Mode::major};
  CHECK(melody_info(tune, known, "t").key == Key{0, Mode::major});
  // A melody of rests has no key to estimate: C major, as before.
  CHECK(melody_info({{kRest, 4.0}}, as_is, "rests").key == Key{0, Mode::major});
  MelodyOutput slow;
  slow.tempo_qpm = 5;
  CHECK_THROWS_WITH_AS(melody_info(tune, slow, "slow"),
                       doctest::Contains("tempo 5 is outside 10..400"), Error);
}

TEST_CASE("melody_output: an upbeat keeps the bars where they belong") {
  // 3/4 with a one-beat upbeat: G | C E G | C.
  const Melody tune = {{67, 1.0}, {60, 1.0}, {64, 1.0}, {67, 1.0}, {72, 3.0}};
  MelodyInfo info;
  info.meter = Meter::regular_meter(3, 4);
  info.pickup = Rational(1);
  const Song song = song_from_melody(tune, info);
  REQUIRE(song.barlines.size() == 3);
  CHECK(song.barlines[0].at == 1);  // "=1" after the upbeat, ESAC's numbering
  CHECK(song.barlines[0].token == "=1");
  CHECK(song.barlines[1].at == 4);
  CHECK(song.barlines[1].token == "=2");
  CHECK(song.barlines[2].final);
  CHECK(pickup_of(song) == Rational(1));
  // Without the upbeat the same notes are barred from the first one, and a
  // note crosses the barline (tied).
  info.pickup = 0;
  const Song plain = song_from_melody(tune, info);
  CHECK(plain.barlines.front().at == 0);
  CHECK(pickup_of(plain) == Rational(0));
  CHECK(plain.events.size() > song.events.size());
  // Round trip through a .krn file, and an ESAC-style first full bar has no upbeat.
  const TemporaryFolder scratch("legato_test_pickup");
  const std::filesystem::path& dir = scratch.path();
  MelodyOutput out;
  out.meter = Meter::regular_meter(3, 4);
  out.pickup = Rational(1);
  write_generated_melody(dir / "upbeat", tune, out, "upbeat");
  CHECK(pickup_of(read_kern_file(dir / "upbeat.krn")) == Rational(1));
  // The .mid starts at a bar: two beats of rest, then the upbeat.
  const Melody from_midi = melody_of(read_midi_song(dir / "upbeat.mid"), true);
  REQUIRE(from_midi.size() == tune.size() + 1);
  CHECK(from_midi.front() == MelodyNote{kRest, 2.0});
  CHECK(Melody(from_midi.begin() + 1, from_midi.end()) == tune);
  CHECK(pickup_of(parse_kern("**kern\n*M2/4\n4c\n4d\n=1\n2e\n==\n*-\n", "esac")) == Rational(0));
  CHECK(pickup_of(parse_kern("**kern\n*M6/8\n8c\n=1\n4.d\n4.e\n==\n*-\n", "six-eight")) == Rational(1, 2));
  CHECK(pickup_of(parse_kern("**kern\n*MX\n8c\n=1\n4.d\n==\n*-\n", "irregular")) == Rational(0));
  // An incomplete first bar after "=1" (deut1465's way) is an upbeat too; a full one is not.
  CHECK(pickup_of(parse_kern("**kern\n*M4/4\n=1\n4c\n4d\n=2\n1e\n==\n*-\n", "top")) == Rational(2));
  CHECK(pickup_of(parse_kern("**kern\n*M2/4\n=1\n4c\n4d\n=2\n2e\n==\n*-\n", "full")) == Rational(0));
  CHECK(pickup_of(parse_kern("**kern\n*M4/4\n4c\n4d\n==\n*-\n", "final only")) == Rational(0));
  CHECK(pickup_of(parse_kern("**kern\n*M3/4\n1c\n=1\n2.d\n==\n*-\n", "long first bar")) == Rational(0));
  // An upbeat as long as a bar is refused.
  info.pickup = Rational(3);
  CHECK_THROWS_WITH_AS(song_from_melody(tune, info), doctest::Contains("pickup 3 is not shorter than a bar of *M3/4"),
                       Error);
  info.pickup = Rational(-1);
  CHECK_THROWS_WITH_AS(song_from_melody(tune, info), doctest::Contains("pickup -1 is negative"), Error);
}

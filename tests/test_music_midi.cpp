// Standard MIDI files: exact bytes of a small file, meta events, ticks of
// tuplets, ties merged, format 0 and 1, round trips through the reader,
// and the reader's refusals. (CI also reads legato's files with mido, an
// independent reader: see examples/melody_data/CMakeLists.txt.)
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "legato/music.hpp"

using namespace legato;
using namespace legato::music;
namespace fs = std::filesystem;

namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s += char(b);
  return s;
}

Song two_four_song() {
  return parse_kern(
      "!!!OTL: Test\n**kern\n*M2/4\n*k[b-]\n*d:\n=1\n8d\n12e\n12f\n12g\n4a\n[4b-\n=2\n8b-]\n8r\n4cc#\n==\n*-\n",
      "test.krn");
}

std::vector<const MidiEvent*> metas(const MidiTrack& t, std::uint8_t type) {
  std::vector<const MidiEvent*> out;
  for (const MidiEvent& e : t.events)
    if (e.is_meta() && e.meta_type == type) out.push_back(&e);
  return out;
}

}  // namespace

TEST_CASE("a one-note format-0 file has exactly the bytes of the SMF specification") {
  Song s;
  s.events.push_back({60, 1});
  MidiWriteOptions o;
  o.format = 0;
  o.program = -1;
  o.track_name = "A";
  o.tempo_qpm = 120;
  const std::string expected =
      bytes({'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xE0}) +  // format 0, 1 track, 480 tpq
      bytes({'M', 'T', 'r', 'k', 0, 0, 0, 25}) +
      bytes({0x00, 0xFF, 0x03, 0x01, 'A'}) +              // track name
      bytes({0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20}) +  // tempo 500000 us per quarter
      bytes({0x00, 0x90, 60, 90}) +                        // note on C4, velocity 90
      bytes({0x83, 0x60, 0x80, 60, 0}) +                   // 480 ticks later (VLQ 83 60), note off
      bytes({0x00, 0xFF, 0x2F, 0x00});                     // End of Track
  CHECK(midi_bytes(s, o) == expected);
}

TEST_CASE("variable-length numbers survive encode and parse at their boundaries") {
  for (std::int64_t delta : {0, 127, 128, 16383, 16384, 2097151, 2097152, 0x0FFFFFFF}) {
    MidiFile f;
    f.format = 0;
    f.tracks.push_back({{MidiEvent::channel_message(delta, 0x90, 0, {60, 100})}});
    const MidiFile back = parse_midi(encode_midi(f));
    REQUIRE(back.tracks.size() == 1);
    REQUIRE(back.tracks[0].events.size() == 2);  // the note and the added End of Track
    CHECK(back.tracks[0].events[0].tick == delta);
  }
}

TEST_CASE("format 1: conductor track with meta events, note track with program and exact tuplet ticks") {
  MidiWriteOptions o;
  o.program = 73;
  o.channel = 2;
  o.velocity = 64;
  const MidiFile f = parse_midi(midi_bytes(two_four_song(), o));
  CHECK(f.format == 1);
  CHECK(f.ticks_per_quarter == 480);
  REQUIRE(f.tracks.size() == 2);
  const MidiTrack& conductor = f.tracks[0];
  REQUIRE(metas(conductor, kMetaTrackName).size() == 1);
  CHECK(std::string(metas(conductor, kMetaTrackName)[0]->data.begin(), metas(conductor, kMetaTrackName)[0]->data.end()) ==
        "Test");
  REQUIRE(metas(conductor, kMetaTempo).size() == 1);
  CHECK(metas(conductor, kMetaTempo)[0]->data == std::vector<std::uint8_t>{0x07, 0xA1, 0x20});
  REQUIRE(metas(conductor, kMetaTimeSignature).size() == 1);
  CHECK(metas(conductor, kMetaTimeSignature)[0]->data == std::vector<std::uint8_t>{2, 2, 24, 8});  // 2/4
  REQUIRE(metas(conductor, kMetaKeySignature).size() == 1);
  CHECK(metas(conductor, kMetaKeySignature)[0]->data == std::vector<std::uint8_t>{0xFF, 1});  // 1 flat, minor
  CHECK(conductor.events.back().meta_type == kMetaEndOfTrack);

  const MidiTrack& notes = f.tracks[1];
  std::vector<std::pair<std::int64_t, int>> on, off;
  for (const MidiEvent& e : notes.events) {
    if (e.kind() == 0xC0) {
      CHECK(e.data[0] == 73);
      CHECK(e.channel() == 2);
    }
    if (e.is_note_on()) {
      on.emplace_back(e.tick, e.note());
      CHECK(e.data[1] == 64);
    }
    if (e.is_note_off()) off.emplace_back(e.tick, e.note());
  }
  // d8 e12 f12 g12 a4 b-4~b-8 r8 c#4: triplet eighths are 160 ticks, the tie is one note.
  const std::vector<std::pair<std::int64_t, int>> expected_on = {{0, 62},   {240, 64},  {400, 65},
                                                                 {560, 67}, {720, 69},  {1200, 70},
                                                                 {2160, 73}};
  const std::vector<std::pair<std::int64_t, int>> expected_off = {{240, 62},  {400, 64},  {560, 65},
                                                                  {720, 67},  {1200, 69}, {1920, 70},
                                                                  {2640, 73}};
  CHECK(on == expected_on);
  CHECK(off == expected_off);
  CHECK(notes.events.back().meta_type == kMetaEndOfTrack);
  CHECK(notes.events.back().tick == 2640);
}

TEST_CASE("MIDI round trip: the reader gives back pitches, durations (ties merged), rests and meta data") {
  for (int format : {0, 1}) {
    MidiWriteOptions o;
    o.format = format;
    o.tempo_qpm = 96;
    const Song back = song_from_midi(parse_midi(midi_bytes(two_four_song(), o)));
    CAPTURE(format);
    REQUIRE(back.events.size() == 8);
    CHECK(back.events[1] == Event{64, Rational(1, 3)});
    CHECK(back.events[5] == Event{70, Rational(3, 2)});  // 4b-~8b- merged
    CHECK(back.events[6] == Event{kRest, Rational(1, 2)});
    CHECK(back.events[7] == Event{73, 1});
    CHECK(back.title == "Test");
    CHECK(back.tempo_qpm == 96);
    REQUIRE(back.header_meter() != nullptr);
    CHECK(back.header_meter()->numerator == 2);
    CHECK(back.header_meter()->denominator == 4);
    REQUIRE(back.header_key() != nullptr);
    CHECK(back.header_key()->key == Key{2, Mode::minor});  // d minor
    CHECK(back.header_key_signature()->fifths == -1);
  }
  // Without merging, the tied segments are two notes.
  MidiWriteOptions split;
  split.merge_ties = false;
  CHECK(song_from_midi(parse_midi(midi_bytes(two_four_song(), split))).events.size() == 9);
}

TEST_CASE("the reader: running status, velocity-0 note off, overlaps cut, leading rest, channel filter") {
  const std::string track = bytes({0x00, 0xFF, 0x03, 0x00,                     // empty track name
                                   0x83, 0x60, 0x91, 60, 100,                  // 480: on C4, channel 1
                                   0x83, 0x60, 62, 100,                        // running status: on D4 (cuts C4)
                                   0x83, 0x60, 62, 0,                          // velocity 0 = off
                                   0x00, 0x92, 30, 100, 0x81, 0x70, 0x82, 30, 0,  // channel 2 note
                                   0x00, 0xFF, 0x2F, 0x00});
  const std::string file = bytes({'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xE0, 'M', 'T', 'r', 'k', 0, 0, 0,
                                  int(track.size())}) +
                           track;
  const Song all = song_from_midi(parse_midi(file));
  REQUIRE(all.events.size() == 4);
  CHECK(all.events[0] == Event{kRest, 1});
  CHECK(all.events[1] == Event{60, 1});
  CHECK(all.events[2] == Event{62, 1});
  CHECK(all.events[3] == Event{30, Rational(1, 2)});
  MidiReadOptions one;
  one.channel = 1;
  const Song lead = song_from_midi(parse_midi(file), one);
  REQUIRE(lead.events.size() == 4);
  CHECK(lead.events[3] == Event{kRest, Rational(1, 2)});  // silent until the End of Track
}

TEST_CASE("the reader refuses bad bytes with an Error naming the offset") {
  const Song s = two_four_song();
  const std::string good = midi_bytes(s);
  CHECK_THROWS_AS(parse_midi(""), Error);
  CHECK_THROWS_AS(parse_midi("RIFF0000000000000000"), Error);
  CHECK_THROWS_AS(parse_midi(good.substr(0, good.size() - 5)), Error);  // truncated track
  std::string smpte = good;
  smpte[12] = char(0xE7);  // negative division = SMPTE
  CHECK_THROWS_WITH_AS(parse_midi(smpte, "x.mid"),
                       "x.mid: MIDI byte 14: SMPTE time division is not supported (only ticks per quarter)", Error);
  std::string tracks = good;
  tracks[11] = 3;  // declares 3 tracks
  CHECK_THROWS_AS(parse_midi(tracks), Error);
  const std::string header = bytes({'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xE0});
  // A 5-byte variable-length number.
  CHECK_THROWS_AS(parse_midi(header + bytes({'M', 'T', 'r', 'k', 0, 0, 0, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x90, 60, 1})),
                  Error);
  // Running status with no status yet.
  CHECK_THROWS_AS(parse_midi(header + bytes({'M', 'T', 'r', 'k', 0, 0, 0, 3, 0x00, 60, 100})), Error);
  // A meta payload longer than the track.
  CHECK_THROWS_AS(parse_midi(header + bytes({'M', 'T', 'r', 'k', 0, 0, 0, 4, 0x00, 0xFF, 0x03, 0x20})), Error);
  // A system real-time byte.
  CHECK_THROWS_AS(parse_midi(header + bytes({'M', 'T', 'r', 'k', 0, 0, 0, 2, 0x00, 0xF8})), Error);
  // Writer options are checked.
  MidiWriteOptions o;
  o.channel = 16;
  CHECK_THROWS_AS(midi_bytes(s, o), Error);
  o = {};
  o.format = 2;
  CHECK_THROWS_AS(midi_bytes(s, o), Error);
}

TEST_CASE("files: written atomically, read back by extension; unknown extensions are refused") {
  const TemporaryFolder scratch("legato_test_music_midi");
  const std::filesystem::path& dir = scratch.path();
  const Song s = two_four_song();
  write_song(dir / "a.mid", s);
  write_song(dir / "a.krn", s);
  CHECK(read_song(dir / "a.mid").events.size() == 8);
  CHECK(read_song(dir / "a.krn").events == s.events);
  CHECK_THROWS_WITH_AS(write_song(dir / "a.wav", s), doctest::Contains("unknown extension '.wav'"), Error);
  CHECK_THROWS_AS(read_song(dir / "missing.mid"), Error);
  for (const auto& entry : fs::directory_iterator(dir))
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);  // no temporary left behind
}

// Encodings and their decoders: E-TS tokens and vocabulary, the dataset
// stream, the seed's convert_to_midi quirks, E-2SEQ and E-VAE1.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "legato/music.hpp"

using namespace legato;
using namespace legato::music;

namespace {

Song song_of(std::initializer_list<std::pair<int, Rational>> events) {
  Song s;
  for (const auto& [p, d] : events) s.events.push_back({p, d});
  return s;
}

}  // namespace

TEST_CASE("E-TS: one token per 16th, onset then holds, rests as r, truncation for odd durations") {
  const Song s = song_of({{55, 1}, {kRest, Rational(1, 2)}, {60, Rational(3, 4)}});
  CHECK(join_tokens(encode_timeseries(s)) == "55 _ _ _ r _ 60 _ _");
  // The seed truncates: 1/8 -> 0 steps (the note vanishes), 1/3 -> 1, 3/8 -> 1, 1/6 -> 0.
  const Song odd = song_of({{60, Rational(1, 8)}, {62, Rational(1, 3)}, {64, Rational(3, 8)}, {65, Rational(1, 6)}});
  CHECK(join_tokens(encode_timeseries(odd)) == "62 64");
  CHECK(timeseries_steps(8) == 32);
  // The Melody overload agrees.
  CHECK(encode_timeseries(melody_of(s)) == encode_timeseries(s));
}

TEST_CASE("split_tokens and join_tokens are inverse on single-spaced text") {
  const std::string line = "60 _ _ r _ 62";
  CHECK(join_tokens(split_tokens(line)) == line);
  CHECK(split_tokens("  60\t_\n r  ").size() == 3);
}

TEST_CASE("decode_timeseries: correct by default, the seed's quirks on request") {
  const auto tokens = split_tokens("60 _ _ _ 62 _ r _ 64");
  const Melody right = decode_timeseries(tokens);
  REQUIRE(right.size() == 4);
  CHECK(right[0] == MelodyNote{60, 1.0});
  CHECK(right[1] == MelodyNote{62, 0.5});
  CHECK(right[2] == MelodyNote{kRest, 0.5});
  CHECK(right[3] == MelodyNote{64, 0.25});

  // Seed: the final token is never emitted, so the trailing onset 64 is lost.
  TimeseriesDecodeOptions seed;
  seed.seed_quirks = true;
  const Melody quirky = decode_timeseries(tokens, seed);
  REQUIRE(quirky.size() == 3);
  CHECK(quirky[2] == MelodyNote{kRest, 0.5});

  // Spec §6.6: the 29-token seed ends on "_" -> the held G is one step short (1.0, not 1.25).
  const auto primer = split_tokens("60 _ _ _ 60 _ _ _ 67 _ _ _ 67 _ _ _ 69 _ _ _ 69 _ _ _ 67 _ _ _ _");
  CHECK(primer.size() == 29);
  CHECK(decode_timeseries(primer).back() == MelodyNote{67, 1.25});
  CHECK(decode_timeseries(primer, seed).back() == MelodyNote{67, 1.0});
  CHECK(decode_timeseries(primer, seed).size() == 7);

  // Leading holds: a rest when correct; they lengthen the first event in the seed.
  CHECK(decode_timeseries(split_tokens("_ _ 60 _"))[0] == MelodyNote{kRest, 0.5});
  const Melody lead = decode_timeseries(split_tokens("_ _ 60 _ 62 _"), seed);
  CHECK(lead[0] == MelodyNote{60, 1.0});

  // Decoding stops at the delimiter; bad tokens are errors that name them.
  CHECK(decode_timeseries(split_tokens("60 _ / 62")).size() == 1);
  CHECK_THROWS_WITH_AS(decode_timeseries(split_tokens("60 x")),
                       "decode_timeseries: token 'x' at position 1 is not a MIDI number 0..127, 'r', '_' or '/'",
                       Error);
  CHECK_THROWS_AS(decode_timeseries(split_tokens("128")), Error);

  // Round trip: encode(decode(tokens)) == tokens when the stream starts with an onset.
  const auto stream = split_tokens("55 _ _ r 57 _ _ _ _ _ 59 60 _");
  CHECK(encode_timeseries(decode_timeseries(stream)) == stream);
}

TEST_CASE("Vocabulary: deterministic order, save and load, the dataset stream") {
  const std::vector<std::vector<std::string>> songs = {split_tokens("67 _ r 60 _"), split_tokens("72 _ 55")};
  const auto stream = build_dataset(songs);
  CHECK(stream.size() == 5 + 64 + 3 + 64);
  CHECK(stream[5] == "/");
  CHECK(stream.back() == "/");
  const Vocabulary v = Vocabulary::from_tokens(stream);
  CHECK(v.to_string() == "/ _ r 55 60 67 72");
  CHECK(v.id("/") == 0);
  CHECK(v.delimiter_id() == 0);
  CHECK(v.id("_") == 1);
  CHECK(v.id("r") == 2);
  CHECK(v.id("55") == 3);
  CHECK(v.token(6) == "72");
  CHECK(Vocabulary::from_songs(songs) == v);
  CHECK(Vocabulary::parse(v.to_string()) == v);
  CHECK(v.decode(v.encode(stream)) == stream);
  CHECK(build_dataset_ids(v, songs).size() == stream.size());
  CHECK_THROWS_WITH_AS(v.id("61"), "Vocabulary: unknown token '61' (vocabulary of 7 tokens)", Error);
  CHECK_THROWS_AS(v.token(7), Error);
  CHECK_THROWS_AS(Vocabulary::parse("/ _ _"), Error);
  CHECK_THROWS_AS(Vocabulary::parse("/ x"), Error);
  CHECK_THROWS_AS(Vocabulary::parse(""), Error);
  // Any order can be loaded (the seed's mapping.json): ids follow the list.
  const Vocabulary seed = Vocabulary::from_ordered({"64", "r", "/", "_"});
  CHECK(seed.id("/") == 2);
  CHECK(seed.to_string() == "64 r / _");
  // Vocabulary without rests: "r" absent, "/" always present.
  CHECK(Vocabulary::from_tokens({"60", "_"}).to_string() == "/ _ 60");
}

TEST_CASE("E-2SEQ: rests as 99, padding (99, 4.0), indices, normalisation, decoders") {
  const Song s = song_of({{60, Rational(1, 2)}, {kRest, 1}, {98, Rational(3, 2)}, {50, Rational(1, 3)}});
  const TwoSeq seq = encode_twoseq(s);
  REQUIRE(seq.notes.size() == 100);
  REQUIRE(seq.durations.size() == 100);
  CHECK(seq.events == 4);
  CHECK(seq.notes[0] == 60);
  CHECK(seq.notes[1] == 99);
  CHECK(seq.notes[4] == 99);
  CHECK(seq.durations[4] == 4.0);
  const auto idx = twoseq_duration_indices(seq);
  CHECK(idx[0] == 1);
  CHECK(idx[2] == 4);
  CHECK(idx[3] == 8);  // 1/3 is not in T
  CHECK(idx[99] == 7);
  const TwoSeqNormalised x = normalise_twoseq(seq);
  CHECK(x.notes[0] == doctest::Approx(10.0 / 49));
  CHECK(x.notes[1] == 1.f);
  CHECK(x.notes[3] == 0.f);
  CHECK(x.durations[2] == doctest::Approx(4.0 / 7));
  // Truncation to 100 events.
  Song long_song;
  for (int i = 0; i < 130; ++i) long_song.events.push_back({60 + i % 12, 1});
  CHECK(encode_twoseq(long_song).notes.size() == 100);
  CHECK(encode_twoseq(long_song).events == 130);
  CHECK(encode_twoseq(s, 3).notes.size() == 3);
  // A pitch of 99 cannot be told from a rest.
  CHECK_THROWS_AS(encode_twoseq(song_of({{99, 1}})), Error);

  // Decoders.
  const Melody m = decode_twoseq(seq.notes, seq.durations, seq.events);
  REQUIRE(m.size() == 4);
  CHECK(m[1] == MelodyNote{kRest, 1.0});
  CHECK(twoseq_duration_of_index(3) == 1.0);
  CHECK(twoseq_duration_of_index(8) == 8.0);
  CHECK(twoseq_duration_of_index(-1) == 8.0);
}

TEST_CASE("E-2SEQ GAN and VAE decoders differ only in rounding") {
  const Melody gan = decode_twoseq_normalised({0.338f, 0.999f}, {0.593f, -0.2f}, Rounding::truncate);
  REQUIRE(gan.size() == 2);
  CHECK(gan[0].pitch == 66);
  CHECK(gan[0].quarters == 1.5);           // int(0.593 * 7) = int(4.15) = 4 -> 1.5
  CHECK(gan[1].pitch == 98);               // int(98.95) = 98: tanh never reaches the rest code
  CHECK(gan[1].quarters == 8.0);           // int(-1.4) = -1 -> outside T -> 8.0
  const Melody vae = decode_twoseq_normalised({0.338f, 0.999f}, {0.593f, 0.95f}, Rounding::nearest);
  CHECK(vae[0].pitch == 67);               // round(66.56) = 67
  CHECK(vae[1].pitch == kRest);            // round(98.95) = 99 -> rest
  CHECK(vae[1].quarters == 4.0);           // round(6.65) = 7 -> 4.0
  // Python's round is half to even: 0.5 * 49 + 50 = 74.5 -> 74, 0.5 * 7 = 3.5 -> 4 (1.5 quarters).
  const Melody half = decode_twoseq_normalised({0.5f}, {0.5f}, Rounding::nearest);
  CHECK(half[0] == MelodyNote{74, 1.5});
}

TEST_CASE("E-VAE1: numeric steps, length 128, /100, and the seed's decoder") {
  const Song s = song_of({{60, Rational(1, 2)}, {kRest, Rational(3, 4)}, {67, Rational(1, 4)}});
  const std::vector<int> v = encode_vae1_values(s);
  REQUIRE(v.size() == 128);
  CHECK(std::vector<int>(v.begin(), v.begin() + 7) == std::vector<int>{60, 1, 0, 1, 1, 67, 0});
  const std::vector<float> x = encode_vae1(s);
  CHECK(x[0] == doctest::Approx(0.60));
  CHECK(x[1] == doctest::Approx(0.01));
  CHECK(x[127] == 0.f);
  // Decoding: holds extend, the padding zeros merge into one rest.
  const Melody m = decode_vae1(x);
  REQUIRE(m.size() == 4);
  CHECK(m[0] == MelodyNote{60, 0.5});
  CHECK(m[1] == MelodyNote{kRest, 0.75});
  CHECK(m[2] == MelodyNote{67, 0.25});
  CHECK(m[3] == MelodyNote{kRest, 0.25 * (128 - 6)});
  // The seed drops the later of two rests, losing its duration.
  Vae1DecodeOptions seed;
  seed.seed_quirks = true;
  CHECK(decode_vae1(x, seed)[3] == MelodyNote{kRest, 0.25});
  // Every MIDI number survives float(k / 100) * 100.
  for (int k = 2; k < 128; ++k) CHECK(decode_vae1({float(k) / 100.f})[0].pitch == k);
  // Longer songs are cut at 128 steps.
  Song long_song;
  for (int i = 0; i < 50; ++i) long_song.events.push_back({60, 1});
  CHECK(encode_vae1_values(long_song).size() == 128);
  CHECK(encode_vae1_values(long_song)[124] == 60);
}

// ------------------------------------------------------- metric position ----

namespace {
std::vector<int> positions_of(const std::vector<StepMeter>& m) {
  std::vector<int> out;
  for (const StepMeter& s : m) out.push_back(s.position);
  return out;
}
}  // namespace

TEST_CASE("step_meters: an upbeat counts from its bar's start, barlines restart the count") {
  // 2/4 (8 steps a bar); an eighth upbeat (2 steps), a full bar, a final quarter.
  const Song s = parse_kern("**kern\n*M2/4\n8c\n=1\n4d\n4e\n=2\n4f\n==\n*-\n");
  const std::vector<StepMeter> m = step_meters(s);
  REQUIRE(m.size() == 2 + 8 + 4 + 1);  // every step, and the one after the end
  CHECK(positions_of(m) == std::vector<int>{6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 0});
  for (const StepMeter& step : m) CHECK((step.bar_steps == 8 && step.beat_steps == 4));
}

TEST_CASE("beat_steps_of: compound meters beat in dotted notes; 3/4 and 6/8 share a bar, not a beat") {
  auto beat = [](int n, int d) { return beat_steps_of(Meter::regular_meter(n, d)); };
  CHECK(beat(3, 4) == 4);
  CHECK(beat(6, 8) == 6);
  CHECK(beat(2, 4) == 4);
  CHECK(beat(2, 2) == 8);
  CHECK(beat(9, 8) == 6);
  CHECK(beat(12, 8) == 6);
  CHECK(beat(6, 4) == 12);
  CHECK(beat(3, 8) == 2);   // three beats of an eighth
  CHECK(beat(5, 8) == 2);
  CHECK(beat(3, 32) == 0);  // a beat shorter than a 16th
  CHECK(beat_steps_of(Meter{}) == 0);
  const std::vector<StepMeter> jig = step_meters(parse_kern("**kern\n*M6/8\n=1\n4.c\n4.d\n==\n*-\n"));
  const std::vector<StepMeter> waltz = step_meters(parse_kern("**kern\n*M3/4\n=1\n4c\n4d\n4e\n==\n*-\n"));
  CHECK(jig[0] == StepMeter{0, 12, 6});
  CHECK(waltz[0] == StepMeter{0, 12, 4});
}

TEST_CASE("step_meters: meter changes, songs without barlines, and songs with no meter at all") {
  const Song change = parse_kern("**kern\n*M2/4\n=1\n2c\n=2\n*M3/8\n4.d\n=3\n8e\n*-\n");
  const std::vector<StepMeter> m = step_meters(change);
  REQUIRE(m.size() == 8 + 6 + 2 + 1);
  CHECK(m[0] == StepMeter{0, 8, 4});
  CHECK(m[7] == StepMeter{7, 8, 4});
  CHECK(m[8] == StepMeter{0, 6, 2});   // the new meter takes effect at its barline
  CHECK(m[14] == StepMeter{0, 6, 2});
  CHECK(m[16] == StepMeter{2, 6, 2});  // after the end

  const Song no_bars = parse_kern("**kern\n*M3/4\n2c\n2d\n2e\n*-\n");
  CHECK(positions_of(step_meters(no_bars)) ==
        std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0});

  const Song bare = parse_kern("**kern\n4c\n4d\n*-\n");
  for (const StepMeter& step : step_meters(bare)) CHECK(step == StepMeter{-1, 0, 0});
}

TEST_CASE("MetricClock: an upbeat, the wrap at the barline, and going on from a known step") {
  const MetricClock clock(12, 4);  // 3/4, one quarter before the first barline
  std::vector<int> seen;
  for (int i = 0; i < 6; ++i) seen.push_back(clock.at(i).position);
  CHECK(seen == std::vector<int>{8, 9, 10, 11, 0, 1});
  CHECK(clock.at(100).bar_steps == 12);
  CHECK(clock.at(100).position == (8 + 100) % 12);
  const MetricClock on(8, 0);
  CHECK(on.at(0) == StepMeter{0, 8, 0});  // no beat given: unknown
  CHECK(on.at(9) == StepMeter{1, 8, 0});
  CHECK(MetricClock(12, 0, 6).at(13) == StepMeter{1, 12, 6});
  // Step 30 of a primer was position 5 of an 8-step bar: step 31 is 6, step 33 is 0.
  const MetricClock after = MetricClock::through({5, 8, 4}, 30, 8, 4);
  CHECK(after.at(30) == StepMeter{5, 8, 4});
  CHECK(after.at(31) == StepMeter{6, 8, 4});
  CHECK(after.at(33) == StepMeter{0, 8, 4});
  CHECK(after.at(0) == StepMeter{7, 8, 4});  // (5 - 30) mod 8
  CHECK_THROWS_WITH_AS(MetricClock(8, 8), doctest::Contains("upbeat of 8 steps"), Error);
  CHECK_THROWS_WITH_AS(MetricClock(0, 0), doctest::Contains("not a bar"), Error);
  CHECK_THROWS_WITH_AS(MetricClock::through({-1, 0, 0}, 3, 8, 4), doctest::Contains("no known position"), Error);
}

TEST_CASE("step_meters: a barline before the first note does not hide an upbeat") {
  // =1 before a one-quarter upbeat in 3/4, as pickup_of reads it (melody_output.hpp).
  const Song s = parse_kern("**kern\n*M3/4\n=1\n4g\n=2\n4c\n4d\n4e\n==\n*-\n");
  CHECK(pickup_of(s) == Rational(1));
  CHECK(positions_of(step_meters(s)) == std::vector<int>{8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0});
}

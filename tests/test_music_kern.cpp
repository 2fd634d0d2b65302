// **kern reader: every quirk of spec §1.2-1.3 on small inline files, and the
// refusals (several spines, chords, spine splits, malformed tokens) with
// messages that name the file, the line and the token.
#include <doctest/doctest.h>

#include <string>

#include "legato/music.hpp"

using namespace legato;
using namespace legato::music;

namespace {

// A single-spine ESAC-style file around the given data lines.
std::string kern(const std::string& body, const std::string& meter = "*M2/4", const std::string& key = "*G:") {
  return "!!!OTL: Test song\n**kern\n*ICvox\n*Ivox\n" + meter + "\n*k[f#]\n" + key + "\n" + body + "==\n*-\n";
}

KernProblem problem_of(const std::string& text) {
  try {
    parse_kern(text, "t.krn");
  } catch (const KernError& e) {
    return e.problem;
  }
  FAIL("expected a KernError");
  return KernProblem::malformed;
}

std::string message_of(const std::string& text) {
  try {
    parse_kern(text, "t.krn");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("durations are exact fractions of a quarter") {
  const Song s = parse_kern(kern("4c\n8c\n16c\n4.c\n8.c\n16.c\n2.c\n1c\n0c\n00c\n12c\n24c\n48c\n6c\n12.c\n32c\n3%2c\n"));
  const std::vector<Rational> expected = {1,
                                          Rational(1, 2),
                                          Rational(1, 4),
                                          Rational(3, 2),
                                          Rational(3, 4),
                                          Rational(3, 8),
                                          3,
                                          4,
                                          8,
                                          16,
                                          Rational(1, 3),
                                          Rational(1, 6),
                                          Rational(1, 12),
                                          Rational(2, 3),
                                          Rational(1, 2),
                                          Rational(1, 8),
                                          Rational(8, 3)};
  REQUIRE(s.events.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(s.events[i].duration == expected[i]);
  // Three triplet eighths fill exactly one quarter.
  CHECK(Rational(1, 3) + Rational(1, 3) + Rational(1, 3) == 1);
}

TEST_CASE("pitches: octave from the letter run, accidentals, x marks, key signature not applied") {
  const Song s = parse_kern(kern("4c\n4cc\n4ccc\n4C\n4CC\n4f\n4f#\n4b-\n4e--\n4bn\n2ggxxxxx#\n4ffx#\n4AA\n"));
  const std::vector<int> expected = {60, 72, 84, 48, 36, 65, 66, 70, 62, 71, 80, 78, 45};
  REQUIRE(s.events.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(s.events[i].pitch == expected[i]);
  // *k[f#] is in the header, yet "4f" stays F4: kern spells every pitch.
  CHECK(s.events[5].pitch == 65);
}

TEST_CASE("rests, ties, phrase and stem marks") {
  const Song s = parse_kern(kern("{4r\n[4g\n4g_\n4g]\n8a/}\n8b\\L\n8cc'J\n"));
  REQUIRE(s.events.size() == 7);
  CHECK(s.events[0].is_rest());
  CHECK(s.events[0].duration == 1);
  CHECK((s.events[1].tie_out && !s.events[1].tie_in));
  CHECK((s.events[2].tie_in && s.events[2].tie_out));
  CHECK((s.events[3].tie_in && !s.events[3].tie_out));
  CHECK(s.events[4].pitch == 69);
  CHECK(s.events[6].pitch == 72);
  // Ties are not merged: three separate G4 quarters.
  CHECK(s.note_count() == 6);
}

TEST_CASE("header: title, references anywhere, meters, key signature and designation, barlines") {
  const std::string text =
      "!!!OTL: Das hungernde Kind\n!!!ARE: Europa\n!! a comment with UTF-8: \xC3\xA4\xC3\xBC\xC3\xBF\n**kern\n*ICvox\n"
      "*Ivox\n*M3/4\n*k[b-e-]\n*B-:\n=1\n4B-\n4d\n4f\n=2\n*M2/4\n2b-\n==\n!!!AGN: after the data\n*-\n!!!EEV: 1.0\n";
  const Song s = parse_kern(text, "x.krn");
  CHECK(s.title == "Das hungernde Kind");
  CHECK(s.reference("AGN") == "after the data");
  CHECK(s.reference("EEV") == "1.0");
  CHECK(s.comments.size() == 1);
  REQUIRE(s.header_meter() != nullptr);
  CHECK(s.header_meter()->regular);
  CHECK(s.header_meter()->numerator == 3);
  CHECK(s.header_meter()->bar_length() == 3);
  REQUIRE(s.meters.size() == 2);
  CHECK(s.meters[1].at == 3);
  CHECK(s.meters[1].value.numerator == 2);
  REQUIRE(s.header_key_signature() != nullptr);
  CHECK(s.header_key_signature()->fifths == -2);
  CHECK(s.header_key_signature()->standard);
  REQUIRE(s.header_key() != nullptr);
  CHECK(s.header_key()->key == Key{10, Mode::major});
  REQUIRE(s.barlines.size() == 3);
  CHECK(s.barlines[0].at == 0);
  CHECK(s.barlines[0].number == 1);
  CHECK(s.barlines[1].at == 3);
  CHECK(s.barlines[2].final);
  CHECK(s.barlines[2].at == 4);
  CHECK(s.events[0].pitch == 58);  // B-flat 3
}

TEST_CASE("ESAC's irregular meters *MX, *MZ, *MFREI6/8 are read, not regular") {
  const Song x = parse_kern(kern("4c\n", "*MX"));
  REQUIRE(x.header_meter() != nullptr);
  CHECK_FALSE(x.header_meter()->regular);
  CHECK(x.header_meter()->token == "*MX");
  CHECK_FALSE(parse_kern(kern("4c\n", "*MZ")).header_meter()->regular);
  const Song frei = parse_kern(kern("4c\n", "*MFREI6/8"));
  CHECK_FALSE(frei.header_meter()->regular);
  CHECK(frei.header_meter()->numerator == 6);
  CHECK(frei.header_meter()->denominator == 8);
  // *MM is a tempo, not a meter.
  const Song tempo = parse_kern(kern("4c\n", "*MM96"));
  CHECK(tempo.meters.empty());
  CHECK(tempo.tempo_qpm == 96);
}

TEST_CASE("the malformed key signature of deut0791 is kept as non-standard") {
  const Song s = parse_kern(kern("4c\n", "*M4/4", "*c:").replace(kern("4c\n", "*M4/4", "*c:").find("*k[f#]"), 6,
                                                                  "*k[c-e-a-]"));
  REQUIRE(s.header_key_signature() != nullptr);
  CHECK_FALSE(s.header_key_signature()->standard);
  CHECK(s.header_key_signature()->fifths == -3);
  CHECK(s.header_key()->key == Key{0, Mode::minor});
}

TEST_CASE("a control byte ends a token with a warning (deut1328's 4.B<BS>8G)") {
  const Song s = parse_kern(kern("4.B\b8G\n4c\n"), "deut1328.krn");
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].pitch == 59);
  CHECK(s.events[0].duration == Rational(3, 2));
  REQUIRE(s.warnings.size() == 1);
  CHECK(s.warnings[0].find("deut1328.krn:8") != std::string::npos);
  CHECK(s.warnings[0].find("\\x08") != std::string::npos);
}

TEST_CASE("an empty song (han0953: references after the meter, no notes) parses with no events") {
  const Song s = parse_kern("!!!OTL: Yidui\n**kern\n*ICvox\n*Ivox\n*M2/4\n!!!AGN: Shange\n*-\n", "han0953.krn");
  CHECK(s.events.empty());
  CHECK(s.header_key() == nullptr);
  CHECK(filter_reason(s) == "empty");
}

TEST_CASE("CRLF line ends, a byte-order mark, blank lines and null tokens are tolerated") {
  const Song s = parse_kern("\xEF\xBB\xBF**kern\r\n*M2/4\r\n\r\n4c\r\n.\r\n4d\r\n*-\r\n");
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[1].pitch == 62);
}

TEST_CASE("grace notes have duration 0 and fail the duration filter") {
  const Song s = parse_kern(kern("8qc\n4d\n"));
  CHECK(s.events[0].duration == 0);
  CHECK(filter_reason(s) == "durations");
}

TEST_CASE("refusals carry a reason and a message naming file, line and token") {
  CHECK(problem_of("**kern\t**kern\n4c\t4e\n*-\t*-\n") == KernProblem::multiple_spines);
  CHECK(problem_of(kern("4c 4e\n")) == KernProblem::chord);
  CHECK(problem_of("**kern\n*^\n4c\t4d\n*v\t*v\n*-\n") == KernProblem::spine_operation);
  CHECK(problem_of("**dynam\np\n*-\n") == KernProblem::not_kern);
  CHECK(problem_of("") == KernProblem::not_kern);
  CHECK(problem_of("!! only a comment\n") == KernProblem::not_kern);
  CHECK(problem_of(kern("4\n")) == KernProblem::malformed);
  CHECK(problem_of(kern("c\n")) == KernProblem::malformed);
  CHECK(problem_of(kern("4cd\n")) == KernProblem::malformed);
  CHECK(problem_of(kern("4c8\n")) == KernProblem::malformed);
  CHECK(problem_of(kern("4cccccccccccc\n")) == KernProblem::malformed);
  CHECK(problem_of(kern("99999999c\n")) == KernProblem::malformed);
  CHECK(problem_of("**kern\n4c\n*-\n4d\n") == KernProblem::malformed);
  CHECK(problem_of("4c\n**kern\n*-\n") == KernProblem::malformed);
  CHECK(problem_of(kern("4c\n", "*M3/x")) == KernProblem::malformed);

  CHECK(message_of(kern("4c\n4qq\n")) == "t.krn:9: token '4qq': no pitch and no rest");
  CHECK(message_of(kern("4c 4e\n")).find("t.krn:8: token '4c 4e': a chord") == 0);
  CHECK(message_of("**kern\n4c\x01\n*-\n").find("t.krn") == std::string::npos);  // the warning path: no error
}

TEST_CASE("sums of tuplet recips that overflow 64 bits fail with an Error, not a wrap") {
  std::string body;
  for (int n : {997, 991, 983, 977, 971, 967, 953, 947, 941, 937}) body += std::to_string(n) + "c\n";
  const Song s = parse_kern(kern(body));
  CHECK_THROWS_AS(s.total_duration(), Error);
}

TEST_CASE("reading a missing file is an 'unreadable' refusal") {
  try {
    read_kern_file("/nonexistent/dir/x.krn");
    FAIL("expected an error");
  } catch (const KernError& e) {
    CHECK(e.problem == KernProblem::unreadable);
    CHECK(std::string(e.what()).find("/nonexistent/dir/x.krn") != std::string::npos);
  }
}

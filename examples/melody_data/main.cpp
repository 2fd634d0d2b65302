// melody_data: look at, encode and convert melody corpora.
//
//   melody_data stats   --corpus DIR [--no-transpose]
//   melody_data encode  --corpus DIR [--encoding timeseries|twoseq|vae1] [--no-transpose] [--split all|train|held-out]
//   melody_data convert IN OUT [--format 0|1] [--tempo QPM] [--program N] [--transpose]
//   melody_data decode  OUT (--tokens "60 _ 62 _" | --tokens-file FILE) [--seed-quirks] [--title T] [--meter 3/4]
//
// DIR defaults to $LEGATO_ESAC_DIR. The corpus report of stats and encode goes
// to standard error; encode writes one line per kept song to standard output:
// the file name, a tab, the tokens separated by single spaces. Any bad input
// (unknown flag, missing folder, unreadable file) prints one line and exits 1.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "legato/music.hpp"
#include "legato/util/build_info.hpp"

namespace {

using namespace legato;
using namespace legato::music;

const char* kUsage =
    "usage: melody_data COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  stats   --corpus DIR [--no-transpose]\n"
    "          the corpus report (files seen, parsed, rejected, filtered, kept), the vocabulary,\n"
    "          pitch range and length statistics, for all songs and each side of the split\n"
    "  encode  --corpus DIR [--encoding timeseries|twoseq|vae1] [--no-transpose] [--split all|train|held-out]\n"
    "          one line per kept song, sorted by file name: NAME<TAB>TOKENS\n"
    "          timeseries: 16th steps, MIDI number / r / _     twoseq: PITCH:QUARTERS x 100 (99 = rest)\n"
    "          vae1: 128 integers (pitch, 0 rest onset, 1 hold); the report goes to standard error\n"
    "  convert IN OUT [--format 0|1] [--tempo QPM] [--program N] [--transpose]\n"
    "          between .krn and .mid, chosen by extension (--transpose: to C major / A minor)\n"
    "  decode  OUT (--tokens \"60 _ 62 _\" | --tokens-file FILE) [--seed-quirks] [--title T] [--meter N/D]\n"
    "          time-series tokens to a .mid or .krn file (--seed-quirks: the seed's convert_to_midi)\n"
    "\n"
    "options:\n"
    "  --corpus DIR   folder of .krn files, read recursively (default: $LEGATO_ESAC_DIR)\n"
    "  --version      print the build configuration\n"
    "  --help         this text\n";

// Flags of one command: every "--name" either takes a value or is a switch.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;

  std::string get(const std::string& name, const std::string& fallback = "") const {
    const auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  bool has(const std::string& name) const { return values.count(name) > 0; }
};

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& with_value,
                const std::vector<std::string>& switches) {
  Args args;
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      args.positional.push_back(a);
      continue;
    }
    if (std::find(with_value.begin(), with_value.end(), a) != with_value.end()) {
      check(i + 1 < argc, "flag ", a, " needs a value (see --help)");
      args.values[a] = argv[++i];
    } else if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
      args.values[a] = "1";
    } else {
      fail("unknown flag '", a, "' for this command (see --help)");
    }
  }
  return args;
}

int parse_int(const std::string& text, const std::string& flag, int lo, int hi) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used == text.size() && !text.empty() && value >= lo && value <= hi, flag, " expects an integer in ", lo, "..",
        hi, ", got '", text, "'");
  return value;
}

double parse_positive(const std::string& text, const std::string& flag) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  check(used == text.size() && value > 0 && value < 10000, flag, " expects a positive number, got '", text, "'");
  return value;
}

Corpus load(const Args& args) {
  CorpusOptions options;
  options.transpose = !args.has("--no-transpose");
  return load_corpus(corpus_dir_from(args.get("--corpus")), options);
}

// Shortest decimal text of a duration in quarters: 0.25, 1.5, 4.
std::string quarters_text(double q) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", q);
  return buf;
}

struct SideStats {
  std::size_t songs = 0, events = 0, notes = 0, rests = 0;
  std::size_t min_steps = SIZE_MAX, max_steps = 0, total_steps = 0;
  int low = 128, high = -1;

  void add(const Song& song, std::size_t steps) {
    ++songs;
    events += song.events.size();
    for (const Event& e : song.events) {
      if (e.is_rest()) {
        ++rests;
        continue;
      }
      ++notes;
      low = std::min(low, e.pitch);
      high = std::max(high, e.pitch);
    }
    min_steps = std::min(min_steps, steps);
    max_steps = std::max(max_steps, steps);
    total_steps += steps;
  }
  void print(std::ostream& out, const std::string& label) const {
    out << "  " << label << ": " << songs << " songs";
    if (songs == 0) {
      out << '\n';
      return;
    }
    out << ", " << events << " events (" << notes << " notes, " << rests << " rests), " << double(events) / songs
        << " events/song, 16th steps/song min " << min_steps << " mean " << double(total_steps) / songs << " max "
        << max_steps << ", pitch range " << low << ".." << high << " (" << pitch_name(low) << ".." << pitch_name(high)
        << ")\n";
  }
};

int run_stats(const Args& args) {
  check(args.positional.empty(), "stats takes no positional argument, got '",
        args.positional.empty() ? "" : args.positional[0], "'");
  std::cout << build_info() << '\n';
  const Corpus corpus = load(args);
  std::cout << corpus.report.to_string();
  std::vector<std::vector<std::string>> encoded;
  SideStats all, train, held;
  for (const CorpusSong& s : corpus.songs) {
    encoded.push_back(encode_timeseries(s.song));
    all.add(s.song, encoded.back().size());
    (s.held_out ? held : train).add(s.song, encoded.back().size());
  }
  const Vocabulary vocab = Vocabulary::from_songs(encoded);
  std::cout << "vocabulary: " << vocab.size() << " tokens: " << vocab.to_string() << '\n';
  std::size_t estimated = 0;
  for (const CorpusSong& s : corpus.songs) estimated += s.key.estimated;
  std::cout << "keys: " << corpus.songs.size() - estimated << " from the designation, " << estimated
            << " estimated (Aarden-Essen)" << (args.has("--no-transpose") ? "; not transposed" : "; transposed to C major / A minor")
            << '\n';
  std::cout << "songs (split: held out iff FNV-1a-32(file name) % 10 == 0):\n";
  all.print(std::cout, "all");
  train.print(std::cout, "train");
  held.print(std::cout, "held out");
  return 0;
}

int run_encode(const Args& args) {
  check(args.positional.empty(), "encode takes no positional argument, got '",
        args.positional.empty() ? "" : args.positional[0], "'");
  const std::string encoding = args.get("--encoding", "timeseries");
  check(encoding == "timeseries" || encoding == "twoseq" || encoding == "vae1", "--encoding must be timeseries, twoseq or vae1, got '",
        encoding, "'");
  const std::string split = args.get("--split", "all");
  check(split == "all" || split == "train" || split == "held-out", "--split must be all, train or held-out, got '", split,
        "'");
  const Corpus corpus = load(args);
  std::cerr << corpus.report.to_string();
  const Split side = split == "all" ? Split::all : split == "train" ? Split::train : Split::held_out;
  std::string out;
  for (const CorpusSong* s : corpus.split(side)) {
    out += s->file_name;
    out += '\t';
    if (encoding == "timeseries") {
      out += join_tokens(encode_timeseries(s->song));
    } else if (encoding == "twoseq") {
      const TwoSeq seq = encode_twoseq(s->song);
      for (std::size_t i = 0; i < seq.notes.size(); ++i) {
        if (i) out += ' ';
        out += std::to_string(seq.notes[i]);
        out += ':';
        out += quarters_text(seq.durations[i]);
      }
    } else {
      const std::vector<int> values = encode_vae1_values(s->song);
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ' ';
        out += std::to_string(values[i]);
      }
    }
    out += '\n';
  }
  std::cout << out;
  std::cout.flush();
  check(bool(std::cout), "cannot write to standard output");
  return 0;
}

MidiWriteOptions midi_options(const Args& args) {
  MidiWriteOptions o;
  if (args.has("--format")) o.format = parse_int(args.get("--format"), "--format", 0, 1);
  if (args.has("--tempo")) o.tempo_qpm = parse_positive(args.get("--tempo"), "--tempo");
  if (args.has("--program")) o.program = parse_int(args.get("--program"), "--program", -1, 127);
  return o;
}

int run_convert(const Args& args) {
  check(args.positional.size() == 2, "convert needs IN and OUT (see --help)");
  const std::string in = args.positional[0], out = args.positional[1];
  song_format_of(out);  // refuse bad options before reading
  const MidiWriteOptions options = midi_options(args);
  Song song = read_song(in);
  if (args.has("--transpose")) song = transpose_to_c(song).song;
  write_song(out, song, options);
  std::cerr << in << " -> " << out << ": " << song.events.size() << " events, " << song.total_duration().to_double()
            << " quarters\n";
  return 0;
}

int run_decode(const Args& args) {
  check(args.positional.size() == 1, "decode needs OUT, a .mid or .krn path (see --help)");
  check(args.has("--tokens") != args.has("--tokens-file"), "decode needs exactly one of --tokens and --tokens-file");
  const std::string text = args.has("--tokens") ? args.get("--tokens") : read_file(args.get("--tokens-file"));
  TimeseriesDecodeOptions decode;
  decode.seed_quirks = args.has("--seed-quirks");
  const Melody melody = decode_timeseries(split_tokens(text), decode);
  check(!melody.empty(), "decode: the tokens hold no note or rest");
  MelodyInfo info;
  info.title = args.get("--title", "legato melody");
  if (args.has("--meter")) {
    const std::string m = args.get("--meter");
    const std::size_t slash = m.find('/');
    check(slash != std::string::npos, "--meter expects N/D, got '", m, "'");
    info.meter = Meter::regular_meter(parse_int(m.substr(0, slash), "--meter", 1, 64),
                                      parse_int(m.substr(slash + 1), "--meter", 1, 64));
  }
  if (args.has("--tempo")) info.tempo_qpm = parse_positive(args.get("--tempo"), "--tempo");
  write_melody(args.positional[0], melody, info, midi_options(args));
  std::cerr << args.positional[0] << ": " << melody.size() << " notes and rests\n";
  return 0;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 1;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "melody_data (legato) " << build_info() << '\n';
    return 0;
  }
  if (command == "stats") return run_stats(parse_args(argc, argv, 2, {"--corpus"}, {"--no-transpose"}));
  if (command == "encode")
    return run_encode(parse_args(argc, argv, 2, {"--corpus", "--encoding", "--split"}, {"--no-transpose"}));
  if (command == "convert")
    return run_convert(parse_args(argc, argv, 2, {"--format", "--tempo", "--program"}, {"--transpose"}));
  if (command == "decode")
    return run_decode(parse_args(argc, argv, 2, {"--tokens", "--tokens-file", "--title", "--meter", "--tempo", "--format",
                                                 "--program"},
                                 {"--seed-quirks"}));
  fail("unknown command '", command, "' (expected stats, encode, convert or decode; see --help)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "melody_data: " << e.what() << '\n';
    return 1;
  }
}

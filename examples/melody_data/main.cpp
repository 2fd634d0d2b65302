// melody_data: look at, encode and convert melody corpora.
//
//   melody_data stats   --corpus DIR [--no-transpose]
//   melody_data encode  --corpus DIR [--encoding timeseries|twoseq|vae1] [--no-transpose] [--split all|train|held-out]
//   melody_data convert IN OUT [--format 0|1] [--tempo QPM] [--program N] [--transpose]
//   melody_data decode  OUT (--tokens "60 _ 62 _" | --tokens-file FILE) [--seed-quirks] [--title T] [--meter 3/4]
//                       [--tempo QPM] [--format 0|1] [--program N]
//
// IN and OUT come before the flags.
// DIR defaults to $LEGATO_ESAC_DIR. The corpus report of stats and encode goes
// to standard error; encode writes one line per kept song to standard output:
// the file name, a tab, the tokens separated by single spaces. Any bad input
// (unknown flag, missing folder, unreadable file, a melody without notes)
// prints one line, "melody_data: error: ...", writes nothing and exits 1.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "../common/example_main.hpp"
#include "legato/music.hpp"
#include "legato/util/build_info.hpp"
#include "legato/util/cli.hpp"
#include "legato/util/file.hpp"

using legato::examples::answered_help;

namespace {

using namespace legato;
using namespace legato::music;

constexpr const char* kProgram = "melody_data";

constexpr const char* kUsage =
    "usage: melody_data COMMAND [arguments] [flags]   (COMMAND --help lists its flags)\n"
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
    "          between .krn and .mid, chosen by extension (--transpose: to C major / A minor;\n"
    "          --format and --program: .mid output only)\n"
    "  decode  OUT (--tokens \"60 _ 62 _\" | --tokens-file FILE) [--seed-quirks] [--title T] [--meter N/D]\n"
    "          [--tempo QPM] [--format 0|1] [--program N]\n"
    "          time-series tokens to a .mid or .krn file (--seed-quirks: the seed's convert_to_midi)\n"
    "\n"
    "options:\n"
    "  --corpus DIR   folder of .krn files, read recursively (default: $LEGATO_ESAC_DIR)\n"
    "  --version      print the build configuration\n"
    "  --help         this text\n";

// Positional arguments come first ("convert IN OUT --format 0"); everything
// from the first "--flag" on goes to CommandLine, which declares the flags,
// answers --help and refuses unknown ones.
struct CommandArgs {
  std::vector<std::string> positional;
  std::vector<std::string> flags;
};

CommandArgs split_positional(const std::string& command, const std::vector<std::string>& args) {
  CommandArgs out;
  std::size_t i = 0;
  for (; i < args.size() && args[i].rfind("--", 0) != 0; ++i) {
    check(!args[i].empty(), command, ": argument ", i + 1, " is an empty string, not a file name");
    out.positional.push_back(args[i]);
  }
  out.flags.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  return out;
}

// The corpus of stats and encode: --corpus or $LEGATO_ESAC_DIR, which must exist.
Corpus load(const std::string& command, const std::string& dir, bool no_transpose) {
  examples::require_directory(dir, command.c_str());
  CorpusOptions options;
  options.transpose = !no_transpose;
  Corpus corpus = load_corpus(dir, options);
  // A folder without a single .krn file is a wrong path, not an empty report.
  check(corpus.report.seen > 0, command, ": no .krn files in corpus directory '", dir, "'");
  return corpus;
}

// The tempo every writer accepts (music::check_melody_output), checked here to
// name the flag.
double tempo_flag(CommandLine& cli) {
  const double qpm = cli.real("tempo", 120, "tempo in quarter notes per minute, 10..400 (convert: the source's unless given)");
  check(!cli.has("tempo") || (qpm >= 10 && qpm <= 400), "--tempo must be in 10..400 quarter notes per minute, got ",
        qpm);
  return qpm;
}

// --format and --program, declared for --help; they only mean something in a
// MIDI file, so a .krn output refuses them rather than dropping them silently.
MidiWriteOptions midi_flags(CommandLine& cli) {
  MidiWriteOptions o;
  const long format = cli.integer("format", o.format, "MIDI file format: 0 (one track) or 1 (conductor + notes)");
  const long program = cli.integer("program", o.program, "General MIDI program 0..127 (-1: no program change)");
  check(format == 0 || format == 1, "--format must be 0 or 1, got ", format);
  check(program >= -1 && program <= 127, "--program must be in -1..127, got ", program);
  o.format = static_cast<int>(format);
  o.program = static_cast<int>(program);
  return o;
}

void refuse_midi_flags_for_kern(const CommandLine& cli, const std::string& out) {
  if (song_format_of(out) != SongFormat::kern) return;
  for (const char* flag : {"format", "program"})
    check(!cli.has(flag), "--", flag, " applies to .mid output only, not to '", out, "'");
}

bool has_note(const std::vector<Event>& events) {
  return std::any_of(events.begin(), events.end(), [](const Event& e) { return e.is_note(); });
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

int run_stats(const std::vector<std::string>& all_args) {
  const CommandArgs args = split_positional("stats", all_args);
  CommandLine cli("stats", args.flags);
  const std::string dir = examples::corpus_dir(cli, "");
  const bool no_transpose = cli.flag("no-transpose", "keep every song in its own key");
  if (answered_help(cli, "melody_data stats --corpus DIR [--no-transpose]\n"
                "The corpus report (files seen, parsed, rejected, filtered, kept), the vocabulary, pitch range\n"
                "and length statistics, for all songs and each side of the split."))
    return 0;
  cli.finish();
  check(args.positional.empty(), "stats takes no positional argument, got '", all_args.empty() ? "" : all_args[0], "'");
  const Corpus corpus = load("stats", dir, no_transpose);
  std::cout << build_info() << '\n';
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
            << " estimated (Aarden-Essen)" << (no_transpose ? "; not transposed" : "; transposed to C major / A minor")
            << '\n';
  std::cout << "songs (split: held out iff FNV-1a-32(file name) % 10 == 0):\n";
  all.print(std::cout, "all");
  train.print(std::cout, "train");
  held.print(std::cout, "held out");
  return 0;
}

int run_encode(const std::vector<std::string>& all_args) {
  const CommandArgs args = split_positional("encode", all_args);
  CommandLine cli("encode", args.flags);
  const std::string dir = examples::corpus_dir(cli, "");
  const std::string encoding = cli.text("encoding", "timeseries", "timeseries | twoseq | vae1");
  const std::string split = cli.text("split", "all", "all | train | held-out");
  const bool no_transpose = cli.flag("no-transpose", "keep every song in its own key");
  if (answered_help(cli, "melody_data encode --corpus DIR [--encoding timeseries|twoseq|vae1] [--split all|train|held-out]\n"
                "One line per kept song, sorted by file name: NAME<TAB>TOKENS; the report goes to standard error.\n"
                "  timeseries: 16th steps, MIDI number / r / _     twoseq: PITCH:QUARTERS x 100 (99 = rest)\n"
                "  vae1: 128 integers (pitch, 0 rest onset, 1 hold)"))
    return 0;
  cli.finish();
  check(args.positional.empty(), "encode takes no positional argument, got '", all_args.empty() ? "" : all_args[0],
        "'");
  check(encoding == "timeseries" || encoding == "twoseq" || encoding == "vae1", "--encoding must be timeseries, twoseq or vae1, got '",
        encoding, "'");
  check(split == "all" || split == "train" || split == "held-out", "--split must be all, train or held-out, got '", split,
        "'");
  const Corpus corpus = load("encode", dir, no_transpose);
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

int run_convert(const std::vector<std::string>& all_args) {
  const CommandArgs args = split_positional("convert", all_args);
  CommandLine cli("convert", args.flags);
  MidiWriteOptions options = midi_flags(cli);
  const double tempo = tempo_flag(cli);
  const bool transpose = cli.flag("transpose", "transpose to C major / A minor");
  if (answered_help(cli, "melody_data convert IN OUT [--format 0|1] [--tempo QPM] [--program N] [--transpose]\n"
                "Between .krn and .mid, chosen by extension. --tempo is written as *MM in a .krn;\n"
                "--format and --program apply to .mid output only."))
    return 0;
  cli.finish();
  check(args.positional.size() == 2, "convert needs IN and OUT, then the flags (see --help)");
  const std::string in = args.positional[0], out = args.positional[1];
  // Refuse bad options before reading anything.
  song_format_of(in);
  refuse_midi_flags_for_kern(cli, out);
  Song song = read_song(in);
  check(has_note(song.events), in, ": has no notes; nothing to convert");
  if (transpose) song = transpose_to_c(song).song;
  if (cli.has("tempo")) song.tempo_qpm = tempo;  // both writers take the song's tempo
  write_song(out, song, options);
  std::cerr << in << " -> " << out << ": " << song.events.size() << " events, " << song.total_duration().to_double()
            << " quarters\n";
  return 0;
}

int run_decode(const std::vector<std::string>& all_args) {
  const CommandArgs args = split_positional("decode", all_args);
  CommandLine cli("decode", args.flags);
  const std::string tokens = cli.text("tokens", "", "time-series tokens, e.g. \"60 _ 62 _ r _\"");
  const std::string tokens_file = cli.text("tokens-file", "", "read the tokens from this file instead");
  const bool seed_quirks = cli.flag("seed-quirks", "decode as the seed's convert_to_midi does");
  const std::string title = cli.text("title", "legato melody", "title of the melody");
  const std::string meter = cli.text("meter", "4/4", "meter N/D, e.g. 3/4 or 6/8");
  const double tempo = tempo_flag(cli);
  const MidiWriteOptions midi = midi_flags(cli);
  if (answered_help(cli, "melody_data decode OUT (--tokens \"60 _ 62 _\" | --tokens-file FILE) [flags]\n"
                "Time-series tokens to a .mid or .krn file (--format and --program: .mid only)."))
    return 0;
  cli.finish();
  check(args.positional.size() == 1, "decode needs OUT, a .mid or .krn path, then the flags (see --help)");
  const std::string out = args.positional[0];
  refuse_midi_flags_for_kern(cli, out);
  check(cli.has("tokens") != cli.has("tokens-file"), "decode needs exactly one of --tokens and --tokens-file");
  check(!cli.has("tokens-file") || !tokens_file.empty(), "--tokens-file needs a file name, got an empty string");
  // The same checks as every generator's --bpm and --meter (music/melody_output.hpp).
  MelodyOutput output;
  output.tempo_qpm = tempo;
  output.meter = parse_meter(meter);
  check_melody_output(output);

  TimeseriesDecodeOptions decode;
  decode.seed_quirks = seed_quirks;
  const Melody melody = decode_timeseries(split_tokens(cli.has("tokens") ? tokens : read_file(tokens_file)), decode);
  const bool any_note = std::any_of(melody.begin(), melody.end(), [](const MelodyNote& n) { return n.pitch != kRest; });
  check(any_note, "decode: the tokens hold no note (only rests, holds or nothing before '/')");
  MelodyInfo info;
  info.title = title;
  info.meter = output.meter;
  info.tempo_qpm = output.tempo_qpm;
  write_melody(out, melody, info, midi);
  std::cerr << out << ": " << melody.size() << " notes and rests\n";
  return 0;
}

int run(const std::vector<std::string>& args) {
  check(!args.empty(), "no command given (expected stats, encode, convert or decode; see --help)");
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "melody_data (legato) " << build_info() << '\n';
    return 0;
  }
  if (command == "stats") return run_stats(rest);
  if (command == "encode") return run_encode(rest);
  if (command == "convert") return run_convert(rest);
  if (command == "decode") return run_decode(rest);
  fail("unknown command '", command, "' (expected stats, encode, convert or decode; see --help)");
}

}  // namespace

int main(int argc, char** argv) { return legato::examples::guarded_main(kProgram, argc, argv, run); }

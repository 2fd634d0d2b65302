#pragma once
// Corpus loading and the train / held-out split shared by every model.
//
//   Corpus c = load_corpus("/data/esac/han");          // recursive, sorted by file name
//   std::cout << c.report.to_string();                 // seen / parsed / rejected / filtered / kept
//   for (const CorpusSong& s : c.songs)
//     if (!s.held_out) train_on(s.song);               // s.song is in C major / A minor
//
// Each .krn file is read, then filtered like the seed but correctly (the
// seed's loop skipped the file after each removed one): "empty" (no notes),
// then "durations" (some note or rest outside the table T of
// duration_table.hpp). Files that cannot be read or parsed are "rejected"
// with the KernProblem as reason. One bad file never stops the load. Kept
// songs are transposed to C major / A minor (key.hpp) unless
// options.transpose is false.
//
// The split: a song is held out iff FNV-1a-32(base file name bytes) % 10 == 0.
// It depends only on the name, so every tool and model agrees on it.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "legato/music/duration_table.hpp"
#include "legato/music/kern_reader.hpp"
#include "legato/music/key.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

// 32-bit FNV-1a of the bytes.
inline std::uint32_t fnv1a32(std::string_view bytes) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

// The base name of a path given as text ("a/b/deut0567.krn" -> "deut0567.krn").
inline std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.find_last_of("/\\");
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// True when the song is in the held-out (validation) side of the split.
// Pass the file name; a directory part is ignored.
inline bool is_held_out(std::string_view file_name) { return fnv1a32(base_name(file_name)) % 10 == 0; }

// Why a parsed song is filtered out, or nullopt when it is kept.
// `bad` receives the offending durations (each once) when non-null.
inline std::optional<std::string> filter_reason(const Song& song, std::vector<Rational>* bad = nullptr) {
  if (song.note_count() == 0) return "empty";
  bool outside = false;
  for (const Event& e : song.events) {
    if (in_duration_table(e.duration)) continue;
    outside = true;
    if (bad && std::find(bad->begin(), bad->end(), e.duration) == bad->end()) bad->push_back(e.duration);
  }
  if (outside) return "durations";
  return std::nullopt;
}

struct CorpusOptions {
  bool recursive = true;         // also read sub-directories
  bool filter_empty = true;      // drop songs with no notes
  bool filter_durations = true;  // drop songs with a duration outside T
  bool transpose = true;         // to C major / A minor (key.hpp)
  std::size_t limit = 0;         // read only the first N files in sorted order; 0 = all
};

struct CorpusSong {
  std::string file_name;  // base name, e.g. "deut0567.krn"
  std::filesystem::path path;
  Song song;              // transposed when CorpusOptions::transpose
  KeyChoice key;          // key of the original (designation or estimate)
  int shift = 0;          // semitones applied (0 when not transposed)
  bool held_out = false;  // is_held_out(file_name)
};

// One file that did not make it, with the reason and the reader's message.
struct FileIssue {
  std::string file_name;
  std::string reason;   // "malformed", "multiple spines", ..., "empty", "durations"
  std::string message;  // e.g. "han0001.krn: duration 1/8 ql not in the table"
};

struct CorpusReport {
  std::string directory;
  std::size_t seen = 0;    // .krn files found
  std::size_t parsed = 0;  // read without error
  std::size_t kept = 0;
  std::size_t kept_train = 0, kept_held_out = 0;
  std::map<std::string, std::size_t> rejected;       // reason -> files (read or parse failed)
  std::map<std::string, std::size_t> filtered;       // "empty" / "durations" -> files
  std::map<std::string, std::size_t> bad_durations;  // "1/8" -> files containing it (filtered files)
  std::vector<FileIssue> issues;                     // every rejected or filtered file, in file order
  std::vector<std::string> warnings;                 // reader warnings of parsed files

  std::size_t rejected_total() const { return total(rejected); }
  std::size_t filtered_total() const { return total(filtered); }

  std::string to_string() const {
    std::ostringstream out;
    out << "corpus " << directory << ": " << seen << " .krn files seen, " << parsed << " parsed, "
        << rejected_total() << " rejected" << breakdown(rejected) << ", " << filtered_total() << " filtered"
        << breakdown(filtered) << ", " << kept << " kept (" << kept_train << " train, " << kept_held_out
        << " held out)\n";
    if (!bad_durations.empty()) {
      out << "  durations outside the table (files):";
      for (const auto& [d, n] : bad_durations) out << ' ' << d << ':' << n;
      out << '\n';
    }
    for (const FileIssue& issue : issues)
      if (issue.reason != "durations") out << "  " << issue.reason << ": " << issue.message << '\n';
    for (const std::string& w : warnings) out << "  warning: " << w << '\n';
    return out.str();
  }

 private:
  static std::size_t total(const std::map<std::string, std::size_t>& m) {
    std::size_t n = 0;
    for (const auto& [k, v] : m) n += v;
    return n;
  }
  static std::string breakdown(const std::map<std::string, std::size_t>& m) {
    if (m.empty()) return "";
    std::string s = " (";
    for (const auto& [k, v] : m) s += legato::detail::concat(s.size() > 2 ? ", " : "", k, " ", v);
    return s + ")";
  }
};

enum class Split { all, train, held_out };

struct Corpus {
  std::vector<CorpusSong> songs;  // kept songs, sorted by file name
  CorpusReport report;

  // Kept songs on one side of the split, in file order.
  std::vector<const CorpusSong*> split(Split side) const {
    std::vector<const CorpusSong*> out;
    for (const CorpusSong& s : songs)
      if (side == Split::all || (side == Split::held_out) == s.held_out) out.push_back(&s);
    return out;
  }
};

// The .krn files under `dir` (recursively unless told otherwise), sorted by
// base name, then by full path. Throws when `dir` is not a readable directory.
inline std::vector<std::filesystem::path> list_kern_files(const std::filesystem::path& dir, bool recursive = true) {
  namespace fs = std::filesystem;
  std::error_code ec;
  check(fs::is_directory(dir, ec), dir.string(), ": not a directory (pass the folder that holds the .krn files)");
  std::vector<fs::path> files;
  auto take = [&](const fs::directory_entry& entry) {
    std::error_code e;
    if (entry.is_regular_file(e) && entry.path().extension() == ".krn") files.push_back(entry.path());
  };
  try {
    if (recursive) {
      for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied))
        take(entry);
    } else {
      for (const auto& entry : fs::directory_iterator(dir)) take(entry);
    }
  } catch (const fs::filesystem_error& e) {
    fail(dir.string(), ": cannot list the directory: ", e.code().message());
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    const std::string an = a.filename().string(), bn = b.filename().string();
    return an != bn ? an < bn : a < b;
  });
  return files;
}

inline Corpus load_corpus(const std::filesystem::path& dir, const CorpusOptions& options = {}) {
  Corpus corpus;
  CorpusReport& report = corpus.report;
  report.directory = dir.string();
  std::vector<std::filesystem::path> files = list_kern_files(dir, options.recursive);
  if (options.limit > 0 && files.size() > options.limit) files.resize(options.limit);
  report.seen = files.size();
  for (const auto& path : files) {
    const std::string name = path.filename().string();
    Song song;
    try {
      song = read_kern_file(path);
    } catch (const KernError& e) {
      ++report.rejected[kern_problem_name(e.problem)];
      report.issues.push_back({name, kern_problem_name(e.problem), e.what()});
      continue;
    } catch (const Error& e) {  // e.g. duration arithmetic overflow
      ++report.rejected["malformed"];
      report.issues.push_back({name, "malformed", e.what()});
      continue;
    }
    ++report.parsed;
    report.warnings.insert(report.warnings.end(), song.warnings.begin(), song.warnings.end());

    std::vector<Rational> bad;
    std::optional<std::string> reason = filter_reason(song, &bad);
    if (reason == "empty" && !options.filter_empty) reason.reset();
    if (reason == "durations" && !options.filter_durations) reason.reset();
    if (reason) {
      ++report.filtered[*reason];
      std::string message = name + ": ";
      if (*reason == "empty") {
        message += "no notes";
      } else {
        message += "durations not in the table:";
        for (const Rational& d : bad) {
          message += legato::detail::concat(" ", d.to_string());
          ++report.bad_durations[d.to_string()];
        }
      }
      report.issues.push_back({name, *reason, message});
      continue;
    }

    CorpusSong kept;
    kept.file_name = name;
    kept.path = path;
    kept.held_out = is_held_out(name);
    if (options.transpose) {
      try {
        Transposed t = transpose_to_c(song);
        kept.song = std::move(t.song);
        kept.key = t.key;
        kept.shift = t.shift;
      } catch (const Error& e) {  // a note pushed outside MIDI 0..127
        ++report.rejected["malformed"];
        report.issues.push_back({name, "malformed", e.what()});
        continue;
      }
    } else {
      kept.key = find_key(song);
      kept.song = std::move(song);
    }
    ++report.kept;
    ++(kept.held_out ? report.kept_held_out : report.kept_train);
    corpus.songs.push_back(std::move(kept));
  }
  return corpus;
}

// The corpus folder a program should read: the --corpus value when given,
// else $LEGATO_ESAC_DIR, else an error that says how to set one.
inline std::filesystem::path corpus_dir_from(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("LEGATO_ESAC_DIR"); env && *env) return env;
  fail("no corpus: pass --corpus DIR or set LEGATO_ESAC_DIR (the shipped sample is the repository's data/ folder)");
}

}  // namespace legato::music

// Speed of the music data path on the whole ESAC corpus (2937 .krn files),
// one core: files/s for
//   BM_ParseTransposeEncode  bytes already in memory -> parse, filter,
//                            find the key, transpose, E-TS tokens
//   BM_LoadCorpusEncode      the same, reading the files from disk
//                            (load_corpus, then E-TS of every kept song)
//   BM_Vocabulary            E-TS tokens -> dataset stream -> vocabulary -> ids
// The seed's music21 pipeline took minutes for the same work.
// Skipped (with a message) when the corpus is absent.
//
//   build/<dir>/bench/music_bench [--corpus DIR]     (else $LEGATO_ESAC_DIR, else ../shared/data/esac)
#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "legato/music.hpp"
#include "legato/util/build_info.hpp"

namespace {

using namespace legato::music;
namespace fs = std::filesystem;

fs::path corpus_dir;

struct InMemory {
  std::vector<std::pair<std::string, std::string>> files;  // (name, bytes)
};

const InMemory& in_memory() {
  static const InMemory corpus = [] {
    InMemory m;
    for (const fs::path& p : list_kern_files(corpus_dir)) m.files.emplace_back(p.filename().string(), legato::read_file(p));
    return m;
  }();
  return corpus;
}

bool have_corpus(benchmark::State& state) {
  std::error_code ec;
  if (fs::is_directory(corpus_dir, ec)) return true;
  state.SkipWithError(("ESAC corpus not found at " + corpus_dir.string() + " (pass --corpus DIR)").c_str());
  return false;
}

void BM_ParseTransposeEncode(benchmark::State& state) {
  if (!have_corpus(state)) return;
  const InMemory& corpus = in_memory();
  std::size_t kept = 0, tokens = 0;
  for (auto _ : state) {
    kept = tokens = 0;
    for (const auto& [name, bytes] : corpus.files) {
      try {
        const Song song = parse_kern(bytes, name);
        if (filter_reason(song)) continue;
        const Transposed t = transpose_to_c(song);
        const auto encoded = encode_timeseries(t.song);
        tokens += encoded.size();
        ++kept;
        benchmark::DoNotOptimize(encoded.data());
      } catch (const legato::Error&) {
      }
    }
  }
  state.counters["files/s"] = benchmark::Counter(double(corpus.files.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tokens/s"] = benchmark::Counter(double(tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["files"] = double(corpus.files.size());
  state.counters["kept"] = double(kept);
}
BENCHMARK(BM_ParseTransposeEncode)->Unit(benchmark::kMillisecond);

void BM_LoadCorpusEncode(benchmark::State& state) {
  if (!have_corpus(state)) return;
  std::size_t seen = 0, kept = 0;
  for (auto _ : state) {
    const Corpus c = load_corpus(corpus_dir);
    for (const CorpusSong& s : c.songs) benchmark::DoNotOptimize(encode_timeseries(s.song).data());
    seen = c.report.seen;
    kept = c.report.kept;
  }
  state.counters["files/s"] = benchmark::Counter(double(seen), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["files"] = double(seen);
  state.counters["kept"] = double(kept);
}
BENCHMARK(BM_LoadCorpusEncode)->Unit(benchmark::kMillisecond);

void BM_Vocabulary(benchmark::State& state) {
  if (!have_corpus(state)) return;
  const Corpus c = load_corpus(corpus_dir);
  std::vector<std::vector<std::string>> songs;
  for (const CorpusSong& s : c.songs) songs.push_back(encode_timeseries(s.song));
  std::size_t n = 0;
  for (auto _ : state) {
    const auto stream = build_dataset(songs);
    const Vocabulary v = Vocabulary::from_tokens(stream);
    const auto ids = v.encode(stream);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.counters["tokens/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Vocabulary)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first: --corpus DIR (then Google Benchmark's flags).
  std::string dir;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--corpus") == 0 && i + 1 < argc) dir = argv[++i];
    else rest.push_back(argv[i]);
  }
  const char* env = std::getenv("LEGATO_ESAC_DIR");
  corpus_dir = !dir.empty() ? fs::path(dir)
               : env && *env ? fs::path(env)
                             : fs::path(LEGATO_SOURCE_DIR) / ".." / "shared" / "data" / "esac";
  std::cout << legato::build_info() << "\nmusic_bench: corpus " << corpus_dir.string() << " (one thread)\n";
  int count = int(rest.size());
  benchmark::Initialize(&count, rest.data());
  if (benchmark::ReportUnrecognizedArguments(count, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

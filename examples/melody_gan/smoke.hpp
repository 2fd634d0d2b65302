#pragma once
// melody_gan --smoke: every architecture and mode for a few epochs on a small
// corpus, every subcommand end to end, in seconds. Each check can fail and
// names what went wrong:
//   1. decoding: nearest rounding reaches the rest code and 4 quarters; the
//      seed's truncation does not; encode -> decode is exact on real songs;
//   2. train simple (joint), conv (--separate --seed-range) and complex
//      (--d-steps 2): finite losses, a checkpoint per run;
//   3. each checkpoint reloads with the same configuration and, in eval
//      mode, generates exactly what the trained model generates;
//   4. generate writes .mid and .krn files that read back with the same notes;
//   5. evaluate: statistics over the samples and the held-out songs.

#include <cstdio>
#include <filesystem>
#include <string>

#include "examples/common/smoke_folder.hpp"
#include "legato/music/song_io.hpp"

#include "commands.hpp"

namespace melody_gan {

struct SmokeOptions {
  std::string work_dir;  // "" = a temporary folder
  std::string corpus;
};

namespace smoke {

inline void expect(bool ok, const std::string& what) {
  legato::check(ok, "smoke: ", what);
  std::fprintf(stderr, "smoke: ok   %s\n", what.c_str());
}

inline void check_decoding() {
  // Top of the range: note' = 1 is the rest code 99, duration' = 1 is index 7 (4 quarters).
  const Row top{1.f, 1.f};
  const Melody nearest = decode_row(top, 1, false, Rounding::nearest);
  expect(nearest[0].pitch == legato::music::kRest && nearest[0].quarters == 4.0,
         "nearest decoding of the top value gives a 4-quarter rest");
  const Row below_top{0.9999f, 0.9999f};  // what tanh can reach
  const Melody truncated = decode_row(below_top, 1, true, Rounding::truncate);
  expect(truncated[0].pitch == 98 && truncated[0].quarters == 3.0,
         "seed truncation of tanh's 0.9999 gives MIDI 98 and 3 quarters, never a rest");
  const Melody rounded = decode_row(below_top, 1, true, Rounding::nearest);
  expect(rounded[0].pitch == legato::music::kRest, "nearest decoding of 0.9999 reaches the rest");
  Melody a{{60, 1.0}, {62, 0.5}, {64, 1.0}}, b{{60, 1.0}, {64, 1.0}};
  expect(edit_distance(a, b) == 1 && edit_distance(a, a) == 0, "edit distance counts one deleted event");
}

inline void check_round_trip(const std::string& corpus) {
  GanConfig c;
  c.resolve();
  for (bool seed_range : {false, true}) {
    c.seed_range = seed_range;
    const GanData data = load_gan_data(corpus, c);
    expect(!data.train.empty(), "the corpus has training songs");
    bool same = !data.held_out.empty();
    for (std::size_t i = 0; i < data.held_out.size(); ++i)
      same = same && decode_row(data.held_out[i], c.seq_len, seed_range, Rounding::nearest) == data.held_out_melodies[i];
    expect(same, std::string("encode -> nearest decode is exact on held-out songs, range ") +
                     (seed_range ? "[0,1]" : "[-1,1]"));
  }
}

inline void check_model(const GanConfig& config, const std::string& corpus, const std::filesystem::path& dir,
                        const std::string& name) {
  TrainRequest req;
  req.corpus = corpus;
  req.out = (dir / (name + ".safetensors")).string();
  req.metrics_json = (dir / (name + "_train.json")).string();
  req.verbose = false;
  const TrainSummary s = train_model(config, req);
  expect(s.result.epochs_done == config.epochs, name + ": trained " + std::to_string(config.epochs) + " epochs");
  for (const auto& part : s.result.history)
    for (const EpochLoss& e : part) legato::check(std::isfinite(e.d) && std::isfinite(e.g), "smoke: loss not finite");
  expect(std::filesystem::exists(req.metrics_json), name + ": metrics JSON written");

  LoadedGan loaded = load_gan(req.out);
  expect(loaded.model->config.to_metadata() == config.to_metadata(), name + ": checkpoint keeps the configuration");
  GanModel rebuilt(config);  // the same seed: the same initial weights, not the trained ones
  legato::load_module(req.out, rebuilt);
  legato::Rng r1(5), r2(5);
  const auto a = sample_rows(*loaded.model, 4, r1), b = sample_rows(rebuilt, 4, r2);
  expect(a == b, name + ": a reloaded checkpoint generates the same samples");

  GenerateRequest g;
  g.out_dir = (dir / (name + "_samples")).string();
  g.count = 3;
  const std::vector<Melody> written = write_samples(*loaded.model, g);
  const auto song = legato::music::read_song(std::filesystem::path(g.out_dir) / "sample_000.mid");
  long notes = 0;
  for (const auto& n : written[0]) notes += n.pitch != legato::music::kRest;
  expect(long(song.note_count()) >= notes && notes > 0 &&
             std::filesystem::exists(std::filesystem::path(g.out_dir) / "sample_002.krn"),
         name + ": generate wrote .mid and .krn files that read back");

  EvaluateRequest e;
  e.corpus = corpus;
  e.count = 20;
  e.metrics_json = (dir / (name + "_eval.json")).string();
  const EvaluateReport rep = evaluate_model(loaded, e);
  expect(rep.nearest.melodies == 20 && rep.nearest.distinct >= 1 && rep.real.melodies >= 1 &&
             rep.nearest.in_scale >= 0 && rep.nearest.in_scale <= 1,
         name + ": evaluate reports statistics of 20 samples and the held-out songs");
}

}  // namespace smoke

inline int run_smoke(const SmokeOptions& opt) {
  legato::Stopwatch clock;
  namespace fs = std::filesystem;
  const legato::examples::SmokeFolder folder("melody_gan", opt.work_dir);
  const fs::path& dir = folder.path();
  legato::check(!opt.corpus.empty() && fs::is_directory(opt.corpus), "smoke: corpus '", opt.corpus,
                "' is not a folder (pass --corpus DIR)");
  smoke::check_decoding();
  smoke::check_round_trip(opt.corpus);

  GanConfig simple;
  simple.epochs = 3;
  simple.batch = 8;
  simple.resolve();
  smoke::check_model(simple, opt.corpus, dir, "simple");

  GanConfig conv;
  conv.arch = "conv";
  conv.separate = true;
  conv.seed_range = true;
  conv.epochs = 2;
  conv.batch = 8;
  conv.resolve();
  smoke::check_model(conv, opt.corpus, dir, "conv_separate");

  GanConfig complex;
  complex.arch = "complex";
  complex.d_steps = 2;
  complex.epochs = 2;
  complex.batch = 8;
  complex.resolve();
  smoke::check_model(complex, opt.corpus, dir, "complex");

  std::fprintf(stderr, "smoke: all checks passed in %.1f s (work folder %s)\n", clock.seconds(), dir.c_str());
  return 0;
}

}  // namespace melody_gan

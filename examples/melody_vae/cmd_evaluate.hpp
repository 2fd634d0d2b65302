#pragma once
// melody_vae evaluate: held-out reconstruction, ELBO and KL, next to the
// majority baseline.

#include "command_common.hpp"

namespace melody_vae {

// Accuracy of always answering the training songs' most common pitch code and
// duration index, on the real events of `songs`: what "accuracy" means here.
inline json majority_baseline(const std::vector<VaeSong>& train, const std::vector<const VaeSong*>& songs) {
  std::map<int, long> pitch, duration;
  for (const VaeSong& s : train)
    for (std::size_t i = 0; i < s.events; ++i) {
      ++pitch[s.seq.notes[i]];
      ++duration[s.duration_index[i]];
    }
  auto most = [](const std::map<int, long>& m) {
    return std::max_element(m.begin(), m.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  };
  if (pitch.empty()) return json::object();
  const int p = most(pitch), d = most(duration);
  long events = 0, p_ok = 0, d_ok = 0;
  for (const VaeSong* s : songs)
    for (std::size_t i = 0; i < s->events; ++i) {
      ++events;
      p_ok += s->seq.notes[i] == p;
      d_ok += s->duration_index[i] == d;
    }
  return {{"pitch", p},
          {"duration_index", d},
          {"pitch_accuracy", events ? double(p_ok) / double(events) : 0.0},
          {"duration_accuracy", events ? double(d_ok) / double(events) : 0.0}};
}

inline int cmd_evaluate(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae evaluate", args);
  const std::string model_path = cli.text("model", "", "checkpoint (any --arch)");
  const std::string rhythm_path = cli.text("rhythm-model", "", "a seed-rhythm checkpoint to go with a seed-notes --model");
  const std::string corpus = examples::corpus_dir(cli, "");
  const std::string split = cli.text("split", "held-out", "held-out, train or all");
  const long limit = cli.integer("limit", 0, "read only the first N .krn files in name order; 0 = all");
  const long seed = cli.integer("seed", long(kEvalSeed), "seed of the sampled-z draws");
  const std::string metrics = cli.text("metrics-json", "", "write the metrics as JSON here");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae evaluate --model M [--rhythm-model R] --corpus DIR [--split held-out]\n"
                          "Reconstruction accuracy per position (pitch, duration), the ELBO and the KL."))
    return 0;
  cli.finish();
  check(split == "held-out" || split == "train" || split == "all", "--split must be held-out, train or all, got '", split,
        "'");
  check(limit >= 0 && seed >= 0, "--limit and --seed must be >= 0");
  legato::check_output_file(metrics, "metrics-json");
  examples::require_directory(corpus, "evaluate");
  ModelPair models = load_models(model_path, rhythm_path);

  // Before the build banner: a corpus without songs to evaluate is one line.
  VaeCorpus data = load_vae_corpus(corpus, std::size_t(limit));
  if (!models.main.config.is_seed()) {
    for (VaeSong& s : data.train) assign_classes(s, models.main.config.vocab);
    for (VaeSong& s : data.held_out) assign_classes(s, models.main.config.vocab);
  }
  std::vector<const VaeSong*> songs;
  if (split != "train") songs = pointers(data.held_out);
  if (split != "held-out")
    for (const VaeSong& s : data.train) songs.push_back(&s);
  check(!songs.empty(), "evaluate: the corpus '", corpus, "' has no ", split, " songs",
        limit > 0 ? " in its first " + std::to_string(limit) + " .krn files (--limit)" : std::string());
  const int threads = examples::setup_threads(cli);

  json out = {{"program", kProgram}, {"command", "evaluate"}, {"corpus", corpus},  {"split", split},
              {"songs", songs.size()}, {"threads", threads},    {"seed", seed}};
  Stopwatch clock;
  std::vector<Model*> list = {&models.main};
  if (models.rhythm) list.push_back(&*models.rhythm);
  for (Model* m : list) {
    const Evaluation e = evaluate_model(*m, songs, std::uint64_t(seed));
    std::printf("%s", e.table().c_str());
    out["models"][arch_name(m->config.arch)] = e.json();
  }
  MelodyStats real;
  for (const VaeSong* s : songs) real.add(music::decode_twoseq(s->seq.notes, s->seq.durations, s->events));
  std::printf("the %s songs themselves (first 100 events): %s\n", split.c_str(), real.line().c_str());
  out["songs_stats"] = real.to_json();
  const json baseline = majority_baseline(data.train, songs);
  if (!baseline.empty()) {
    std::printf("for scale: always the most common training pitch (%d) is right on %.2f%% of the events, the most "
                "common duration on %.2f%%\n",
                baseline["pitch"].get<int>(), 100 * baseline["pitch_accuracy"].get<double>(),
                100 * baseline["duration_accuracy"].get<double>());
    out["majority_baseline"] = baseline;
  }
  out["seconds"] = clock.seconds();
  write_metrics_json(metrics, out);
  return 0;
}

}  // namespace melody_vae

#pragma once
// The work behind each subcommand, callable from main() and from --smoke:
// train_model (corpus -> checkpoint), write_samples (checkpoint -> .mid/.krn),
// evaluate_model (checkpoint + corpus -> losses and diversity statistics).

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "examples/common/metrics_file.hpp"
#include "legato/music/melody_output.hpp"
#include "legato/music/song_io.hpp"
#include "legato/util/file.hpp"
#include "legato/util/timer.hpp"

#include "checkpoint.hpp"
#include "data.hpp"
#include "evaluate.hpp"
#include "model.hpp"
#include "train.hpp"

namespace melody_gan {

using json = nlohmann::ordered_json;
using legato::examples::load_average;
using legato::examples::write_metrics_json;

inline json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

struct TrainRequest {
  std::string corpus, out, metrics_json;
  double time_budget = 0;
  bool verbose = true;
};

struct TrainSummary {
  TrainResult result;
  std::size_t train_songs = 0, held_out_songs = 0;
};

// The training data, checked: main() reads it before the build banner, so
// that a corpus too small to train on is the only line on stderr.
inline GanData load_train_data(const std::string& corpus, const GanConfig& config) {
  GanData data = load_gan_data(corpus, config);
  legato::check(data.train.size() >= 2, "train: corpus '", corpus, "' has ", data.train.size(),
                " training song(s); at least 2 are needed");
  return data;
}

inline TrainSummary train_model(const GanConfig& config, const TrainRequest& req, const GanData& data) {
  const double load_start = load_average();
  if (req.verbose) {
    std::fprintf(stderr, "%s\n", data.report.c_str());
    std::fprintf(stderr, "melody_gan: %s; %zu training and %zu held-out songs; load average %.2f\n",
                 config.describe().c_str(), data.train.size(), data.held_out.size(), load_start);
  }
  GanModel model(config);
  Trainer trainer(model, data);
  TrainSummary summary;
  summary.result = trainer.run(req.time_budget, req.verbose);
  summary.train_songs = data.train.size();
  summary.held_out_songs = data.held_out.size();
  const TrainResult& r = summary.result;

  std::map<std::string, std::string> extra{{"train.corpus", req.corpus},
                                           {"train.epochs_done", std::to_string(r.epochs_done)},
                                           {"train.seconds", std::to_string(r.seconds)}};
  json j;
  j["config"] = json::object();
  for (const auto& [k, v] : config.to_metadata()) j["config"][k] = v;
  j["corpus"] = req.corpus;
  j["train_songs"] = data.train.size();
  j["held_out_songs"] = data.held_out.size();
  j["epochs_done"] = r.epochs_done;
  j["g_updates_per_part"] = r.steps;
  j["seconds"] = number(r.seconds);
  j["load_average_start"] = number(load_start);
  j["load_average_end"] = number(load_average());
  for (std::size_t p = 0; p < model.parts.size(); ++p) {
    const std::string& name = model.parts[p].name;
    const EpochLoss& last = r.history[p].back();
    extra["train.final." + name + ".d"] = std::to_string(last.d);
    extra["train.final." + name + ".g"] = std::to_string(last.g);
    std::printf("%s: final epoch %ld: D %.4f G %.4f (epoch mean); first batch D %.4f G %.4f (the seed's logging)\n",
                name.c_str(), r.epochs_done, last.d, last.g, last.d_first, last.g_first);
    json part;
    part["final_d"] = number(last.d);
    part["final_g"] = number(last.g);
    part["final_first_batch_d"] = number(last.d_first);
    part["final_first_batch_g"] = number(last.g_first);
    json history = json::array();
    for (const EpochLoss& e : r.history[p]) history.push_back({number(e.d), number(e.g)});
    part["history_d_g"] = history;
    j["parts"][name] = part;
  }
  save_gan(req.out, model, extra);
  std::printf("trained %ld epochs (%ld G updates per GAN) in %.1f s; wrote %s\n", r.epochs_done, r.steps, r.seconds,
              req.out.c_str());
  write_metrics_json(req.metrics_json, j);
  return summary;
}

inline TrainSummary train_model(const GanConfig& config, const TrainRequest& req) {
  return train_model(config, req, load_train_data(req.corpus, config));
}

struct GenerateRequest {
  std::string out_dir;
  long count = 10;
  std::uint64_t rng_seed = 1;
  Rounding rounding = Rounding::nearest;
  legato::music::MelodyOutput output;  // --transpose, --bpm, --meter
};

// Writes sample_NNN.mid and sample_NNN.krn; returns the melodies.
inline std::vector<Melody> write_samples(GanModel& model, const GenerateRequest& req) {
  legato::Rng rng(req.rng_seed);
  const std::vector<Melody> melodies = decode_rows(sample_rows(model, req.count, rng), model.config, req.rounding);
  std::error_code ec;
  std::filesystem::create_directories(req.out_dir, ec);
  legato::check(!ec && std::filesystem::is_directory(req.out_dir), "cannot create the output folder '", req.out_dir,
                "'");
  for (std::size_t i = 0; i < melodies.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "sample_%03zu", i);
    legato::music::write_generated_melody(std::filesystem::path(req.out_dir) / name, melodies[i], req.output,
                                          "melody_gan " + model.config.arch + " " + name);
  }
  return melodies;
}

struct EvaluateRequest {
  std::string corpus, metrics_json;
  long count = 100;
  std::uint64_t rng_seed = 1;
};

struct EvaluateReport {
  std::vector<PartLoss> losses;
  MelodyStats nearest, truncate, real;
};

// The held-out songs to compare with: without any, the comparison is empty.
inline GanData load_evaluate_data(const std::string& corpus, const GanConfig& config) {
  GanData data = load_gan_data(corpus, config);
  legato::check(!data.held_out.empty(), "evaluate: the corpus '", corpus, "' has no held-out songs");
  return data;
}

inline EvaluateReport evaluate_model(LoadedGan& loaded, const EvaluateRequest& req, const GanData& data) {
  GanModel& model = *loaded.model;
  EvaluateReport rep;
  legato::Rng rng(req.rng_seed);
  rep.losses = held_out_losses(model, data.held_out, rng);
  const std::vector<Row> rows = sample_rows(model, req.count, rng);
  rep.nearest = melody_stats(decode_rows(rows, model.config, Rounding::nearest));
  rep.truncate = melody_stats(decode_rows(rows, model.config, Rounding::truncate));
  std::vector<Melody> real = data.held_out_melodies;
  if (long(real.size()) > req.count) real.resize(std::size_t(req.count));
  rep.real = melody_stats(real);

  std::printf("model: %s; trained %s epochs in %s s\n", model.config.describe().c_str(),
              loaded.metadata.count("train.epochs_done") ? loaded.metadata.at("train.epochs_done").c_str() : "?",
              loaded.metadata.count("train.seconds") ? loaded.metadata.at("train.seconds").c_str() : "?");
  json j;
  j["corpus"] = req.corpus;
  j["count"] = req.count;
  j["held_out_songs"] = data.held_out.size();
  for (const PartLoss& l : rep.losses) {
    const std::string key = "train.final." + l.name;
    const auto d = loaded.metadata.find(key + ".d"), g = loaded.metadata.find(key + ".g");
    if (d != loaded.metadata.end() && g != loaded.metadata.end())
      std::printf("%s: last training epoch D %s G %s\n", l.name.c_str(), d->second.c_str(), g->second.c_str());
    std::printf("%s: held-out (%zu songs, eval mode) D %.4f G %.4f, mean D(real) %.3f, mean D(fake) %.3f\n",
                l.name.c_str(), data.held_out.size(), l.d, l.g, l.d_real_prob, l.d_fake_prob);
    j["losses"][l.name] = {{"train_final_d", d != loaded.metadata.end() ? number(std::atof(d->second.c_str())) : json()},
                           {"train_final_g", g != loaded.metadata.end() ? number(std::atof(g->second.c_str())) : json()},
                           {"held_out_d", number(l.d)},
                           {"held_out_g", number(l.g)},
                           {"held_out_d_real_prob", number(l.d_real_prob)},
                           {"held_out_d_fake_prob", number(l.d_fake_prob)}};
  }
  if (rep.losses.empty()) std::printf("no held-out losses: the corpus has fewer than 2 held-out songs\n");
  std::printf("generated, nearest decoding:  %s\n", format_stats(rep.nearest).c_str());
  std::printf("generated, seed truncation:   %s\n", format_stats(rep.truncate).c_str());
  std::printf("held-out real songs (first %ld events): %s\n", model.config.seq_len, format_stats(rep.real).c_str());
  auto stats_json = [](const MelodyStats& s) {
    return json{{"melodies", s.melodies},
                {"distinct", s.distinct},
                {"mean_edit_distance", number(s.mean_edit)},
                {"mean_edit_share", number(s.mean_edit_share)},
                {"in_scale", number(s.in_scale)},
                {"notes", s.notes},
                {"rests", s.rests},
                {"distinct_pitches", s.distinct_pitches},
                {"lowest", s.lowest},
                {"highest", s.highest},
                {"duration_classes", s.distinct_durations}};
  };
  j["generated_nearest"] = stats_json(rep.nearest);
  j["generated_truncate"] = stats_json(rep.truncate);
  j["held_out_real"] = stats_json(rep.real);
  j["load_average"] = number(load_average());
  write_metrics_json(req.metrics_json, j);
  return rep;
}

inline EvaluateReport evaluate_model(LoadedGan& loaded, const EvaluateRequest& req) {
  return evaluate_model(loaded, req, load_evaluate_data(req.corpus, loaded.model->config));
}

}  // namespace melody_gan

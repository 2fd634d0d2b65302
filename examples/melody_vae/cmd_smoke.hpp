#pragma once
// melody_vae --smoke: a few seconds of end-to-end checks for CI, through the
// same commands a user runs.

#include "../common/smoke_folder.hpp"
#include "cmd_evaluate.hpp"
#include "cmd_generate.hpp"
#include "cmd_train.hpp"

namespace melody_vae {

// A small corpus of made-up tunes (stepwise in C major, a few rests), written
// as .krn files. Names are chosen so that the shared split holds some out.
inline void write_smoke_corpus(const fs::path& dir) {
  fs::create_directories(dir);
  Rng rng(7);
  const int scale[] = {57, 59, 60, 62, 64, 65, 67, 69, 71, 72, 74, 76};
  const double durations[] = {0.5, 1.0, 0.5, 0.25, 1.0, 2.0, 0.75, 1.5};
  int train = 0, held = 0;
  for (int i = 0; train < 36 || held < 4; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "tune%03d.krn", i);
    const bool h = music::is_held_out(name);
    if ((h && held >= 4) || (!h && train >= 36)) continue;
    ++(h ? held : train);
    music::Melody m;
    int degree = 2 + int(rng.below(5));
    const int events = 12 + int(rng.below(40));
    for (int e = 0; e < events; ++e) {
      const bool rest = rng.uniform() < 0.05f;
      degree = std::clamp(degree + int(rng.below(5)) - 2, 0, 11);
      m.push_back({rest ? music::kRest : scale[degree], durations[rng.below(8)]});
    }
    music::MelodyInfo info;
    info.title = name;
    info.barlines = false;  // keep every duration a single value of T
    music::write_melody_kern(dir / name, m, info);
  }
}

inline void expect_error(const std::function<int()>& f, const std::string& what, int& failures) {
  try {
    f();
    std::fprintf(stderr, "smoke: %s was accepted\n", what.c_str());
    ++failures;
  } catch (const Error&) {
  }
}

inline int cmd_smoke(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae --smoke", args);
  std::string corpus = cli.text("corpus", "",
                                "use this corpus (default: the repository's data/ when it has at least 8 training "
                                "songs and a held-out one, else a tiny made-up one in a temporary folder)");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae --smoke [--corpus DIR] [--threads N]\n"
                          "A few seconds of end-to-end checks: train, evaluate and generate with every --arch."))
    return 0;
  cli.finish();
  const std::string threads = std::to_string(examples::setup_threads(cli));
  const examples::SmokeFolder folder("melody_vae");
  const fs::path& dir = folder.path();
  // The small corpus shipped in the repository's data/ folder when it is
  // usable (enough songs on both sides of the split), else a made-up one.
#ifdef LEGATO_SOURCE_DIR
  if (corpus.empty()) {
    const fs::path shipped = fs::path(LEGATO_SOURCE_DIR) / "data";
    std::error_code ec;
    if (fs::is_directory(shipped, ec)) {
      const VaeCorpus probe = load_vae_corpus(shipped.string(), 60);
      if (probe.train.size() >= 8 && !probe.held_out.empty()) corpus = shipped.string();
    }
  }
#endif
  if (corpus.empty()) {
    corpus = (dir / "corpus").string();
    write_smoke_corpus(corpus);
  }
  std::fprintf(stderr, "smoke corpus: %s\n", corpus.c_str());
  auto p = [&](const char* name) { return (dir / name).string(); };
  auto metrics = [&](const char* name) { return json::parse(read_file(p(name))); };
  const std::vector<std::string> common = {"--corpus", corpus, "--threads", threads, "--limit", "60"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), common.begin(), common.end());
    return a;
  };

  // 1. Train each architecture (tiny sizes); the categorical ones must learn.
  // vae.safetensors is the default (conv, with a length head), mlp.safetensors the whole-melody MLP.
  check(cmd_train(with({"--out", p("vae.safetensors"), "--epochs", "25", "--hidden", "32", "--latent", "4",
                        "--global-latent", "4", "--pitch-embed", "4", "--duration-embed", "4", "--batch", "8", "--lr",
                        "3e-3", "--warmup", "5", "--metrics-json", p("train_vae.json")})) == 0,
        "smoke: train the default failed");
  check(cmd_train(with({"--arch", "mlp", "--out", p("mlp.safetensors"), "--epochs", "25", "--hidden", "32", "--latent",
                        "8", "--pitch-embed", "4", "--duration-embed", "4", "--batch", "8", "--lr", "3e-3", "--warmup",
                        "5", "--metrics-json", p("train_mlp.json")})) == 0,
        "smoke: train mlp failed");
  const json train_vae_log = metrics("train_vae.json");
  for (const char* log : {"train_vae.json", "train_mlp.json"}) {
    const json history = metrics(log)["history"];
    const double first = history.front()["recon"].get<double>(), last = history.back()["recon"].get<double>();
    check(last < 0.8 * first, "smoke: ", log, ": the model did not learn (reconstruction ", first, " -> ", last, ")");
  }
  check(cmd_train(with({"--arch", "seed-notes", "--out", p("notes.safetensors"), "--epochs", "2", "--hidden", "16",
                        "--latent", "8", "--lr", "1e-3"})) == 0,
        "smoke: train seed-notes failed");
  check(cmd_train(with({"--arch", "seed-rhythm", "--out", p("rhythm.safetensors"), "--epochs", "2", "--hidden", "16",
                        "--latent", "8", "--metrics-json", p("train_rhythm.json")})) == 0,
        "smoke: train seed-rhythm failed");
  check(std::isfinite(metrics("train_rhythm.json")["final_epoch_loss"].get<double>()), "smoke: seed-rhythm loss not finite");

  // The seed model's shared encoder computes what the seed's per-row encoder
  // does: same loss, same gradients.
  {
    VaeCorpus data = load_vae_corpus(corpus, 60);
    const auto songs = pointers(data.train);
    Rng init(5);
    SeedVae vae(16, 8, init);
    const Tensor x = seed_batch(Arch::seed_notes, songs, 0, std::min<std::size_t>(8, songs.size()));
    std::vector<std::vector<float>> grads[2];
    float losses[2];
    for (int share = 0; share < 2; ++share) {
      Rng rng(9);
      const SeedVae::Pass pass = vae.forward(x, rng, 1.f, share == 1);
      auto [squared, kl] = SeedVae::loss_terms(pass, x);
      Tensor loss = add(squared, kl);
      vae.zero_grad();
      loss.backward();
      losses[share] = loss.item();
      for (const Tensor& t : vae.parameters()) {
        const Tensor g = t.grad();
        grads[share].emplace_back(g.data(), g.data() + g.numel());
      }
    }
    check(std::abs(losses[0] - losses[1]) <= 1e-4f * std::abs(losses[0]), "smoke: shared encoder loss ", losses[1],
          " != per-row ", losses[0]);
    for (std::size_t i = 0; i < grads[0].size(); ++i)
      for (std::size_t j = 0; j < grads[0][i].size(); ++j)
        check(std::abs(grads[0][i][j] - grads[1][i][j]) <= 1e-3f * (1.f + std::abs(grads[0][i][j])),
              "smoke: shared encoder gradient of parameter ", i, " differs at ", j, ": ", grads[1][i][j], " vs ",
              grads[0][i][j]);
  }

  // 2. The checkpoint holds the whole configuration, and evaluate after a
  // reload gives exactly the numbers train reported.
  const Model reloaded = Model::load(p("vae.safetensors"));
  check(reloaded.config.arch == Arch::conv && reloaded.config.hidden == 32 && reloaded.config.latent == 4 &&
            reloaded.config.global_latent == 4 && reloaded.config.pitch_embed == 4 && reloaded.config.warmup == 5 &&
            reloaded.config.vocab.size() > 2,
        "smoke: the checkpoint metadata lost the configuration");
  check(cmd_evaluate(with({"--model", p("vae.safetensors"), "--metrics-json", p("eval_vae.json")})) == 0,
        "smoke: evaluate the default failed");
  const json e = metrics("eval_vae.json")["models"]["conv"];
  const json t = train_vae_log["held_out"];
  for (const char* key : {"neg_elbo_per_song", "kl_per_song"})
    check(e[key].get<double>() == t[key].get<double>(), "smoke: ", key, " after reload ", e[key], " != ", t[key]);
  check(e["pitch_accuracy_mean_z"] == t["pitch_accuracy_mean_z"], "smoke: pitch accuracy changed after reload");
  for (const char* key : {"pitch_accuracy_mean_z", "duration_accuracy_mean_z"}) {
    const double a = e[key]["events"].get<double>();
    check(a >= 0 && a <= 1 && e[key]["event_count"].get<long>() > 0, "smoke: ", key, " = ", a);
  }
  check(cmd_evaluate(with({"--model", p("notes.safetensors"), "--rhythm-model", p("rhythm.safetensors"),
                           "--metrics-json", p("eval_seed.json")})) == 0,
        "smoke: evaluate seed failed");
  const json seed_eval = metrics("eval_seed.json")["models"];
  check(seed_eval.contains("seed-notes") && seed_eval.contains("seed-rhythm") &&
            seed_eval["seed-notes"].contains("pitch_accuracy_mean_z") &&
            seed_eval["seed-rhythm"].contains("duration_accuracy_sampled_z"),
        "smoke: the seed evaluation lacks a stream");

  // 3. Generation in every mode; files read back; a seed repeats itself.
  // Two songs that the pipeline can encode (a shipped file may hold triplets).
  std::vector<std::string> usable;
  for (const auto& f : music::list_kern_files(corpus)) {
    try {
      read_user_song(f.string());
      usable.push_back(f.string());
    } catch (const Error&) {
    }
  }
  check(usable.size() >= 2, "smoke: fewer than two encodable songs in ", corpus);
  const std::string a = usable.front(), b = usable.back();
  auto gen = [&](const char* out, std::vector<std::string> extra) {
    std::vector<std::string> g = {"--out-dir", p(out), "--threads", threads, "--seed", "3"};
    g.insert(g.end(), extra.begin(), extra.end());
    check(cmd_generate(g) == 0, "smoke: generate into ", out, " failed");
    return json::parse(read_file(p("gen.json")));
  };
  const json prior = gen("prior", {"--model", p("vae.safetensors"), "--count", "3", "--metrics-json", p("gen.json")});
  check(prior["files"].size() == 3, "smoke: prior sampling gave ", prior["files"].size(), " entries");
  gen("prior2", {"--model", p("vae.safetensors"), "--count", "3", "--metrics-json", p("gen.json")});
  for (const auto& f : prior["files"])
    if (f["events"].get<long>() > 0) {
      const std::string name = f["name"].get<std::string>() + ".krn";
      check(read_file(p("prior") + "/" + name) == read_file(p("prior2") + "/" + name), "smoke: seed 3 gave two ", name);
      check(!music::read_song(p("prior") + "/" + name).events.empty(), "smoke: ", name, " reads back empty");
    }
  gen("mlp_prior", {"--model", p("mlp.safetensors"), "--count", "2", "--metrics-json", p("gen.json")});
  gen("from", {"--model", p("vae.safetensors"), "--from", a, "--variation", "0.5", "--count", "2", "--decode", "sample",
               "--temperature", "0.8", "--metrics-json", p("gen.json")});
  check(fs::exists(p("from") + "/vae_source.krn"), "smoke: --from did not write the source");
  const json interp = gen("interp", {"--model", p("vae.safetensors"), "--interpolate", a, "--interpolate-to", b,
                                     "--steps", "3", "--metrics-json", p("gen.json")});
  check(interp["files"].size() == 3, "smoke: interpolation gave ", interp["files"].size(), " entries");
  gen("seed_prior", {"--model", p("notes.safetensors"), "--rhythm-model", p("rhythm.safetensors"), "--count", "2",
                     "--metrics-json", p("gen.json")});
  const json seed_from = gen("seed_from", {"--model", p("notes.safetensors"), "--from", a, "--count", "1",
                                           "--metrics-json", p("gen.json")});
  check(seed_from["files"][1]["events"] == seed_from["files"][0]["events"],
        "smoke: the seed reconstruction does not keep the source's length");
  gen("seed_interp", {"--model", p("notes.safetensors"), "--rhythm-model", p("rhythm.safetensors"), "--interpolate", a,
                      "--interpolate-to", b, "--steps", "2", "--metrics-json", p("gen.json")});

  // 4. Bad input is a legato::Error (one line, exit 1), never a crash.
  int failures = 0;
  const std::string vae = p("vae.safetensors"), notes = p("notes.safetensors"), rhythm = p("rhythm.safetensors");
  const std::string out = p("bad");
  expect_error([&] { return cmd_train(with({"--arch", "transformer", "--out", out})); }, "--arch transformer", failures);
  expect_error([&] { return cmd_train(with({"--kl-weight", "-1", "--out", out})); }, "--kl-weight -1", failures);
  expect_error([&] { return cmd_train(with({"--global-latent", "-1", "--out", out})); }, "--global-latent -1", failures);
  expect_error([&] { return cmd_train(with({"--arch", "mlp", "--global-latent", "4", "--out", out})); },
               "--global-latent with --arch mlp", failures);
  expect_error([&] { return cmd_train({"--corpus", p("nowhere"), "--out", out}); }, "a missing corpus", failures);
  expect_error([&] { return cmd_train(with({"--epochs", "0", "--out", out})); }, "--epochs 0", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--steps", "1", "--interpolate", a, "--interpolate-to", b}); },
               "--steps 1", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--temperature", "0", "--decode", "sample"}); },
               "--temperature 0", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--from", p("missing.krn")}); }, "a missing --from", failures);
  expect_error([&] { return cmd_generate({"--model", vae, "--interpolate", a}); }, "--interpolate with one song", failures);
  expect_error([&] { return cmd_generate({"--model", notes, "--out-dir", out}); }, "seed prior without rhythm", failures);
  expect_error([&] { return cmd_generate({"--model", notes, "--rhythm-model", vae, "--out-dir", out}); },
               "a conv model as --rhythm-model", failures);
  expect_error([&] { return cmd_evaluate({"--model", a, "--corpus", corpus}); }, "a .krn as --model", failures);
  expect_error([&] { return cmd_evaluate({"--model", rhythm, "--rhythm-model", notes, "--corpus", corpus}); },
               "swapped seed models", failures);
  expect_error([&] { return cmd_train(with({"--weight-decay", "inf", "--out", out})); }, "--weight-decay inf", failures);
  expect_error([&] { return cmd_train(with({"--warmup", "1e300", "--out", out})); }, "--warmup 1e300", failures);
  expect_error([&] { return cmd_train(with({"--out", p("nowhere/m.safetensors")})); }, "--out in a missing folder",
               failures);
  check(failures == 0, "smoke: ", failures, " bad inputs were accepted");
  // The largest values train accepts give a checkpoint that loads again:
  // train and the loader share ModelConfig::validate.
  check(cmd_train(with({"--arch", "mlp", "--out", p("edge.safetensors"), "--epochs", "1", "--hidden", "4", "--latent",
                        "2", "--pitch-embed", "2", "--duration-embed", "2", "--weight-decay", "1000", "--kl-weight",
                        "1e6", "--warmup", "1e9", "--clip", "1e9", "--dropout", "0.99"})) == 0,
        "smoke: train with the largest accepted values failed");
  check(Model::load(p("edge.safetensors")).config.kl_weight == 1e6, "smoke: the largest accepted values did not reload");
  std::printf("melody_vae smoke: OK\n");
  return 0;
}

}  // namespace melody_vae

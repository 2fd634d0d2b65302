#pragma once
// melody_vae generate: prior samples, variations of a song (--from) and
// interpolations between two (--interpolate A B), for the default and the
// seed's models.

#include "command_common.hpp"

namespace melody_vae {

struct GenerateOptions {
  bool sample = false;  // decode by sampling instead of argmax (mlp)
  double temperature = 1.0;
};

// Categorical logits of song k -> Melody, as long as the length head says
// (if any), and stopping at the first padding class.
inline music::Melody decoded_melody(const SequenceVae::Logits& logits, std::int64_t k, const PitchVocab& vocab,
                         const GenerateOptions& g, Rng& rng) {
  music::Melody melody;
  std::int64_t events = kTwoSeqLength;  // with a length head, the melody has the length it draws
  if (logits.length.defined())
    events = g.sample ? sample_row(logits.length, k, g.temperature, rng) : argmax_row(logits.length, k);
  for (std::int64_t i = 0; i < events; ++i) {
    const std::int64_t row = k * kTwoSeqLength + i;
    const int p = g.sample ? sample_row(logits.pitch, row, g.temperature, rng) : argmax_row(logits.pitch, row);
    const int d = g.sample ? sample_row(logits.duration, row, g.temperature, rng) : argmax_row(logits.duration, row);
    if (p == vocab.pad() || d == kDurationPad) break;
    melody.push_back({p == vocab.rest() ? music::kRest : vocab.midi(p), music::twoseq_duration_of_index(d)});
  }
  return melody;
}

// Seed model: the decoded stream (100 codes) of latent rows z (100, Lz).
inline std::vector<int> seed_stream(Model& m, const Tensor& z) {
  const Tensor x_hat = m.seed->decoder->forward(z);  // (100, 1)
  std::vector<int> out;
  for (std::int64_t i = 0; i < kTwoSeqLength; ++i) out.push_back(seed_decode(m.config.arch, x_hat.data()[i]));
  return out;
}

// Seed encoder means and logvars (100, Lz) of one song.
inline std::pair<Tensor, Tensor> seed_posterior(Model& m, const VaeSong& s) {
  std::vector<const VaeSong*> one = {&s};
  return m.seed->encode(seed_batch(m.config.arch, one, 0, 1));
}

// Two seed streams -> Melody, keeping the first `keep` events (0: all 100
// minus the trailing (99, 4.0) pairs, which is what padding decodes to).
inline music::Melody seed_melody(const std::vector<int>& notes, const std::vector<int>& duration_index, std::size_t keep) {
  std::vector<double> quarters;
  for (int d : duration_index) quarters.push_back(music::twoseq_duration_of_index(d));
  if (keep == 0) {
    keep = notes.size();
    while (keep > 0 && notes[keep - 1] == music::kTwoSeqRest && quarters[keep - 1] == music::kTwoSeqPadQuarters) --keep;
  }
  if (keep == 0) return {};
  return music::decode_twoseq(notes, quarters, keep);
}

struct Output {
  std::string dir;
  music::MelodyOutput style;  // key, tempo and meter of the files
  json files = json::array();
  int written = 0;
  MelodyStats stats;  // of the generated melodies (not the --from source)

  void write(const std::string& stem, const music::Melody& melody, const std::string& title) {
    if (melody.empty()) {
      std::printf("%s: empty melody (padding predicted at the first position), not written\n", stem.c_str());
      files.push_back({{"name", stem}, {"events", 0}});
      return;
    }
    const fs::path base = fs::path(dir) / stem;
    music::write_generated_melody(base, melody, style, title);
    double quarters = 0;
    std::string text;
    for (const music::MelodyNote& n : music::transposed(melody, style.transpose)) {  // as written
      quarters += n.quarters;
      if (text.size() < 160) text += " " + music::pitch_name(n.pitch) + "/" + legato::detail::concat(n.quarters);
    }
    std::printf("%s: %zu events, %g quarters:%s%s\n", stem.c_str(), melody.size(), quarters, text.c_str(),
                text.size() >= 160 ? " ..." : "");
    files.push_back({{"name", stem}, {"events", melody.size()}, {"quarters", quarters}, {"mid", base.string() + ".mid"},
                     {"krn", base.string() + ".krn"}});
    ++written;
    if (stem != "vae_source") stats.add(melody);
  }
};

inline std::string stem_name(const char* mode, long i) {
  char b[64];
  std::snprintf(b, sizeof b, "vae_%s_%03ld", mode, i);
  return b;
}

// Latents between two points: t = 0, 1/(steps-1), ..., 1.
inline Tensor lerp(const Tensor& a, const Tensor& b, float t) { return add(mul(a, 1.f - t), mul(b, t)); }

inline void generate_sequence_vae(Model& m, const std::string& mode, const std::vector<UserSong>& sources, long count, double variation,
                  long steps, const GenerateOptions& g, Rng& rng, Output& out) {
  NoGradGuard no_grad;
  SequenceVae& vae = *m.sequence;
  vae.eval();
  const PitchVocab& vocab = m.config.vocab;
  const std::string arch = arch_name(m.config.arch);
  auto posterior = [&](const UserSong& u) {
    VaeSong s = u.song;
    assign_classes(s, vocab);
    std::vector<const VaeSong*> one = {&s};
    const SequenceBatch b = sequence_batch(one, 0, 1);
    return vae.encode(b.pitch_in, b.duration_in);  // (1, Z) each
  };
  if (mode == "prior") {
    const Tensor z = Tensor::normal({count, m.sequence->config.latent_size()}, 0.f, 1.f, rng);  // (count, Z)
    const SequenceVae::Logits logits = vae.decode(z);
    for (long k = 0; k < count; ++k)
      out.write(stem_name("prior", k + 1), decoded_melody(logits, k, vocab, g, rng),
                legato::detail::concat("melody_vae ", arch, " prior sample ", k + 1));
  } else if (mode == "from") {
    const SequenceVae::Posterior q = posterior(sources[0]);
    for (long k = 0; k < count; ++k) {
      // variation 0 is the reconstruction; 1 moves as far as a prior draw.
      const Tensor z = add(q.mu, Tensor::normal(q.mu.shape(), 0.f, float(variation), rng));
      out.write(stem_name("from", k + 1), decoded_melody(vae.decode(z), 0, vocab, g, rng),
                legato::detail::concat("melody_vae ", arch, " variation ", k + 1, " of ", sources[0].song.name));
    }
  } else {
    const Tensor a = posterior(sources[0]).mu, b = posterior(sources[1]).mu;
    for (long k = 0; k < steps; ++k) {
      const float t = float(k) / float(steps - 1);
      out.write(stem_name("interp", k + 1), decoded_melody(vae.decode(lerp(a, b, t)), 0, vocab, g, rng),
                legato::detail::concat("melody_vae ", arch, " interpolation t=", t));
    }
  }
}

// The seed models. Each stream comes from its model; a stream without a model
// is taken from the source song (--from only), as the seed's
// "_reconstructed_notes.mid" kept the original durations.
inline void generate_seed(ModelPair& models, const std::string& mode, const std::vector<UserSong>& sources, long count,
                   double variation, long steps, Rng& rng, Output& out) {
  NoGradGuard no_grad;
  Model* notes = models.seed_notes();
  Model* rhythm = models.seed_rhythm();
  check(mode == "from" || (notes && rhythm), "generating from the prior or interpolating with the seed's VAEs needs both "
                                             "streams: --model NOTES (seed-notes) --rhythm-model RHYTHM (seed-rhythm)");
  const std::string arch = notes && rhythm ? "seed" : notes ? "seed-notes" : "seed-rhythm";
  // One stream of one output: from its model, or copied from the source.
  auto stream = [&](Model* m, bool is_notes, const std::function<Tensor(Model&)>& latent) {
    if (m) return seed_stream(*m, latent(*m));
    const VaeSong& s = sources[0].song;
    return is_notes ? s.seq.notes : s.duration_index;
  };
  if (mode == "prior") {
    for (long k = 0; k < count; ++k) {
      auto draw = [&](Model& m) { return Tensor::normal({kTwoSeqLength, m.config.latent}, 0.f, 1.f, rng); };
      out.write(stem_name("prior", k + 1), seed_melody(stream(notes, true, draw), stream(rhythm, false, draw), 0),
                legato::detail::concat("melody_vae ", arch, " prior sample ", k + 1));
    }
  } else if (mode == "from") {
    const VaeSong& s = sources[0].song;
    for (long k = 0; k < count; ++k) {
      // The seed's reconstruction, z = mean + logvar eps, plus variation * eps'.
      auto encode = [&](Model& m) {
        auto [mean, logvar] = seed_posterior(m, s);
        Tensor z = add(mean, mul(logvar, Tensor::normal(mean.shape(), 0.f, 1.f, rng)));
        return variation > 0 ? add(z, Tensor::normal(mean.shape(), 0.f, float(variation), rng)) : z;
      };
      out.write(stem_name("from", k + 1), seed_melody(stream(notes, true, encode), stream(rhythm, false, encode), s.events),
                legato::detail::concat("melody_vae ", arch, " reconstruction ", k + 1, " of ", s.name));
    }
  } else {
    const VaeSong &a = sources[0].song, &b = sources[1].song;
    for (long k = 0; k < steps; ++k) {
      const float t = float(k) / float(steps - 1);
      auto mix = [&](Model& m) { return lerp(seed_posterior(m, a).first, seed_posterior(m, b).first, t); };
      const auto keep = std::size_t(std::lround((1 - t) * double(a.events) + t * double(b.events)));
      out.write(stem_name("interp", k + 1), seed_melody(stream(notes, true, mix), stream(rhythm, false, mix), keep),
                legato::detail::concat("melody_vae ", arch, " interpolation t=", t));
    }
  }
}

inline int cmd_generate(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae generate", args);
  const std::string model_path = cli.text("model", "", "checkpoint (any --arch)");
  const std::string rhythm_path = cli.text("rhythm-model", "", "a seed-rhythm checkpoint to go with a seed-notes --model");
  const std::string out_dir = cli.text("out-dir", "out/vae", "folder for the .mid and .krn files");
  const long count = cli.integer("count", 4, "melodies (prior samples, or variations with --from)");
  const std::string from = cli.text("from", "", "reconstruct and vary this song (.krn or .mid)");
  const double variation = cli.real("variation", 0.5, "with --from: 0 = reconstruction, 1 = as far as a prior draw");
  const std::string interp_a = cli.text("interpolate", "", "A.krn B.krn: walk the latent line from A to B");
  const std::string interp_b = cli.text("interpolate-to", "", "(the B of --interpolate A B)");
  const long steps = cli.integer("steps", 8, "with --interpolate: melodies on the line, ends included");
  const std::string decode = cli.text("decode", "argmax", "argmax or sample (sampling: mlp and conv only)");
  const double temperature = cli.real("temperature", 1.0, "with --decode sample: softmax temperature");
  const long seed = cli.integer("seed", 1, "random seed");
  const std::string metrics = cli.text("metrics-json", "", "write the list of files as JSON here");
  const examples::OutputFlags output =
      examples::read_output_flags(cli, "the model's C major / A minor (--from, --interpolate: the (first) song's key)",
                                  "120 qpm, 4/4; --from and --interpolate: the (first) song's");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae generate --model M [--rhythm-model R] --out-dir DIR\n"
                          "       [--count N | --from FILE --variation V | --interpolate A B --steps N]\n"
                          "       [--decode argmax|sample --temperature T] [--seed S] [--transpose N --bpm Q --meter N/D]\n"
                          "The model writes in C major / A minor (the corpus is transposed so); --from and --interpolate\n"
                          "write in the key, tempo and meter of the (first) song."))
    return 0;
  cli.finish();
  check(interp_b.empty() || !interp_a.empty(), "--interpolate-to needs --interpolate");
  check(interp_a.empty() || !interp_b.empty(), "--interpolate needs two songs: --interpolate A.krn B.krn");
  check(from.empty() || interp_a.empty(), "give --from or --interpolate, not both");
  check(count >= 1 && count <= 100000, "--count must be in 1..100000, got ", count);
  check(steps >= 2 && steps <= 10000, "--steps must be in 2..10000, got ", steps);
  check(std::isfinite(variation) && variation >= 0 && variation <= 100, "--variation must be in [0, 100], got ", variation);
  check(decode == "argmax" || decode == "sample", "--decode must be argmax or sample, got '", decode, "'");
  check(std::isfinite(temperature) && temperature > 0 && temperature <= 100, "--temperature must be in (0, 100], got ",
        temperature);
  check(seed >= 0, "--seed must be >= 0, got ", seed);
  legato::check_output_dir(out_dir, "out-dir");
  legato::check_output_file(metrics, "metrics-json");
  ModelPair models = load_models(model_path, rhythm_path);
  check(!models.main.config.is_seed() || decode == "argmax",
        "--decode sample applies to the default model; the seed's VAEs decode by rounding");
  const std::string mode = !from.empty() ? "from" : !interp_a.empty() ? "interpolate" : "prior";
  std::vector<UserSong> sources;
  if (mode == "from") sources.push_back(read_user_song(from));
  if (mode == "interpolate") {
    sources.push_back(read_user_song(interp_a));
    sources.push_back(read_user_song(interp_b));
  }
  music::MelodyOutput style;
  if (!sources.empty()) {  // back in the (first) song's key, tempo, meter and upbeat
    style.transpose = -sources[0].shift;
    style.key = sources[0].original_key;
    style.tempo_qpm = examples::usable_tempo(sources[0].tempo_qpm, style.tempo_qpm);
    if (sources[0].meter) {
      style.meter = *sources[0].meter;
      style.pickup = sources[0].pickup;
    }
  }
  music::check_melody_output(output.over(style));  // a bad --pickup: one line, before anything is written
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  check(!ec && fs::is_directory(out_dir), "--out-dir '", out_dir, "' cannot be created: ", ec.message());
  examples::setup_threads(cli);

  Output out;
  out.dir = out_dir;
  out.style = output.over(style);
  Rng rng{std::uint64_t(seed)};
  Stopwatch clock;
  if (mode == "from") {
    // The source as the model sees it (transposed, first 100 events), for comparison.
    const VaeSong& s = sources[0].song;
    std::vector<int> indices = s.duration_index;
    out.write("vae_source", seed_melody(s.seq.notes, indices, s.events), "melody_vae source " + s.name);
  }
  if (models.main.config.is_seed())
    generate_seed(models, mode, sources, count, variation, steps, rng, out);
  else
    generate_sequence_vae(models.main, mode, sources, count, variation, steps, {decode == "sample", temperature}, rng, out);
  std::fprintf(stderr, "wrote %d melodies (.mid and .krn) to %s in %.3f s\n", out.written, out_dir.c_str(),
               clock.seconds());
  std::printf("generated: %s\n", out.stats.line().c_str());
  write_metrics_json(metrics, json{{"program", kProgram},
                                   {"command", "generate"},
                                   {"mode", mode},
                                   {"files", out.files},
                                   {"stats", out.stats.to_json()}});
  return 0;
}

}  // namespace melody_vae

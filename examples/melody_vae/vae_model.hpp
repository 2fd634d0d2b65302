#pragma once
// A melody_vae model of any architecture: its configuration (what the
// checkpoint metadata holds), building it, saving and loading it, and the
// two directions between songs and network tensors.
//
//   Model m = Model::build(config, rng);          // fresh weights
//   m.save("vae.safetensors", extra);             // weights + the whole configuration as metadata
//   Model back = Model::load("vae.safetensors");  // rebuilt from the metadata, then filled
//
// Architectures:
//   mlp          SequenceVae (sequence_vae.hpp), both streams, categorical, one latent vector per melody
//   conv         SequenceVae with convolutional bodies, one latent column per 4 events
//   seed-notes   SeedVae on the pitch stream (seed_vae.hpp), the seed's vae_model.pth
//   seed-rhythm  SeedVae on the duration stream, the seed's vae_model_durations.pth

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "legato/io/checkpoint.hpp"
#include "legato/music/twoseq.hpp"
#include "seed_vae.hpp"
#include "sequence_vae.hpp"
#include "vae_data.hpp"

namespace melody_vae {

enum class Arch { mlp, conv, seed_notes, seed_rhythm };

inline bool is_seed_arch(Arch a) { return a == Arch::seed_notes || a == Arch::seed_rhythm; }

inline Arch parse_arch(const std::string& name) {
  if (name == "mlp") return Arch::mlp;
  if (name == "conv") return Arch::conv;
  if (name == "seed-notes") return Arch::seed_notes;
  if (name == "seed-rhythm") return Arch::seed_rhythm;
  fail("--arch must be conv, mlp, seed-notes or seed-rhythm, got '", name, "'");
}
inline std::string arch_name(Arch a) {
  return a == Arch::mlp ? "mlp" : a == Arch::conv ? "conv" : a == Arch::seed_notes ? "seed-notes" : "seed-rhythm";
}

// Everything that defines a model and how it was trained. Stored as strings
// in the checkpoint's metadata.
struct ModelConfig {
  Arch arch = Arch::mlp;
  int hidden = 512, latent = 64;
  // mlp and conv only
  int pitch_embed = 16, duration_embed = 8;
  float dropout = 0.f;
  bool tie_embeddings = false;  // decoder scores positions against the input embeddings
  int global_latent = 0;        // conv only: size of the whole-melody part of the latent
  int augment_shift = 0;      // training windows start up to this many events late
  int augment_transpose = 0;  // training songs move by up to +-this many semitones
  PitchVocab vocab;
  // training
  long epochs = 0, batch = 32;
  double lr = 1e-3, weight_decay = 0, kl_weight = 1, warmup = 0, clip = 0;
  std::uint64_t seed = 1;

  // The seed's values (spec §5) and ours for the default.
  static ModelConfig defaults(Arch arch) {
    ModelConfig c;
    c.arch = arch;
    if (arch == Arch::seed_notes) {
      c.hidden = 500, c.latent = 250, c.epochs = 200, c.batch = 32, c.lr = 1e-5, c.weight_decay = 1e-6;
    } else if (arch == Arch::seed_rhythm) {
      c.hidden = 500, c.latent = 300, c.epochs = 8, c.batch = 64, c.lr = 1e-3, c.weight_decay = 0;
    } else if (arch == Arch::conv) {
      // Chosen on han (docs/results_vae.md, "the conv VAE"): 8 latents per 4
      // events, 32 for the whole melody (with its length head), beta 0.3.
      c.hidden = 128, c.latent = 8, c.global_latent = 32, c.epochs = 120, c.batch = 32, c.lr = 1e-3, c.weight_decay = 0;
      c.kl_weight = 0.3, c.warmup = 10, c.dropout = 0.f, c.clip = 5;
      c.tie_embeddings = true, c.augment_shift = 8, c.augment_transpose = 0;
    } else {
      // Chosen on han (docs/results_vae.md, section 6, "How the MLP's settings
      // were chosen"): beta 0.1 with a 10-epoch warm-up, 128 latents, tied
      // embeddings and windows shifted by up to 8 events gave the best
      // held-out pitch accuracy.
      c.hidden = 512, c.latent = 128, c.epochs = 120, c.batch = 32, c.lr = 1e-3, c.weight_decay = 0;
      c.kl_weight = 0.1, c.warmup = 10, c.dropout = 0.f, c.clip = 5;
      c.tie_embeddings = true, c.augment_shift = 8, c.augment_transpose = 0;
    }
    return c;
  }

  bool is_seed() const { return is_seed_arch(arch); }

  // The accepted range of every number that train takes as a flag. train
  // checks its flags here and load() a checkpoint's metadata, so whatever
  // train writes loads again. Every range is bounded, so inf fails (and NaN
  // fails every comparison). The metadata keeps 6 significant digits; the
  // bounds have fewer, so a value inside never rounds to one outside.
  void validate() const {
    auto in = [](double x, double low, double high, const char* flag) {
      check(x >= low && x <= high, "--", flag, " must be in [", low, ", ", high, "], got ", x);
    };
    in(double(epochs), 1, 1e6, "epochs");
    in(double(batch), 1, 1e5, "batch");
    check(lr > 0 && lr <= 10, "--lr must be in (0, 10], got ", lr);
    in(weight_decay, 0, 1000, "weight-decay");
    in(hidden, 1, 65536, "hidden");
    in(latent, 1, 65536, "latent");
    in(kl_weight, 0, 1e6, "kl-weight");
    in(warmup, 0, 1e9, "warmup");
    in(clip, 0, 1e9, "clip");
    in(pitch_embed, 1, 4096, "pitch-embed");
    in(duration_embed, 1, 4096, "duration-embed");
    in(dropout, 0, 0.99f, "dropout");  // 0.99f: dropout is a float, and 0.99f > 0.99
    in(augment_shift, 0, 1000, "augment-shift");
    in(augment_transpose, 0, 24, "augment-transpose");
    in(global_latent, 0, 65536, "global-latent");
  }

  std::map<std::string, std::string> metadata() const {
    auto text = [](auto v) { return legato::detail::concat(v); };
    std::map<std::string, std::string> m = {
        {"model", "melody_vae"}, {"arch", arch_name(arch)}, {"length", text(kTwoSeqLength)},
        {"hidden", text(hidden)}, {"latent", text(latent)}, {"epochs", text(epochs)},
        {"batch", text(batch)}, {"lr", text(lr)}, {"weight_decay", text(weight_decay)},
        {"kl_weight", text(kl_weight)}, {"warmup_epochs", text(warmup)}, {"clip", text(clip)},
        {"seed", text(seed)}};
    if (!is_seed()) {
      m["pitch_embed"] = text(pitch_embed);
      m["duration_embed"] = text(duration_embed);
      m["dropout"] = text(dropout);
      m["tie_embeddings"] = tie_embeddings ? "1" : "0";
      m["augment_shift"] = text(augment_shift);
      m["augment_transpose"] = text(augment_transpose);
      m["global_latent"] = text(global_latent);
      m["pitch_low"] = text(vocab.low);
      m["pitch_high"] = text(vocab.high);
      m["pitch_classes"] = "MIDI pitch_low..pitch_high, rest, padding";
      m["duration_classes"] = "0.25 0.5 0.75 1 1.5 2 3 4, padding";
      m["reparameterisation"] = "z = mu + exp(0.5 logvar) eps";
    } else {
      m["stream"] = arch == Arch::seed_notes ? "notes: (midi - 50) / 49, rest 99" : "durations: index in T / 7";
      m["reparameterisation"] = "z = mean + logvar * eps (the seed's)";
    }
    return m;
  }

  // Rebuilds a configuration from a checkpoint's metadata; `source` names the file.
  static ModelConfig from_metadata(const std::map<std::string, std::string>& m, const std::string& source) {
    auto get = [&](const std::string& key) -> const std::string& {
      const auto it = m.find(key);
      check(it != m.end(), source, ": not a melody_vae checkpoint (metadata '", key, "' missing)");
      return it->second;
    };
    auto number = [&](const std::string& key, double lo, double hi) {
      const std::string& v = get(key);
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      check(!v.empty() && end && *end == '\0' && std::isfinite(x) && x >= lo && x <= hi, source, ": metadata '", key,
            "' = '", v, "' is not a number in [", lo, ", ", hi, "]");
      return x;
    };
    // The flags' numbers: any finite value here, as validate() below checks
    // the ranges train accepts; whole numbers must fit an int.
    auto real = [&](const std::string& key) { return number(key, -1e300, 1e300); };
    auto whole = [&](const std::string& key) {
      const double x = number(key, -2147483647.0, 2147483647.0);
      check(x == std::floor(x), source, ": metadata '", key, "' = '", get(key), "' is not a whole number");
      return int(x);
    };
    check(get("model") == "melody_vae", source, ": written by '", get("model"), "', not melody_vae");
    check(number("length", 1, 1e6) == kTwoSeqLength, source, ": length ", get("length"), " is not ", kTwoSeqLength);
    ModelConfig c;
    c.arch = parse_arch(get("arch"));
    c.hidden = whole("hidden");
    c.latent = whole("latent");
    c.epochs = whole("epochs");
    c.batch = whole("batch");
    c.lr = real("lr");
    c.weight_decay = real("weight_decay");
    c.kl_weight = real("kl_weight");
    c.warmup = real("warmup_epochs");
    c.clip = real("clip");
    c.seed = std::uint64_t(number("seed", 0, 1.8e19));
    if (!c.is_seed()) {
      c.pitch_embed = whole("pitch_embed");
      c.duration_embed = whole("duration_embed");
      c.dropout = float(real("dropout"));
      c.tie_embeddings = number("tie_embeddings", 0, 1) != 0;
      c.augment_shift = whole("augment_shift");
      c.augment_transpose = whole("augment_transpose");
      c.global_latent = m.count("global_latent") ? whole("global_latent") : 0;  // older files: none
      c.vocab.low = int(number("pitch_low", 0, 127));
      c.vocab.high = int(number("pitch_high", c.vocab.low, 127));
    }
    try {
      c.validate();  // the ranges train accepts
    } catch (const Error& e) {
      fail(source, ": bad configuration in the metadata: ", e.what());
    }
    return c;
  }
};

class Model {
 public:
  ModelConfig config;
  std::shared_ptr<SeedVae> seed;      // seed archs
  std::shared_ptr<SequenceVae> sequence;  // mlp and conv

  static Model build(const ModelConfig& c, Rng& rng) {
    check(c.hidden >= 1 && c.latent >= 1, "hidden and latent sizes must be >= 1");
    Model m;
    m.config = c;
    if (c.is_seed()) {
      m.seed = std::make_shared<SeedVae>(c.hidden, c.latent, rng);
    } else {
      SequenceVaeConfig s;
      s.length = kTwoSeqLength;
      s.pitch_classes = c.vocab.size();
      s.duration_classes = kDurationClasses + 1;
      s.pitch_embed = c.pitch_embed;
      s.duration_embed = c.duration_embed;
      s.hidden = c.hidden;
      s.latent = c.latent;
      s.dropout = c.dropout;
      s.tie_embeddings = c.tie_embeddings;
      s.conv = c.arch == Arch::conv;
      s.global_latent = s.conv ? c.global_latent : 0;
      m.sequence = std::make_shared<SequenceVae>(s, rng, c.seed ^ 0xd809ULL);
    }
    return m;
  }

  nn::Module& module() const { return config.is_seed() ? static_cast<nn::Module&>(*seed) : *sequence; }

  // Weights plus the configuration plus `extra` (training results) as metadata, atomically.
  void save(const std::string& path, const std::map<std::string, std::string>& extra = {}) const {
    auto meta = config.metadata();
    for (const auto& [k, v] : extra) meta[k] = v;
    save_module(path, module(), meta);
  }

  static Model load(const std::string& path) {
    SafetensorsFile file = load_safetensors(path);
    Rng rng(0);
    Model m = build(ModelConfig::from_metadata(file.metadata, "'" + path + "'"), rng);
    load_state_dict(m.module().state_dict(), file, true, "'" + path + "'");
    return m;
  }
};

// ------------------------------------------------ seed streams <-> tensors ----

// The seed's normalised value of position i: notes (code - 50) / 49, durations index / 7.
inline float seed_value(Arch arch, const VaeSong& s, std::size_t i) {
  if (arch == Arch::seed_notes)
    return float(s.seq.notes[i] - music::kTwoSeqPitchLow) / float(music::kTwoSeqRest - music::kTwoSeqPitchLow);
  return float(s.duration_index[i]) / 7.f;
}

// Songs [begin, end) as one column (N, 1), N = songs * 100, song by song.
inline Tensor seed_batch(Arch arch, const std::vector<const VaeSong*>& songs, std::size_t begin, std::size_t end) {
  std::vector<float> values;
  values.reserve((end - begin) * kTwoSeqLength);
  for (std::size_t k = begin; k < end; ++k)
    for (std::size_t i = 0; i < std::size_t(kTwoSeqLength); ++i) values.push_back(seed_value(arch, *songs[k], i));
  return Tensor::from_vector({std::int64_t(values.size()), 1}, values);
}

// The seed's decoding of one output value: notes round(x 49 + 50) (99 = rest),
// durations round(x 7) as an index (outside 0..7 decodes to 8 quarters).
// Rounding is half to even, as Python's round().
inline int seed_decode(Arch arch, float x) {
  const double scaled = arch == Arch::seed_notes
                            ? double(x) * (music::kTwoSeqRest - music::kTwoSeqPitchLow) + music::kTwoSeqPitchLow
                            : double(x) * 7.0;
  return int(std::nearbyint(std::max(-1e6, std::min(1e6, scaled))));
}

// The seed's target at position i (pitch code or duration index).
inline int seed_target(Arch arch, const VaeSong& s, std::size_t i) {
  return arch == Arch::seed_notes ? s.seq.notes[i] : s.duration_index[i];
}

// --------------------------------------------------- mlp and conv batches ----

struct SequenceBatch {
  Ids pitch_in, duration_in;          // (B, L)
  Ids pitch_target, duration_target;  // (B L)
};

inline SequenceBatch sequence_batch(const std::vector<const VaeSong*>& songs, std::size_t begin, std::size_t end) {
  const std::int64_t B = std::int64_t(end - begin), L = kTwoSeqLength;
  SequenceBatch b{{{B, L}, {}}, {{B, L}, {}}, {{B * L}, {}}, {{B * L}, {}}};
  for (std::size_t k = begin; k < end; ++k) {
    const VaeSong& s = *songs[k];
    b.pitch_in.values.insert(b.pitch_in.values.end(), s.pitch_in.begin(), s.pitch_in.end());
    b.duration_in.values.insert(b.duration_in.values.end(), s.duration_in.begin(), s.duration_in.end());
    b.pitch_target.values.insert(b.pitch_target.values.end(), s.pitch_target.begin(), s.pitch_target.end());
    b.duration_target.values.insert(b.duration_target.values.end(), s.duration_target.begin(), s.duration_target.end());
  }
  return b;
}

// A model with a length head (conv with --global-latent > 0) is scored
// on the real events only, plus the length of each song: the padding
// positions leave the per-position targets and `length` holds the number of
// events of each song (B).
struct LengthTargets {
  Ids pitch, duration;  // (B L), kUnknown at the padding
  Ids length;           // (B)
};

inline LengthTargets length_targets(const SequenceBatch& b, const PitchVocab& vocab) {
  LengthTargets t{b.pitch_target, b.duration_target, {{b.pitch_in.shape[0]}, {}}};
  const std::int64_t B = b.pitch_in.shape[0], L = b.pitch_in.shape[1];
  for (std::int64_t k = 0; k < B; ++k) {
    std::int32_t events = 0;
    for (std::int64_t i = 0; i < L; ++i) {
      const std::size_t at = std::size_t(k * L + i);
      const bool padding = b.pitch_in.values[at] == vocab.pad();
      if (padding) t.pitch.values[at] = t.duration.values[at] = kUnknown;
      events += !padding;
    }
    t.length.values.push_back(events);
  }
  return t;
}

inline std::int64_t kept_targets(const Ids& targets) {
  std::int64_t n = 0;
  for (auto t : targets.values) n += t != kUnknown;
  return n;
}

// Row r of logits (R, C): index of the largest value (first on ties).
inline int argmax_row(const Tensor& logits, std::int64_t r) {
  const std::int64_t C = logits.shape()[1];
  const float* row = logits.data() + r * C;
  int best = 0;
  for (std::int64_t c = 1; c < C; ++c)
    if (row[c] > row[best]) best = int(c);
  return best;
}

// log softmax(row r)[target], in double.
inline double log_prob_row(const Tensor& logits, std::int64_t r, int target) {
  const std::int64_t C = logits.shape()[1];
  const float* row = logits.data() + r * C;
  double m = row[0];
  for (std::int64_t c = 1; c < C; ++c) m = std::max(m, double(row[c]));
  double s = 0;
  for (std::int64_t c = 0; c < C; ++c) s += std::exp(double(row[c]) - m);
  return double(row[target]) - m - std::log(s);
}

// A draw from softmax(row / temperature).
inline int sample_row(const Tensor& logits, std::int64_t r, double temperature, Rng& rng) {
  const std::int64_t C = logits.shape()[1];
  const float* row = logits.data() + r * C;
  double m = row[0];
  for (std::int64_t c = 1; c < C; ++c) m = std::max(m, double(row[c]));
  std::vector<double> p(static_cast<std::size_t>(C));
  double total = 0;
  for (std::int64_t c = 0; c < C; ++c) total += p[std::size_t(c)] = std::exp((double(row[c]) - m) / temperature);
  double u = double(rng.uniform()) * total;
  for (std::int64_t c = 0; c < C; ++c) {
    u -= p[std::size_t(c)];
    if (u < 0) return int(c);
  }
  return int(C - 1);
}

}  // namespace melody_vae

#pragma once
// Reconstruction metrics of a melody_vae model on a set of songs (the
// held-out side of the shared split, normally).
//
// Per position, exact match of the reconstructed pitch and duration:
//   "events"  over the real events only (the first min(events, 100) positions);
//   "all"     over all 100 positions, padding included. For the seed models
//             padding is (99, 4.0), the same codes as a rest and a whole note;
//             for the default it is its own class.
// Each twice: with z = the posterior mean ("mean"), and with z drawn as the
// model draws it ("sampled": the default's mu + sigma eps; the seed's
// mean + logvar eps, which is how the seed reconstructed).
// Plus, per song: the default's negative ELBO (cross-entropies with one
// sampled z, plus KL, in nats) and KL; for the seed models, their own loss
// (sum of squared errors plus KL) and KL.

#include <vector>

#include <nlohmann/json.hpp>

#include "legato/autograd.hpp"
#include "vae_model.hpp"

namespace melody_vae {

struct MatchCounts {
  long correct_events = 0, events = 0, correct_all = 0, positions = 0;
  double events_accuracy() const { return events ? double(correct_events) / double(events) : 0.0; }
  double all_accuracy() const { return positions ? double(correct_all) / double(positions) : 0.0; }
  void add(bool correct, bool real_event) {
    ++positions;
    correct_all += correct;
    if (real_event) {
      ++events;
      correct_events += correct;
    }
  }
  nlohmann::json json() const {
    return {{"events", events_accuracy()}, {"all", all_accuracy()}, {"event_count", events}, {"positions", positions}};
  }
};

// Exact matches by position index 0..99 (real events only, z = mean): how
// accuracy falls along the melody.
struct ByPosition {
  std::vector<long> correct = std::vector<long>(kTwoSeqLength, 0), events = std::vector<long>(kTwoSeqLength, 0);
  void add(std::size_t i, bool ok) {
    ++events[i];
    correct[i] += ok;
  }
  double range(std::size_t from, std::size_t to) const {
    long c = 0, n = 0;
    for (std::size_t i = from; i < to; ++i) c += correct[i], n += events[i];
    return n ? double(c) / double(n) : 0.0;
  }
  nlohmann::json json() const {
    nlohmann::json a = nlohmann::json::array();
    for (std::size_t i = 0; i < correct.size(); ++i) a.push_back(events[i] ? double(correct[i]) / double(events[i]) : 0.0);
    return {{"positions_0_9", range(0, 10)},   {"positions_10_24", range(10, 25)}, {"positions_25_49", range(25, 50)},
            {"positions_50_99", range(50, 100)}, {"each", a}};
  }
};

struct Evaluation {
  std::string arch;
  bool categorical = false;  // mlp / conv: cross-entropy and the ELBO; seed archs: their squared error
  bool has_pitch = false, has_duration = false;
  MatchCounts pitch_mean, duration_mean, both_mean, pitch_sampled, duration_sampled;
  ByPosition pitch_by_position, duration_by_position;
  long songs = 0;
  double recon = 0, kl = 0;  // sums over songs; mlp: cross-entropy nats, seed: squared error

  double recon_per_song() const { return songs ? recon / double(songs) : 0.0; }
  double kl_per_song() const { return songs ? kl / double(songs) : 0.0; }

  nlohmann::json json() const {
    nlohmann::json j = {{"arch", arch}, {"songs", songs}, {"kl_per_song", kl_per_song()}};
    if (categorical) {
      j["recon_nll_per_song"] = recon_per_song();
      j["neg_elbo_per_song"] = recon_per_song() + kl_per_song();
      j["both_accuracy_mean_z"] = both_mean.json();
    } else {
      j["squared_error_per_song"] = recon_per_song();
      j["seed_loss_per_song"] = recon_per_song() + kl_per_song();
    }
    if (has_pitch) {
      j["pitch_accuracy_mean_z"] = pitch_mean.json();
      j["pitch_accuracy_by_position_mean_z"] = pitch_by_position.json();
      j["pitch_accuracy_sampled_z"] = pitch_sampled.json();
    }
    if (has_duration) {
      j["duration_accuracy_mean_z"] = duration_mean.json();
      j["duration_accuracy_by_position_mean_z"] = duration_by_position.json();
      j["duration_accuracy_sampled_z"] = duration_sampled.json();
    }
    return j;
  }

  // One line, for training logs.
  std::string brief() const {
    std::string s;
    if (has_pitch)
      s += legato::detail::concat("pitch ", pct(pitch_mean.events_accuracy()), " (sampled ",
                                  pct(pitch_sampled.events_accuracy()), ")  ");
    if (has_duration)
      s += legato::detail::concat("dur ", pct(duration_mean.events_accuracy()), " (sampled ",
                                  pct(duration_sampled.events_accuracy()), ")  ");
    s += legato::detail::concat(categorical ? "-ELBO " : "loss ", fixed(recon_per_song() + kl_per_song()), "  KL ",
                                fixed(kl_per_song()));
    return s;
  }

  std::string table() const {
    std::string s = legato::detail::concat("model ", arch, ", ", songs, " songs\n");
    auto row = [&](const char* what, const MatchCounts& mean, const MatchCounts& sampled, const ByPosition& at) {
      s += legato::detail::concat("  ", what, " accuracy  events: ", pct(mean.events_accuracy()), " (z = mean)  ",
                                  pct(sampled.events_accuracy()), " (z sampled)   all 100 positions: ",
                                  pct(mean.all_accuracy()), " / ", pct(sampled.all_accuracy()), "\n");
      s += legato::detail::concat("    by position (events, z = mean): 0-9 ", pct(at.range(0, 10)), "  10-24 ",
                                  pct(at.range(10, 25)), "  25-49 ", pct(at.range(25, 50)), "  50-99 ",
                                  pct(at.range(50, 100)), "\n");
    };
    if (has_pitch) row("pitch   ", pitch_mean, pitch_sampled, pitch_by_position);
    if (has_duration) row("duration", duration_mean, duration_sampled, duration_by_position);
    if (categorical) {
      s += legato::detail::concat("  pitch and duration both right, events: ", pct(both_mean.events_accuracy()),
                                  " (z = mean)\n");
      s += legato::detail::concat("  -ELBO ", fixed(recon_per_song() + kl_per_song()), " nats/song = reconstruction ",
                                  fixed(recon_per_song()), " + KL ", fixed(kl_per_song()), "\n");
    } else {
      s += legato::detail::concat("  seed loss (sum squared error + KL) ", fixed(recon_per_song() + kl_per_song()),
                                  " per song = ", fixed(recon_per_song()), " + KL ", fixed(kl_per_song()), "\n");
    }
    return s;
  }

 private:
  static std::string pct(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f%%", 100 * x);
    return b;
  }
  static std::string fixed(double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4f", x);
    return b;
  }
};

// Seed model: positions decoded with the seed's rounding.
inline Evaluation evaluate_seed(Model& model, const std::vector<const VaeSong*>& songs, std::uint64_t seed) {
  NoGradGuard no_grad;
  const Arch arch = model.config.arch;
  Evaluation e;
  e.arch = arch_name(arch);
  e.has_pitch = arch == Arch::seed_notes;
  e.has_duration = arch == Arch::seed_rhythm;
  Rng rng(seed);
  const std::size_t chunk = 64;
  for (std::size_t b = 0; b < songs.size(); b += chunk) {
    const std::size_t end = std::min(songs.size(), b + chunk);
    Tensor x = seed_batch(arch, songs, b, end);  // (N, 1)
    const SeedVae::Pass mean = model.seed->forward(x, rng, 0.f);
    const SeedVae::Pass sampled = model.seed->forward(x, rng, 1.f);
    auto [squared, kl] = SeedVae::loss_terms(sampled, x);
    e.recon += squared.item();
    e.kl += kl.item();
    for (std::size_t k = b; k < end; ++k) {
      const VaeSong& s = *songs[k];
      for (std::size_t i = 0; i < std::size_t(kTwoSeqLength); ++i) {
        const std::int64_t row = std::int64_t((k - b) * kTwoSeqLength + i);
        const int target = seed_target(arch, s, i);
        const bool real = i < s.events;
        MatchCounts& m = e.has_pitch ? e.pitch_mean : e.duration_mean;
        MatchCounts& r = e.has_pitch ? e.pitch_sampled : e.duration_sampled;
        const bool ok = seed_decode(arch, mean.x_hat.data()[row]) == target;
        m.add(ok, real);
        if (real) (e.has_pitch ? e.pitch_by_position : e.duration_by_position).add(i, ok);
        r.add(seed_decode(arch, sampled.x_hat.data()[row]) == target, real);
      }
    }
    e.songs += long(end - b);
  }
  return e;
}

// Default model: argmax per position.
inline Evaluation evaluate_sequence_vae(Model& model, const std::vector<const VaeSong*>& songs, std::uint64_t seed) {
  NoGradGuard no_grad;
  SequenceVae& vae = *model.sequence;
  const bool was_training = vae.is_training();
  vae.eval();
  Evaluation e;
  e.arch = arch_name(model.config.arch);
  e.categorical = true;
  e.has_pitch = e.has_duration = true;
  Rng rng(seed);
  const std::size_t chunk = 64;
  for (std::size_t b = 0; b < songs.size(); b += chunk) {
    const std::size_t end = std::min(songs.size(), b + chunk);
    const SequenceBatch batch = sequence_batch(songs, b, end);
    const SequenceVae::Posterior q = vae.encode(batch.pitch_in, batch.duration_in);
    const SequenceVae::Logits mean = vae.decode(q.mu);
    const SequenceVae::Logits sampled = vae.decode(SequenceVae::reparameterise(q, rng));
    e.kl += gaussian_kl(q.mu, q.logvar).item();
    const bool by_length = mean.length.defined();  // a length head: positions past the length are padding
    for (std::size_t k = b; k < end; ++k) {
      const VaeSong& s = *songs[k];
      const std::int64_t lane = std::int64_t(k - b);
      const std::size_t length_mean = by_length ? std::size_t(argmax_row(mean.length, lane)) : kTwoSeqLength;
      const std::size_t length_sampled = by_length ? std::size_t(argmax_row(sampled.length, lane)) : kTwoSeqLength;
      if (by_length) e.recon -= log_prob_row(sampled.length, lane, int(s.events));
      // The class predicted at position i: padding past the length, else the argmax.
      auto predicted = [&](const Tensor& l, std::size_t length, std::int64_t row, std::size_t i, int pad) {
        return i >= length ? pad : argmax_row(l, row);
      };
      for (std::size_t i = 0; i < std::size_t(kTwoSeqLength); ++i) {
        const std::int64_t row = std::int64_t((k - b) * kTwoSeqLength + i);
        const bool real = i < s.events;
        const int tp = s.pitch_target[i], td = s.duration_target[i];
        const int pad = model.config.vocab.pad();
        const bool p_ok = predicted(mean.pitch, length_mean, row, i, pad) == tp;
        const bool d_ok = predicted(mean.duration, length_mean, row, i, kDurationPad) == td;
        e.pitch_mean.add(p_ok, real);
        e.duration_mean.add(d_ok, real);
        e.both_mean.add(p_ok && d_ok, real);
        if (real) {
          e.pitch_by_position.add(i, p_ok);
          e.duration_by_position.add(i, d_ok);
        }
        e.pitch_sampled.add(predicted(sampled.pitch, length_sampled, row, i, pad) == tp, real);
        e.duration_sampled.add(predicted(sampled.duration, length_sampled, row, i, kDurationPad) == td, real);
        if (by_length && !real) continue;  // the length term above scores where the melody ends
        // An out-of-vocabulary pitch has no probability: leave it out of the NLL (it counts as wrong above).
        if (tp != kUnknown) e.recon -= log_prob_row(sampled.pitch, row, tp);
        if (td != kUnknown) e.recon -= log_prob_row(sampled.duration, row, td);
      }
    }
    e.songs += long(end - b);
  }
  vae.train(was_training);
  return e;
}

inline Evaluation evaluate_model(Model& model, const std::vector<const VaeSong*>& songs, std::uint64_t seed) {
  check(!songs.empty(), "evaluate: no songs to evaluate on");
  return model.config.is_seed() ? evaluate_seed(model, songs, seed) : evaluate_sequence_vae(model, songs, seed);
}

}  // namespace melody_vae

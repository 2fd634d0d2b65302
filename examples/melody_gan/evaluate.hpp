#pragma once
// Sampling and the statistics that tell a GAN's melodies apart from mode
// collapse, computed the same way on generated and on held-out real songs:
//   distinct      melodies that differ in at least one (pitch, duration) event
//   edit distance Levenshtein distance over events, averaged over all pairs
//   in scale      share of notes (rests excluded) whose pitch class is in
//                 C major / A minor (the corpus is transposed there)
//   rests         share of events that are rests
// plus the adversarial losses on held-out songs (eval mode: running BatchNorm
// statistics, no dropout) with fresh generator samples.

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "legato/autograd.hpp"
#include "legato/ops/loss.hpp"

#include "data.hpp"
#include "model.hpp"
#include "train.hpp"

namespace melody_gan {

// `count` samples from the generator(s) in eval mode, as Rows in the model's
// range. Separate parts draw their own z, as the seed did.
inline std::vector<Row> sample_rows(GanModel& model, long count, legato::Rng& rng) {
  legato::NoGradGuard no_grad;
  model.eval();
  const GanConfig& c = model.config;
  std::vector<Row> rows(std::size_t(count), Row(2 * std::size_t(c.seq_len)));
  for (const GanPart& part : model.parts) {
    const Tensor x = part.gan->generator->forward(latent_batch(count, c.latent, rng));  // (N, C*L)
    const std::size_t width = std::size_t(part.gan->channels() * c.seq_len);
    const std::size_t offset = std::size_t(part.first_channel * c.seq_len);
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::copy_n(x.data() + i * width, width, rows[i].begin() + long(offset));
  }
  return rows;
}

inline std::vector<Melody> decode_rows(const std::vector<Row>& rows, const GanConfig& c, Rounding rounding) {
  std::vector<Melody> out;
  for (const Row& r : rows) out.push_back(decode_row(r, c.seq_len, c.seed_range, rounding));
  return out;
}

// Levenshtein distance between two event sequences (two rows of the table).
inline int edit_distance(const Melody& a, const Melody& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = int(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = int(i);
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

struct MelodyStats {
  long melodies = 0;
  long distinct = 0;
  double mean_edit = 0;       // events
  double mean_edit_share = 0; // edit distance / longer length
  long notes = 0, rests = 0;
  double in_scale = 0;        // share of notes
  long distinct_pitches = 0;
  int lowest = 0, highest = 0;
  long distinct_durations = 0;
};

inline bool in_c_major(int midi) {
  static const bool scale[12] = {true, false, true, false, true, true, false, true, false, true, false, true};
  return scale[((midi % 12) + 12) % 12];
}

inline MelodyStats melody_stats(const std::vector<Melody>& melodies) {
  MelodyStats s;
  s.melodies = long(melodies.size());
  std::set<std::vector<std::pair<int, double>>> unique;
  std::set<int> pitches;
  std::set<double> durations;
  long inside = 0;
  s.lowest = 1000, s.highest = -1;
  for (const Melody& m : melodies) {
    std::vector<std::pair<int, double>> key;
    for (const auto& n : m) {
      key.emplace_back(n.pitch, n.quarters);
      durations.insert(n.quarters);
      if (n.pitch == legato::music::kRest) {
        ++s.rests;
        continue;
      }
      ++s.notes;
      inside += in_c_major(n.pitch);
      pitches.insert(n.pitch);
      s.lowest = std::min(s.lowest, n.pitch);
      s.highest = std::max(s.highest, n.pitch);
    }
    unique.insert(std::move(key));
  }
  s.distinct = long(unique.size());
  s.in_scale = s.notes ? double(inside) / double(s.notes) : 0;
  s.distinct_pitches = long(pitches.size());
  s.distinct_durations = long(durations.size());
  if (s.highest < 0) s.lowest = s.highest = 0;
  double total = 0, share = 0;
  long pairs = 0;
  for (std::size_t i = 0; i < melodies.size(); ++i)
    for (std::size_t j = i + 1; j < melodies.size(); ++j) {
      const int d = edit_distance(melodies[i], melodies[j]);
      total += d;
      share += double(d) / double(std::max<std::size_t>(1, std::max(melodies[i].size(), melodies[j].size())));
      ++pairs;
    }
  if (pairs) s.mean_edit = total / double(pairs), s.mean_edit_share = share / double(pairs);
  return s;
}

inline std::string format_stats(const MelodyStats& s) {
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "%ld melodies, %ld distinct, mean pairwise edit distance %.2f events (%.3f of the length), "
                "in C major/A minor %.3f of %ld notes, rests %.3f of events, %ld distinct pitches (MIDI %d-%d), "
                "%ld duration classes",
                s.melodies, s.distinct, s.mean_edit, s.mean_edit_share, s.in_scale, s.notes,
                (s.notes + s.rests) ? double(s.rests) / double(s.notes + s.rests) : 0.0, s.distinct_pitches, s.lowest,
                s.highest, s.distinct_durations);
  return buf;
}

// Losses on held-out rows in eval mode: loss_D = BCE(D(real), 1) + BCE(D(G(z)), 0),
// loss_G = BCE(D(G(z)), 1), with as many fakes as real rows.
struct PartLoss {
  std::string name;
  double d = 0, g = 0;
  double d_real_prob = 0, d_fake_prob = 0;  // mean sigmoid(D) on real and on fake
};

inline std::vector<PartLoss> held_out_losses(GanModel& model, const std::vector<Row>& rows, legato::Rng& rng) {
  std::vector<PartLoss> out;
  if (rows.size() < 2) return out;
  legato::NoGradGuard no_grad;
  model.eval();
  const GanConfig& c = model.config;
  std::vector<std::size_t> order(rows.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const std::int64_t n = std::int64_t(rows.size());
  const Tensor ones = Tensor::ones({n, 1}), zeros = Tensor::zeros({n, 1});
  auto mean_prob = [](const Tensor& logits) {
    double sum = 0;
    for (std::int64_t i = 0; i < logits.numel(); ++i) sum += 1.0 / (1.0 + std::exp(-double(logits.data()[i])));
    return sum / double(logits.numel());
  };
  for (const GanPart& part : model.parts) {
    const Tensor real = real_batch(rows, order, 0, rows.size(), part, c.seq_len);
    const Tensor fake = part.gan->generator->forward(latent_batch(n, c.latent, rng));
    const Tensor d_real = part.gan->discriminator->forward(real), d_fake = part.gan->discriminator->forward(fake);
    PartLoss l;
    l.name = part.name;
    l.d = double(legato::bce_with_logits(d_real, ones).data()[0]) + double(legato::bce_with_logits(d_fake, zeros).data()[0]);
    l.g = legato::bce_with_logits(d_fake, ones).data()[0];
    l.d_real_prob = mean_prob(d_real);
    l.d_fake_prob = mean_prob(d_fake);
    out.push_back(l);
  }
  return out;
}

}  // namespace melody_gan

#pragma once
// Adversarial training, per batch and per GAN part (spec §7.1):
//   for k in 1..d_steps:  fake = G(z);  loss_D = BCE(D(real), 1) + BCE(D(fake, detached), 0);  step D
//   loss_G = BCE(D(fake), 1) on the last fake (non-saturating);  step G
// With d_steps = 1 this is the seed's loop exactly (the G step reuses the fake
// of the D step). Extra D steps draw a fresh z and reuse the same real batch.
// Both networks stay in training mode (batch statistics, dropout on).
// Batches: 32 songs, reshuffled every epoch, the last partial batch kept
// unless it holds a single song (BatchNorm needs two).

#include <algorithm>
#include <memory>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "legato/ops/loss.hpp"
#include "legato/optim/adam.hpp"
#include "legato/util/progress.hpp"
#include "legato/util/random.hpp"
#include "legato/util/timer.hpp"

#include "data.hpp"
#include "model.hpp"

namespace melody_gan {

// Mean losses of one epoch for one part, and the losses of its first batch
// (what the seed's notebooks printed: they logged every 100 steps, i.e. step 0).
struct EpochLoss {
  double d = 0, g = 0;
  double d_first = 0, g_first = 0;
};

struct TrainResult {
  std::vector<std::vector<EpochLoss>> history;  // [part][epoch]
  long epochs_done = 0;
  long steps = 0;  // G updates per part
  double seconds = 0;
};

// Real samples of one part: the part's channels of the chosen rows, (B, C*L).
inline Tensor real_batch(const std::vector<Row>& rows, const std::vector<std::size_t>& order, std::size_t begin,
                         std::size_t end, const GanPart& part, long length) {
  const std::size_t width = std::size_t(part.gan->channels()) * std::size_t(length);
  const std::size_t offset = std::size_t(part.first_channel) * std::size_t(length);
  std::vector<float> values;
  values.reserve((end - begin) * width);
  for (std::size_t i = begin; i < end; ++i) {
    const Row& row = rows[order[i]];
    values.insert(values.end(), row.begin() + long(offset), row.begin() + long(offset + width));
  }
  return Tensor::from_vector({std::int64_t(end - begin), std::int64_t(width)}, values);
}

inline Tensor latent_batch(std::int64_t batch, long latent, legato::Rng& rng) {
  return Tensor::normal({batch, latent}, 0.f, 1.f, rng);
}

struct PartOptimisers {
  legato::optim::Adam g, d;
};

class Trainer {
 public:
  Trainer(GanModel& model, const GanData& data)
      : model_(model), data_(data), rng_(model.config.seed * 7919 + 3) {
    const GanConfig& c = model.config;
    for (const GanPart& p : model.parts)
      // Optimisers are not movable: build the pair in place.
      opt_.push_back(std::unique_ptr<PartOptimisers>(new PartOptimisers{
          legato::optim::Adam(p.gan->generator->parameters(), float(c.lr_g), float(c.beta1), float(c.beta2)),
          legato::optim::Adam(p.gan->discriminator->parameters(), float(c.lr_d), float(c.beta1), float(c.beta2))}));
    result_.history.resize(model.parts.size());
  }

  // Trains for the configured epochs, or until `time_budget` seconds (0 = none) have passed.
  const TrainResult& run(double time_budget, bool verbose) {
    const GanConfig& c = model_.config;
    legato::check(data_.train.size() >= 2, "train: the corpus has ", data_.train.size(),
                  " training song(s); a GAN batch needs at least 2");
    model_.train();
    std::vector<std::size_t> order(data_.train.size());
    std::iota(order.begin(), order.end(), 0);
    const long batches = long((order.size() + std::size_t(c.batch) - 1) / std::size_t(c.batch));
    legato::ProgressBar bar("train " + c.arch, c.epochs * batches);
    legato::Stopwatch clock;
    for (long epoch = 0; epoch < c.epochs; ++epoch) {
      shuffle(order);
      std::vector<EpochLoss> sums(model_.parts.size());
      long counted = 0;
      for (long b = 0; b < batches; ++b) {
        const std::size_t begin = std::size_t(b * c.batch);
        const std::size_t end = std::min(order.size(), begin + std::size_t(c.batch));
        if (end - begin < 2) continue;  // a single song: BatchNorm has no batch statistics
        for (std::size_t p = 0; p < model_.parts.size(); ++p) {
          const auto [ld, lg] = step(model_.parts[p], *opt_[p], real_batch(data_.train, order, begin, end,
                                                                           model_.parts[p], c.seq_len));
          legato::check(std::isfinite(ld) && std::isfinite(lg), "train: the ", model_.parts[p].name,
                        " GAN's loss is not finite at epoch ", epoch + 1, " (D ", ld, ", G ", lg, ")");
          sums[p].d += ld;
          sums[p].g += lg;
          if (counted == 0) sums[p].d_first = ld, sums[p].g_first = lg;
        }
        ++counted;
        ++result_.steps;
        bar.update(epoch * batches + b + 1, loss_text(sums, counted));
      }
      for (std::size_t p = 0; p < sums.size(); ++p) {
        sums[p].d /= double(counted);
        sums[p].g /= double(counted);
        result_.history[p].push_back(sums[p]);
      }
      result_.epochs_done = epoch + 1;
      const bool out_of_time = time_budget > 0 && clock.seconds() >= time_budget;
      if (verbose && ((epoch + 1) % 10 == 0 || epoch == 0 || epoch + 1 == c.epochs || out_of_time)) {
        bar.finish();
        std::fprintf(stderr, "epoch %ld:", epoch + 1);
        for (std::size_t p = 0; p < sums.size(); ++p)
          std::fprintf(stderr, "  %s D %.4f G %.4f (first batch D %.4f G %.4f)", model_.parts[p].name.c_str(),
                       sums[p].d, sums[p].g, sums[p].d_first, sums[p].g_first);
        std::fprintf(stderr, "\n");
      }
      if (out_of_time) break;
    }
    bar.finish();
    result_.seconds = clock.seconds();
    return result_;
  }

 private:
  // One D:G round on one part; returns (loss_D of the last D step, loss_G).
  std::pair<double, double> step(const GanPart& part, PartOptimisers& opt, const Tensor& real) {
    const GanConfig& c = model_.config;
    Gan& gan = *part.gan;
    const std::int64_t b = real.shape()[0];
    const Tensor ones = Tensor::ones({b, 1}), zeros = Tensor::zeros({b, 1});
    Tensor fake;
    double loss_d = 0;
    for (long k = 0; k < c.d_steps; ++k) {
      fake = gan.generator->forward(latent_batch(b, c.latent, rng_));  // (B, C*L)
      gan.discriminator->zero_grad();
      Tensor ld = legato::add(legato::bce_with_logits(gan.discriminator->forward(real), ones),
                              legato::bce_with_logits(gan.discriminator->forward(fake.detach()), zeros));
      ld.backward();
      opt.d.step();
      loss_d = ld.data()[0];
    }
    gan.generator->zero_grad();
    Tensor lg = legato::bce_with_logits(gan.discriminator->forward(fake), ones);
    lg.backward();  // also fills D's gradients; the next D step clears them
    opt.g.step();
    return {loss_d, double(lg.data()[0])};
  }

  void shuffle(std::vector<std::size_t>& order) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng_.below(i)]);
  }

  std::string loss_text(const std::vector<EpochLoss>& sums, long counted) const {
    std::string text;
    char buf[96];
    for (std::size_t p = 0; p < sums.size(); ++p) {
      std::snprintf(buf, sizeof buf, "%s%s D %.3f G %.3f", p ? "  " : "", model_.parts[p].name.c_str(),
                    sums[p].d / double(counted), sums[p].g / double(counted));
      text += buf;
    }
    return text;
  }

  GanModel& model_;
  const GanData& data_;
  legato::Rng rng_;
  std::vector<std::unique_ptr<PartOptimisers>> opt_;
  TrainResult result_;
};

}  // namespace melody_gan

#pragma once
// The three GANs of the seed (spec §7.2-7.4), for C channels of L events
// (C = 2 for the joint notes+durations GAN, 1 for each of the seed's separate
// GANs). A sample is a flat row (B, C*L): channel 0's L values, then channel 1's.
//
// The discriminators end in a raw score (logit): the seed's final Sigmoid is
// folded into the loss, bce_with_logits, which is the same function computed
// without overflow.
//
//   simple  G: z -> 256 BN ReLU -> 512 BN ReLU -> C*L tanh
//           D: C*L -> 512 LReLU -> 256 LReLU -> 1
//   conv    G: the simple G, then (B, C, L) -> Conv1d C->16 k3 ReLU -> Conv1d 16->C k3 (no activation)
//           D: C*L -> 512 LReLU -> 256 LReLU -> C*L ReLU, (B, C, L) -> Conv1d C->16 LReLU
//              -> 16->32 LReLU -> 32->1, mean over L
//   complex G: z -> 128 BN LReLU -> 256 BN LReLU -> 512 BN LReLU -> C*L tanh
//           D: C*L -> 512 LReLU -> 256 LReLU -> Dropout(0.0) -> 128 LReLU -> 64 LReLU -> Dropout(0.4) -> 1
// LeakyReLU slope 0.2 everywhere; BatchNorm with PyTorch's eps 1e-5, momentum 0.1.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "legato/nn.hpp"
#include "legato/ops/reduce.hpp"

#include "config.hpp"

namespace melody_gan {

namespace nn = legato::nn;
using legato::Tensor;

// (B, 1, L) -> (B, 1): the conv discriminator's average over time.
class MeanOverLength : public nn::UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return record_output(legato::mean(x, 2)); }
  std::string describe() const override { return "MeanOverLength"; }
};

namespace build {

template <class M, class... A>
std::shared_ptr<nn::UnaryModule> make(A&&... args) {
  return std::make_shared<M>(std::forward<A>(args)...);
}

inline std::shared_ptr<nn::UnaryModule> lrelu() { return make<nn::LeakyReLU>(0.2f); }

inline std::shared_ptr<nn::Sequential> generator(const GanConfig& c, int channels) {
  const std::int64_t out = channels * c.seq_len;
  auto g = std::make_shared<nn::Sequential>();
  if (c.arch == "complex") {
    g->add(make<nn::Linear>(c.latent, 128)).add(make<nn::BatchNorm1d>(128)).add(lrelu());
    g->add(make<nn::Linear>(128, 256)).add(make<nn::BatchNorm1d>(256)).add(lrelu());
    g->add(make<nn::Linear>(256, 512)).add(make<nn::BatchNorm1d>(512)).add(lrelu());
    g->add(make<nn::Linear>(512, out)).add(make<nn::Tanh>());
    return g;
  }
  g->add(make<nn::Linear>(c.latent, 256)).add(make<nn::BatchNorm1d>(256)).add(make<nn::ReLU>());
  g->add(make<nn::Linear>(256, 512)).add(make<nn::BatchNorm1d>(512)).add(make<nn::ReLU>());
  g->add(make<nn::Linear>(512, out)).add(make<nn::Tanh>());
  if (c.arch == "conv") {
    g->add(make<nn::Reshape>(legato::Shape{-1, channels, c.seq_len}));
    g->add(make<nn::Conv1d>(channels, 16, 3, 1, 1)).add(make<nn::ReLU>());
    g->add(make<nn::Conv1d>(16, channels, 3, 1, 1));
    g->add(make<nn::Reshape>(legato::Shape{-1, out}));
  }
  return g;
}

inline std::shared_ptr<nn::Sequential> discriminator(const GanConfig& c, int channels) {
  const std::int64_t in = channels * c.seq_len;
  auto d = std::make_shared<nn::Sequential>();
  d->add(make<nn::Linear>(in, 512)).add(lrelu());
  d->add(make<nn::Linear>(512, 256)).add(lrelu());
  if (c.arch == "simple") {
    d->add(make<nn::Linear>(256, 1));
  } else if (c.arch == "conv") {
    d->add(make<nn::Linear>(256, in)).add(make<nn::ReLU>());
    d->add(make<nn::Reshape>(legato::Shape{-1, channels, c.seq_len}));
    d->add(make<nn::Conv1d>(channels, 16, 3, 1, 1)).add(lrelu());
    d->add(make<nn::Conv1d>(16, 32, 3, 1, 1)).add(lrelu());
    d->add(make<nn::Conv1d>(32, 1, 3, 1, 1));
    d->add(make<MeanOverLength>());
  } else {  // complex; the dropout masks come from the run's seed
    d->add(make<nn::Dropout>(0.0f, c.seed * 2 + 11));
    d->add(make<nn::Linear>(256, 128)).add(lrelu());
    d->add(make<nn::Linear>(128, 64)).add(lrelu());
    d->add(make<nn::Dropout>(0.4f, c.seed * 2 + 12));
    d->add(make<nn::Linear>(64, 1));
  }
  return d;
}

}  // namespace build

// One generator and its discriminator over `channels` channels.
class Gan : public nn::Module {
 public:
  Gan(const GanConfig& c, int channels) : channels_(channels) {
    generator = register_module("generator", build::generator(c, channels));
    discriminator = register_module("discriminator", build::discriminator(c, channels));
  }
  std::shared_ptr<nn::Sequential> generator, discriminator;
  int channels() const { return channels_; }
  std::string describe() const override { return "Gan(" + std::to_string(channels_) + " channel(s))"; }

 private:
  int channels_;
};

// The whole model: one joint GAN ("joint", channels notes+durations), or the
// seed's two ("notes", "durations"). Each entry knows which channels of a Row it owns.
struct GanPart {
  std::string name;
  int first_channel;
  std::shared_ptr<Gan> gan;
};

class GanModel : public nn::Module {
 public:
  explicit GanModel(const GanConfig& c) : config(c) {
    legato::manual_seed(c.seed);  // the layers draw their initial weights from the global generator
    if (c.separate) {
      parts.push_back({"notes", 0, register_module("notes", std::make_shared<Gan>(c, 1))});
      parts.push_back({"durations", 1, register_module("durations", std::make_shared<Gan>(c, 1))});
    } else {
      parts.push_back({"joint", 0, register_module("joint", std::make_shared<Gan>(c, 2))});
    }
  }
  GanConfig config;
  std::vector<GanPart> parts;
  std::string describe() const override { return "GanModel(" + config.arch + ")"; }
};

}  // namespace melody_gan

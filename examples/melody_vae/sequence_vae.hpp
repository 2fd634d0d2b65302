#pragma once
// The categorical melody VAEs: `--arch mlp`, what the seed's report describes
// and intends, a VAE over the whole 100-event melody with a categorical output
// per position; and `--arch conv`, the default, the same with convolutional
// bodies (below).
//
// mlp:
//   encoder  pitch ids (B, L), duration ids (B, L)
//            -> embeddings (B, L, Ep) and (B, L, Ed), joined (B, L, Ep + Ed), flattened (B, L (Ep + Ed))
//            -> Linear -> H, LeakyReLU 0.2, Dropout, Linear H -> H, LeakyReLU 0.2
//            -> mu (B, Z), logvar (B, Z)
//   z        = mu + exp(0.5 logvar) * eps          (the correct reparameterisation)
//   decoder  z -> Linear Z -> H, LeakyReLU, Linear H -> H, LeakyReLU
//            -> pitch logits (B L, Vp) and duration logits (B L, Vd), one categorical per position
//            With tie_embeddings, the decoder emits a vector (B L, Ep) per position
//            instead, and its logits are the dot products with the input embeddings
//            (plus a bias per class): encoder and decoder share one pitch space.
//   loss     per song: sum over positions of the two cross-entropies (padding
//            included: the model must say where the melody ends) + beta * KL.
//            With beta = 1 this is the negative ELBO in nats.
//
// Vp = the training songs' pitch range + rest + padding; Vd = 8 durations + padding.
//
// With `conv` (`--arch conv`) the same VAE has convolutional bodies and one
// latent column per 4 events instead of one vector per melody:
//
//   encoder  embeddings (B, L, E) -> (B, E, L), E = Ep + Ed
//            -> Conv1d k5 -> (B, H, L) -> Conv1d k4 s2 -> (B, H, L/2) -> Conv1d k4 s2 -> (B, H, L/4) = h
//            -> local mu, logvar: Conv1d k3 -> (B, C, L/4) each, flattened to (B, C L/4)
//            -> global mu, logvar: mean of h over the positions (B, H) -> Linear -> (B, G) each
//            z = [local, global] (B, C L/4 + G) = (B, Z)
//   decoder  local (B, C, L/4) joined with global repeated at each position (B, G, L/4)
//            -> (B, C + G, L/4) -> Conv1d k3 -> (B, H, L/4)
//            -> ConvTranspose1d k4 s2 -> (B, H, L/2) -> ConvTranspose1d k4 s2 -> (B, H, L)
//            -> Conv1d k5 -> (B, E or Vp + Vd, L) -> per-position logits as above
//   (LeakyReLU 0.2 after every layer but the last of each side.)
// The weights are shared along the melody, so what the model learns about a
// motif at one position serves at every other: on ~1000 training songs this
// generalises to unseen melodies where the whole-melody MLP memorises
// (docs/results_vae.md). C is `latent`, G `global_latent`.
//
// With G > 0 the melody's length is modelled apart: a length head (Linear
// G -> H, LeakyReLU, Linear H -> L + 1) reads the global part and gives length
// logits (B, L + 1), and the per-position outputs are scored on the real
// events only: p(x | z) = p(n | z_global) Π_{i<n} p(x_i | z).
// Without it, each column would say on its own whether the melody has ended,
// and a prior draw of independent columns ends most melodies after a few
// events (measured: 12–22 events against 65 in the songs).

#include <memory>
#include <string>

#include "legato/nn/activation.hpp"
#include "legato/nn/conv.hpp"
#include "legato/nn/dropout.hpp"
#include "legato/nn/embedding.hpp"
#include "legato/nn/linear.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/elementwise.hpp"
#include "legato/ops/loss.hpp"
#include "legato/ops/matmul.hpp"
#include "legato/ops/reduce.hpp"
#include "legato/ops/shape.hpp"

namespace melody_vae {

using namespace legato;

struct SequenceVaeConfig {
  int length = 100;           // L, positions per melody
  int pitch_classes = 0;      // Vp
  int duration_classes = 9;   // Vd
  int pitch_embed = 16;       // Ep
  int duration_embed = 8;     // Ed
  int hidden = 512;           // H
  int latent = 64;            // Z
  float dropout = 0.f;        // after the first encoder layer, training only
  bool tie_embeddings = false;  // output logits through the input embeddings
  bool conv = false;          // convolutional bodies, latent (C, L / 4); L must be a multiple of 4
  int global_latent = 0;      // G, conv only: a latent vector for the whole melody next to the columns

  std::int64_t local_size() const { return conv ? std::int64_t(latent) * (length / 4) : latent; }  // C L/4 (or Z)
  std::int64_t latent_size() const { return local_size() + (conv ? global_latent : 0); }             // Z
};

class SequenceVae : public nn::Module {
 public:
  SequenceVae(const SequenceVaeConfig& c, Rng& rng, std::uint64_t dropout_seed)
      : config(c),
        pitch_embedding(register_module("pitch_embedding", std::make_shared<nn::Embedding>(c.pitch_classes, c.pitch_embed, rng))),
        duration_embedding(
            register_module("duration_embedding", std::make_shared<nn::Embedding>(c.duration_classes, c.duration_embed, rng))),
        drop(register_module("drop", std::make_shared<nn::Dropout>(c.dropout, dropout_seed))) {
    const std::int64_t L = c.length, H = c.hidden, Z = c.latent, E = c.pitch_embed + c.duration_embed;
    const std::int64_t pitch_width = c.tie_embeddings ? c.pitch_embed : c.pitch_classes;        // per position
    const std::int64_t duration_width = c.tie_embeddings ? c.duration_embed : c.duration_classes;  // per position
    auto linear = [&](const char* name, std::int64_t in, std::int64_t out) {
      return register_module(name, std::make_shared<nn::Linear>(in, out, true, rng));
    };
    auto conv1d = [&](const char* name, std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                      std::int64_t pad) {
      return register_module(name, std::make_shared<nn::Conv1d>(in, out, k, stride, pad, 1, true, rng));
    };
    auto up1d = [&](const char* name, std::int64_t in, std::int64_t out) {  // doubles the length
      return register_module(name, std::make_shared<nn::ConvTranspose1d>(in, out, 4, 2, 1, 0, true, 1, rng));
    };
    if (!c.conv) {
      enc1 = linear("enc1", L * E, H);
      enc2 = linear("enc2", H, H);
      fc_mu = linear("fc_mu", H, Z);
      fc_logvar = linear("fc_logvar", H, Z);
      dec1 = linear("dec1", Z, H);
      dec2 = linear("dec2", H, H);
      pitch_out = linear("pitch_out", H, L * pitch_width);
      duration_out = linear("duration_out", H, L * duration_width);
    } else {
      check(L % 4 == 0, "SequenceVae: the conv body needs a length divisible by 4, got ", L);
      conv_in = conv1d("conv_in", E, H, 5, 1, 2);
      conv_down1 = conv1d("conv_down1", H, H, 4, 2, 1);
      conv_down2 = conv1d("conv_down2", H, H, 4, 2, 1);
      conv_mu = conv1d("conv_mu", H, Z, 3, 1, 1);
      conv_logvar = conv1d("conv_logvar", H, Z, 3, 1, 1);
      conv_z = conv1d("conv_z", Z + c.global_latent, H, 3, 1, 1);
      if (c.global_latent > 0) {  // the code for the whole melody, and the length head that reads it
        global_mu = linear("global_mu", H, c.global_latent);
        global_logvar = linear("global_logvar", H, c.global_latent);
        length_hidden = linear("length_hidden", c.global_latent, H);
        length_head = linear("length_head", H, L + 1);
      }
      conv_up1 = up1d("conv_up1", H, H);
      conv_up2 = up1d("conv_up2", H, H);
      conv_out = conv1d("conv_out", H, pitch_width + duration_width, 5, 1, 2);
    }
    if (c.tie_embeddings) {
      pitch_bias = register_parameter("pitch_bias", Tensor::zeros({c.pitch_classes}));
      duration_bias = register_parameter("duration_bias", Tensor::zeros({c.duration_classes}));
    }
  }

  struct Posterior {
    Tensor mu, logvar;  // (B, Z) each
  };
  struct Logits {
    Tensor pitch;     // (B L, Vp)
    Tensor duration;  // (B L, Vd)
    Tensor length;    // (B, L + 1): events before the padding; undefined without a length head
  };

  // pitch, duration ids (B, L) -> q(z | x)
  Posterior encode(const Ids& pitch, const Ids& duration) {
    const std::int64_t B = pitch.shape[0], L = config.length;
    Tensor x = concat({pitch_embedding->forward(pitch), duration_embedding->forward(duration)}, 2);  // (B, L, Ep + Ed)
    if (config.conv) {
      Tensor h = drop->forward(leaky_relu(conv_in->forward(transpose(x, 1, 2)), 0.2f));  // (B, H, L)
      h = leaky_relu(conv_down1->forward(h), 0.2f);                                     // (B, H, L/2)
      h = leaky_relu(conv_down2->forward(h), 0.2f);                                     // (B, H, L/4)
      const std::int64_t Zl = config.local_size();
      Tensor mu = reshape(conv_mu->forward(h), {B, Zl}), logvar = reshape(conv_logvar->forward(h), {B, Zl});  // (B, C L/4)
      if (config.global_latent == 0) return {mu, logvar};
      const Tensor pooled = mean(h, 2);  // (B, H)
      return {concat({mu, global_mu->forward(pooled)}, 1), concat({logvar, global_logvar->forward(pooled)}, 1)};  // (B, Z)
    }
    x = reshape(x, {B, L * (config.pitch_embed + config.duration_embed)});  // (B, L (Ep + Ed))
    Tensor h = drop->forward(leaky_relu(enc1->forward(x), 0.2f));                                    // (B, H)
    h = leaky_relu(enc2->forward(h), 0.2f);                                                          // (B, H)
    return {fc_mu->forward(h), fc_logvar->forward(h)};
  }

  // z (B, Z) -> per-position logits
  Logits decode(const Tensor& z) {
    const std::int64_t B = z.shape()[0], L = config.length;
    Tensor p, d;  // per position: (B L, Ep) and (B L, Ed) tied, else the logits (B L, Vp) and (B L, Vd)
    Tensor length;
    if (config.conv) {
      const std::int64_t Zl = config.local_size(), G = config.global_latent;
      Tensor columns = reshape(G ? slice(z, 1, 0, Zl) : z, {B, config.latent, L / 4});  // (B, C, L/4)
      if (G) {
        const Tensor global = slice(z, 1, Zl, Zl + G);  // (B, G)
        // The global part alone says how long the melody is...
        length = length_head->forward(leaky_relu(length_hidden->forward(global), 0.2f));  // (B, L + 1)
        // ...and joins every column: (B, G, 1) + (1, 1, L/4) broadcasts to (B, G, L/4).
        columns = concat({columns, add(reshape(global, {B, G, 1}), Tensor::zeros({1, 1, L / 4}))}, 1);
      }
      Tensor h = leaky_relu(conv_z->forward(columns), 0.2f);  // (B, H, L/4)
      h = leaky_relu(conv_up1->forward(h), 0.2f);             // (B, H, L/2)
      h = leaky_relu(conv_up2->forward(h), 0.2f);             // (B, H, L)
      Tensor out = transpose(conv_out->forward(h), 1, 2);     // (B, L, Wp + Wd)
      const std::int64_t W = out.shape()[2], Wp = W - (config.tie_embeddings ? config.duration_embed
                                                                              : config.duration_classes);
      out = reshape(out, {B * L, W});
      p = slice(out, 1, 0, Wp);
      d = slice(out, 1, Wp, W);
    } else {
      Tensor h = leaky_relu(dec1->forward(z), 0.2f);  // (B, H)
      h = leaky_relu(dec2->forward(h), 0.2f);         // (B, H)
      const std::int64_t Wp = config.tie_embeddings ? config.pitch_embed : config.pitch_classes;
      const std::int64_t Wd = config.tie_embeddings ? config.duration_embed : config.duration_classes;
      p = reshape(pitch_out->forward(h), {B * L, Wp});
      d = reshape(duration_out->forward(h), {B * L, Wd});
    }
    if (!config.tie_embeddings) return {p, d, length};
    // (B L, Ep) x (Ep, Vp) + (Vp): scores against every pitch's embedding.
    return {add(matmul(p, transpose(pitch_embedding->weight)), pitch_bias),
            add(matmul(d, transpose(duration_embedding->weight)), duration_bias), length};
  }

  // z = mu + sigma * eps with sigma = exp(0.5 logvar): the form the seed got wrong.
  static Tensor reparameterise(const Posterior& q, Rng& rng) {
    Tensor eps = Tensor::normal(q.mu.shape(), 0.f, 1.f, rng);  // (B, Z)
    return add(q.mu, mul(legato::exp(mul(q.logvar, 0.5f)), eps));
  }

  std::string describe() const override { return "SequenceVae"; }

  SequenceVaeConfig config;
  std::shared_ptr<nn::Embedding> pitch_embedding, duration_embedding;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> enc1, enc2, fc_mu, fc_logvar, dec1, dec2, pitch_out, duration_out;  // mlp body
  std::shared_ptr<nn::Linear> global_mu, global_logvar, length_hidden, length_head;               // conv, G > 0
  std::shared_ptr<nn::Conv1d> conv_in, conv_down1, conv_down2, conv_mu, conv_logvar, conv_z, conv_out;  // conv body
  std::shared_ptr<nn::ConvTranspose1d> conv_up1, conv_up2;
  Tensor pitch_bias, duration_bias;  // (Vp), (Vd): only with tie_embeddings
};

}  // namespace melody_vae

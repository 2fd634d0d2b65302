#pragma once
// The default melody VAE (`--arch mlp`): what the seed's report describes and
// intends, a VAE over the whole 100-event melody with a categorical output.
//
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

#include <memory>
#include <string>

#include "legato/nn/activation.hpp"
#include "legato/nn/dropout.hpp"
#include "legato/nn/embedding.hpp"
#include "legato/nn/linear.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/elementwise.hpp"
#include "legato/ops/loss.hpp"
#include "legato/ops/matmul.hpp"
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
};

class SequenceVae : public nn::Module {
 public:
  SequenceVae(const SequenceVaeConfig& c, Rng& rng, std::uint64_t dropout_seed)
      : config(c),
        pitch_embedding(register_module("pitch_embedding", std::make_shared<nn::Embedding>(c.pitch_classes, c.pitch_embed, rng))),
        duration_embedding(
            register_module("duration_embedding", std::make_shared<nn::Embedding>(c.duration_classes, c.duration_embed, rng))),
        enc1(register_module("enc1", std::make_shared<nn::Linear>(std::int64_t(c.length) * (c.pitch_embed + c.duration_embed),
                                                                   c.hidden, true, rng))),
        enc2(register_module("enc2", std::make_shared<nn::Linear>(c.hidden, c.hidden, true, rng))),
        fc_mu(register_module("fc_mu", std::make_shared<nn::Linear>(c.hidden, c.latent, true, rng))),
        fc_logvar(register_module("fc_logvar", std::make_shared<nn::Linear>(c.hidden, c.latent, true, rng))),
        dec1(register_module("dec1", std::make_shared<nn::Linear>(c.latent, c.hidden, true, rng))),
        dec2(register_module("dec2", std::make_shared<nn::Linear>(c.hidden, c.hidden, true, rng))),
        pitch_out(register_module(
            "pitch_out", std::make_shared<nn::Linear>(
                             c.hidden, std::int64_t(c.length) * (c.tie_embeddings ? c.pitch_embed : c.pitch_classes), true, rng))),
        duration_out(register_module(
            "duration_out",
            std::make_shared<nn::Linear>(
                c.hidden, std::int64_t(c.length) * (c.tie_embeddings ? c.duration_embed : c.duration_classes), true, rng))),
        drop(register_module("drop", std::make_shared<nn::Dropout>(c.dropout, dropout_seed))) {
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
  };

  // pitch, duration ids (B, L) -> q(z | x)
  Posterior encode(const Ids& pitch, const Ids& duration) {
    const std::int64_t B = pitch.shape[0], L = config.length;
    Tensor x = concat({pitch_embedding->forward(pitch), duration_embedding->forward(duration)}, 2);  // (B, L, Ep + Ed)
    x = reshape(x, {B, L * (config.pitch_embed + config.duration_embed)});                          // (B, L (Ep + Ed))
    Tensor h = drop->forward(leaky_relu(enc1->forward(x), 0.2f));                                    // (B, H)
    h = leaky_relu(enc2->forward(h), 0.2f);                                                          // (B, H)
    return {fc_mu->forward(h), fc_logvar->forward(h)};
  }

  // z (B, Z) -> per-position logits
  Logits decode(const Tensor& z) {
    const std::int64_t B = z.shape()[0], L = config.length;
    Tensor h = leaky_relu(dec1->forward(z), 0.2f);  // (B, H)
    h = leaky_relu(dec2->forward(h), 0.2f);         // (B, H)
    if (!config.tie_embeddings)
      return {reshape(pitch_out->forward(h), {B * L, config.pitch_classes}),
              reshape(duration_out->forward(h), {B * L, config.duration_classes})};
    // (B L, Ep) x (Ep, Vp) + (Vp): scores against every pitch's embedding.
    Tensor p = reshape(pitch_out->forward(h), {B * L, config.pitch_embed});
    Tensor d = reshape(duration_out->forward(h), {B * L, config.duration_embed});
    return {add(matmul(p, transpose(pitch_embedding->weight)), pitch_bias),
            add(matmul(d, transpose(duration_embedding->weight)), duration_bias)};
  }

  // z = mu + sigma * eps with sigma = exp(0.5 logvar): the form the seed got wrong.
  static Tensor reparameterise(const Posterior& q, Rng& rng) {
    Tensor eps = Tensor::normal(q.mu.shape(), 0.f, 1.f, rng);  // (B, Z)
    return add(q.mu, mul(legato::exp(mul(q.logvar, 0.5f)), eps));
  }

  std::string describe() const override { return "SequenceVae"; }

  SequenceVaeConfig config;
  std::shared_ptr<nn::Embedding> pitch_embedding, duration_embedding;
  std::shared_ptr<nn::Linear> enc1, enc2, fc_mu, fc_logvar, dec1, dec2, pitch_out, duration_out;
  std::shared_ptr<nn::Dropout> drop;
  Tensor pitch_bias, duration_bias;  // (Vp), (Vd): only with tie_embeddings
};

}  // namespace melody_vae

#pragma once
// The seed's second-generation VAE (spec §5), reproduced with its bugs, for
// comparison with the default model. One class serves both of the seed's
// networks: `--arch seed-notes` models the normalised pitch stream
// ((note - 50) / 49), `--arch seed-rhythm` the duration stream (index / 7).
//
// input_dim is 1: every one of the L = 100 positions goes through the same
// scalar network on its own, so the model sees no melody, only single values.
//   encoder  x (N, 1) -> Linear 1->H, LeakyReLU 0.2, Linear H->H, LeakyReLU 0.2
//            -> mean (N, Lz) = FC_mean, logvar (N, Lz) = FC_var        (N = B * 100)
//   z        = mean + logvar * eps,  eps ~ N(0, I)     <- the seed's bug: logvar
//            used as the standard deviation (correct: mean + exp(0.5 logvar) eps).
//            eps is drawn in evaluation too, so reconstructions are stochastic.
//   decoder  z -> Linear Lz->H, LeakyReLU, Linear H->H, LeakyReLU, Linear H->1, Sigmoid
//   loss     sum (x_hat - x)^2 + KL,  KL = -0.5 sum (1 + logvar - mean^2 - e^logvar),
//            both summed over the batch, the 100 positions and Lz; KL weight 1.
//
// Speed, with the same mathematics: the encoder's input is one scalar, and a
// batch of 3200 positions holds only some 40 distinct values (the pitches of
// the corpus), so the encoder runs once per distinct value and its outputs
// are gathered back to the positions (gather_rows adds their gradients back
// together). The decoder cannot share: every position draws its own eps.
// That saves about 55% of the work of the seed-notes model; forward(...,
// share = false) runs the encoder on every row, as the seed did, and the
// smoke test checks that both give the same loss and gradients.
//
// Tensor names follow the PyTorch tutorial code the seed used
// ("Encoder.FC_input.weight", ..., "Decoder.FC_output.bias"), so a converted
// vae_model.pth loads by name.

#include <map>
#include <memory>
#include <string>

#include "legato/nn/activation.hpp"
#include "legato/nn/linear.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/elementwise.hpp"
#include "legato/ops/loss.hpp"
#include "legato/ops/shape.hpp"

namespace melody_vae {

using namespace legato;

class SeedEncoder : public nn::Module {
 public:
  SeedEncoder(int hidden, int latent, Rng& rng)
      : fc_input(register_module("FC_input", std::make_shared<nn::Linear>(1, hidden, true, rng))),
        fc_input2(register_module("FC_input2", std::make_shared<nn::Linear>(hidden, hidden, true, rng))),
        fc_mean(register_module("FC_mean", std::make_shared<nn::Linear>(hidden, latent, true, rng))),
        fc_var(register_module("FC_var", std::make_shared<nn::Linear>(hidden, latent, true, rng))) {}

  // x (N, 1) -> mean, logvar (N, Lz)
  std::pair<Tensor, Tensor> forward(const Tensor& x) {
    Tensor h = leaky_relu(fc_input->forward(x), 0.2f);   // (N, H)
    h = leaky_relu(fc_input2->forward(h), 0.2f);         // (N, H)
    return {fc_mean->forward(h), fc_var->forward(h)};  // (N, Lz) each
  }
  std::string describe() const override { return "SeedEncoder"; }

 private:
  std::shared_ptr<nn::Linear> fc_input, fc_input2, fc_mean, fc_var;
};

class SeedDecoder : public nn::Module {
 public:
  SeedDecoder(int hidden, int latent, Rng& rng)
      : fc_hidden(register_module("FC_hidden", std::make_shared<nn::Linear>(latent, hidden, true, rng))),
        fc_hidden2(register_module("FC_hidden2", std::make_shared<nn::Linear>(hidden, hidden, true, rng))),
        fc_output(register_module("FC_output", std::make_shared<nn::Linear>(hidden, 1, true, rng))) {}

  // z (N, Lz) -> x_hat (N, 1) in (0, 1)
  Tensor forward(const Tensor& z) {
    Tensor h = leaky_relu(fc_hidden->forward(z), 0.2f);  // (N, H)
    h = leaky_relu(fc_hidden2->forward(h), 0.2f);        // (N, H)
    return sigmoid(fc_output->forward(h));             // (N, 1)
  }
  std::string describe() const override { return "SeedDecoder"; }

 private:
  std::shared_ptr<nn::Linear> fc_hidden, fc_hidden2, fc_output;
};

class SeedVae : public nn::Module {
 public:
  SeedVae(int hidden, int latent, Rng& rng)
      : encoder(register_module("Encoder", std::make_shared<SeedEncoder>(hidden, latent, rng))),
        decoder(register_module("Decoder", std::make_shared<SeedDecoder>(hidden, latent, rng))),
        latent_(latent) {}

  struct Pass {
    Tensor x_hat, mean, logvar;  // (N, 1), (N, Lz), (N, Lz)
  };

  // The distinct rows of a column x (N, 1): values (U, 1) and, per row, the
  // index of its value (N).
  static std::pair<Tensor, Ids> distinct_rows(const Tensor& x) {
    std::map<float, std::int32_t> seen;
    Ids index{{x.shape()[0]}, {}};
    std::vector<float> values;
    for (std::int64_t i = 0; i < x.shape()[0]; ++i) {
      const auto [it, fresh] = seen.emplace(x.data()[i], std::int32_t(values.size()));
      if (fresh) values.push_back(x.data()[i]);
      index.values.push_back(it->second);
    }
    return {Tensor::from_vector({std::int64_t(values.size()), 1}, values), index};
  }

  // x (N, 1) -> mean, logvar (N, Lz); `share` runs the encoder once per distinct value.
  std::pair<Tensor, Tensor> encode(const Tensor& x, bool share = true) {
    check(x.dim() == 2 && x.shape()[1] == 1, "SeedVae: input must be (N, 1), got ", shape_str(x.shape()));
    if (!share) return encoder->forward(x);
    auto [values, index] = distinct_rows(x);
    auto [mean, logvar] = encoder->forward(values);  // (U, Lz) each
    return {gather_rows(mean, index), gather_rows(logvar, index)};
  }

  // The seed's forward: z = mean + logvar * noise_scale * eps. noise_scale 1 is
  // the seed (training and its reconstructions); 0 gives z = mean, a
  // deterministic reconstruction that the seed never made.
  Pass forward(const Tensor& x, Rng& rng, float noise_scale = 1.f, bool share = true) {
    auto [mean, logvar] = encode(x, share);
    Tensor z = mean;
    if (noise_scale != 0.f) {
      Tensor eps = Tensor::normal(mean.shape(), 0.f, noise_scale, rng);  // (N, Lz)
      z = add(mean, mul(logvar, eps));  // the bug, kept on purpose (see the top)
    }
    return {decoder->forward(z), mean, logvar};
  }

  // Sum of squared errors (the seed's "BCE" label) and the summed KL.
  static std::pair<Tensor, Tensor> loss_terms(const Pass& p, const Tensor& x) {
    Tensor squared = mul(mse_loss(p.x_hat, x), float(x.numel()));  // mean -> sum
    return {squared, gaussian_kl(p.mean, p.logvar)};
  }

  int latent() const { return latent_; }
  std::string describe() const override { return "SeedVae"; }

  std::shared_ptr<SeedEncoder> encoder;
  std::shared_ptr<SeedDecoder> decoder;

 private:
  int latent_;
};

}  // namespace melody_vae

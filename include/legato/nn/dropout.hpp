#pragma once
// nn::Dropout: inverted dropout (kept elements scaled by 1/(1-p)), active only
// in training mode, drawing its masks from its own seeded generator so that a
// run is reproducible and independent of other users of global_rng().

#include "legato/nn/module.hpp"
#include "legato/ops/dropout.hpp"

namespace legato::nn {

class Dropout : public UnaryModule {
 public:
  explicit Dropout(float p = 0.5f, std::uint64_t seed = 0x0d50) : p_(p), rng_(seed) {
    check(p >= 0.f && p <= 1.f, "Dropout: probability ", p, " is outside [0, 1]");
  }

  Tensor forward(const Tensor& x) override {
    if (!training_ || p_ == 0.f) return record_output(x);
    return record_output(dropout(x, dropout_mask(x.shape(), p_, rng_)));
  }

  // Restart the mask sequence (tests use it to fix the mask).
  void reseed(std::uint64_t seed) { rng_.reseed(seed); }
  float p() const { return p_; }

  std::string describe() const override {
    std::ostringstream s;
    s << "Dropout(p=" << p_ << ")";
    return s.str();
  }

 private:
  float p_;
  Rng rng_;
};

}  // namespace legato::nn

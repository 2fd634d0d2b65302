#pragma once
// Activation modules, so that Sequential can hold them: ReLU, LeakyReLU,
// Tanh, Sigmoid. They own no parameters; each forwards to its op.

#include "legato/nn/module.hpp"
#include "legato/ops/activations.hpp"

namespace legato::nn {

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return record_output(relu(x)); }
  std::string describe() const override { return "ReLU"; }
};

class LeakyReLU : public UnaryModule {
 public:
  explicit LeakyReLU(float negative_slope = 0.01f) : slope_(negative_slope) {}
  Tensor forward(const Tensor& x) override { return record_output(leaky_relu(x, slope_)); }
  std::string describe() const override {
    std::ostringstream s;
    s << "LeakyReLU(slope=" << slope_ << ")";
    return s.str();
  }

 private:
  float slope_;
};

class Tanh : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return record_output(legato::tanh(x)); }
  std::string describe() const override { return "Tanh"; }
};

class Sigmoid : public UnaryModule {
 public:
  Tensor forward(const Tensor& x) override { return record_output(sigmoid(x)); }
  std::string describe() const override { return "Sigmoid"; }
};

}  // namespace legato::nn

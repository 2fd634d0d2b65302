#pragma once
// nn::Linear: y = x W^T + b over the last axis, (..., I) -> (..., O), with
// PyTorch's layout W (O, I) and its default initialisation (init.hpp).

#include "legato/nn/init.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/matmul.hpp"

namespace legato::nn {

class Linear : public UnaryModule {
 public:
  Tensor weight;  // (O, I)
  Tensor bias;    // (O,), undefined without bias

  Linear(std::int64_t in_features, std::int64_t out_features, bool with_bias = true, Rng& rng = global_rng())
      : in_(in_features), out_(out_features) {
    check(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in=", in_features,
          ", out=", out_features);
    weight = Tensor::empty({out_features, in_features});
    init::kaiming_uniform_(weight, std::sqrt(5.f), rng);
    weight = register_parameter("weight", weight);
    if (with_bias) {
      bias = Tensor::empty({out_features});
      init::bias_uniform_(bias, weight.shape(), rng);
      bias = register_parameter("bias", bias);
    }
  }

  // x (..., I) -> (..., O)
  Tensor forward(const Tensor& x) override { return record_output(linear(x, weight, bias)); }

  std::string describe() const override {
    return "Linear(in=" + std::to_string(in_) + ", out=" + std::to_string(out_) +
           (bias.defined() ? ", bias)" : ", no bias)");
  }

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }

 private:
  std::int64_t in_, out_;
};

}  // namespace legato::nn

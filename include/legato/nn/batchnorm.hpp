#pragma once
// nn::BatchNorm1d over (N, C) or (N, C, L), as PyTorch's: training mode
// normalises with the batch statistics (biased variance) and updates the
// running statistics with momentum (unbiased variance); eval mode normalises
// with the running statistics. The op is ops/batchnorm.hpp.
//
// State dict: weight, bias, running_mean, running_var. PyTorch's
// num_batches_tracked is omitted (see module.hpp).

#include "legato/nn/init.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/batchnorm.hpp"

namespace legato::nn {

class BatchNorm1d : public UnaryModule {
 public:
  Tensor weight, bias;               // (C,): 1 and 0 at start
  Tensor running_mean, running_var;  // (C,): 0 and 1 at start

  explicit BatchNorm1d(std::int64_t num_features, float eps = 1e-5f, float momentum = 0.1f)
      : features_(num_features), eps_(eps), momentum_(momentum) {
    check(num_features > 0, "BatchNorm1d: num_features must be positive, got ", num_features);
    check(eps > 0.f && momentum >= 0.f && momentum <= 1.f, "BatchNorm1d: eps ", eps, " must be > 0 and momentum ",
          momentum, " within [0, 1]");
    weight = register_parameter("weight", Tensor::ones({num_features}));
    bias = register_parameter("bias", Tensor::zeros({num_features}));
    running_mean = register_buffer("running_mean", Tensor::zeros({num_features}));
    running_var = register_buffer("running_var", Tensor::ones({num_features}));
  }

  // x (N, C) or (N, C, L) -> same shape
  Tensor forward(const Tensor& x) override {
    return record_output(batch_norm(x, weight, bias, running_mean, running_var, training_, momentum_, eps_));
  }

  std::string describe() const override {
    std::ostringstream s;
    s << "BatchNorm1d(" << features_ << ", eps=" << eps_ << ", momentum=" << momentum_ << ")";
    return s.str();
  }

 private:
  std::int64_t features_;
  float eps_, momentum_;
};

}  // namespace legato::nn

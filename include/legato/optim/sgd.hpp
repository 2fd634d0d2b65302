#pragma once
// Stochastic gradient descent with momentum and Nesterov momentum, exactly
// as torch.optim.SGD (dampening 0). For each parameter p with gradient g:
//
//   d = g + weight_decay * p                  (L2 penalty folded into the gradient)
//   b = momentum * b + d                      (b starts at 0, so the first b is d)
//   d = nesterov ? d + momentum * b : b       (when momentum > 0)
//   p = p - lr * d
//
// State per parameter (momentum > 0 only): "momentum_buffer", shaped like p.

#include "legato/optim/optimizer.hpp"
#ifdef LEGATO_CUDA
#include "legato/cuda/optim.hpp"
#endif

namespace legato::optim {

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, float lr, float momentum = 0.f, bool nesterov = false, float weight_decay = 0.f)
      : Optimizer("SGD", std::move(params), lr), momentum_(momentum), nesterov_(nesterov), weight_decay_(weight_decay) {
    check(momentum >= 0.f, "SGD: momentum must be >= 0, got ", momentum);
    check(weight_decay >= 0.f, "SGD: weight_decay must be >= 0, got ", weight_decay);
    check(!nesterov || momentum > 0.f, "SGD: Nesterov momentum needs momentum > 0");
    if (momentum_ > 0.f)
      for (std::size_t i = 0; i < this->params().size(); ++i) add_slot(i, "momentum_buffer", this->params()[i].shape());
  }

  void step() override {
    const float lr = this->lr(), mu = momentum_, wd = weight_decay_;
#ifdef LEGATO_CUDA
    if (device() == Device::cuda)  // one fused kernel per parameter (cuda/optim.hpp)
      return for_each_param(
          [&](std::size_t i, float* p, const float* g, std::int64_t n) {
            float* b = mu > 0.f ? slot_on(i, 0, Device::cuda).data() : nullptr;
            cuda::sgd_step(p, g, b, n, lr, mu, wd, nesterov_, /*first_step=*/false);  // b starts at 0: same update
          },
          Device::cuda);
#endif
    for_each_param([&](std::size_t i, float* p, const float* g, std::int64_t n) {
      float* b = mu > 0.f ? slot_on(i, 0, Device::cpu).data() : nullptr;  // (back from the GPU if it was there)
      for (std::int64_t j = 0; j < n; ++j) {
        float d = wd != 0.f ? g[j] + wd * p[j] : g[j];
        if (b) {
          b[j] = mu * b[j] + d;
          d = nesterov_ ? d + mu * b[j] : b[j];
        }
        p[j] = p[j] - lr * d;
      }
    });
  }

  float momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }
  float weight_decay() const { return weight_decay_; }

 private:
  float momentum_;
  bool nesterov_;
  float weight_decay_;
};

}  // namespace legato::optim

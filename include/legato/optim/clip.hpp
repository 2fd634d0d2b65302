#pragma once
// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_:
//
//   total = sqrt(sum over parameters of ||grad||^2)
//   if total > max_norm: every grad *= max_norm / (total + 1e-6)
//
// It returns the total norm before clipping, so a training loop can log it.
// Parameters without a gradient are skipped. A NaN or infinite norm spreads
// into the gradients, as in PyTorch, unless error_if_nonfinite is set.

#include <cmath>
#include <vector>

#include "legato/autograd.hpp"
#include "legato/tensor.hpp"

namespace legato::optim {

inline float clip_grad_norm(const std::vector<Tensor>& params, float max_norm, bool error_if_nonfinite = false) {
  check(max_norm >= 0.f, "clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  double sum_sq = 0.0;  // accumulated in double: millions of squares lose nothing
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    check(g.is_cpu(), "clip_grad_norm: a gradient is on ", device_name(g.device()));
    const float* d = g.data();
    for (std::int64_t i = 0; i < g.numel(); ++i) sum_sq += double(d[i]) * double(d[i]);
    grads.push_back(g);
  }
  const float total = static_cast<float>(std::sqrt(sum_sq));
  check(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm: the total gradient norm is ", total,
        " (NaN or infinite)");
  const float coef = max_norm / (total + 1e-6f);
  if (!(coef < 1.f) && !std::isnan(coef)) return total;  // within bounds: gradients untouched
  for (Tensor& g : grads) {
    float* d = g.data();
    for (std::int64_t i = 0; i < g.numel(); ++i) d[i] *= coef;
  }
  return total;
}

}  // namespace legato::optim

// Optimiser updates: SGD (with momentum, Nesterov, weight decay) and Adam /
// AdamW.
//
// Strategy: one elementwise kernel per parameter tensor that reads the
// parameter, its gradient and its state once and writes them back once, with
// the bias corrections of Adam computed on the host (they depend only on the
// step). Memory-bound; nothing to tile. Per element the arithmetic follows
// torch.optim exactly, in the same order, so results match the CPU
// optimisers to rounding.

#include <cmath>

#include "common.cuh"
#include "legato/cuda/optim.hpp"

namespace legato::cuda {

namespace {

__global__ void sgd_kernel(float* p, const float* grad, float* buf, std::int64_t n, float lr, float momentum,
                           float weight_decay, bool nesterov, bool first_step) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    float g = grad[i];
    if (weight_decay != 0.f) g += weight_decay * p[i];
    if (momentum != 0.f) {
      const float b = first_step ? g : momentum * buf[i] + g;
      buf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    p[i] -= lr * g;
  }
}

__global__ void adam_kernel(float* p, const float* grad, float* m, float* v, std::int64_t n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, bool decoupled, float bias1, float bias2_sqrt) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    float g = grad[i];
    float param = p[i];
    if (weight_decay != 0.f) {
      if (decoupled)
        param -= lr * weight_decay * param;
      else
        g += weight_decay * param;
    }
    const float mi = beta1 * m[i] + (1.f - beta1) * g;
    const float vi = beta2 * v[i] + (1.f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // torch: p -= (lr / bias1) * m / (sqrt(v) / sqrt(bias2) + eps)
    p[i] = param - (lr / bias1) * mi / (sqrtf(vi) / bias2_sqrt + eps);
  }
}

}  // namespace

void sgd_step(float* p, const float* grad, float* buf, std::int64_t n, float lr, float momentum, float weight_decay,
              bool nesterov, bool first_step) {
  check(n >= 0, "cuda sgd_step: negative size ", n);
  check(momentum == 0.f || buf != nullptr, "cuda sgd_step: momentum ", momentum, " needs a momentum buffer");
  check(!nesterov || momentum > 0.f, "cuda sgd_step: Nesterov momentum needs momentum > 0");
  if (n == 0) return;
  sgd_kernel<<<detail::grid_for(n, 256), 256>>>(p, grad, buf, n, lr, momentum, weight_decay, nesterov, first_step);
  LEGATO_CUDA_LAUNCHED("sgd_kernel");
}

void adam_step(float* p, const float* grad, float* m, float* v, std::int64_t n, float lr, float beta1, float beta2,
               float eps, float weight_decay, std::int64_t step, bool decoupled) {
  check(n >= 0, "cuda adam_step: negative size ", n);
  check(step >= 1, "cuda adam_step: step counts from 1, got ", step);
  check(beta1 >= 0.f && beta1 < 1.f && beta2 >= 0.f && beta2 < 1.f, "cuda adam_step: betas (", beta1, ", ", beta2,
        ") must lie in [0, 1)");
  if (n == 0) return;
  const double s = static_cast<double>(step);
  const float bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), s));
  const float bias2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(beta2), s)));
  adam_kernel<<<detail::grid_for(n, 256), 256>>>(p, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled,
                                                 bias1, bias2_sqrt);
  LEGATO_CUDA_LAUNCHED("adam_kernel");
}

}  // namespace legato::cuda

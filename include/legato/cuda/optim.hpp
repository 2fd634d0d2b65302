#pragma once
// Optimiser updates on the device, one fused kernel per parameter tensor.
// Defined in kernels/optim.cu. PyTorch's definitions (torch.optim.SGD, Adam).

#include <cstdint>

namespace legato::cuda {

// g = grad + weight_decay p
// momentum 0:  p -= lr g
// otherwise:   buf = momentum buf + g (buf = g on the first step), then
//              p -= lr (nesterov ? g + momentum buf : buf)
// buf (n) may be null when momentum is 0. Updates p (and buf) in place.
void sgd_step(float* p, const float* grad, float* buf, std::int64_t n, float lr, float momentum, float weight_decay,
              bool nesterov, bool first_step);

// step counts from 1. With decoupled (AdamW) the decay is p -= lr wd p;
// otherwise (Adam) it is added to the gradient, g = grad + wd p. Then
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
//   p -= lr (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
// Updates p, m, v in place.
void adam_step(float* p, const float* grad, float* m, float* v, std::int64_t n, float lr, float beta1, float beta2,
               float eps, float weight_decay, std::int64_t step, bool decoupled = false);

}  // namespace legato::cuda

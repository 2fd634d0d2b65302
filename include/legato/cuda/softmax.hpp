#pragma once
// Softmax and log-softmax along the last axis, forward and backward.
// Defined in kernels/softmax.cu. x is seen as (rows, V): every row is
// normalised on its own.

#include <cstdint>

namespace legato::cuda {

// y = softmax(x) or log_softmax(x) per row. Writes y (=); y may equal x.
void softmax_forward(const float* x, std::int64_t rows, std::int64_t V, float* y, bool log = false);

// From the forward's output y and the output gradient g, writes dx (=):
//   softmax:      dx = y * (g - sum_v g y)
//   log_softmax:  dx = g - exp(y) * sum_v g
void softmax_backward(const float* y, const float* g, std::int64_t rows, std::int64_t V, float* dx, bool log = false);

}  // namespace legato::cuda

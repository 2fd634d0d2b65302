#pragma once
// Reductions on the device. Defined in kernels/reduce.cu.
//
// A reduction along one axis sees the tensor as (outer, n, inner), where n is
// the size of the axis, outer the product of the dimensions before it and
// inner the product of those after it:
//   x (B, T, H), axis 1  ->  outer B, n T, inner H  ->  out (B, H)

#include <cstdint>

namespace legato::cuda {

// out[o, i] = sum_k x[o, k, i]  (times 1/n when mean). Writes out (=),
// outer * inner floats. n may be 0 (sum 0; mean of nothing is 0).
void sum_axis(const float* x, std::int64_t outer, std::int64_t n, std::int64_t inner, float* out, bool mean = false);

// The gradient of sum_axis: dx[o, k, i] = g[o, i] (times 1/n when mean). Writes dx (=).
void sum_axis_backward(const float* g, std::int64_t outer, std::int64_t n, std::int64_t inner, float* dx,
                       bool mean = false);

// out[0] = sum of all n values (a device pointer to one float). Deterministic:
// a fixed two-level tree, so the same input gives the same bits.
void sum_all(const float* x, std::int64_t n, float* out);

// out[0] = sum of x[i]^2, for gradient-norm clipping.
void sum_squares(const float* x, std::int64_t n, float* out);

// The same, returned to the host (synchronises).
float sum_all_host(const float* x, std::int64_t n);

}  // namespace legato::cuda

#pragma once
// Elementwise ops on the device, with NumPy broadcasting for rank <= 4
// (the same rules as ops/broadcast.hpp). Defined in kernels/elementwise.cu.
//
//   binary(BinaryOp::add, a, {B, T, H}, b, {H}, out)     out (B, T, H)
//   unary(UnaryOp::tanh, x, n, out)                      out = tanh(x)
//   unary_backward(UnaryOp::tanh, x, y, g, n, dx)        dx = g * tanh'(x)
//   sum_to(g, {B, T, H}, {H}, out)                       the adjoint of broadcasting

#include <cstdint>
#include <vector>

namespace legato::cuda {

using Dims = std::vector<std::int64_t>;  // a shape, as legato::Shape

enum class BinaryOp { add, sub, mul, div, maximum, minimum };
enum class UnaryOp { neg, exp, log, tanh, sigmoid, relu, sqrt, square, abs };

// out = a (op) b, where out has the broadcast shape of a_shape and b_shape.
// Throws naming the op and both shapes if they do not broadcast.
void binary(BinaryOp op, const float* a, const Dims& a_shape, const float* b, const Dims& b_shape, float* out);

// out[i] = f(x[i]); out may equal x.
void unary(UnaryOp op, const float* x, std::int64_t n, float* out);

// dx[i] = g[i] * f'(x[i]). y = f(x) from the forward, used where it is
// cheaper or more accurate (exp, tanh, sigmoid, sqrt); may be null for the
// others. Writes dx (=).
void unary_backward(UnaryOp op, const float* x, const float* y, const float* g, std::int64_t n, float* dx);

// out[i] = alpha * x[i] + beta (scale, shift, and with alpha 1 beta 0 a copy).
// out may equal x.
void affine(const float* x, std::int64_t n, float alpha, float beta, float* out);

// y[i] += alpha * x[i]
void axpy(float alpha, const float* x, std::int64_t n, float* y);

// Sums g (shape `from`, a broadcast of `to`) down to shape `to`: the gradient
// of broadcasting. Writes out (=), numel(to) floats.
void sum_to(const float* g, const Dims& from, const Dims& to, float* out);

// The broadcast shape, or a legato::Error naming `op` and both shapes.
Dims broadcast_shape(const Dims& a, const Dims& b, const char* op);

}  // namespace legato::cuda

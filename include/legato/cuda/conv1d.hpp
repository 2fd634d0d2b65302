#pragma once
// Conv1d and ConvTranspose1d on the device, forward and backward. Defined in
// kernels/conv1d.cu. Same definitions as ops/conv.hpp (PyTorch's):
//
//   conv1d           x (N, C_in, L), w (C_out, C_in, K), b (C_out) -> y (N, C_out, L_out)
//     L_out = (L + 2 padding - dilation (K - 1) - 1) / stride + 1
//     y[n][o][j] = b[o] + sum_{c,k} w[o][c][k] x[n][c][j stride - padding + k dilation]
//   conv_transpose1d x (N, C_in, L), w (C_in, C_out, K), b (C_out) -> y (N, C_out, L_out)
//     L_out = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1
//     (the adjoint of conv1d: x[n][c][j] adds w[c][o][k] x to y[n][o][j stride - padding + k dilation])

#include <cstdint>

namespace legato::cuda {

struct Conv1dShape {
  std::int64_t N = 1, C_in = 1, L = 1, C_out = 1, K = 1;
  std::int64_t stride = 1, padding = 0, dilation = 1;
  std::int64_t output_padding = 0;  // conv_transpose1d only
};

std::int64_t conv1d_out_length(const Conv1dShape& s);
std::int64_t conv_transpose1d_out_length(const Conv1dShape& s);

// b may be null. Writes y (=).
void conv1d_forward(const Conv1dShape& s, const float* x, const float* w, const float* b, float* y);
// From dy (N, C_out, L_out): dx (N, C_in, L), dw (C_out, C_in, K), db (C_out);
// each may be null (not computed). Writes (=).
void conv1d_backward(const Conv1dShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db);

void conv_transpose1d_forward(const Conv1dShape& s, const float* x, const float* w, const float* b, float* y);
// dw is (C_in, C_out, K).
void conv_transpose1d_backward(const Conv1dShape& s, const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db);

}  // namespace legato::cuda

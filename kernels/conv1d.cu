// Conv1d and ConvTranspose1d, forward and backward.
//
// Strategy: direct convolution in gather form, no im2col buffer. Three
// kernels serve both ops, because a transposed convolution is the adjoint
// of a convolution (see conv1d.hpp):
//   correlate: out[n][a][j] = bias[a] + sum_{b,k} W[a][b][k] in[n][b][j s - p + k d]
//              (conv forward; transposed conv backward to the input)
//   adjoint:   out[n][b][i] = bias[b] + sum_{a,k} W[a][b][k] in[n][a][(i + p - k d) / s]
//              where the division is exact and in range
//              (conv backward to the input; transposed conv forward)
//   weights:   dW[a][b][k] = sum_{n,j} P[n][a][j] Q[n][b][j s - p + k d]
// Here j runs over the "short" side (the convolution's output positions) and
// i over the "long" side (its input positions). correlate and adjoint use one
// thread per output element, so every output is written once: no atomics,
// deterministic. weights uses one warp per weight element, the warp summing
// over (n, j) and reducing with shuffles; the bias gradient is one warp per
// channel. Neighbouring threads take neighbouring positions, so the reads of
// `in` are coalesced; W is small and stays in L1/L2. The sequence models here
// have few channels and short kernels (K <= 8), where this direct form is
// competitive with an im2col GEMM and needs no workspace.

#include <algorithm>

#include "common.cuh"
#include "legato/cuda/conv1d.hpp"

namespace legato::cuda {

namespace {

struct Geometry {
  int N, Ca, Cb, K;   // W is (Ca, Cb, K)
  int short_len;      // positions j (conv output)
  int long_len;       // positions i (conv input)
  int stride, pad, dil;
};

__global__ void correlate_kernel(Geometry g, const float* in, const float* W, const float* bias, float* out) {
  // in (N, Cb, long_len) -> out (N, Ca, short_len)
  const std::int64_t total = std::int64_t(g.N) * g.Ca * g.short_len;
  for (std::int64_t idx = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += std::int64_t(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(idx % g.short_len);
    const int a = static_cast<int>((idx / g.short_len) % g.Ca);
    const int n = static_cast<int>(idx / (std::int64_t(g.short_len) * g.Ca));
    float s = bias ? bias[a] : 0.f;
    for (int b = 0; b < g.Cb; ++b) {
      const float* row = in + (std::int64_t(n) * g.Cb + b) * g.long_len;
      const float* w = W + (std::int64_t(a) * g.Cb + b) * g.K;
      for (int k = 0; k < g.K; ++k) {
        const int i = j * g.stride - g.pad + k * g.dil;
        if (i >= 0 && i < g.long_len) s = fmaf(w[k], row[i], s);
      }
    }
    out[idx] = s;
  }
}

__global__ void adjoint_kernel(Geometry g, const float* in, const float* W, const float* bias, float* out) {
  // in (N, Ca, short_len) -> out (N, Cb, long_len)
  const std::int64_t total = std::int64_t(g.N) * g.Cb * g.long_len;
  for (std::int64_t idx = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += std::int64_t(gridDim.x) * blockDim.x) {
    const int i = static_cast<int>(idx % g.long_len);
    const int b = static_cast<int>((idx / g.long_len) % g.Cb);
    const int n = static_cast<int>(idx / (std::int64_t(g.long_len) * g.Cb));
    float s = bias ? bias[b] : 0.f;
    for (int k = 0; k < g.K; ++k) {
      const int num = i + g.pad - k * g.dil;  // = j stride
      if (num < 0 || num % g.stride != 0) continue;
      const int j = num / g.stride;
      if (j >= g.short_len) continue;
      for (int a = 0; a < g.Ca; ++a)
        s = fmaf(W[(std::int64_t(a) * g.Cb + b) * g.K + k], in[(std::int64_t(n) * g.Ca + a) * g.short_len + j], s);
    }
    out[idx] = s;
  }
}

__global__ void weight_grad_kernel(Geometry g, const float* P, const float* Q, float* dW) {
  // P (N, Ca, short_len), Q (N, Cb, long_len) -> dW (Ca, Cb, K); one warp per element
  const int lane = threadIdx.x % 32;
  const std::int64_t total = std::int64_t(g.Ca) * g.Cb * g.K;
  const std::int64_t warps = std::int64_t(gridDim.x) * (blockDim.x / 32);
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x / 32) + threadIdx.x / 32; e < total; e += warps) {
    const int k = static_cast<int>(e % g.K);
    const int b = static_cast<int>((e / g.K) % g.Cb);
    const int a = static_cast<int>(e / (std::int64_t(g.K) * g.Cb));
    float s = 0.f;
    const std::int64_t positions = std::int64_t(g.N) * g.short_len;
    for (std::int64_t q = lane; q < positions; q += 32) {
      const int n = static_cast<int>(q / g.short_len), j = static_cast<int>(q % g.short_len);
      const int i = j * g.stride - g.pad + k * g.dil;
      if (i >= 0 && i < g.long_len)
        s = fmaf(P[(std::int64_t(n) * g.Ca + a) * g.short_len + j], Q[(std::int64_t(n) * g.Cb + b) * g.long_len + i],
                 s);
    }
    s = detail::warp_sum(s);
    if (lane == 0) dW[e] = s;
  }
}

// db[c] = sum over n, l of dy (N, C, L); one warp per channel.
__global__ void channel_sums_kernel(const float* dy, int N, int C, int L, float* db) {
  const int lane = threadIdx.x % 32;
  const int warps = gridDim.x * (blockDim.x / 32);
  for (int c = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; c < C; c += warps) {
    float s = 0.f;
    for (std::int64_t q = lane; q < std::int64_t(N) * L; q += 32) {
      const std::int64_t n = q / L, l = q % L;
      s += dy[(n * C + c) * L + l];
    }
    s = detail::warp_sum(s);
    if (lane == 0) db[c] = s;
  }
}

void check_shape(const Conv1dShape& s, const char* op) {
  check(s.N > 0 && s.C_in > 0 && s.C_out > 0 && s.L > 0 && s.K > 0, "cuda ", op,
        ": needs N, C_in, C_out, L, K > 0, got N ", s.N, ", C_in ", s.C_in, ", C_out ", s.C_out, ", L ", s.L, ", K ",
        s.K);
  check(s.stride > 0 && s.dilation > 0 && s.padding >= 0 && s.output_padding >= 0, "cuda ", op,
        ": needs stride, dilation > 0 and padding, output_padding >= 0");
}

Geometry geometry(const Conv1dShape& s, bool transposed) {
  const std::int64_t out_len = transposed ? conv_transpose1d_out_length(s) : conv1d_out_length(s);
  Geometry g{};
  g.N = static_cast<int>(s.N);
  g.K = static_cast<int>(s.K);
  g.stride = static_cast<int>(s.stride);
  g.pad = static_cast<int>(s.padding);
  g.dil = static_cast<int>(s.dilation);
  if (!transposed) {  // W (C_out, C_in, K): a = out channel; short = L_out, long = L
    g.Ca = static_cast<int>(s.C_out);
    g.Cb = static_cast<int>(s.C_in);
    g.short_len = static_cast<int>(out_len);
    g.long_len = static_cast<int>(s.L);
  } else {  // W (C_in, C_out, K): a = in channel; short = L, long = L_out
    g.Ca = static_cast<int>(s.C_in);
    g.Cb = static_cast<int>(s.C_out);
    g.short_len = static_cast<int>(s.L);
    g.long_len = static_cast<int>(out_len);
  }
  detail::check_fits_int(s.N * std::max(s.C_in, s.C_out) * std::max(s.L, out_len), "conv1d", "N C L");
  return g;
}

void launch_correlate(const Geometry& g, const float* in, const float* W, const float* bias, float* out) {
  const std::int64_t total = std::int64_t(g.N) * g.Ca * g.short_len;
  correlate_kernel<<<detail::grid_for(total, 256), 256>>>(g, in, W, bias, out);
  LEGATO_CUDA_LAUNCHED("correlate_kernel");
}

void launch_adjoint(const Geometry& g, const float* in, const float* W, const float* bias, float* out) {
  const std::int64_t total = std::int64_t(g.N) * g.Cb * g.long_len;
  adjoint_kernel<<<detail::grid_for(total, 256), 256>>>(g, in, W, bias, out);
  LEGATO_CUDA_LAUNCHED("adjoint_kernel");
}

void launch_weight_grad(const Geometry& g, const float* P, const float* Q, float* dW) {
  const std::int64_t total = std::int64_t(g.Ca) * g.Cb * g.K;
  weight_grad_kernel<<<detail::grid_for(total * 32, 256), 256>>>(g, P, Q, dW);
  LEGATO_CUDA_LAUNCHED("weight_grad_kernel");
}

void launch_channel_sums(const float* dy, std::int64_t N, std::int64_t C, std::int64_t L, float* db) {
  channel_sums_kernel<<<detail::grid_for(C * 32, 256), 256>>>(dy, static_cast<int>(N), static_cast<int>(C),
                                                               static_cast<int>(L), db);
  LEGATO_CUDA_LAUNCHED("channel_sums_kernel");
}

}  // namespace

std::int64_t conv1d_out_length(const Conv1dShape& s) {
  check_shape(s, "conv1d");
  const std::int64_t span = s.L + 2 * s.padding - s.dilation * (s.K - 1) - 1;
  check(span >= 0, "cuda conv1d: input length ", s.L, " with padding ", s.padding, " is shorter than the kernel's span ",
        s.dilation * (s.K - 1) + 1);
  return span / s.stride + 1;
}

std::int64_t conv_transpose1d_out_length(const Conv1dShape& s) {
  check_shape(s, "conv_transpose1d");
  check(s.output_padding < std::max(s.stride, s.dilation), "cuda conv_transpose1d: output_padding ", s.output_padding,
        " must be smaller than stride or dilation");
  const std::int64_t out = (s.L - 1) * s.stride - 2 * s.padding + s.dilation * (s.K - 1) + s.output_padding + 1;
  check(out > 0, "cuda conv_transpose1d: output length ", out, " is not positive");
  return out;
}

void conv1d_forward(const Conv1dShape& s, const float* x, const float* w, const float* b, float* y) {
  launch_correlate(geometry(s, false), x, w, b, y);
}

void conv1d_backward(const Conv1dShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db) {
  const Geometry g = geometry(s, false);
  if (dx) launch_adjoint(g, dy, w, nullptr, dx);
  if (dw) launch_weight_grad(g, dy, x, dw);
  if (db) launch_channel_sums(dy, s.N, s.C_out, g.short_len, db);
}

void conv_transpose1d_forward(const Conv1dShape& s, const float* x, const float* w, const float* b, float* y) {
  launch_adjoint(geometry(s, true), x, w, b, y);
}

void conv_transpose1d_backward(const Conv1dShape& s, const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db) {
  const Geometry g = geometry(s, true);
  if (dx) launch_correlate(g, dy, w, nullptr, dx);
  if (dw) launch_weight_grad(g, x, dy, dw);
  if (db) launch_channel_sums(dy, s.N, s.C_out, g.long_len, db);
}

}  // namespace legato::cuda

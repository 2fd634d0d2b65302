// The persistent LSTM recurrence, after Diamos et al., "Persistent RNNs:
// stashing recurrent weights on-chip" (ICML 2016).
//
// Why: at the seed's shape (B = 64, H = 256) one step is a (64 x 256) x
// (256 x 1024) product, about 33 MFLOP: microseconds of work, so a per-step
// GEMM launch (cuDNN's usual path) spends much of each step launching and
// re-reading W_hh (1 MiB) from L2. Here ONE kernel runs all T steps, and
// W_hh is read from global memory once.
//
// Strategy:
//   - The H hidden units are split across about one block per SM: block j owns
//     units k0 .. k0 + U - 1 (U = ceil(H / #SMs), 2 at H = 256 on an H100).
//     W_hh (4H x H = 1 MiB at H = 256) does not fit one SM's shared memory
//     (228 KiB), but its 4U rows that feed the block's units do (8 KiB here,
//     128 KiB at H = 1024). The block loads them once and keeps them.
//   - Forward step t: every block reads all of h_{t-1} (B x H, from L2; all
//     blocks read the same lines) and computes the pre-activations of its own
//     4U gate rows for every batch row, adds the input term, then applies the
//     cell to its own units. c never leaves the block that owns the unit. The
//     blocks then meet at grid.sync(): h_t is complete and the next step may
//     begin. One grid barrier per step and no other launches.
//   - Backward step t: ∂L/∂h_t for the block's units needs dz_{t+1} (B x 4H)
//     times the block's U columns of W_hh, which it keeps transposed in shared
//     memory (4H x U floats, the same amount). Then the cell backward, with
//     ∂L/∂c carried in the block, writes dz_t; grid.sync(); next step.
//   - The small matrix products (B x K times K x N, N = 4U or U) run per warp
//     on tiles of 32 outputs (TB batch rows x TN columns, TB TN = 32): lanes
//     split K, so every global load of h is coalesced and every shared load of
//     W is conflict-free; each lane accumulates all 32 partial sums in
//     registers, and a butterfly reduce-scatter (31 shuffles) leaves lane l
//     with the full sum of output l. When there are fewer tiles than warps
//     (small batch, e.g. B = 1 in generation) warps also split K and add their
//     partials in shared memory, in a fixed order.
//   - Values other blocks wrote during this kernel (h, dz) are read with
//     __ldcg (L2, not the non-coherent L1); grid.sync() orders the writes.
//
// Requirements (plan_persistent checks them; otherwise lstm.cu falls back to
// the per-step path): cooperative launch support, the slice plus 1 KiB of
// scratch within the opt-in shared memory per block, and all blocks resident.

#include <cooperative_groups.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "legato/cuda/lstm.hpp"
#include "lstm_cell.cuh"
#include "lstm_persistent.cuh"

namespace cg = cooperative_groups;

namespace legato::cuda::detail {

namespace {

constexpr int kThreads = 256, kWarps = kThreads / 32;

// One butterfly step: lanes that differ in bit W swap halves of v[0 .. 2W)
// and add, so each keeps W values, now summed over both lanes.
template <int W>
__device__ __forceinline__ void butterfly_step(float* v, int lane) {
  const bool upper = (lane & W) != 0;
#pragma unroll
  for (int j = 0; j < W; ++j) {
    const float send = upper ? v[j] : v[j + W];
    const float keep = upper ? v[j + W] : v[j];
    v[j] = keep + __shfl_xor_sync(kFullMask, send, W);
  }
}

// v[0 .. 31] per lane in; returns the sum over all lanes of v[lane].
__device__ __forceinline__ float reduce_scatter32(float* v, int lane) {
  butterfly_step<16>(v, lane);
  butterfly_step<8>(v, lane);
  butterfly_step<4>(v, lane);
  butterfly_step<2>(v, lane);
  butterfly_step<1>(v, lane);
  return v[0];
}

// out(b, n) = sum_k A[b lda + k] Ws[n K + k] for b < B, n < N; emit(b, n, v)
// is called exactly once per output. Ws holds round_up(N, TN) rows (the
// extra rows zero). red: kThreads floats of shared scratch. Every thread of
// the block must call this (it may __syncthreads).
template <int TN, class Emit>
__device__ __forceinline__ void block_matmul(const float* A, int lda, int B, const float* Ws, int K, int N, float* red,
                                             Emit emit) {
  constexpr int TB = 32 / TN;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int col_tiles = (N + TN - 1) / TN;
  const int tiles = ((B + TB - 1) / TB) * col_tiles;
  int ksplit = 1;
  while (ksplit * 2 * tiles <= kWarps) ksplit *= 2;
  const int k_chunk = (K + ksplit * 32 - 1) / (ksplit * 32) * 32;

  for (int item = warp; item < tiles * ksplit; item += kWarps) {
    const int tile = item % tiles, part = item / tiles;
    const int b0 = (tile / col_tiles) * TB, n0 = (tile % col_tiles) * TN;
    float v[32];
#pragma unroll
    for (int q = 0; q < 32; ++q) v[q] = 0.f;
    const int k_end = min(K, (part + 1) * k_chunk);
    // Unrolled so that several iterations' loads of A (from L2, hundreds of
    // cycles away) are in flight at once; fewer when each loads many rows.
    constexpr int kUnroll = TB <= 4 ? 4 : 2;
#pragma unroll kUnroll
    for (int k = part * k_chunk + lane; k < k_end; k += 32) {
      float a[TB], w[TN];
#pragma unroll
      for (int i = 0; i < TB; ++i) a[i] = b0 + i < B ? __ldcg(A + std::int64_t(b0 + i) * lda + k) : 0.f;
#pragma unroll
      for (int j = 0; j < TN; ++j) w[j] = Ws[(n0 + j) * K + k];
#pragma unroll
      for (int i = 0; i < TB; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) v[i * TN + j] = fmaf(a[i], w[j], v[i * TN + j]);
    }
    const float total = reduce_scatter32(v, lane);
    if (ksplit == 1) {
      const int b = b0 + lane / TN, n = n0 + lane % TN;
      if (b < B && n < N) emit(b, n, total);
    } else {
      red[(part * tiles + tile) * 32 + lane] = total;
    }
  }
  if (ksplit > 1) {  // add the K slices in a fixed order
    __syncthreads();
    for (int o = threadIdx.x; o < tiles * 32; o += blockDim.x) {
      float s = 0.f;
      for (int p = 0; p < ksplit; ++p) s += red[p * tiles * 32 + o];
      const int tile = o / 32, l = o % 32;
      const int b = (tile / col_tiles) * TB + l / TN, n = (tile % col_tiles) * TN + l % TN;
      if (b < B && n < N) emit(b, n, s);
    }
    __syncthreads();
  }
}

template <int TN>
__global__ void __launch_bounds__(kThreads)
    lstm_persistent_forward_kernel(const float* xw, int T, int B, int H, int U, const float* h0, const float* c0,
                                   const float* w_hh, float* h_out, float* gates, float* c) {
  extern __shared__ float smem[];
  cg::grid_group grid = cg::this_grid();
  const int k0 = blockIdx.x * U;
  const int units = min(U, H - k0);
  const int N = 4 * U, rows = (N + TN - 1) / TN * TN, G = 4 * H;
  float* Ws = smem;              // (rows, H): row gate U + u is W_hh row gate H + k0 + u
  float* red = smem + rows * H;  // kThreads

  for (int idx = threadIdx.x; idx < rows * H; idx += blockDim.x) {
    const int n = idx / H, k = idx % H, gate = n / U, u = n % U;
    Ws[idx] = n < N && u < units ? w_hh[std::int64_t(gate * H + k0 + u) * H + k] : 0.f;
  }
  for (int idx = threadIdx.x; idx < B * units; idx += blockDim.x) {
    const int b = idx / units, k = k0 + idx % units;
    c[b * H + k] = c0 ? c0[b * H + k] : 0.f;  // row 0 of c is c_0
  }
  __syncthreads();

  for (int t = 0; t < T; ++t) {
    float* z = gates + std::int64_t(t) * B * G;          // (B, 4H)
    const float* in = xw + std::int64_t(t) * B * G;      // (B, 4H)
    const float* h_prev = t == 0 ? h0 : h_out + std::int64_t(t - 1) * B * H;
    if (h_prev) {
      block_matmul<TN>(h_prev, H, B, Ws, H, N, red, [&](int b, int n, float value) {
        const int gate = n / U, u = n % U;
        if (u < units) {
          const int r = gate * H + k0 + u;
          z[b * G + r] = value + in[b * G + r];
        }
      });
    } else {  // h_0 = 0: the pre-activation is the input term alone
      for (int idx = threadIdx.x; idx < B * N; idx += blockDim.x) {
        const int b = idx / N, n = idx % N, gate = n / U, u = n % U;
        if (u < units) z[b * G + gate * H + k0 + u] = in[b * G + gate * H + k0 + u];
      }
    }
    __syncthreads();
    const float* c_prev = c + std::int64_t(t) * B * H;
    float* c_next = c + std::int64_t(t + 1) * B * H;
    float* h = h_out + std::int64_t(t) * B * H;
    for (int idx = threadIdx.x; idx < B * units; idx += blockDim.x) {
      const int b = idx / units, k = k0 + idx % units;
      float* zb = z + b * G;
      float zi = zb[k], zf = zb[H + k], zg = zb[2 * H + k], zo = zb[3 * H + k], hv;
      c_next[b * H + k] = lstm_cell_forward(zi, zf, zg, zo, c_prev[b * H + k], hv);
      zb[k] = zi;
      zb[H + k] = zf;
      zb[2 * H + k] = zg;
      zb[3 * H + k] = zo;
      h[b * H + k] = hv;
    }
    grid.sync();  // h_t complete everywhere before any block starts step t + 1
  }
}

template <int TN>
__global__ void __launch_bounds__(kThreads)
    lstm_persistent_backward_kernel(int T, int B, int H, int U, const float* dh_out, const float* dc_last,
                                    const float* w_hh, const float* gates, const float* c, float* dz, float* dh0,
                                    float* dc0, float* dh_buf, float* dc_buf) {
  extern __shared__ float smem[];
  cg::grid_group grid = cg::this_grid();
  const int k0 = blockIdx.x * U;
  const int units = min(U, H - k0);
  const int G = 4 * H, rows = (U + TN - 1) / TN * TN;
  float* Ws = smem;              // (rows, 4H): Ws[u][r] = W_hh[r][k0 + u]
  float* red = smem + rows * G;  // kThreads

  for (int idx = threadIdx.x; idx < rows * G; idx += blockDim.x) {
    const int u = idx / G, r = idx % G;
    Ws[idx] = u < units ? w_hh[std::int64_t(r) * H + k0 + u] : 0.f;
  }
  for (int idx = threadIdx.x; idx < B * units; idx += blockDim.x) {
    const int b = idx / units, k = k0 + idx % units;
    dc_buf[b * H + k] = dc_last ? dc_last[b * H + k] : 0.f;
  }
  __syncthreads();

  for (int t = T - 1; t >= 0; --t) {
    const float* dh_t = dh_out + std::int64_t(t) * B * H;
    if (t < T - 1) {  // ∂L/∂h_t = dh_out_t + dz_{t+1} W_hh (the block's columns)
      block_matmul<TN>(dz + std::int64_t(t + 1) * B * G, G, B, Ws, G, U, red, [&](int b, int u, float value) {
        if (u < units) dh_buf[b * H + k0 + u] = value + dh_t[b * H + k0 + u];
      });
    } else {
      for (int idx = threadIdx.x; idx < B * units; idx += blockDim.x) {
        const int b = idx / units, k = k0 + idx % units;
        dh_buf[b * H + k] = dh_t[b * H + k];
      }
    }
    __syncthreads();
    const float* a = gates + std::int64_t(t) * B * G;
    const float* c_prev = c + std::int64_t(t) * B * H;
    const float* c_t = c + std::int64_t(t + 1) * B * H;
    float* dz_t = dz + std::int64_t(t) * B * G;
    for (int idx = threadIdx.x; idx < B * units; idx += blockDim.x) {
      const int b = idx / units, k = k0 + idx % units;
      const float* ab = a + b * G;
      float dc = dc_buf[b * H + k], dzi, dzf, dzg, dzo;
      lstm_cell_backward(ab[k], ab[H + k], ab[2 * H + k], ab[3 * H + k], c_prev[b * H + k], c_t[b * H + k],
                         dh_buf[b * H + k], dc, dzi, dzf, dzg, dzo);
      dc_buf[b * H + k] = dc;
      float* out = dz_t + b * G;
      out[k] = dzi;
      out[H + k] = dzf;
      out[2 * H + k] = dzg;
      out[3 * H + k] = dzo;
    }
    grid.sync();  // dz_t complete everywhere before step t - 1 reads it
  }
  if (dh0) {
    block_matmul<TN>(dz, G, B, Ws, G, U, red, [&](int b, int u, float value) {
      if (u < units) dh0[b * H + k0 + u] = value;
    });
  }
  if (dc0) {
    for (int idx = threadIdx.x; idx < B * units; idx += blockDim.x) {
      const int b = idx / units, k = k0 + idx % units;
      dc0[b * H + k] = dc_buf[b * H + k];
    }
  }
}

const void* forward_kernel(int tn) {
  switch (tn) {
    case 1: return reinterpret_cast<const void*>(&lstm_persistent_forward_kernel<1>);
    case 2: return reinterpret_cast<const void*>(&lstm_persistent_forward_kernel<2>);
    case 4: return reinterpret_cast<const void*>(&lstm_persistent_forward_kernel<4>);
    case 8: return reinterpret_cast<const void*>(&lstm_persistent_forward_kernel<8>);
    case 16: return reinterpret_cast<const void*>(&lstm_persistent_forward_kernel<16>);
    default: return reinterpret_cast<const void*>(&lstm_persistent_forward_kernel<32>);
  }
}

const void* backward_kernel(int tn) {
  switch (tn) {
    case 1: return reinterpret_cast<const void*>(&lstm_persistent_backward_kernel<1>);
    case 2: return reinterpret_cast<const void*>(&lstm_persistent_backward_kernel<2>);
    case 4: return reinterpret_cast<const void*>(&lstm_persistent_backward_kernel<4>);
    case 8: return reinterpret_cast<const void*>(&lstm_persistent_backward_kernel<8>);
    case 16: return reinterpret_cast<const void*>(&lstm_persistent_backward_kernel<16>);
    default: return reinterpret_cast<const void*>(&lstm_persistent_backward_kernel<32>);
  }
}

}  // namespace

namespace {

PersistentPlan make_plan(bool backward, int B, int H) {
  PersistentPlan plan;
  int device = 0, coop = 0, sms = 0, optin = 0;
  LEGATO_CUDA_CHECK(cudaGetDevice(&device));
  LEGATO_CUDA_CHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device));
  LEGATO_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  LEGATO_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (!coop) {
    plan.why = "the device does not support cooperative launches";
    return plan;
  }
  if (B <= 0 || H <= 0) {
    plan.why = "empty batch or hidden size";
    return plan;
  }
  plan.units = (H + sms - 1) / sms;
  plan.blocks = (H + plan.units - 1) / plan.units;
  const int N = backward ? plan.units : 4 * plan.units;
  int tn = 1;
  while (tn < N && tn < 32) tn *= 2;
  plan.tile_n = tn;
  const std::int64_t rows = (N + tn - 1) / tn * tn;
  const std::int64_t K = backward ? 4 * std::int64_t(H) : H;
  plan.smem = static_cast<std::size_t>((rows * K + kThreads) * sizeof(float));
  if (plan.smem > static_cast<std::size_t>(optin)) {
    plan.why = "the W_hh slice needs " + std::to_string(plan.smem / 1024) + " KiB of shared memory per block, over " +
               std::to_string(optin / 1024) + " KiB";
    return plan;
  }
  const void* kernel = backward ? backward_kernel(tn) : forward_kernel(tn);
  // Allow the device's maximum, not this plan's size: plans are cached, and a
  // later, smaller plan must not lower the limit under an earlier one.
  LEGATO_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
  int per_sm = 0;
  LEGATO_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, plan.smem));
  if (per_sm * sms < plan.blocks) {
    plan.why = std::to_string(plan.blocks) + " blocks cannot all be resident (" + std::to_string(per_sm) +
               " per SM on " + std::to_string(sms) + " SMs)";
    return plan;
  }
  plan.ok = true;
  return plan;
}

}  // namespace

// Plans are cached per (direction, B, H, device): the attribute and occupancy
// queries cost microseconds, which would show at small shapes.
PersistentPlan plan_persistent(bool backward, int B, int H) {
  int device = 0;
  LEGATO_CUDA_CHECK(cudaGetDevice(&device));
  static std::mutex mutex;
  static std::map<std::tuple<bool, int, int, int>, PersistentPlan> cache;
  const auto key = std::make_tuple(backward, B, H, device);
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  PersistentPlan plan = make_plan(backward, B, H);
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(key, plan);
  return plan;
}

void persistent_forward(const PersistentPlan& plan, const float* xw, int T, int B, int H, const float* h0,
                        const float* c0, const float* w_hh, float* h_out, float* gates, float* c) {
  int U = plan.units;
  void* args[] = {&xw, &T, &B, &H, &U, &h0, &c0, &w_hh, &h_out, &gates, &c};
  LEGATO_CUDA_CHECK(cudaLaunchCooperativeKernel(forward_kernel(plan.tile_n), dim3(plan.blocks), dim3(kThreads), args,
                                                plan.smem, cudaStream_t(0)));
  LEGATO_CUDA_LAUNCHED("lstm_persistent_forward_kernel");
}

void persistent_backward(const PersistentPlan& plan, int T, int B, int H, const float* dh_out, const float* dc_last,
                         const float* w_hh, const float* gates, const float* c, float* dz, float* dh0, float* dc0,
                         float* dh_scratch, float* dc_scratch) {
  int U = plan.units;
  void* args[] = {&T,  &B,   &H,   &U,   &dh_out, &dc_last,    &w_hh,      &gates,
                  &c,  &dz,  &dh0, &dc0, &dh_scratch, &dc_scratch};
  LEGATO_CUDA_CHECK(cudaLaunchCooperativeKernel(backward_kernel(plan.tile_n), dim3(plan.blocks), dim3(kThreads), args,
                                                plan.smem, cudaStream_t(0)));
  LEGATO_CUDA_LAUNCHED("lstm_persistent_backward_kernel");
}

}  // namespace legato::cuda::detail

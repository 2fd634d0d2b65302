// The LSTM: fused gate kernels, the per-step recurrence, the choice between
// it and the persistent kernel (lstm_persistent.cu), and a whole layer.
//
// Strategy of the fused gate kernels: one thread per (batch row b, hidden
// unit k). It reads the four pre-activations of unit k (columns k, H + k,
// 2H + k, 3H + k of the row: four coalesced streams across the warp), applies
// the nonlinearities and the cell update in registers, and writes the
// activated gates back in place together with c_t and h_t. One pass over
// memory instead of the ~10 elementwise kernels of the composed cell.
//
// The per-step recurrence is then GEMM + gate kernel per step; the backward
// is GEMM (dz_{t+1} W_hh) + gate backward per step. A whole layer adds the
// input projection (one GEMM over all T B rows) before, and after the
// backward the weight gradients as single GEMMs over all steps, exactly as
// ops/lstm.hpp does on the CPU.

#include "legato/cuda/elementwise.hpp"
#include "legato/cuda/embedding.hpp"
#include "legato/cuda/gemm.hpp"
#include "legato/cuda/lstm.hpp"
#include "legato/cuda/reduce.hpp"
#include "lstm_cell.cuh"
#include "lstm_persistent.cuh"

namespace legato::cuda {

namespace {

__global__ void gates_forward_kernel(float* z, const float* in, const float* c_prev, int B, int H, float* c_next,
                                     float* h_next) {
  const int total = B * H, G = 4 * H;
  for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const int b = idx / H, k = idx % H;
    float* zb = z + b * G;
    const float* ib = in + b * G;
    float zi = zb[k] + ib[k], zf = zb[H + k] + ib[H + k];
    float zg = zb[2 * H + k] + ib[2 * H + k], zo = zb[3 * H + k] + ib[3 * H + k], h;
    c_next[idx] = detail::lstm_cell_forward(zi, zf, zg, zo, c_prev ? c_prev[idx] : 0.f, h);
    zb[k] = zi;
    zb[H + k] = zf;
    zb[2 * H + k] = zg;
    zb[3 * H + k] = zo;
    h_next[idx] = h;
  }
}

__global__ void gates_backward_kernel(const float* a, const float* c_prev, const float* c_t, const float* dh,
                                      float* dc, int B, int H, float* dz) {
  const int total = B * H, G = 4 * H;
  for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
    const int b = idx / H, k = idx % H;
    const float* ab = a + b * G;
    float d = dc[idx], dzi, dzf, dzg, dzo;
    detail::lstm_cell_backward(ab[k], ab[H + k], ab[2 * H + k], ab[3 * H + k], c_prev ? c_prev[idx] : 0.f, c_t[idx],
                               dh[idx], d, dzi, dzf, dzg, dzo);
    dc[idx] = d;
    float* out = dz + b * G;
    out[k] = dzi;
    out[H + k] = dzf;
    out[2 * H + k] = dzg;
    out[3 * H + k] = dzo;
  }
}

// rows (R, G) += b1 + b2 (either may be null), per column.
__global__ void add_biases_kernel(float* rows, std::int64_t R, int G, const float* b1, const float* b2) {
  const std::int64_t total = R * G;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < total;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const int g = static_cast<int>(i % G);
    rows[i] += (b1 ? b1[g] : 0.f) + (b2 ? b2[g] : 0.f);
  }
}

// 32 x 32 tiles through shared memory, so reads and writes are both coalesced.
__global__ void transpose_kernel(const float* in, int R, int C, float* out) {
  __shared__ float tile[32][33];  // +1 column: no bank conflicts on the transposed read
  const int c0 = blockIdx.x * 32, r0 = blockIdx.y * 32;
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int r = r0 + i, c = c0 + threadIdx.x;
    if (r < R && c < C) tile[i][threadIdx.x] = in[std::int64_t(r) * C + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int c = c0 + i, r = r0 + threadIdx.x;
    if (r < R && c < C) out[std::int64_t(c) * R + r] = tile[threadIdx.x][i];
  }
}

void check_dims(const char* op, std::int64_t T, std::int64_t B, std::int64_t H) {
  check(T > 0 && B > 0 && H > 0, "cuda ", op, ": needs T, B, H > 0, got T ", T, ", B ", B, ", H ", H);
  detail::check_fits_int(T * B * 4 * H, op, "T B 4H");
}

void add_biases(float* rows, std::int64_t R, std::int64_t G, const float* b1, const float* b2) {
  if (!b1 && !b2) return;
  add_biases_kernel<<<detail::grid_for(R * G, 256), 256>>>(rows, R, static_cast<int>(G), b1, b2);
  LEGATO_CUDA_LAUNCHED("add_biases_kernel");
}

// Above this batch, automatic picks the per-step engine: its tiled GEMMs
// fill the GPU better than the persistent kernel's per-warp products. On an
// H200 (2026-11-28, bench/RESULTS.md) at H = 256 the persistent engine took
// 1.97 ms for forward + backward at B = 64 (per-step 2.81) but 8.19 ms at
// B = 256 (per-step 6.58).
constexpr std::int64_t kPersistentMaxBatch = 128;

// Picks the engine; throws if persistent was demanded but cannot run.
bool use_persistent(LstmAlgo algo, bool backward, std::int64_t B, std::int64_t H, detail::PersistentPlan& plan) {
  if (algo == LstmAlgo::per_step) return false;
  if (algo == LstmAlgo::automatic && B > kPersistentMaxBatch) return false;
  plan = detail::plan_persistent(backward, static_cast<int>(B), static_cast<int>(H));
  if (algo == LstmAlgo::persistent)
    check(plan.ok, "cuda lstm: the persistent kernel cannot run at B ", B, ", H ", H, ": ", plan.why);
  return plan.ok;
}

}  // namespace

const char* lstm_algo_name(LstmAlgo algo) {
  switch (algo) {
    case LstmAlgo::automatic: return "automatic";
    case LstmAlgo::persistent: return "persistent";
    case LstmAlgo::per_step: return "per_step";
  }
  return "?";
}

bool lstm_persistent_supported(std::int64_t B, std::int64_t H, std::string* why) {
  if (!available()) {
    if (why) *why = "no CUDA device";
    return false;
  }
  if (B <= 0 || H <= 0 || B * 4 * H > std::numeric_limits<int>::max()) {
    if (why) *why = "sizes out of range";
    return false;
  }
  for (bool backward : {false, true}) {
    const auto plan = detail::plan_persistent(backward, static_cast<int>(B), static_cast<int>(H));
    if (!plan.ok) {
      if (why) *why = std::string(backward ? "backward: " : "forward: ") + plan.why;
      return false;
    }
  }
  return true;
}

void lstm_gates_forward(float* z, const float* in, const float* c_prev, std::int64_t B, std::int64_t H, float* c_next,
                        float* h_next) {
  check_dims("lstm_gates_forward", 1, B, H);
  gates_forward_kernel<<<detail::grid_for(B * H, 256), 256>>>(z, in, c_prev, static_cast<int>(B),
                                                              static_cast<int>(H), c_next, h_next);
  LEGATO_CUDA_LAUNCHED("gates_forward_kernel");
}

void lstm_gates_backward(const float* a, const float* c_prev, const float* c_t, const float* dh, float* dc,
                         std::int64_t B, std::int64_t H, float* dz) {
  check_dims("lstm_gates_backward", 1, B, H);
  gates_backward_kernel<<<detail::grid_for(B * H, 256), 256>>>(a, c_prev, c_t, dh, dc, static_cast<int>(B),
                                                               static_cast<int>(H), dz);
  LEGATO_CUDA_LAUNCHED("gates_backward_kernel");
}

LstmAlgo lstm_recurrence_forward(const float* xw, std::int64_t T, std::int64_t B, std::int64_t H, const float* h0,
                                 const float* c0, const float* w_hh, float* h_out, float* gates, float* c,
                                 LstmAlgo algo) {
  check_dims("lstm_recurrence_forward", T, B, H);
  detail::PersistentPlan plan;
  if (use_persistent(algo, false, B, H, plan)) {
    detail::persistent_forward(plan, xw, static_cast<int>(T), static_cast<int>(B), static_cast<int>(H), h0, c0, w_hh,
                               h_out, gates, c);
    return LstmAlgo::persistent;
  }
  const std::int64_t G = 4 * H, step = B * G;
  if (c0)
    copy_on_device(c, c0, static_cast<std::size_t>(B * H));
  else
    fill(c, static_cast<std::size_t>(B * H), 0.f);
  for (std::int64_t t = 0; t < T; ++t) {
    float* z = gates + t * step;
    const float* h_prev = t == 0 ? h0 : h_out + (t - 1) * B * H;
    if (h_prev)  // z (B, 4H) = h_{t-1} (B, H) W_hhᵀ
      gemm(false, true, B, G, H, 1.f, h_prev, w_hh, 0.f, z);
    else
      fill(z, static_cast<std::size_t>(step), 0.f);
    lstm_gates_forward(z, xw + t * step, c + t * B * H, B, H, c + (t + 1) * B * H, h_out + t * B * H);
  }
  return LstmAlgo::per_step;
}

LstmAlgo lstm_recurrence_backward(std::int64_t T, std::int64_t B, std::int64_t H, const float* dh_out,
                                  const float* dc_last, const float* w_hh, const float* gates, const float* c,
                                  float* dz, float* dh0, float* dc0, LstmAlgo algo) {
  check_dims("lstm_recurrence_backward", T, B, H);
  Buffer dh(static_cast<std::size_t>(B * H)), dc(static_cast<std::size_t>(B * H));
  detail::PersistentPlan plan;
  if (use_persistent(algo, true, B, H, plan)) {
    detail::persistent_backward(plan, static_cast<int>(T), static_cast<int>(B), static_cast<int>(H), dh_out, dc_last,
                                w_hh, gates, c, dz, dh0, dc0, dh.data(), dc.data());
    return LstmAlgo::persistent;
  }
  const std::int64_t G = 4 * H, step = B * G, n = B * H;
  if (dc_last)
    copy_on_device(dc.data(), dc_last, static_cast<std::size_t>(n));
  else
    fill(dc.data(), static_cast<std::size_t>(n), 0.f);
  for (std::int64_t t = T - 1; t >= 0; --t) {
    copy_on_device(dh.data(), dh_out + t * n, static_cast<std::size_t>(n));
    if (t < T - 1)  // dh (B, H) += dz_{t+1} (B, 4H) W_hh (4H, H)
      gemm(false, false, B, H, G, 1.f, dz + (t + 1) * step, w_hh, 1.f, dh.data());
    lstm_gates_backward(gates + t * step, c + t * n, c + (t + 1) * n, dh.data(), dc.data(), B, H, dz + t * step);
  }
  if (dh0) gemm(false, false, B, H, G, 1.f, dz, w_hh, 0.f, dh0);
  if (dc0) copy_on_device(dc0, dc.data(), static_cast<std::size_t>(n));
  return LstmAlgo::per_step;
}

// ------------------------------------------------------- a whole layer ----

namespace {

// The gradients that follow from dz, shared by the dense and the ids layer:
// dW_hh, the biases, and dh0/dc0 (already written by the recurrence).
void recurrent_weight_grads(std::int64_t T, std::int64_t B, std::int64_t H, const float* h0, const float* h_out,
                            const float* dz, const LstmGrads& grads) {
  const std::int64_t G = 4 * H;
  if (grads.dw_hh) {
    // dW_hh (4H, H) = Σ_t dz_tᵀ h_{t-1}: steps 1..T-1 as one GEMM over (T-1) B
    // rows (h_1..h_{T-1} are rows 0..T-2 of h_out), plus step 0 against h0.
    if (T > 1)
      gemm(true, false, G, H, (T - 1) * B, 1.f, dz + B * G, h_out, 0.f, grads.dw_hh);
    else
      fill(grads.dw_hh, static_cast<std::size_t>(G * H), 0.f);
    if (h0) gemm(true, false, G, H, B, 1.f, dz, h0, 1.f, grads.dw_hh);
  }
  // db (4H) = column sums of dz (T B, 4H); b_ih and b_hh get the same values.
  if (grads.db_ih) sum_axis(dz, 1, T * B, G, grads.db_ih);
  if (grads.db_hh) {
    if (grads.db_ih)
      copy_on_device(grads.db_hh, grads.db_ih, static_cast<std::size_t>(G));
    else
      sum_axis(dz, 1, T * B, G, grads.db_hh);
  }
}

}  // namespace

LstmAlgo lstm_sequence_forward(const float* x, std::int64_t T, std::int64_t B, std::int64_t I, std::int64_t H,
                               const LstmWeights& w, const float* h0, const float* c0, float* xw, float* h_out,
                               float* gates, float* c, LstmAlgo algo) {
  check_dims("lstm_sequence_forward", T, B, H);
  check(I > 0 && w.w_ih && w.w_hh, "cuda lstm_sequence_forward: needs I > 0 and both weight matrices");
  const std::int64_t G = 4 * H;
  gemm(false, true, T * B, G, I, 1.f, x, w.w_ih, 0.f, xw);  // xw (T B, 4H) = x (T B, I) W_ihᵀ
  add_biases(xw, T * B, G, w.b_ih, w.b_hh);
  return lstm_recurrence_forward(xw, T, B, H, h0, c0, w.w_hh, h_out, gates, c, algo);
}

LstmAlgo lstm_sequence_backward(const float* x, std::int64_t T, std::int64_t B, std::int64_t I, std::int64_t H,
                                const LstmWeights& w, const float* h0, const float* h_out, const float* gates,
                                const float* c, const float* dh_out, const float* dc_last, float* dz,
                                const LstmGrads& grads, LstmAlgo algo) {
  check_dims("lstm_sequence_backward", T, B, H);
  check(I > 0 && w.w_ih && w.w_hh, "cuda lstm_sequence_backward: needs I > 0 and both weight matrices");
  const std::int64_t G = 4 * H;
  const LstmAlgo ran =
      lstm_recurrence_backward(T, B, H, dh_out, dc_last, w.w_hh, gates, c, dz, grads.dh0, grads.dc0, algo);
  if (grads.dx) gemm(false, false, T * B, I, G, 1.f, dz, w.w_ih, 0.f, grads.dx);     // (T B, I) = dz W_ih
  if (grads.dw_ih) gemm(true, false, G, I, T * B, 1.f, dz, x, 0.f, grads.dw_ih);    // (4H, I) = dzᵀ x
  recurrent_weight_grads(T, B, H, h0, h_out, dz, grads);
  return ran;
}

LstmAlgo lstm_sequence_forward_ids(const std::int32_t* ids, std::int64_t T, std::int64_t B, std::int64_t V,
                                   std::int64_t H, const LstmWeights& w, const float* h0, const float* c0, float* xw,
                                   float* h_out, float* gates, float* c, LstmAlgo algo) {
  check_dims("lstm_sequence_forward_ids", T, B, H);
  check(V > 0 && w.w_ih && w.w_hh, "cuda lstm_sequence_forward_ids: needs V > 0 and both weight matrices");
  const std::int64_t G = 4 * H;
  // table (V, 4H) = W_ihᵀ + b_ih + b_hh; the input term of id v is row v.
  Buffer table(static_cast<std::size_t>(V * G));
  transpose(w.w_ih, G, V, table.data());
  add_biases(table.data(), V, G, w.b_ih, w.b_hh);
  embedding_forward(table.data(), V, G, ids, T * B, xw);  // checks the ids
  return lstm_recurrence_forward(xw, T, B, H, h0, c0, w.w_hh, h_out, gates, c, algo);
}

LstmAlgo lstm_sequence_backward_ids(const std::int32_t* ids, std::int64_t T, std::int64_t B, std::int64_t V,
                                    std::int64_t H, const LstmWeights& w, const float* h0, const float* h_out,
                                    const float* gates, const float* c, const float* dh_out, const float* dc_last,
                                    float* dz, const LstmGrads& grads, LstmAlgo algo) {
  check_dims("lstm_sequence_backward_ids", T, B, H);
  check(V > 0 && w.w_hh, "cuda lstm_sequence_backward_ids: needs V > 0 and W_hh");
  const std::int64_t G = 4 * H;
  const LstmAlgo ran =
      lstm_recurrence_backward(T, B, H, dh_out, dc_last, w.w_hh, gates, c, dz, grads.dh0, grads.dc0, algo);
  if (grads.dw_ih) {  // dW_ihᵀ (V, 4H): row ids[t, b] += dz_t[b]; then transpose to (4H, V)
    Buffer dwt(static_cast<std::size_t>(V * G));
    fill(dwt.data(), dwt.size(), 0.f);
    embedding_backward(dz, ids, T * B, V, G, dwt.data());
    transpose(dwt.data(), V, G, grads.dw_ih);
  }
  recurrent_weight_grads(T, B, H, h0, h_out, dz, grads);
  return ran;
}

void transpose(const float* in, std::int64_t R, std::int64_t C, float* out) {
  check(R >= 0 && C >= 0, "cuda transpose: negative size (", R, ", ", C, ")");
  detail::check_fits_int(R * C, "transpose", "R C");
  if (R == 0 || C == 0) return;
  const dim3 grid(static_cast<unsigned>((C + 31) / 32), static_cast<unsigned>((R + 31) / 32));
  check(grid.y <= 65535, "cuda transpose: ", R, " rows is too many");
  transpose_kernel<<<grid, dim3(32, 8)>>>(in, static_cast<int>(R), static_cast<int>(C), out);
  LEGATO_CUDA_LAUNCHED("transpose_kernel");
}

}  // namespace legato::cuda

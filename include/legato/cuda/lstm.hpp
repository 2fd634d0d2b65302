#pragma once
// The LSTM on the device: fused gate kernels, the recurrence (a persistent
// kernel, or one GEMM + one gate kernel per step), and a whole layer forward
// and backward. Defined in kernels/lstm.cu and kernels/lstm_persistent.cu.
//
// Layout, gate order and saved buffers are those of ops/lstm.hpp, so the CPU
// op can hand its tensors over unchanged (PyTorch's conventions):
//
//   z_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh           (B, 4H): i, f, g, o
//   i = σ(z_i)  f = σ(z_f)  g = tanh(z_g)  o = σ(z_o)
//   c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
//
//   x      (T, B, I)     time-major input
//   xw     (T, B, 4H)    input term x W_ihᵀ + b_ih + b_hh of every step
//   h_out  (T, B, H)     h_1 .. h_T
//   gates  (T, B, 4H)    activated i, f, g, o, saved for the backward
//   c      (T + 1, B, H) c_0 .. c_T (row 0 is c_0)
//   dz     (T, B, 4H)    ∂L/∂z_t, the pre-activation gate gradients
//
// h0 and c0 (B, H) may be null, meaning zeros. Every pointer is a device
// pointer. Outputs and gradients are ASSIGNED (=), never accumulated.

#include <cstdint>
#include <string>

namespace legato::cuda {

// How to run the recurrence.
//   persistent: one cooperative kernel for all T steps. The hidden units are
//     split across blocks (about one per SM); each block keeps its slice of
//     W_hh in shared memory for the whole sequence, and the blocks meet at a
//     grid-wide barrier (cooperative groups grid.sync()) once per step.
//   per_step: one GEMM and one fused gate kernel per step (2 launches a step).
//   automatic: persistent when it fits (lstm_persistent_supported) and B <= 128
//     (above that the per-step engine measured faster), else per_step.
enum class LstmAlgo { automatic, persistent, per_step };

const char* lstm_algo_name(LstmAlgo algo);

// Whether the persistent kernels can run at (B, H) on this device: W_hh's
// slice must fit one block's shared memory and all blocks must be resident at
// once. When not, `why` (if given) says which limit failed.
bool lstm_persistent_supported(std::int64_t B, std::int64_t H, std::string* why = nullptr);

// ------------------------------------------------ fused gates, one step ----

// z (B, 4H) holds h_{t-1} W_hhᵀ on entry and the activated gates on exit.
// in (B, 4H) is the step's input term (both biases included). c_prev (B, H)
// may be null (zeros). Writes c_next and h_next (B, H).
void lstm_gates_forward(float* z, const float* in, const float* c_prev, std::int64_t B, std::int64_t H, float* c_next,
                        float* h_next);

// a (B, 4H) activated gates of the step, c_prev (B, H) (null = zeros), c_t
// (B, H), dh (B, H) = ∂L/∂h_t complete. dc (B, H) holds ∂L/∂c_t on entry and
// ∂L/∂c_{t-1} on exit. Writes dz (B, 4H).
void lstm_gates_backward(const float* a, const float* c_prev, const float* c_t, const float* dh, float* dc,
                         std::int64_t B, std::int64_t H, float* dz);

// ----------------------------------------------------- the recurrence ----

// From the input term xw, runs the T steps. Writes h_out, gates and c (row 0
// = c0 or zeros). Returns the algorithm that ran.
LstmAlgo lstm_recurrence_forward(const float* xw, std::int64_t T, std::int64_t B, std::int64_t H, const float* h0,
                                 const float* c0, const float* w_hh, float* h_out, float* gates, float* c,
                                 LstmAlgo algo = LstmAlgo::automatic);

// Backward through time. dh_out (T, B, H) = ∂L/∂h_t from above; dc_last
// (B, H) = ∂L/∂c_T or null. Writes dz; dh0 and dc0 (B, H) when non-null.
LstmAlgo lstm_recurrence_backward(std::int64_t T, std::int64_t B, std::int64_t H, const float* dh_out,
                                  const float* dc_last, const float* w_hh, const float* gates, const float* c,
                                  float* dz, float* dh0, float* dc0, LstmAlgo algo = LstmAlgo::automatic);

// ------------------------------------------------------- a whole layer ----

struct LstmWeights {
  const float* w_ih = nullptr;  // (4H, I)
  const float* w_hh = nullptr;  // (4H, H)
  const float* b_ih = nullptr;  // (4H) or null
  const float* b_hh = nullptr;  // (4H) or null
};

// Any pointer may be null: that gradient is not computed.
struct LstmGrads {
  float* dx = nullptr;     // (T, B, I), or unused with token ids
  float* dh0 = nullptr;    // (B, H)
  float* dc0 = nullptr;    // (B, H)
  float* dw_ih = nullptr;  // (4H, I) (I = V with token ids)
  float* dw_hh = nullptr;  // (4H, H)
  float* db_ih = nullptr;  // (4H)
  float* db_hh = nullptr;  // (4H), the same values as db_ih
};

// x (T, B, I). xw: the caller's (T, B, 4H) scratch for the input term.
LstmAlgo lstm_sequence_forward(const float* x, std::int64_t T, std::int64_t B, std::int64_t I, std::int64_t H,
                               const LstmWeights& w, const float* h0, const float* c0, float* xw, float* h_out,
                               float* gates, float* c, LstmAlgo algo = LstmAlgo::automatic);

// dz: the caller's (T, B, 4H) scratch, which holds ∂L/∂z on return.
LstmAlgo lstm_sequence_backward(const float* x, std::int64_t T, std::int64_t B, std::int64_t I, std::int64_t H,
                                const LstmWeights& w, const float* h0, const float* h_out, const float* gates,
                                const float* c, const float* dh_out, const float* dc_last, float* dz,
                                const LstmGrads& grads, LstmAlgo algo = LstmAlgo::automatic);

// Token ids (T, B) int32 in [0, V) instead of x: the input term of id v is
// column v of W_ih plus the biases, gathered from a (V, 4H) table (the
// forward checks the ids and throws on a bad one). w.w_ih is (4H, V);
// grads.dx is ignored.
LstmAlgo lstm_sequence_forward_ids(const std::int32_t* ids, std::int64_t T, std::int64_t B, std::int64_t V,
                                   std::int64_t H, const LstmWeights& w, const float* h0, const float* c0, float* xw,
                                   float* h_out, float* gates, float* c, LstmAlgo algo = LstmAlgo::automatic);
LstmAlgo lstm_sequence_backward_ids(const std::int32_t* ids, std::int64_t T, std::int64_t B, std::int64_t V,
                                    std::int64_t H, const LstmWeights& w, const float* h0, const float* h_out,
                                    const float* gates, const float* c, const float* dh_out, const float* dc_last,
                                    float* dz, const LstmGrads& grads, LstmAlgo algo = LstmAlgo::automatic);

// out (C, R) = in (R, C)ᵀ, a helper the ids path needs; exposed for tests.
void transpose(const float* in, std::int64_t R, std::int64_t C, float* out);

}  // namespace legato::cuda

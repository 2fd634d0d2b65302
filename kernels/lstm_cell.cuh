#pragma once
// The LSTM gate math for one (batch row, hidden unit), shared by the fused
// gate kernels (lstm.cu) and the persistent kernels (lstm_persistent.cu), so
// both engines compute bit-identical cell updates.

#include "common.cuh"

namespace legato::cuda::detail {

// Pre-activations z_i, z_f, z_g, z_o in; activated gates out (in place);
// returns c_t and writes h_t.
__device__ __forceinline__ float lstm_cell_forward(float& zi, float& zf, float& zg, float& zo, float c_prev,
                                                   float& h) {
  const float i = sigmoidf_(zi), f = sigmoidf_(zf), g = tanhf(zg), o = sigmoidf_(zo);
  zi = i;
  zf = f;
  zg = g;
  zo = o;
  const float c = f * c_prev + i * g;
  h = o * tanhf(c);
  return c;
}

// Activated gates i, f, g, o; c_prev, c_t; dh = ∂L/∂h_t; dc = ∂L/∂c_t carried
// in from step t + 1, replaced by ∂L/∂c_{t-1}. Writes the four ∂L/∂z.
__device__ __forceinline__ void lstm_cell_backward(float i, float f, float g, float o, float c_prev, float c_t,
                                                   float dh, float& dc, float& dzi, float& dzf, float& dzg,
                                                   float& dzo) {
  const float tc = tanhf(c_t);
  const float d = dc + dh * o * (1.f - tc * tc);  // through h = o tanh(c)
  dzi = d * g * i * (1.f - i);
  dzf = d * c_prev * f * (1.f - f);
  dzg = d * i * (1.f - g * g);
  dzo = dh * tc * o * (1.f - o);
  dc = d * f;
}

}  // namespace legato::cuda::detail

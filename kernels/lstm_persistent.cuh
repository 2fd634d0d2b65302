#pragma once
// Internal interface between lstm.cu (dispatch) and lstm_persistent.cu.

#include <string>

#include "common.cuh"

namespace legato::cuda::detail {

// How the persistent kernel would be launched at (B, H), or why it cannot be.
struct PersistentPlan {
  bool ok = false;
  std::string why;     // when !ok
  int units = 0;       // hidden units per block
  int blocks = 0;      // ceil(H / units), all resident at once
  int tile_n = 0;      // columns of a warp's 32-output tile (1, 2, ..., 32)
  std::size_t smem = 0;  // dynamic shared memory per block, bytes
};

PersistentPlan plan_persistent(bool backward, int B, int H);

void persistent_forward(const PersistentPlan& plan, const float* xw, int T, int B, int H, const float* h0,
                        const float* c0, const float* w_hh, float* h_out, float* gates, float* c);

// dh_scratch, dc_scratch: (B, H) device scratch.
void persistent_backward(const PersistentPlan& plan, int T, int B, int H, const float* dh_out, const float* dc_last,
                         const float* w_hh, const float* gates, const float* c, float* dz, float* dh0, float* dc0,
                         float* dh_scratch, float* dc_scratch);

}  // namespace legato::cuda::detail

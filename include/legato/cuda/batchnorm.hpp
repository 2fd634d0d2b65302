#pragma once
// Batch normalisation on the device, forward and backward, training and eval
// mode. Defined in kernels/batchnorm.cu. Same definitions as ops/batchnorm.hpp:
// x is (N, C, L), or (N, C) with L = 1; statistics per channel over the
// M = N L values of that channel.
//
//   training: mean, var = batch statistics (var biased); running stats, when
//             given, move by momentum (running_var with the unbiased var)
//   eval:     mean, var = running_mean, running_var
//   y = (x - mean) * invstd * weight + bias,   invstd = 1 / sqrt(var + eps)

#include <cstdint>

namespace legato::cuda {

// weight, bias (C) may be null (no affine). running_mean/var (C) may be null
// in training (not tracked). Writes y (N, C, L) and save_mean, save_invstd
// (C) for the backward. Training needs M > 1 (throws otherwise).
void batch_norm_forward(const float* x, std::int64_t N, std::int64_t C, std::int64_t L, const float* weight,
                        const float* bias, float* running_mean, float* running_var, bool training, float momentum,
                        float eps, float* y, float* save_mean, float* save_invstd);

// From dy and the forward's save_mean / save_invstd. In training mode the
// statistics depend on x, which adds the two correction sums:
//   dx = invstd / M (M dxhat - sum(dxhat) - xhat sum(dxhat xhat)),  dxhat = dy weight
// in eval mode dx = dxhat invstd. dweight = sum(dy xhat), dbias = sum(dy).
// dx, dweight, dbias may be null. Writes (=).
void batch_norm_backward(const float* x, const float* dy, std::int64_t N, std::int64_t C, std::int64_t L,
                         const float* weight, const float* save_mean, const float* save_invstd, bool training,
                         float* dx, float* dweight, float* dbias);

}  // namespace legato::cuda

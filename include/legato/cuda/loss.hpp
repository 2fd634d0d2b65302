#pragma once
// Softmax cross-entropy with ignore_index, fused, forward and backward.
// Defined in kernels/cross_entropy.cu. Same definition as ops/loss.hpp:
//
//   loss_n = log sum_v e^(x_nv) - x_n,t_n,    loss = sum over kept n / count
//
// where rows whose target equals ignore_index are skipped and count is the
// number of kept rows. If every row is ignored the loss is 0 and so is the
// gradient (not PyTorch's 0/0 = NaN).

#include <cstdint>

namespace legato::cuda {

// logits (N, V), targets (N) int32 on the device. Writes:
//   loss  one float, the mean over kept rows
//   lse   (N) log-sum-exp per row, saved for the backward
//   count one float, the number of kept rows, saved for the backward
// A target outside [0, V) that is not ignore_index is an error: the kernel
// records the first such row and this function throws a legato::Error naming
// it after a synchronisation (so this call waits for the GPU).
void cross_entropy_forward(const float* logits, const std::int32_t* targets, std::int64_t N, std::int64_t V,
                           int ignore_index, float* loss, float* lse, float* count);

// dlogits (N, V) = (softmax(x_n) - onehot(t_n)) * g / count for kept rows,
// 0 for ignored rows. grad_loss is one float on the device (the output
// gradient). Writes dlogits (=).
void cross_entropy_backward(const float* logits, const std::int32_t* targets, const float* lse, const float* count,
                            const float* grad_loss, std::int64_t N, std::int64_t V, int ignore_index, float* dlogits);

}  // namespace legato::cuda

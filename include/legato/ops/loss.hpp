#pragma once
// Losses. Each returns a scalar of shape () and is one fused op: forward in
// one pass, backward written out by hand, instead of a chain of elementwise
// ops (faster, and the stable formulas stay stable in the backward too).
//
//   cross_entropy(logits (N, C), targets (N), ignore_index)  mean over kept targets
//   mse_loss(pred, target)                                    mean of (p - t)^2
//   bce_with_logits(logits, targets)                          mean binary cross-entropy
//   gaussian_kl(mu, logvar)                                   KL(N(mu, e^logvar) || N(0, I)), summed

#include "legato/ops/activations.hpp"
#include "legato/ops/elementwise.hpp"
#include "legato/ops/shape.hpp"

namespace legato {

namespace detail {

inline void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  check_cpu(a, op);
  check_cpu(b, op);
  check(a.shape() == b.shape(), op, ": shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()), " differ");
}

}  // namespace detail

// ---------------------------------------------------------- cross_entropy ----

// Softmax cross-entropy from raw scores, fused with log-softmax:
//   loss_n = log sum_c e^(x_nc) - x_n,t_n,    loss = sum over kept n / count
// where a target equal to ignore_index (padding) is skipped and count is the
// number of kept targets. If every target is ignored the loss is 0 with a zero
// gradient (PyTorch gives 0/0 = NaN; a batch of pure padding should not poison
// training with NaN).
// Gradient: (softmax(x_n) - onehot(t_n)) * g / count for kept rows, 0 for the
// rest. Forward saves only log sum exp per row (N floats) for the backward.
inline Tensor cross_entropy(const Tensor& logits, const Ids& targets, int ignore_index = -100) {
  detail::check_ids(targets, "cross_entropy");
  check(logits.dim() == 2, "cross_entropy: logits must be 2-D (N, C), got shape ", shape_str(logits.shape()));
  const std::int64_t N = logits.shape()[0], C = logits.shape()[1];
  check(targets.shape == Shape{N}, "cross_entropy: logits ", shape_str(logits.shape()), " and targets ",
        shape_str(targets.shape), " do not match (expected targets (", N, ",))");
  std::int64_t count = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int32_t t = targets.values[std::size_t(n)];
    if (t == ignore_index) continue;
    check(t >= 0 && t < C, "cross_entropy: target ", t, " at position ", n, " is out of range for ", C,
          " classes (ignore_index is ", ignore_index, ")");
    ++count;
  }
#ifdef LEGATO_CUDA
  if (!logits.is_cpu()) return on_cuda::cross_entropy(logits, targets, ignore_index);
#endif
  detail::check_cpu(logits, "cross_entropy");

  std::vector<float> log_sum_exp(static_cast<std::size_t>(N));  // (N)
  std::vector<double> row_loss(static_cast<std::size_t>(N), 0.0);
  const float* x = logits.data();
  parallel_for(
      N,
      [&](std::int64_t n) {
        const float* row = x + n * C;
        const std::int32_t t = targets.values[std::size_t(n)];
        if (t == ignore_index) return;
        float m = row[0];
        for (std::int64_t c = 1; c < C; ++c) m = std::max(m, row[c]);
        float s = 0.f;
        for (std::int64_t c = 0; c < C; ++c) s += std::exp(row[c] - m);
        log_sum_exp[std::size_t(n)] = m + std::log(s);
        row_loss[std::size_t(n)] = double(log_sum_exp[std::size_t(n)]) - row[t];
      },
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, C)));
  double total = 0.0;  // summed in a fixed order: the same result on any thread count
  for (double l : row_loss) total += l;
  Tensor out = Tensor::scalar(count > 0 ? static_cast<float>(total / double(count)) : 0.f);

  record(out, "cross_entropy", {logits},
         [target = targets.values, lse = std::move(log_sum_exp), count, ignore_index](
             const Inputs& in, const Tensor&, const Tensor& g) {
           const std::int64_t N = in[0].shape()[0], C = in[0].shape()[1];
           Tensor dx = Tensor::zeros(in[0].shape());
           if (count == 0) return Grads{dx};
           const float scale = g.item() / static_cast<float>(count);
           parallel_for(
               N,
               [&](std::int64_t n) {
                 const std::int32_t t = target[std::size_t(n)];
                 if (t == ignore_index) return;
                 const float* row = in[0].data() + n * C;
                 float* d = dx.data() + n * C;
                 for (std::int64_t c = 0; c < C; ++c) d[c] = std::exp(row[c] - lse[std::size_t(n)]) * scale;
                 d[t] -= scale;
               },
               std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, C)));
           return Grads{dx};
         });
  return out;
}

// --------------------------------------------------------------- mse_loss ----

// mean((pred - target)^2); shapes must match exactly (no broadcasting: a
// (N, 1) against (N,) mix-up would silently average an N x N matrix).
// Gradients: 2 (pred - target) g / n, and its negative for target.
inline Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  detail::check_same_shape(pred, target, "mse_loss");
  const std::int64_t n = pred.numel();
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = double(pred.data()[i]) - target.data()[i];
    total += d * d;
  }
  Tensor out = Tensor::scalar(static_cast<float>(total / double(n)));
  record(out, "mse_loss", {pred, target}, [n](const Inputs& in, const Tensor&, const Tensor& g) {
    const float scale = 2.f * g.item() / static_cast<float>(n);
    Tensor dpred = detail::map_binary(in[0], in[1], "mse_loss", [scale](float p, float t) { return scale * (p - t); });
    return Grads{dpred, in[1].requires_grad() ? neg(dpred) : Tensor()};
  });
  return out;
}

// -------------------------------------------------------- bce_with_logits ----

// Binary cross-entropy of sigmoid(x) against targets t in [0, 1], averaged:
//   -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] = max(x, 0) - x t + log(1 + e^-|x|)
// The right-hand form never takes the log of 0 or exponentiates a large x.
// Gradients: (sigmoid(x) - t) g / n for x, and -x g / n for t.
inline Tensor bce_with_logits(const Tensor& logits, const Tensor& targets) {
  detail::check_same_shape(logits, targets, "bce_with_logits");
  const std::int64_t n = logits.numel();
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = logits.data()[i], t = targets.data()[i];
    total += double(std::max(x, 0.f) - x * t) + std::log1p(std::exp(-std::fabs(double(x))));
  }
  Tensor out = Tensor::scalar(static_cast<float>(total / double(n)));
  record(out, "bce_with_logits", {logits, targets}, [n](const Inputs& in, const Tensor&, const Tensor& g) {
    const float scale = g.item() / static_cast<float>(n);
    Grads grads(2);
    if (in[0].requires_grad())
      grads[0] = detail::map_binary(in[0], in[1], "bce_with_logits",
                                    [scale](float x, float t) { return scale * (1.f / (1.f + std::exp(-x)) - t); });
    if (in[1].requires_grad()) grads[1] = mul(in[0], -scale);
    return grads;
  });
  return out;
}

// ------------------------------------------------------------ gaussian_kl ----

// KL divergence of the diagonal Gaussian N(mu, e^logvar) from N(0, I), summed
// over ALL elements (divide by the batch size yourself for a per-example
// value, as VAE papers do):
//   -0.5 * sum(1 + logvar - mu^2 - e^logvar)
// Gradients: g mu for mu, and 0.5 g (e^logvar - 1) for logvar.
inline Tensor gaussian_kl(const Tensor& mu, const Tensor& logvar) {
  detail::check_same_shape(mu, logvar, "gaussian_kl");
  double total = 0.0;
  for (std::int64_t i = 0; i < mu.numel(); ++i) {
    const double m = mu.data()[i], lv = logvar.data()[i];
    total += 1.0 + lv - m * m - std::exp(lv);
  }
  Tensor out = Tensor::scalar(static_cast<float>(-0.5 * total));
  record(out, "gaussian_kl", {mu, logvar}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    const float scale = g.item();
    Grads grads(2);
    if (in[0].requires_grad()) grads[0] = mul(in[0], scale);
    if (in[1].requires_grad())
      grads[1] = detail::map_unary(in[1], "gaussian_kl", [scale](float lv) { return 0.5f * scale * std::expm1(lv); });
    return grads;
  });
  return out;
}

// ------------------------------------------------------ references -------
// Per element in double, with the textbook formulas.

inline Tensor cross_entropy_ref(const Tensor& logits, const Ids& targets, int ignore_index = -100) {
  const std::int64_t N = logits.shape()[0], C = logits.shape()[1];
  double total = 0.0;
  std::int64_t count = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    const std::int32_t t = targets.values[std::size_t(n)];
    if (t == ignore_index) continue;
    double m = logits.at({n, 0});
    for (std::int64_t c = 0; c < C; ++c) m = std::max(m, double(logits.at({n, c})));
    double s = 0.0;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(double(logits.at({n, c})) - m);
    const double p = std::exp(double(logits.at({n, t})) - m) / s;  // softmax probability of the target
    total += -std::log(p);
    ++count;
  }
  return Tensor::scalar(count ? static_cast<float>(total / double(count)) : 0.f);
}

inline Tensor mse_loss_ref(const Tensor& pred, const Tensor& target) {
  double total = 0.0;
  for (std::int64_t i = 0; i < pred.numel(); ++i) total += std::pow(double(pred.data()[i]) - target.data()[i], 2);
  return Tensor::scalar(static_cast<float>(total / double(pred.numel())));
}

// Only for moderate logits (|x| < 30): log(1 - sigmoid(x)) is taken literally.
inline Tensor bce_with_logits_ref(const Tensor& logits, const Tensor& targets) {
  double total = 0.0;
  for (std::int64_t i = 0; i < logits.numel(); ++i) {
    const double p = 1.0 / (1.0 + std::exp(-double(logits.data()[i])));
    const double t = targets.data()[i];
    total += -(t * std::log(p) + (1.0 - t) * std::log(1.0 - p));
  }
  return Tensor::scalar(static_cast<float>(total / double(logits.numel())));
}

inline Tensor gaussian_kl_ref(const Tensor& mu, const Tensor& logvar) {
  double total = 0.0;
  for (std::int64_t i = 0; i < mu.numel(); ++i) {
    const double m = mu.data()[i], variance = std::exp(double(logvar.data()[i]));
    // KL(N(m, v) || N(0, 1)) = 0.5 * (v + m^2 - 1 - log v), per dimension
    total += 0.5 * (variance + m * m - 1.0 - std::log(variance));
  }
  return Tensor::scalar(static_cast<float>(total));
}

}  // namespace legato

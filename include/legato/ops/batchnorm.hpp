#pragma once
// Batch normalisation over (N, C) or (N, C, L), fused: one op with its own
// backward instead of a chain of mean/sub/mul ops, so the saved buffers are
// just the normalised input and one inverse deviation per channel.
//
// Per channel c, over the M = N * L values x of that channel:
//   training:  mean = avg(x), var = avg((x - mean)^2)   (biased, for normalising)
//              running_mean = (1 - momentum) running_mean + momentum mean
//              running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)   (unbiased)
//   eval:      mean = running_mean, var = running_var
//   y = (x - mean) / sqrt(var + eps) * weight + bias
//
// Backward, with xhat = (x - mean) * invstd and dxhat = g * weight:
//   training:  dx = invstd / M * (M dxhat - sum(dxhat) - xhat sum(dxhat xhat))
//              (mean and var depend on x, hence the two correction sums)
//   eval:      dx = dxhat * invstd
//   dweight = sum(g xhat),  dbias = sum(g)

#include <cmath>
#include <vector>

#include "legato/autograd.hpp"
#include "legato/ops/elementwise.hpp"

namespace legato {

namespace detail {

struct BatchNormDims {
  std::int64_t n, c, l;  // x viewed as (N, C, L); L = 1 for (N, C)
};

inline BatchNormDims batch_norm_dims(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                     const Tensor& running_mean, const Tensor& running_var) {
  check_cpu(x, "batch_norm");  // no GPU version yet (the kernels exist: cuda/batchnorm.hpp)
  check(x.dim() == 2 || x.dim() == 3, "batch_norm: input of shape ", shape_str(x.shape()),
        " must be (N, C) or (N, C, L)");
  const BatchNormDims d{x.size(0), x.size(1), x.dim() == 3 ? x.size(2) : 1};
  auto check_channels = [&](const Tensor& t, const char* name) {
    if (!t.defined()) return;
    check(t.is_cpu(), "batch_norm: ", name, " is on ", device_name(t.device()), " and the input on the cpu");
    check(t.shape() == Shape{d.c}, "batch_norm: ", name, " of shape ", shape_str(t.shape()),
          " does not match the input of shape ", shape_str(x.shape()), " (expected (", d.c, ",))");
  };
  check_channels(weight, "weight");
  check_channels(bias, "bias");
  check_channels(running_mean, "running_mean");
  check_channels(running_var, "running_var");
  return d;
}

}  // namespace detail

// weight and bias may be undefined (no affine transform). In training mode the
// running statistics, if defined, are updated in place; in eval mode they must
// be defined.
inline Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                         Tensor running_var, bool training, float momentum = 0.1f, float eps = 1e-5f) {
  const auto d = detail::batch_norm_dims(x, weight, bias, running_mean, running_var);
  const std::int64_t m = d.n * d.l;  // values per channel
  check(!training || m > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape ",
        shape_str(x.shape()));
  check(training || (running_mean.defined() && running_var.defined()),
        "batch_norm: eval mode needs running_mean and running_var");
  check(m > 0, "batch_norm: empty input of shape ", shape_str(x.shape()));

  const float* px = x.data();
  auto at = [&](std::int64_t n, std::int64_t c, std::int64_t l) { return (n * d.c + c) * d.l + l; };

  // Per-channel statistics used for normalising.
  std::vector<float> mean(static_cast<std::size_t>(d.c)), invstd(static_cast<std::size_t>(d.c));
  for (std::int64_t c = 0; c < d.c; ++c) {
    double mu, var;
    if (training) {
      double s = 0.0;
      for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t l = 0; l < d.l; ++l) s += px[at(n, c, l)];
      mu = s / double(m);
      double s2 = 0.0;
      for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t l = 0; l < d.l; ++l) s2 += (px[at(n, c, l)] - mu) * (px[at(n, c, l)] - mu);
      var = s2 / double(m);
      if (running_mean.defined()) {
        float& rm = running_mean.data()[c];
        rm = static_cast<float>((1.0 - momentum) * rm + momentum * mu);
      }
      if (running_var.defined()) {
        float& rv = running_var.data()[c];
        rv = static_cast<float>((1.0 - momentum) * rv + momentum * var * double(m) / double(m - 1));
      }
    } else {
      mu = running_mean.data()[c];
      var = running_var.data()[c];
    }
    mean[static_cast<std::size_t>(c)] = static_cast<float>(mu);
    invstd[static_cast<std::size_t>(c)] = static_cast<float>(1.0 / std::sqrt(var + eps));
  }

  Tensor out = Tensor::empty(x.shape());
  Tensor xhat = Tensor::empty(x.shape());  // saved for backward
  float* po = out.data();
  float* ph = xhat.data();
  for (std::int64_t c = 0; c < d.c; ++c) {
    const float w = weight.defined() ? weight.data()[c] : 1.f;
    const float b = bias.defined() ? bias.data()[c] : 0.f;
    const float mu = mean[static_cast<std::size_t>(c)], is = invstd[static_cast<std::size_t>(c)];
    for (std::int64_t n = 0; n < d.n; ++n)
      for (std::int64_t l = 0; l < d.l; ++l) {
        const std::int64_t i = at(n, c, l);
        ph[i] = (px[i] - mu) * is;
        po[i] = ph[i] * w + b;
      }
  }

  record(out, "batch_norm", {x, weight, bias},
         [d, m, training, invstd, xhat](const Inputs& in, const Tensor&, const Tensor& g) {
           const Tensor& weight = in[1];
           const float* pg = g.data();
           const float* ph = xhat.data();
           auto at = [&](std::int64_t n, std::int64_t c, std::int64_t l) { return (n * d.c + c) * d.l + l; };
           Tensor dx = in[0].requires_grad() ? Tensor::empty(in[0].shape()) : Tensor();
           Tensor dw = weight.defined() && weight.requires_grad() ? Tensor::empty({d.c}) : Tensor();
           Tensor db = in[2].defined() && in[2].requires_grad() ? Tensor::empty({d.c}) : Tensor();
           for (std::int64_t c = 0; c < d.c; ++c) {
             double sum_g = 0.0, sum_g_xhat = 0.0;
             for (std::int64_t n = 0; n < d.n; ++n)
               for (std::int64_t l = 0; l < d.l; ++l) {
                 const std::int64_t i = at(n, c, l);
                 sum_g += pg[i];
                 sum_g_xhat += double(pg[i]) * ph[i];
               }
             if (dw.defined()) dw.data()[c] = static_cast<float>(sum_g_xhat);
             if (db.defined()) db.data()[c] = static_cast<float>(sum_g);
             if (!dx.defined()) continue;
             const float w = weight.defined() ? weight.data()[c] : 1.f;
             const float is = invstd[static_cast<std::size_t>(c)];
             // With dxhat = g * w, the sums of dxhat and dxhat * xhat are w times those of g.
             const double mean_dxhat = training ? w * sum_g / double(m) : 0.0;
             const double mean_dxhat_xhat = training ? w * sum_g_xhat / double(m) : 0.0;
             for (std::int64_t n = 0; n < d.n; ++n)
               for (std::int64_t l = 0; l < d.l; ++l) {
                 const std::int64_t i = at(n, c, l);
                 dx.data()[i] = static_cast<float>(is * (w * pg[i] - mean_dxhat - ph[i] * mean_dxhat_xhat));
               }
           }
           return Grads{dx, dw, db};
         });
  return out;
}

// Plain reference of the forward pass (no running-statistics update): the
// statistics are either the batch's (training) or the given ones (eval).
inline Tensor batch_norm_ref(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, bool training, float eps = 1e-5f) {
  const std::int64_t n_ = x.size(0), c_ = x.size(1), l_ = x.dim() == 3 ? x.size(2) : 1;
  Tensor out = Tensor::empty(x.shape());
  for (std::int64_t c = 0; c < c_; ++c) {
    double mean = 0, var = 0;
    if (training) {
      for (std::int64_t i = 0; i < n_ * l_; ++i) mean += x.data()[((i / l_) * c_ + c) * l_ + i % l_];
      mean /= double(n_ * l_);
      for (std::int64_t i = 0; i < n_ * l_; ++i) {
        const double v = x.data()[((i / l_) * c_ + c) * l_ + i % l_] - mean;
        var += v * v;
      }
      var /= double(n_ * l_);
    } else {
      mean = running_mean.data()[c];
      var = running_var.data()[c];
    }
    for (std::int64_t i = 0; i < n_ * l_; ++i) {
      const std::int64_t k = ((i / l_) * c_ + c) * l_ + i % l_;
      const double w = weight.defined() ? weight.data()[c] : 1.0, b = bias.defined() ? bias.data()[c] : 0.0;
      out.data()[k] = static_cast<float>((x.data()[k] - mean) / std::sqrt(var + eps) * w + b);
    }
  }
  return out;
}

}  // namespace legato

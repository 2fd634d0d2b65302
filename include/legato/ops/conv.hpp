#pragma once
// 1-D convolution and its transpose, by im2col + one GEMM.
//
//   conv1d(x (N, C_in, L), w (C_out, C_in, K), b (C_out,) or undefined,
//          stride, padding, dilation)                       -> (N, C_out, L_out)
//     L_out = (L + 2 padding - dilation (K - 1) - 1) / stride + 1
//   conv_transpose1d(x (N, C_in, L), w (C_in, C_out, K), b (C_out,) or undefined,
//          stride, padding, output_padding, dilation)       -> (N, C_out, L_out)
//     L_out = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1
//
// Both are cross-correlations as in PyTorch (the kernel is not flipped).
//
// im2col lays the receptive fields out as columns: cols (C K, N L_out) with
//   cols[c K + k][n L_out + j] = x[n][c][j stride - padding + k dilation]  (0 outside x)
// so the convolution is one GEMM, W (C_out, C K) x cols, and col2im, which adds
// the columns back to where they came from, is the adjoint of im2col. The
// transposed convolution is exactly the adjoint of a convolution: its forward
// is col2im(W^T x) and its backward uses im2col, the same two helpers.

#include "legato/autograd.hpp"
#include "legato/ops/elementwise.hpp"
#include "legato/ops/matmul.hpp"
#include "legato/util/parallel.hpp"

namespace legato {

namespace detail {

// The geometry shared by a convolution and its transpose, in the convolution's
// direction: `length` samples in, `out_length` positions out.
struct Conv1dGeometry {
  std::int64_t batch, channels, length, kernel, stride, padding, dilation, out_length;

  std::int64_t rows() const { return channels * kernel; }
  std::int64_t cols() const { return batch * out_length; }
  // Input position read by kernel tap k at output position j (may be outside 0..length-1).
  std::int64_t source(std::int64_t j, std::int64_t k) const { return j * stride - padding + k * dilation; }
};

// x (N, C, L) -> cols (C K, N L_out). Each row is written by one iteration.
inline void im2col(const float* x, const Conv1dGeometry& g, float* cols) {
  parallel_for(
      g.rows(),
      [&](std::int64_t row) {
        const std::int64_t c = row / g.kernel, k = row % g.kernel;
        float* dst = cols + row * g.cols();
        for (std::int64_t n = 0; n < g.batch; ++n) {
          const float* src = x + (n * g.channels + c) * g.length;
          for (std::int64_t j = 0; j < g.out_length; ++j) {
            const std::int64_t s = g.source(j, k);
            dst[n * g.out_length + j] = (s >= 0 && s < g.length) ? src[s] : 0.f;
          }
        }
      },
      /*grain=*/8);
}

// x (N, C, L) += the columns of cols (C K, N L_out) at their source positions.
// Parallel over channels: the rows of one channel only touch that channel.
inline void col2im_add(const float* cols, const Conv1dGeometry& g, float* x) {
  parallel_for(
      g.channels,
      [&](std::int64_t c) {
        for (std::int64_t k = 0; k < g.kernel; ++k) {
          const float* src = cols + (c * g.kernel + k) * g.cols();
          for (std::int64_t n = 0; n < g.batch; ++n) {
            float* dst = x + (n * g.channels + c) * g.length;
            for (std::int64_t j = 0; j < g.out_length; ++j) {
              const std::int64_t s = g.source(j, k);
              if (s >= 0 && s < g.length) dst[s] += src[n * g.out_length + j];
            }
          }
        }
      },
      /*grain=*/2);
}

// (N, C, L) -> (C, N L): channels first, so a GEMM sees one matrix for the batch.
inline Tensor channels_first(const Tensor& x) {
  const std::int64_t n_ = x.size(0), c_ = x.size(1), l_ = x.size(2);
  Tensor out = Tensor::empty({c_, n_ * l_});
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t c = 0; c < c_; ++c)
      std::copy_n(x.data() + (n * c_ + c) * l_, l_, out.data() + c * n_ * l_ + n * l_);
  return out;
}

// (C, N L) -> (N, C, L), the inverse of channels_first.
inline Tensor batch_first(const Tensor& m, std::int64_t n_, std::int64_t c_, std::int64_t l_) {
  Tensor out = Tensor::empty({n_, c_, l_});
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t c = 0; c < c_; ++c)
      std::copy_n(m.data() + c * n_ * l_ + n * l_, l_, out.data() + (n * c_ + c) * l_);
  return out;
}

// out (N, C, L) += b[c]
inline void add_channel_bias(Tensor& out, const Tensor& b) {
  const std::int64_t n_ = out.size(0), c_ = out.size(1), l_ = out.size(2);
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t c = 0; c < c_; ++c) {
      float* row = out.data() + (n * c_ + c) * l_;
      for (std::int64_t l = 0; l < l_; ++l) row[l] += b.data()[c];
    }
}

// db[c] = sum over n, l of g (N, C, L)
inline Tensor channel_sums(const Tensor& g) {
  const std::int64_t n_ = g.size(0), c_ = g.size(1), l_ = g.size(2);
  Tensor db = Tensor::zeros({c_});
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t c = 0; c < c_; ++c) {
      double s = 0.0;
      const float* row = g.data() + (n * c_ + c) * l_;
      for (std::int64_t l = 0; l < l_; ++l) s += row[l];
      db.data()[c] += static_cast<float>(s);
    }
  return db;
}

inline void check_conv_args(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t in_axis,
                            std::int64_t out_axis, std::int64_t stride, std::int64_t padding,
                            std::int64_t dilation) {
  common_device(op, x, w, b);
  check_cpu(x, op);  // no GPU version yet (the kernels exist: cuda/conv1d.hpp)
  check(x.dim() == 3, op, ": input of shape ", shape_str(x.shape()), " must be (N, C, L)");
  check(w.dim() == 3, op, ": weight of shape ", shape_str(w.shape()), " must be 3-D");
  check(x.size(1) == w.size(static_cast<int>(in_axis)), op, ": input of shape ", shape_str(x.shape()), " has ",
        x.size(1), " channels but the weight of shape ", shape_str(w.shape()), " expects ",
        w.size(static_cast<int>(in_axis)));
  check(w.size(2) > 0, op, ": weight of shape ", shape_str(w.shape()), " has an empty kernel");
  check(stride >= 1 && dilation >= 1 && padding >= 0, op, ": stride ", stride, " and dilation ", dilation,
        " must be >= 1 and padding ", padding, " >= 0");
  if (b.defined())
    check(b.shape() == Shape{w.size(static_cast<int>(out_axis))}, op, ": bias of shape ", shape_str(b.shape()),
          " does not match the weight of shape ", shape_str(w.shape()));
}

}  // namespace detail

inline std::int64_t conv1d_out_length(std::int64_t length, std::int64_t kernel, std::int64_t stride,
                                      std::int64_t padding, std::int64_t dilation) {
  return (length + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

inline std::int64_t conv_transpose1d_out_length(std::int64_t length, std::int64_t kernel, std::int64_t stride,
                                                std::int64_t padding, std::int64_t output_padding,
                                                std::int64_t dilation) {
  return (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1;
}

// ------------------------------------------------------------- conv1d ----

inline Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride = 1,
                     std::int64_t padding = 0, std::int64_t dilation = 1) {
  detail::check_conv_args("conv1d", x, w, b, 1, 0, stride, padding, dilation);
  const std::int64_t c_out = w.size(0);
  const detail::Conv1dGeometry geo{x.size(0), x.size(1), x.size(2), w.size(2), stride, padding, dilation,
                                   conv1d_out_length(x.size(2), w.size(2), stride, padding, dilation)};
  check(x.size(2) + 2 * padding >= dilation * (w.size(2) - 1) + 1, "conv1d: input of shape ", shape_str(x.shape()),
        " is shorter than the dilated kernel of the weight ", shape_str(w.shape()), " (padding ", padding,
        ", dilation ", dilation, ")");

  Tensor cols = Tensor::empty({geo.rows(), geo.cols()});  // (C_in K, N L_out)
  detail::im2col(x.data(), geo, cols.data());
  Tensor y = Tensor::empty({c_out, geo.cols()});  // (C_out, N L_out)
  detail::gemm(w.data(), false, cols.data(), false, y.data(), c_out, geo.rows(), geo.cols());
  Tensor out = detail::batch_first(y, geo.batch, c_out, geo.out_length);
  if (b.defined()) detail::add_channel_bias(out, b);

  record(out, "conv1d", {x, w, b}, [geo, c_out](const Inputs& in, const Tensor&, const Tensor& g) {
    const Tensor gm = detail::channels_first(g);  // G (C_out, N L_out)
    Tensor dx, dw;
    if (in[0].requires_grad()) {  // dx = col2im(W^T G)
      Tensor dcols = Tensor::empty({geo.rows(), geo.cols()});
      detail::gemm(in[1].data(), true, gm.data(), false, dcols.data(), geo.rows(), c_out, geo.cols());
      dx = Tensor::zeros(in[0].shape());
      detail::col2im_add(dcols.data(), geo, dx.data());
    }
    if (in[1].requires_grad()) {  // dW = G cols^T, with cols rebuilt from x
      Tensor cols = Tensor::empty({geo.rows(), geo.cols()});
      detail::im2col(in[0].data(), geo, cols.data());
      dw = Tensor::empty(in[1].shape());
      detail::gemm(gm.data(), false, cols.data(), true, dw.data(), c_out, geo.cols(), geo.rows());
    }
    Tensor db = in[2].defined() && in[2].requires_grad() ? detail::channel_sums(g) : Tensor();
    return Grads{dx, dw, db};
  });
  return out;
}

// ---------------------------------------------------- conv_transpose1d ----

inline Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride = 1,
                               std::int64_t padding = 0, std::int64_t output_padding = 0,
                               std::int64_t dilation = 1) {
  detail::check_conv_args("conv_transpose1d", x, w, b, 0, 1, stride, padding, dilation);
  check(output_padding >= 0 && (output_padding < stride || output_padding < dilation),
        "conv_transpose1d: output_padding ", output_padding, " must be smaller than the stride ", stride,
        " or the dilation ", dilation);
  const std::int64_t c_in = w.size(0), c_out = w.size(1);
  const std::int64_t out_length =
      conv_transpose1d_out_length(x.size(2), w.size(2), stride, padding, output_padding, dilation);
  check(out_length > 0, "conv_transpose1d: input of shape ", shape_str(x.shape()), " with weight ",
        shape_str(w.shape()), " and padding ", padding, " gives an empty output");
  // The convolution this op is the adjoint of: out_length samples -> x's L positions.
  const detail::Conv1dGeometry geo{x.size(0), c_out, out_length, w.size(2), stride, padding, dilation, x.size(2)};

  const Tensor xm = detail::channels_first(x);  // (C_in, N L)
  Tensor cols = Tensor::empty({geo.rows(), geo.cols()});  // (C_out K, N L) = W^T X
  detail::gemm(w.data(), true, xm.data(), false, cols.data(), geo.rows(), c_in, geo.cols());
  Tensor out = Tensor::zeros({geo.batch, c_out, out_length});
  detail::col2im_add(cols.data(), geo, out.data());
  if (b.defined()) detail::add_channel_bias(out, b);

  record(out, "conv_transpose1d", {x, w, b}, [geo, c_in](const Inputs& in, const Tensor&, const Tensor& g) {
    Tensor gcols = Tensor::empty({geo.rows(), geo.cols()});  // (C_out K, N L) = im2col(g)
    detail::im2col(g.data(), geo, gcols.data());
    Tensor dx, dw;
    if (in[0].requires_grad()) {  // dX = W gcols, (C_in, N L)
      Tensor dxm = Tensor::empty({c_in, geo.cols()});
      detail::gemm(in[1].data(), false, gcols.data(), false, dxm.data(), c_in, geo.rows(), geo.cols());
      dx = detail::batch_first(dxm, geo.batch, c_in, geo.out_length);
    }
    if (in[1].requires_grad()) {  // dW = X gcols^T, (C_in, C_out K)
      const Tensor xm = detail::channels_first(in[0]);
      dw = Tensor::empty(in[1].shape());
      detail::gemm(xm.data(), false, gcols.data(), true, dw.data(), c_in, geo.cols(), geo.rows());
    }
    Tensor db = in[2].defined() && in[2].requires_grad() ? detail::channel_sums(g) : Tensor();
    return Grads{dx, dw, db};
  });
  return out;
}

// ------------------------------------------------------- references ----

// out[n][o][j] = b[o] + sum_{c,k} w[o][c][k] x[n][c][j s - p + k d]
inline Tensor conv1d_ref(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride = 1,
                         std::int64_t padding = 0, std::int64_t dilation = 1) {
  const std::int64_t n_ = x.size(0), c_ = x.size(1), l_ = x.size(2), o_ = w.size(0), k_ = w.size(2);
  const std::int64_t lo = conv1d_out_length(l_, k_, stride, padding, dilation);
  Tensor out = Tensor::empty({n_, o_, lo});
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t o = 0; o < o_; ++o)
      for (std::int64_t j = 0; j < lo; ++j) {
        double s = b.defined() ? b.data()[o] : 0.0;
        for (std::int64_t c = 0; c < c_; ++c)
          for (std::int64_t k = 0; k < k_; ++k) {
            const std::int64_t i = j * stride - padding + k * dilation;
            if (i >= 0 && i < l_) s += double(w.at({o, c, k})) * x.at({n, c, i});
          }
        out.at({n, o, j}) = static_cast<float>(s);
      }
  return out;
}

// Scatter form: every input sample x[n][c][i] adds w[c][o][k] x to
// out[n][o][i s - p + k d].
inline Tensor conv_transpose1d_ref(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride = 1,
                                   std::int64_t padding = 0, std::int64_t output_padding = 0,
                                   std::int64_t dilation = 1) {
  const std::int64_t n_ = x.size(0), c_ = x.size(1), l_ = x.size(2), o_ = w.size(1), k_ = w.size(2);
  const std::int64_t lo = conv_transpose1d_out_length(l_, k_, stride, padding, output_padding, dilation);
  std::vector<double> acc(static_cast<std::size_t>(n_ * o_ * lo), 0.0);
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t c = 0; c < c_; ++c)
      for (std::int64_t i = 0; i < l_; ++i)
        for (std::int64_t o = 0; o < o_; ++o)
          for (std::int64_t k = 0; k < k_; ++k) {
            const std::int64_t j = i * stride - padding + k * dilation;
            if (j >= 0 && j < lo) acc[static_cast<std::size_t>((n * o_ + o) * lo + j)] += double(w.at({c, o, k})) * x.at({n, c, i});
          }
  Tensor out = Tensor::empty({n_, o_, lo});
  for (std::int64_t n = 0; n < n_; ++n)
    for (std::int64_t o = 0; o < o_; ++o)
      for (std::int64_t j = 0; j < lo; ++j)
        out.at({n, o, j}) = static_cast<float>(acc[static_cast<std::size_t>((n * o_ + o) * lo + j)] +
                                               (b.defined() ? b.data()[o] : 0.0));
  return out;
}

}  // namespace legato

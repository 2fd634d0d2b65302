#pragma once
// nn::Conv1d and nn::ConvTranspose1d on (N, C, L), with PyTorch's weight
// layouts, (C_out, C_in, K) and (C_in, C_out, K), and default initialisation.
// The ops are ops/conv.hpp.

#include "legato/nn/init.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/conv.hpp"

namespace legato::nn {

class Conv1d : public UnaryModule {
 public:
  Tensor weight;  // (C_out, C_in, K)
  Tensor bias;    // (C_out,), undefined without bias

  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, std::int64_t stride = 1,
         std::int64_t padding = 0, std::int64_t dilation = 1, bool with_bias = true, Rng& rng = global_rng())
      : in_(in_channels), out_(out_channels), kernel_(kernel_size), stride_(stride), padding_(padding),
        dilation_(dilation) {
    check(in_channels > 0 && out_channels > 0 && kernel_size > 0, "Conv1d: channels and kernel size must be positive, got in=",
          in_channels, ", out=", out_channels, ", kernel=", kernel_size);
    check(stride >= 1 && dilation >= 1 && padding >= 0, "Conv1d: stride ", stride, " and dilation ", dilation,
          " must be >= 1 and padding ", padding, " >= 0");
    weight = Tensor::empty({out_channels, in_channels, kernel_size});
    init::kaiming_uniform_(weight, std::sqrt(5.f), rng);
    weight = register_parameter("weight", weight);
    if (with_bias) {
      bias = Tensor::empty({out_channels});
      init::bias_uniform_(bias, weight.shape(), rng);
      bias = register_parameter("bias", bias);
    }
  }

  // x (N, C_in, L) -> (N, C_out, L_out)
  Tensor forward(const Tensor& x) override {
    return record_output(conv1d(x, weight, bias, stride_, padding_, dilation_));
  }

  std::string describe() const override {
    return "Conv1d(" + std::to_string(in_) + ", " + std::to_string(out_) + ", kernel=" + std::to_string(kernel_) +
           ", stride=" + std::to_string(stride_) + ", padding=" + std::to_string(padding_) +
           ", dilation=" + std::to_string(dilation_) + (bias.defined() ? ", bias)" : ", no bias)");
  }

 private:
  std::int64_t in_, out_, kernel_, stride_, padding_, dilation_;
};

class ConvTranspose1d : public UnaryModule {
 public:
  Tensor weight;  // (C_in, C_out, K)
  Tensor bias;    // (C_out,), undefined without bias

  ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                  std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t output_padding = 0,
                  bool with_bias = true, std::int64_t dilation = 1, Rng& rng = global_rng())
      : in_(in_channels), out_(out_channels), kernel_(kernel_size), stride_(stride), padding_(padding),
        output_padding_(output_padding), dilation_(dilation) {
    check(in_channels > 0 && out_channels > 0 && kernel_size > 0,
          "ConvTranspose1d: channels and kernel size must be positive, got in=", in_channels, ", out=", out_channels,
          ", kernel=", kernel_size);
    check(stride >= 1 && dilation >= 1 && padding >= 0, "ConvTranspose1d: stride ", stride, " and dilation ",
          dilation, " must be >= 1 and padding ", padding, " >= 0");
    check(output_padding >= 0 && (output_padding < stride || output_padding < dilation),
          "ConvTranspose1d: output_padding ", output_padding, " must be smaller than the stride ", stride,
          " or the dilation ", dilation);
    // PyTorch's fan_in for this layout is dimension 1 times K: C_out * K.
    weight = Tensor::empty({in_channels, out_channels, kernel_size});
    init::kaiming_uniform_(weight, std::sqrt(5.f), rng);
    weight = register_parameter("weight", weight);
    if (with_bias) {
      bias = Tensor::empty({out_channels});
      init::bias_uniform_(bias, weight.shape(), rng);
      bias = register_parameter("bias", bias);
    }
  }

  // x (N, C_in, L) -> (N, C_out, (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1)
  Tensor forward(const Tensor& x) override {
    return record_output(conv_transpose1d(x, weight, bias, stride_, padding_, output_padding_, dilation_));
  }

  std::string describe() const override {
    return "ConvTranspose1d(" + std::to_string(in_) + ", " + std::to_string(out_) +
           ", kernel=" + std::to_string(kernel_) + ", stride=" + std::to_string(stride_) +
           ", padding=" + std::to_string(padding_) + ", output_padding=" + std::to_string(output_padding_) +
           (dilation_ != 1 ? ", dilation=" + std::to_string(dilation_) : std::string()) +
           (bias.defined() ? ", bias)" : ", no bias)");
  }

 private:
  std::int64_t in_, out_, kernel_, stride_, padding_, output_padding_, dilation_;
};

}  // namespace legato::nn

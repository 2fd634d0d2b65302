#pragma once
// Shape modules: Flatten (PyTorch's nn.Flatten: axes start..end merged into
// one, by default all but the batch axis) and Reshape (a full target shape,
// batch axis included, with one -1 allowed, e.g. Reshape({-1, C, L}) turns a
// (N, C*L) code into (N, C, L) for a convolutional generator).

#include "legato/nn/module.hpp"
#include "legato/ops/shape.hpp"

namespace legato::nn {

class Flatten : public UnaryModule {
 public:
  explicit Flatten(int start_dim = 1, int end_dim = -1) : start_(start_dim), end_(end_dim) {}

  Tensor forward(const Tensor& x) override {
    const auto rank = x.shape().size();
    const int s = normalize_axis(start_, rank, "Flatten"), e = normalize_axis(end_, rank, "Flatten");
    check(s <= e, "Flatten: start_dim ", start_, " comes after end_dim ", end_, " for input of shape ",
          shape_str(x.shape()));
    Shape shape(x.shape().begin(), x.shape().begin() + s);
    std::int64_t merged = 1;
    for (int k = s; k <= e; ++k) merged *= x.shape()[static_cast<std::size_t>(k)];
    shape.push_back(merged);
    shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
    return record_output(reshape(x, shape));
  }
  std::string describe() const override {
    return "Flatten(start=" + std::to_string(start_) + ", end=" + std::to_string(end_) + ")";
  }

 private:
  int start_, end_;
};

class Reshape : public UnaryModule {
 public:
  explicit Reshape(Shape shape) : shape_(std::move(shape)) {}
  Tensor forward(const Tensor& x) override { return record_output(reshape(x, shape_)); }
  std::string describe() const override { return "Reshape" + shape_str(shape_); }

 private:
  Shape shape_;
};

}  // namespace legato::nn

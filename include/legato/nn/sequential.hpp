#pragma once
// nn::Sequential: layers applied in order, each output the next one's input.
// Layers are named "0", "1", ... as in PyTorch, so their tensors appear as
// "0.weight", "2.bias", ...
//
//   auto net = std::make_shared<nn::Sequential>();
//   net->add(std::make_shared<nn::Linear>(8, 16)).add(std::make_shared<nn::ReLU>());
//   Tensor y = net->forward(x);   // (B, 8) -> (B, 16)

#include <initializer_list>

#include "legato/nn/module.hpp"

namespace legato::nn {

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> layers) {
    for (auto& layer : layers) push_back(layer);
  }

  Sequential& push_back(std::shared_ptr<UnaryModule> layer) {
    check(layer != nullptr, "Sequential: cannot add a null layer at position ", layers_.size());
    register_module(std::to_string(layers_.size()), layer);
    layers_.push_back(std::move(layer));
    return *this;
  }
  Sequential& add(std::shared_ptr<UnaryModule> layer) { return push_back(std::move(layer)); }

  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    for (auto& layer : layers_) y = layer->forward(y);
    return y;
  }

  std::size_t size() const { return layers_.size(); }
  UnaryModule& operator[](std::size_t i) const {
    check(i < layers_.size(), "Sequential: index ", i, " is out of range for ", layers_.size(), " layers");
    return *layers_[i];
  }

  std::string describe() const override { return "Sequential(" + std::to_string(layers_.size()) + " layers)"; }

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

}  // namespace legato::nn

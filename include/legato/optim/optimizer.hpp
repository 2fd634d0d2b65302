#pragma once
// optim::Optimizer: what SGD, Adam and AdamW share. An optimiser holds
// handles to the parameters (they share storage with the module), a learning
// rate, a step counter and, per parameter, named state tensors (momentum
// buffer, moments). step() updates each parameter in place from its .grad();
// a parameter whose gradient is undefined (it took no part in the loss) is
// skipped and its state is left alone, as torch.optim does.
//
//   optim::Adam opt(model.parameters(), 1e-3f);
//   for (...) { opt.zero_grad(); loss(...).backward(); opt.step(); }
//
// state() / load_state() expose everything needed to resume training: "lr",
// "step" (calls to step()) and "state.<i>.<name>" for parameter i, e.g.
// "state.0.exp_avg". Counters are float32 scalars (exact below 2^24), as in
// PyTorch's own Adam state. Save them with save_safetensors next to the model.

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "legato/autograd.hpp"
#include "legato/tensor.hpp"

namespace legato::optim {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;

  // Drops every parameter's gradient (undefined = zero, PyTorch's set_to_none).
  void zero_grad() {
    for (Tensor& p : params_) p.zero_grad();
  }

  float lr() const { return lr_; }
  void set_lr(float lr) {
    check(lr >= 0.f, name_, ": learning rate must be >= 0, got ", lr);
    lr_ = lr;
  }
  std::int64_t steps() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }
  // Where the parameters are (the first one's device; step() checks the rest).
  Device device() const { return params_.front().device(); }

  // Copies of the optimiser's state, by name (see the header comment).
  // On the cpu wherever the state lives, so that it can be saved.
  std::vector<std::pair<std::string, Tensor>> state() const {
    std::vector<std::pair<std::string, Tensor>> out;
    out.emplace_back("lr", Tensor::scalar(lr_));
    out.emplace_back("step", Tensor::scalar(static_cast<float>(steps_)));
    for (std::size_t i = 0; i < slots_.size(); ++i)
      for (auto& [name, t] : slots_[i]) out.emplace_back(slot_key(i, name), t.to(Device::cpu));
    return out;
  }

  // Restores a state() of an optimiser of the same kind over parameters of the
  // same shapes. Everything is checked before anything changes.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
    auto current = this->state();
    std::set<std::string> known;
    for (auto& [name, t] : current) known.insert(name);
    std::map<std::string, const Tensor*> given;
    for (auto& [name, t] : state) {
      check(known.count(name), name_, "::load_state: unexpected entry '", name, "' (state of another optimiser, or ",
            "of a different parameter list?)");
      check(given.emplace(name, &t).second, name_, "::load_state: entry '", name, "' appears twice");
    }
    for (auto& [name, t] : current) {
      auto found = given.find(name);
      check(found != given.end(), name_, "::load_state: missing entry '", name, "'");
      const Tensor& value = *found->second;
      check(value.defined() && value.is_cpu(), name_, "::load_state: entry '", name, "' is undefined or not on the cpu");
      check(value.shape() == t.shape(), name_, "::load_state: entry '", name, "' has shape ", shape_str(value.shape()),
            " but this optimiser's has shape ", shape_str(t.shape()));
    }
    const float lr = given["lr"]->item();
    const float steps = given["step"]->item();
    check(lr >= 0.f && steps >= 0.f && steps == std::floor(steps), name_,
          "::load_state: invalid lr ", lr, " or step ", steps);
    lr_ = lr;
    steps_ = static_cast<std::int64_t>(steps);
    for (std::size_t i = 0; i < slots_.size(); ++i)
      for (auto& [name, t] : slots_[i]) {
        const Tensor& value = *given[slot_key(i, name)];
        if (t.is_cpu())
          std::memcpy(t.data(), value.data(), sizeof(float) * static_cast<std::size_t>(t.numel()));
        else
          t = value.to(t.device());
      }
  }

 protected:
  Optimizer(const char* name, std::vector<Tensor> params, float lr)
      : name_(name), params_(std::move(params)), slots_(params_.size()) {
    check(!params_.empty(), name_, ": the parameter list is empty");
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i];
      check(p.defined(), name_, ": parameter ", i, " is undefined");
      // A tensor listed twice (or two views of one storage) would be updated twice per step.
      for (std::size_t j = 0; j < i; ++j)
        check(!p.shares_storage_with(params_[j]), name_, ": parameter ", i, " shares storage with parameter ", j,
              " (listed twice?)");
    }
    set_lr(lr);
  }

  // "state.<i>.<name>", the key of parameter i's state tensor in state().
  static std::string slot_key(std::size_t i, const std::string& name) {
    std::string key = "state.";
    key += std::to_string(i);
    key += '.';
    key += name;
    return key;
  }

  // Adds a zero-filled state tensor of the given shape for parameter i.
  Tensor& add_slot(std::size_t i, const std::string& name, const Shape& shape) {
    slots_[i].emplace_back(name, Tensor::zeros(shape));
    return slots_[i].back().second;
  }
  Tensor& slot(std::size_t i, std::size_t k) { return slots_[i][k].second; }
  // State tensor k of parameter i, moved first to `device` if it is not
  // there (the model was moved to the GPU after the optimiser was made).
  Tensor& slot_on(std::size_t i, std::size_t k, Device device) {
    Tensor& t = slots_[i][k].second;
    t.move_to(device);
    return t;
  }

  // Calls update(i, p, g, n) with raw pointers for every parameter that has a
  // gradient, under NoGradGuard, and counts the step. All gradients are
  // checked before any parameter changes, so a bad one leaves the model whole.
  // The pointers are device pointers when device is cuda (the GPU steps).
  template <class Update>
  void for_each_param(Update&& update, Device device = Device::cpu) {
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i];
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      check(p.device() == device && g.device() == device, name_, ": parameter ", i, " or its gradient is not on the ",
            device_name(device), " (parameter on ", device_name(p.device()), ", gradient on ",
            device_name(g.device()), ")");
      check(g.shape() == p.shape(), name_, ": gradient of parameter ", i, " has shape ", shape_str(g.shape()),
            " but the parameter has shape ", shape_str(p.shape()));
    }
    for (std::size_t i = 0; i < params_.size(); ++i) {
      Tensor& p = params_[i];
      const Tensor g = p.grad();
      if (g.defined()) update(i, p.data(), g.data(), p.numel());
    }
    ++steps_;
  }

  const char* name_;

 private:
  std::vector<Tensor> params_;
  float lr_ = 0.f;
  std::int64_t steps_ = 0;
  std::vector<std::vector<std::pair<std::string, Tensor>>> slots_;  // per parameter: (name, state tensor)
};

}  // namespace legato::optim

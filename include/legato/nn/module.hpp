#pragma once
// nn::Module: the base of every layer and model. A module owns named
// parameters (trainable tensors), named buffers (state that is saved but not
// trained, such as BatchNorm's running statistics) and named submodules, and
// exposes them under PyTorch's dotted names ("0.weight", "lstm.weight_ih_l0",
// "bn.running_mean"), so weights move between legato and PyTorch by name.
//
//   struct Model : nn::Module {
//     std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(8, 2));
//   };
//   Model m;  m.state_dict();   // {"fc.weight" (2, 8), "fc.bias" (2,)}
//
// Order. named_parameters(), parameters() and state_dict() follow PyTorch:
// a module lists its own parameters (registration order), then, in
// state_dict() only, its own buffers, then each submodule in registration
// order, recursively. PyTorch's BatchNorm buffer num_batches_tracked is an
// int64 counter that only matters when momentum is None; legato has float
// tensors only and a fixed momentum, so it omits that entry (a loader should
// skip it when reading a PyTorch file).
//
// Handles. Tensors are handles: the tensors returned by state_dict() and
// parameters() share storage with the module, so writing into their data
// changes the module (that is how checkpoints load and optimisers step).
// Modules are not copyable, because a copy would silently share parameters.

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "legato/autograd.hpp"
#include "legato/tensor.hpp"

namespace legato::nn {

class Module;

namespace detail {

// While summary() runs, each layer's output shape is appended here.
struct SummaryRow {
  const Module* module;
  Shape output;
  int calls;
};
inline std::vector<SummaryRow>*& summary_rows() {
  thread_local std::vector<SummaryRow>* rows = nullptr;
  return rows;
}

// "1234567" -> "1,234,567", as Keras prints parameter counts.
inline std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace detail

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // One line naming the layer and its configuration, e.g.
  // "Linear(in=256, out=45, bias)". Composite modules may keep the default.
  virtual std::string describe() const { return "Module"; }

  // ---- registration ----

  // Adds a trainable tensor (marked requires_grad) and returns the handle.
  Tensor register_parameter(const std::string& name, Tensor value) {
    check_new_name(name, "register_parameter");
    check(value.defined(), "register_parameter: parameter '", name, "' is undefined");
    if (!value.requires_grad()) value.set_requires_grad(true);
    parameters_.emplace_back(name, value);
    return value;
  }

  // Adds a saved, untrained tensor (never requires_grad) and returns the handle.
  Tensor register_buffer(const std::string& name, Tensor value) {
    check_new_name(name, "register_buffer");
    check(value.defined(), "register_buffer: buffer '", name, "' is undefined");
    buffers_.emplace_back(name, value);
    return value;
  }

  // Adds a submodule; its tensors appear under "name.".
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_new_name(name, "register_module");
    check(module != nullptr, "register_module: submodule '", name, "' is null");
    children_.emplace_back(name, module);
    return module;
  }

  // ---- access, in PyTorch's order (see the header comment) ----

  NamedTensors named_parameters() const {
    NamedTensors out;
    collect(out, "", /*params=*/true, /*buffers=*/false);
    return out;
  }
  NamedTensors named_buffers() const {
    NamedTensors out;
    collect(out, "", false, true);
    return out;
  }
  // Parameters then buffers of each module, module by module (PyTorch's state_dict order).
  NamedTensors state_dict() const {
    NamedTensors out;
    collect(out, "", true, true);
    return out;
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
  }
  // The direct submodules, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module ("") and every submodule below it, depth first, with dotted names.
  std::vector<std::pair<std::string, const Module*>> named_modules() const {
    std::vector<std::pair<std::string, const Module*>> out{{"", this}};
    for (auto& [name, child] : children_)
      for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
    return out;
  }

  std::int64_t parameter_count() const {
    std::int64_t n = 0;
    for (auto& [name, t] : named_parameters()) n += t.numel();
    return n;
  }

  // Makes every parameter read and write the storage of `source`'s parameter
  // of the same name and shape (Tensor::share_storage_of); gradients stay
  // apart. A data-parallel replica made so follows the master's optimiser
  // steps without copying the weights in before each step.
  void share_parameters_of(const Module& source) {
    const NamedTensors mine = named_parameters(), theirs = source.named_parameters();
    check(mine.size() == theirs.size(), "Module::share_parameters_of: ", mine.size(), " parameters against ",
          theirs.size());
    for (std::size_t i = 0; i < mine.size(); ++i) {
      check(mine[i].first == theirs[i].first, "Module::share_parameters_of: parameter '", mine[i].first,
            "' against '", theirs[i].first, "'");
      Tensor t = mine[i].second;
      t.share_storage_of(theirs[i].second);
    }
  }

  // Moves every parameter and buffer to `device` in place (Tensor::move_to),
  // so the module's members and any list of its parameters see the move;
  // gradients are dropped. The ops then run where their inputs are: on the
  // GPU, those with a CUDA version (ops/cuda_ops.hpp); the others say they
  // run on the cpu only. Move between steps, not between a forward and its
  // backward; replicas made by share_parameters_of keep the old storage.
  void to(Device device) {
    for (auto& [name, t] : state_dict()) t.move_to(device);
  }

  // Drops the accumulated gradients of every parameter (they become undefined,
  // which backward treats as zero).
  void zero_grad() {
    for (auto& [name, t] : named_parameters()) t.zero_grad();
  }

  // ---- modes: training (dropout active, batch statistics) or eval ----
  void train(bool on = true) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- summary ----

  // The forward pass that summary() runs on a zero input of the given shape.
  // UnaryModule runs forward(); a module with another signature (token ids, a
  // state) overrides this to call its own forward and return the main output.
  virtual Tensor summary_forward(const Tensor& input) {
    (void)input;
    fail("summary: ", describe(), " has no single-tensor forward; override summary_forward() to run it");
  }

  // A Keras-like table: each layer that ran, its output shape and its
  // parameter count, then the totals. It runs one forward pass on zeros under
  // NoGradGuard in eval mode (so BatchNorm statistics and dropout generators
  // are left untouched) and restores every module's mode afterwards.
  std::string summary(const Shape& input_shape) {
    std::vector<std::pair<Module*, bool>> modes;
    for_each_module([&](Module& m) { modes.emplace_back(&m, m.training_); });
    std::vector<detail::SummaryRow> rows;
    Tensor out;
    {
      NoGradGuard no_grad;
      eval();
      detail::summary_rows() = &rows;
      try {
        out = summary_forward(Tensor::zeros(input_shape));
      } catch (...) {
        detail::summary_rows() = nullptr;
        for (auto& [m, mode] : modes) m->training_ = mode;
        throw;
      }
      detail::summary_rows() = nullptr;
      for (auto& [m, mode] : modes) m->training_ = mode;
    }

    std::vector<std::pair<std::string, std::string>> names;  // (path, describe) per row
    const auto all = named_modules();
    for (auto& row : rows) {
      std::string path = "?";
      for (auto& [name, m] : all)
        if (m == row.module) path = name.empty() ? "(self)" : name;
      names.emplace_back(path, row.module->describe());
    }
    std::size_t width = 24;
    for (auto& [path, text] : names) width = std::max(width, path.size() + 2 + text.size());
    width += 2;
    const std::string rule(width + 36, '=');
    std::ostringstream s;
    s << describe() << ", input " << shape_str(input_shape) << "\n";
    s << std::left << std::setw(static_cast<int>(width)) << "Layer" << std::setw(24) << "Output shape" << "Param #\n";
    s << rule << "\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::string shape = shape_str(rows[i].output);
      if (rows[i].calls > 1) shape += " x" + std::to_string(rows[i].calls);
      s << std::left << std::setw(static_cast<int>(width)) << (names[i].first + ": " + names[i].second)
        << std::setw(24) << shape << detail::with_commas(rows[i].module->parameter_count()) << "\n";
    }
    s << rule << "\n";
    std::int64_t buffer_values = 0;
    for (auto& [name, t] : named_buffers()) buffer_values += t.numel();
    s << "Output: " << shape_str(out.shape()) << "\n";
    s << "Total params: " << detail::with_commas(parameter_count()) << "\n";
    if (buffer_values) s << "Buffers (not trained): " << detail::with_commas(buffer_values) << " values\n";
    return s.str();
  }

 protected:
  // Layers end their forward with `return record_output(out);` so that
  // summary() sees their output shape. Outside summary() it only returns out.
  const Tensor& record_output(const Tensor& out) const {
    if (auto* rows = detail::summary_rows()) {
      for (auto& row : *rows)
        if (row.module == this) {  // called again (e.g. a cell per time step)
          row.output = out.shape();
          ++row.calls;
          return out;
        }
      rows->push_back({this, out.shape(), 1});
    }
    return out;
  }

  bool training_ = true;

 private:
  void check_new_name(const std::string& name, const char* where) const {
    check(!name.empty(), where, ": empty name in ", describe());
    check(name.find('.') == std::string::npos, where, ": name '", name, "' must not contain '.'");
    auto taken = [&](const auto& list) {
      for (auto& entry : list)
        if (entry.first == name) return true;
      return false;
    };
    check(!taken(parameters_) && !taken(buffers_) && !taken(children_), where, ": name '", name,
          "' is already registered in ", describe());
  }

  void collect(NamedTensors& out, const std::string& prefix, bool params, bool buffers) const {
    if (params)
      for (auto& [name, t] : parameters_) out.emplace_back(prefix + name, t);
    if (buffers)
      for (auto& [name, t] : buffers_) out.emplace_back(prefix + name, t);
    for (auto& [name, child] : children_) child->collect(out, prefix + name + ".", params, buffers);
  }

  template <class F>
  void for_each_module(F&& f) {
    f(*this);
    for (auto& [name, child] : children_) child->for_each_module(f);
  }

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module whose forward maps one tensor to one tensor; Sequential chains them.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  Tensor summary_forward(const Tensor& input) override { return forward(input); }
};

// The module tree without running it: one line per module with its path,
// describe() and parameter count, indented by depth (summary() adds shapes).
inline std::ostream& operator<<(std::ostream& out, const Module& module) {
  for (auto& [path, m] : module.named_modules()) {
    const auto depth = path.empty() ? 0 : 1 + std::count(path.begin(), path.end(), '.');
    const auto dot = path.rfind('.');
    const std::string name = path.empty() ? "" : path.substr(dot == std::string::npos ? 0 : dot + 1) + ": ";
    out << std::string(2 * static_cast<std::size_t>(depth), ' ') << name << m->describe() << "  ["
        << detail::with_commas(m->parameter_count()) << " params]\n";
  }
  return out;
}

// Token ids from a float tensor of integral values (used by summary_forward
// of modules that take ids: summary() feeds zeros).
inline Ids ids_from(const Tensor& values) {
  Ids ids{values.shape(), {}};
  ids.values.reserve(static_cast<std::size_t>(values.numel()));
  for (std::int64_t i = 0; i < values.numel(); ++i) ids.values.push_back(static_cast<std::int32_t>(values.data()[i]));
  return ids;
}

}  // namespace legato::nn

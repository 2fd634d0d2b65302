#pragma once
// Reverse-mode automatic differentiation, define-by-run.
//
// Every op computes its result and, in the same function, calls record() with
// its inputs and a closure that maps the output gradient to input gradients:
//
//   Tensor out = ...forward...;
//   record(out, "mul", {a, b}, [](const Inputs& in, const Tensor& out, const Tensor& g) {
//     return Grads{mul(g, in[1]), mul(g, in[0])};      // d(a*b)/da, d(a*b)/db
//   });
//
// The closure receives the inputs and the output as arguments instead of
// capturing them, so the graph never holds a reference cycle. A closure may
// capture detached tensors (saved buffers) and plain values only.
//
// backward() sorts the graph with an explicit stack (an LSTM unrolled over
// 100 000 steps must not overflow the call stack), runs the closures in
// reverse order with gradient tracking off, and adds (+=) the gradients of
// leaves into their .grad(). Optimisers zero them explicitly.

#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "legato/tensor.hpp"

namespace legato {

using Inputs = std::vector<Tensor>;
using Grads = std::vector<Tensor>;  // one per input; undefined = no gradient
using BackwardFn = std::function<Grads(const Inputs& in, const Tensor& out, const Tensor& grad_out)>;

struct Node {
  const char* op_name;
  Inputs inputs;
  BackwardFn backward;

  Node(const char* name, Inputs in, BackwardFn fn) : op_name(name), inputs(std::move(in)), backward(std::move(fn)) {}

  // Destroying a long chain recursively (node -> input -> node -> ...) would
  // overflow the stack, so a node hands the nodes it alone owns to a loop.
  ~Node() {
    std::vector<std::shared_ptr<Node>> orphans;
    auto adopt_inputs = [&orphans](Inputs& list) {
      for (Tensor& t : list) {
        const auto& impl = t.impl_ptr();
        if (impl && impl.use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1)
          orphans.push_back(std::move(impl->grad_fn));
      }
      list.clear();
    };
    adopt_inputs(inputs);
    while (!orphans.empty()) {
      std::shared_ptr<Node> node = std::move(orphans.back());
      orphans.pop_back();
      adopt_inputs(node->inputs);
    }  // node dies here with no inputs left, so its destructor does not recurse
  }
};

// ---------------------------------------------------------- grad mode ----

inline bool& grad_mode_flag() {
  thread_local bool enabled = true;
  return enabled;
}
inline bool grad_enabled() { return grad_mode_flag(); }

// While alive, ops record no graph (inference, optimiser updates, backward).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_mode_flag()) { grad_mode_flag() = false; }
  ~NoGradGuard() { grad_mode_flag() = previous_; }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op over these inputs must record a node.
inline bool needs_grad(const Inputs& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

// Attach the backward closure to `out` if any input requires a gradient.
inline void record(Tensor& out, const char* op_name, Inputs inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return;
  out.impl().requires_grad = true;
  out.impl().grad_fn = std::make_shared<Node>(op_name, std::move(inputs), std::move(backward));
}

// ------------------------------------------------------------ backward ----

namespace detail {

// Tensors reachable from root through grad_fn, in an order where every tensor
// comes after all the tensors that were computed from it (reverse topological).
inline std::vector<TensorImpl*> backward_order(TensorImpl* root) {
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> visited;
  struct Frame {
    TensorImpl* tensor;
    std::size_t next_input;
  };
  std::vector<Frame> stack{{root, 0}};
  visited.insert(root);
  while (!stack.empty()) {
    Frame& frame = stack.back();
    Node* node = frame.tensor->grad_fn.get();
    if (node && frame.next_input < node->inputs.size()) {
      const Tensor& input = node->inputs[frame.next_input++];
      TensorImpl* child = input.impl_ptr().get();
      if (child && child->requires_grad && visited.insert(child).second) stack.push_back({child, 0});
      continue;
    }
    order.push_back(frame.tensor);  // post-order: inputs before outputs
    stack.pop_back();
  }
  std::reverse(order.begin(), order.end());  // outputs first
  return order;
}

inline void add_into(Tensor& accumulator, Tensor g);  // defined below

}  // namespace detail

inline void run_backward(const Tensor& root, const Tensor& seed) {
  check(root.requires_grad(), "backward: the tensor does not require grad (no input was marked requires_grad, or it "
                              "was computed under NoGradGuard)");
  common_device("backward (the output and its gradient)", root, seed);
  check(seed.shape() == root.shape(), "backward: gradient of shape ", shape_str(seed.shape()),
        " does not match the output shape ", shape_str(root.shape()));
  NoGradGuard no_grad;  // the backward closures must not build a graph

  std::unordered_map<TensorImpl*, Tensor> pending;  // gradients of non-leaf tensors
  TensorImpl* root_impl = root.impl_ptr().get();
  const std::vector<TensorImpl*> order = detail::backward_order(root_impl);
  pending[root_impl] = seed;

  for (TensorImpl* tensor : order) {
    auto found = pending.find(tensor);
    if (found == pending.end()) continue;  // no gradient reached it
    Tensor grad_out = std::move(found->second);
    pending.erase(found);

    if (!tensor->grad_fn) {  // a leaf: accumulate into .grad
      Tensor leaf_grad = Tensor::from_impl(tensor->grad);
      detail::add_into(leaf_grad, std::move(grad_out));
      tensor->grad = leaf_grad.impl_ptr();
      continue;
    }
    Node& node = *tensor->grad_fn;
    const Tensor out = Tensor::from_impl(std::shared_ptr<TensorImpl>(std::shared_ptr<TensorImpl>{}, tensor));
    Grads grads = node.backward(node.inputs, out, grad_out);
    check(grads.size() == node.inputs.size(), node.op_name, ": backward returned ", grads.size(),
          " gradients for ", node.inputs.size(), " inputs");
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const Tensor& input = node.inputs[i];
      if (!input.defined() || !input.requires_grad() || !grads[i].defined()) continue;
      check(grads[i].shape() == input.shape(), node.op_name, ": gradient for input ", i, " has shape ",
            shape_str(grads[i].shape()), " but the input has shape ", shape_str(input.shape()));
      detail::add_into(pending[input.impl_ptr().get()], std::move(grads[i]));
    }
  }
}

inline void Tensor::backward() const {
  check(numel() == 1, "backward: output of shape ", shape_str(shape()),
        " is not a scalar; pass the output gradient explicitly: backward(grad)");
  run_backward(*this, Tensor::ones(shape(), device()));
}

inline void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

namespace detail {
// accumulator += g, allocating the accumulator on first use. A later +=
// must not write into a buffer that some op or tensor still uses, so the
// first gradient is copied unless nothing else holds it: a backward's fresh
// result, the common case, is adopted as it is (a copy of every activation's
// gradient was 3-4 % of a melody_lstm training step).
inline void add_into(Tensor& accumulator, Tensor g) {
  if (!accumulator.defined()) {
    const bool sole_owner = g.impl_ptr().use_count() == 1 && g.impl().storage.use_count() == 1;
    accumulator = sole_owner ? std::move(g) : g.clone();
    return;
  }
  common_device("backward (accumulating a gradient)", accumulator, g);
  float* acc = accumulator.data();
  const float* src = g.data();
  const std::int64_t n = accumulator.numel();
  if (!accumulator.is_cpu())
    return device_allocator(accumulator.device()).accumulate(acc, src, static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) acc[i] += src[i];
}
}  // namespace detail

}  // namespace legato

// The Tensor ops on the GPU (ops/cuda_ops.hpp): every op with a CUDA
// version, run on device tensors, against the same op on the CPU, forward
// and backward (the gradient of sum(out · R) for a random R); a small model
// trained for 20 steps on each device with Adam and with SGD; and the errors
// (mixed devices, an op with no GPU version). Runs only with LEGATO_CUDA and
// a GPU; otherwise prints "skipped: no CUDA device". (The case that moves a
// model to the GPU and back between steps was added after the last GPU run
// of 2026-11-28 and has not run on a GPU yet.)
//
// Tolerances: 1e-5 + 1e-4 relative for values and gradients (float on both
// sides, sums in another order); 1e-4 + 1e-3 relative after 20 training
// steps.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "legato/legato.hpp"

using namespace legato;

#ifdef LEGATO_CUDA

#include "cuda_check.hpp"

namespace {

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

void check_close(const std::string& what, const Tensor& actual, const Tensor& expected, float atol, float rtol) {
  const bool ok = allclose(actual, expected, atol, rtol);
  CHECK_MESSAGE(ok, what, ": ", describe_mismatches(actual, expected, atol, rtol));
}

// Runs op on copies of `inputs` on the CPU and on the GPU, back-propagates
// sum(out · R) on both, and compares the outputs and every input's gradient.
void check_op(const std::string& name, const std::vector<Tensor>& inputs, const Op& op, float atol = 1e-5f,
              float rtol = 1e-4f) {
  INFO(name);
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone(), g = t.to(Device::cuda);
    c.set_requires_grad();
    g.set_requires_grad();
    cpu.push_back(c);
    gpu.push_back(g);
  }
  const Tensor out_cpu = op(cpu), out_gpu = op(gpu);
  REQUIRE(out_gpu.device() == Device::cuda);
  Rng rng(11);
  const Tensor r = Tensor::uniform(out_cpu.shape(), -1.f, 1.f, rng);
  sum(mul(out_cpu, r)).backward();
  sum(mul(out_gpu, r.to(Device::cuda))).backward();
  check_close(name + ": output", out_gpu.to(Device::cpu), out_cpu, atol, rtol);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    REQUIRE(gpu[i].grad().defined());
    CHECK(gpu[i].grad().device() == Device::cuda);
    check_close(name + ": gradient of input " + std::to_string(i), gpu[i].grad().to(Device::cpu), cpu[i].grad(), atol,
                rtol);
  }
}

Tensor uniform(const Shape& shape, float lo, float hi, std::uint64_t seed) {
  Rng rng(seed);
  return Tensor::uniform(shape, lo, hi, rng);
}

}  // namespace

TEST_CASE("cuda ops: elementwise with broadcasting, scalars and unary maps match the CPU") {
  SKIP_WITHOUT_GPU();
  const Tensor a = uniform({3, 1, 5}, -1.f, 1.f, 1), b = uniform({4, 5}, 0.5f, 2.f, 2);
  const Tensor x = uniform({6, 7}, -2.f, 2.f, 3), positive = uniform({6, 7}, 0.1f, 3.f, 4);
  check_op("add", {a, b}, [](const auto& v) { return add(v[0], v[1]); });
  check_op("sub", {a, b}, [](const auto& v) { return sub(v[0], v[1]); });
  check_op("mul", {a, b}, [](const auto& v) { return mul(v[0], v[1]); });
  check_op("div", {a, b}, [](const auto& v) { return div(v[0], v[1]); });
  check_op("sub, same shapes", {x, positive}, [](const auto& v) { return v[0] - v[1]; });
  check_op("x + 2, x * 3, 1 - x", {x}, [](const auto& v) { return mul(add(v[0], 2.f), 3.f) + rsub(1.f, v[0]); });
  check_op("neg", {x}, [](const auto& v) { return neg(v[0]); });
  check_op("exp", {x}, [](const auto& v) { return exp(v[0]); });
  check_op("log", {positive}, [](const auto& v) { return log(v[0]); });
  check_op("sqrt", {positive}, [](const auto& v) { return sqrt(v[0]); });
  check_op("abs", {x}, [](const auto& v) { return abs(v[0]); });
  check_op("tanh", {x}, [](const auto& v) { return tanh(v[0]); });
  check_op("sigmoid", {x}, [](const auto& v) { return sigmoid(v[0]); });
  check_op("relu", {x}, [](const auto& v) { return relu(v[0]); });
}

TEST_CASE("cuda ops: matmul, linear, transpose, reductions, softmax and cross-entropy match the CPU") {
  SKIP_WITHOUT_GPU();
  check_op("matmul 2-D", {uniform({7, 5}, -1, 1, 5), uniform({5, 3}, -1, 1, 6)},
           [](const auto& v) { return matmul(v[0], v[1]); });
  check_op("matmul (B, M, K) x (K, N)", {uniform({2, 7, 5}, -1, 1, 7), uniform({5, 3}, -1, 1, 8)},
           [](const auto& v) { return matmul(v[0], v[1]); });
  check_op("matmul batched", {uniform({2, 7, 5}, -1, 1, 9), uniform({2, 5, 3}, -1, 1, 10)},
           [](const auto& v) { return matmul(v[0], v[1]); });
  check_op("linear", {uniform({2, 3, 6}, -1, 1, 11), uniform({4, 6}, -1, 1, 12), uniform({4}, -1, 1, 13)},
           [](const auto& v) { return linear(v[0], v[1], v[2]); });
  check_op("linear without bias", {uniform({5, 6}, -1, 1, 14), uniform({4, 6}, -1, 1, 15)},
           [](const auto& v) { return linear(v[0], v[1]); });
  check_op("transpose", {uniform({2, 3, 4}, -1, 1, 16)}, [](const auto& v) { return transpose(v[0]); });
  const Tensor t = uniform({3, 4, 5}, -1, 1, 17);
  check_op("sum", {t}, [](const auto& v) { return sum(v[0]); });
  check_op("mean", {t}, [](const auto& v) { return mean(v[0]); });
  check_op("sum along 1", {t}, [](const auto& v) { return sum(v[0], 1); });
  check_op("mean along 2, keepdim", {t}, [](const auto& v) { return mean(v[0], 2, true); });
  check_op("sum along 0", {t}, [](const auto& v) { return sum(v[0], 0); });
  check_op("softmax", {uniform({5, 7}, -3, 3, 18)}, [](const auto& v) { return softmax(v[0]); });
  check_op("log_softmax", {uniform({5, 7}, -3, 3, 19)}, [](const auto& v) { return log_softmax(v[0]); });
  const Ids targets{{6}, {0, 4, -100, 2, 2, 1}};
  check_op("cross_entropy with an ignored row", {uniform({6, 5}, -2, 2, 20)},
           [&](const auto& v) { return cross_entropy(v[0], targets); });
}

TEST_CASE("cuda ops: a model trained on the GPU follows the CPU's (Adam, and SGD with momentum)") {
  SKIP_WITHOUT_GPU();
  for (const bool use_adam : {true, false}) {
    INFO(std::string(use_adam ? "Adam" : "SGD"));
    Rng init_cpu(3), init_gpu(3);
    nn::Sequential cpu, gpu;
    for (auto* model : {&cpu, &gpu}) {
      Rng& rng = model == &cpu ? init_cpu : init_gpu;
      model->add(std::make_shared<nn::Linear>(6, 16, true, rng));
      model->add(std::make_shared<nn::Tanh>());
      model->add(std::make_shared<nn::Linear>(16, 3, true, rng));
    }
    auto make = [&](nn::Module& m) -> std::unique_ptr<optim::Optimizer> {
      if (use_adam) return std::make_unique<optim::AdamW>(m.parameters(), 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f);
      return std::make_unique<optim::SGD>(m.parameters(), 0.1f, 0.9f, true, 1e-3f);
    };
    // Adam's optimiser is made after the move, SGD's before it (its momentum
    // buffers follow the parameters at the first step).
    std::unique_ptr<optim::Optimizer> opt_cpu = make(cpu), opt_gpu;
    if (!use_adam) opt_gpu = make(gpu);
    gpu.to(Device::cuda);
    if (use_adam) opt_gpu = make(gpu);
    CHECK(gpu.parameters().front().device() == Device::cuda);
    const Tensor x = uniform({32, 6}, -1, 1, 21);
    Ids y{{32}, {}};
    for (int i = 0; i < 32; ++i) y.values.push_back(i % 3);
    const Tensor x_gpu = x.to(Device::cuda);
    float first = 0.f, last = 0.f;
    for (int step = 0; step < 20; ++step) {
      opt_cpu->zero_grad();
      opt_gpu->zero_grad();
      const Tensor loss_cpu = cross_entropy(cpu.forward(x), y), loss_gpu = cross_entropy(gpu.forward(x_gpu), y);
      loss_cpu.backward();
      loss_gpu.backward();
      opt_cpu->step();
      opt_gpu->step();
      CHECK(loss_gpu.item() == doctest::Approx(loss_cpu.item()).epsilon(1e-4));
      if (step == 0) first = loss_gpu.item();
      last = loss_gpu.item();
    }
    CHECK(last < first);  // it learned
    const auto p_cpu = cpu.named_parameters(), p_gpu = gpu.named_parameters();
    for (std::size_t i = 0; i < p_cpu.size(); ++i)
      check_close("parameter " + p_cpu[i].first + " after 20 steps", p_gpu[i].second.to(Device::cpu), p_cpu[i].second,
                  1e-4f, 1e-3f);
    // The state saves from the cpu, wherever it lives.
    for (const auto& [name, t] : opt_gpu->state()) CHECK_MESSAGE(t.is_cpu(), name);
  }
}

TEST_CASE("cuda ops: a model and its optimisers move to the GPU and back between steps") {
  SKIP_WITHOUT_GPU();
  for (const bool use_adam : {true, false}) {
    INFO(std::string(use_adam ? "Adam" : "SGD"));
    Rng init_a(5), init_b(5);
    nn::Linear moved(4, 3, true, init_a), stayed(4, 3, true, init_b);
    auto make = [&](nn::Module& m) -> std::unique_ptr<optim::Optimizer> {
      if (use_adam) return std::make_unique<optim::Adam>(m.parameters(), 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f);
      return std::make_unique<optim::SGD>(m.parameters(), 0.1f, 0.9f);
    };
    std::unique_ptr<optim::Optimizer> opt_moved = make(moved), opt_stayed = make(stayed);
    const Tensor x = uniform({8, 4}, -1, 1, 22);
    const Ids y{{8}, {0, 1, 2, 0, 1, 2, 0, 1}};
    for (int step = 0; step < 4; ++step) {
      const Device where = step % 2 == 0 ? Device::cuda : Device::cpu;  // the state follows each way
      moved.to(where);
      opt_moved->zero_grad();
      opt_stayed->zero_grad();
      cross_entropy(moved.forward(x.to(where)), y).backward();
      cross_entropy(stayed.forward(x), y).backward();
      opt_moved->step();
      opt_stayed->step();
    }
    CHECK(moved.weight.is_cpu());
    check_close("weight after four steps, two of them on the GPU", moved.weight, stayed.weight, 1e-5f, 1e-4f);
    check_close("bias after four steps, two of them on the GPU", moved.bias, stayed.bias, 1e-5f, 1e-4f);
  }
}

TEST_CASE("cuda ops: device tensors, and the errors that keep devices apart") {
  SKIP_WITHOUT_GPU();
  const Tensor z = Tensor::full({2, 3}, 1.5f, Device::cuda);
  CHECK(z.device() == Device::cuda);
  CHECK(z.to(Device::cpu).to_vector() == std::vector<float>(6, 1.5f));
  CHECK(sum(z).item() == doctest::Approx(9.f));  // item() reads one value back
  const Tensor copy = z.clone();
  CHECK(copy.device() == Device::cuda);
  CHECK(!copy.shares_storage_with(z));

  const Tensor on_cpu = Tensor::ones({2, 3});
  CHECK_THROWS_WITH_AS(add(z, on_cpu), doctest::Contains("add: inputs on different devices (cuda and cpu)"), Error);
  CHECK_THROWS_WITH_AS(matmul(z, transpose(on_cpu)), doctest::Contains("matmul: inputs on different devices"), Error);
  CHECK_THROWS_WITH_AS(slice(z, 0, 0, 1), doctest::Contains("slice: tensor of shape (2, 3) is on cuda, and this op "
                                                            "runs on the cpu only"),
                       Error);
  Tensor leaf = Tensor::ones({2, 3}, Device::cuda);
  leaf.set_requires_grad();
  CHECK_THROWS_WITH_AS(mul(leaf, 2.f).backward(Tensor::ones({2, 3})),
                       doctest::Contains("inputs on different devices"), Error);
}

#else

TEST_CASE("cuda ops") { MESSAGE("skipped: no CUDA device (legato was built without LEGATO_CUDA)"); }

#endif

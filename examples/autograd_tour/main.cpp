// autograd_tour: reverse-mode autodiff in legato, from one derivative to a
// small network that learns XOR.
//
//   autograd_tour [--steps N] [--lr RATE] [--seed S] [--threads N] [--smoke]
//
// Part 1 differentiates y = x^2 + 3x at x = 2 by hand and by backward().
// Part 2 trains a 2 -> 16 -> 1 MLP with tanh on the four XOR points, with
// plain gradient descent written out below. It exits non-zero if the final
// loss is above kTargetLoss, so ctest notices if learning ever breaks.
// A bad flag or value is one line on stderr, "autograd_tour: error: ...",
// and exit status 1; --help prints the flags.
//
// How autodiff works here, in four lines:
//   1. Each op (mul, linear, tanh, ...) computes its result and records a
//      node: its inputs plus a closure that turns the output's gradient into
//      the inputs' gradients (see include/legato/ops/*.hpp).
//   2. loss.backward() visits the nodes from the loss back to the leaves in
//      reverse topological order, calling each closure once.
//   3. Leaves marked set_requires_grad() collect their gradient in .grad();
//      gradients add up (+=) until zero_grad().
//   4. NoGradGuard switches recording off, e.g. while updating the weights.
#include "legato/legato.hpp"  // first: see ops/matmul.hpp on GCC 12 and Eigen

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "../common/example_main.hpp"

using legato::examples::answered_help;

using namespace legato;

namespace {

constexpr float kTargetLoss = 0.05f;  // mean binary cross-entropy; ln 2 = 0.69 is chance

constexpr const char* kProgram = "autograd_tour";

struct Options {
  int steps = 1000;
  float lr = 0.5f;
  std::uint64_t seed = 7;
};

constexpr const char* kUsage =
    "autograd_tour [--steps N] [--lr RATE] [--seed S] [--threads N] [--smoke]\n"
    "Part 1 differentiates y = x^2 + 3x at x = 2; part 2 trains a small MLP on XOR and\n"
    "exits non-zero if it did not learn.";

// Reads the flags; returns nothing when --help was asked for (after printing it).
// Every bad value is a legato::Error, one line on stderr and exit 1 (guarded_main).
std::optional<Options> parse(CommandLine& cli) {
  Options opt;
  const long steps = cli.integer("steps", opt.steps, "gradient-descent steps, 1..1000000");
  const double lr = cli.real("lr", opt.lr, "learning rate, 1e-6..100");
  const long seed = cli.integer("seed", static_cast<long>(opt.seed), "seed of the initial weights, 0..10^15");
  // --threads is applied by examples::setup_threads; declared here so that
  // --help lists it and finish() accepts it.
  cli.integer("threads", init_threads_from_env(), "worker threads for OpenMP and Eigen (or LEGATO_NUM_THREADS)");
  cli.flag("smoke", "the same run: it is already small enough for CI");
  if (answered_help(cli, kUsage)) return std::nullopt;
  cli.finish();
  // Ranges checked on the parsed values before any narrowing cast, so that no
  // input overflows (CommandLine already refused fractions, hex and text).
  check(steps >= 1 && steps <= 1000000, "--steps must be in 1..1000000, got ", steps);
  check(lr >= 1e-6 && lr <= 100, "--lr must be in 1e-6..100, got ", lr);  // also refuses nan
  check(seed >= 0 && seed <= 1000000000000000L, "--seed must be in 0..10^15, got ", seed);
  opt.steps = static_cast<int>(steps);
  opt.lr = static_cast<float>(lr);
  opt.seed = static_cast<std::uint64_t>(seed);
  return opt;
}

// Part 1: one derivative, checked against calculus.
void first_derivative() {
  Tensor x = Tensor::scalar(2.f).set_requires_grad();  // a leaf we want d/dx of
  Tensor y = add(mul(x, x), mul(x, 3.f));              // y = x^2 + 3x, recorded as it runs
  y.backward();                                        // dy/dx lands in x.grad()
  std::printf("part 1: y = x^2 + 3x at x = 2: y = %g, dy/dx by backward() = %g, by hand 2x + 3 = %g\n", y.item(),
              x.grad().item(), 2 * 2.f + 3);
}

// Part 2: the MLP. Parameters are plain leaf tensors; PyTorch's layout:
// a weight is (out, in), and linear(x, w, b) computes x w^T + b.
struct Mlp {
  Tensor w1, b1, w2, b2;  // (16, 2), (16), (1, 16), (1)

  explicit Mlp(Rng& rng) {
    // Uniform in +-1/sqrt(fan_in), as torch.nn.Linear initialises.
    w1 = Tensor::uniform({16, 2}, -0.7f, 0.7f, rng).set_requires_grad();
    b1 = Tensor::uniform({16}, -0.7f, 0.7f, rng).set_requires_grad();
    w2 = Tensor::uniform({1, 16}, -0.25f, 0.25f, rng).set_requires_grad();
    b2 = Tensor::uniform({1}, -0.25f, 0.25f, rng).set_requires_grad();
  }

  // x (B, 2) -> logits (B, 1)
  Tensor forward(const Tensor& x) const { return linear(legato::tanh(linear(x, w1, b1)), w2, b2); }

  std::vector<Tensor*> parameters() { return {&w1, &b1, &w2, &b2}; }
};

// Gradient descent, written out: p -= lr * dL/dp, then clear the gradient so
// the next backward() starts from zero (gradients accumulate otherwise).
void sgd_step(const std::vector<Tensor*>& params, float lr) {
  NoGradGuard no_grad;  // updating weights is not part of the model
  for (Tensor* p : params) {
    float* value = p->data();
    const float* grad = p->grad().data();
    for (std::int64_t i = 0; i < p->numel(); ++i) value[i] -= lr * grad[i];
    p->zero_grad();
  }
}

int run(const std::vector<std::string>& args) {
  CommandLine cli("command line", args);
  const std::optional<Options> parsed = parse(cli);
  if (!parsed) return 0;  // --help
  const Options& opt = *parsed;
  examples::setup_threads(cli);  // checks --threads, prints the build banner on stderr
  first_derivative();

  // XOR: the output is 1 when exactly one input is 1. No straight line
  // separates it, so the hidden layer has to do real work.
  const Tensor x = Tensor::from({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});  // (B, 2)
  const Tensor y = Tensor::from({4, 1}, {0, 1, 1, 0});              // (B, 1)
  Rng rng(opt.seed);
  Mlp net(rng);

  std::printf("\npart 2: a 2 -> 16 -> 1 tanh MLP learns XOR (%d steps of gradient descent, lr %g)\n", opt.steps,
              opt.lr);
  const auto start = std::chrono::steady_clock::now();
  float loss_value = 0.f;
  for (int step = 1; step <= opt.steps; ++step) {
    const Tensor loss = bce_with_logits(net.forward(x), y);  // forward: builds the graph
    loss.backward();                                         // backward: fills every .grad()
    sgd_step(net.parameters(), opt.lr);
    loss_value = loss.item();
    if (step == 1 || step % (opt.steps / 10 > 0 ? opt.steps / 10 : 1) == 0)
      std::printf("  step %5d  loss %.5f\n", step, loss_value);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  Tensor p;
  {
    NoGradGuard no_grad;
    p = sigmoid(net.forward(x));
  }
  std::printf("predictions: 0 xor 0 -> %.3f, 0 xor 1 -> %.3f, 1 xor 0 -> %.3f, 1 xor 1 -> %.3f  (%.3f s)\n",
              p.data()[0], p.data()[1], p.data()[2], p.data()[3], seconds);
  if (!(loss_value <= kTargetLoss)) {
    std::printf("FAILED: final loss %.5f is above the target %.3f\n", loss_value, kTargetLoss);
    return 1;
  }
  std::printf("learned: final loss %.5f <= target %.3f\n", loss_value, kTargetLoss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return examples::guarded_main(kProgram, argc, argv, run); }

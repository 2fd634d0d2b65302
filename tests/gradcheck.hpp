#pragma once
// The generic gradient checker that every op and layer goes through.
//
// For a function f(inputs) -> tensor, it builds the scalar L = sum(w * f)
// with fixed random weights w (so every output element matters, with a
// different weight), computes dL/dx for every input by backward(), and
// compares each element with the central difference
//     (L(x + eps) - L(x - eps)) / (2 eps),
// evaluated in double from float32 forward passes.
//
// Tolerance: |analytic - numeric| <= atol + rtol * |numeric|. With float32
// forwards and eps = 1e-3, rounding alone contributes about 1e-4 * |L| / eps,
// so the defaults (atol 2e-3, rtol 2e-2) leave room for that and no more.

#include <doctest/doctest.h>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "legato/legato.hpp"

namespace legato::testing {

struct GradCheckOptions {
  double eps = 1e-3;
  double atol = 2e-3;
  double rtol = 2e-2;
  std::uint64_t seed = 1234;
};

struct GradCheckTally {
  long calls = 0;     // gradcheck() invocations
  long elements = 0;  // input elements compared
};
inline GradCheckTally& gradcheck_tally() {
  static GradCheckTally tally;
  return tally;
}

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Returns "" when every gradient matches, else a report of the first
// mismatches. Inputs whose requires_grad() is false are not checked.
inline std::string gradcheck(const TensorFn& f, std::vector<Tensor> inputs, GradCheckOptions opt = {}) {
  ++gradcheck_tally().calls;
  Tensor probe;
  {
    NoGradGuard no_grad;
    probe = f(inputs);
  }
  Rng rng(opt.seed);
  const Tensor weights = Tensor::uniform(probe.shape(), -1.f, 1.f, rng);

  auto loss_value = [&]() {
    NoGradGuard no_grad;
    const Tensor out = f(inputs);
    double total = 0.0;
    for (std::int64_t i = 0; i < out.numel(); ++i) total += double(out.data()[i]) * weights.data()[i];
    return total;
  };

  for (auto& x : inputs)
    if (x.requires_grad()) x.zero_grad();
  const Tensor out = f(inputs);
  if (!out.requires_grad()) return "output does not require grad";
  out.backward(weights);

  std::ostringstream report;
  int shown = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    const Tensor analytic = x.grad();
    if (!analytic.defined()) {
      report << "input " << k << ": no gradient reached it; ";
      ++shown;
      continue;
    }
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      ++gradcheck_tally().elements;
      float* p = x.data() + i;
      const float saved = *p;
      *p = static_cast<float>(saved + opt.eps);
      const double plus = loss_value();
      *p = static_cast<float>(saved - opt.eps);
      const double minus = loss_value();
      *p = saved;
      const double numeric = (plus - minus) / (2.0 * opt.eps);
      const double got = analytic.data()[i];
      if (!(std::fabs(got - numeric) <= opt.atol + opt.rtol * std::fabs(numeric)) && shown < 6) {
        report << "input " << k << " " << shape_str(x.shape()) << " element " << i << ": analytic " << got
               << " vs numeric " << numeric << "; ";
        ++shown;
      }
    }
  }
  return report.str();
}

// A leaf tensor with random values, marked requires_grad.
inline Tensor random_leaf(const Shape& shape, Rng& rng, float lo = -1.f, float hi = 1.f) {
  return Tensor::uniform(shape, lo, hi, rng).set_requires_grad();
}

// Sets legato's thread count for a scope and restores it at the end.
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int threads) : previous_(num_threads()) { set_num_threads(threads); }
  ~ThreadCountScope() { set_num_threads(previous_); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_;
};

// What error_of returns when f throws nothing.
inline const std::string kNoError = "(no error)";

// The message of the legato::Error that f throws, or kNoError; any other
// exception is named as such, so that a check on the message fails with it.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(not a legato::Error) ") + e.what();
  }
  return kNoError;
}

}  // namespace legato::testing

// CHECK_GRADIENTS(f, inputs...) fails the test with the mismatch report.
#define CHECK_GRADIENTS(...)                                         \
  do {                                                               \
    const std::string gradcheck_report = ::legato::testing::gradcheck(__VA_ARGS__); \
    CHECK_MESSAGE(gradcheck_report.empty(), gradcheck_report);       \
  } while (0)

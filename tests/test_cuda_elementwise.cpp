// CUDA elementwise ops (with broadcasting), reductions, softmax and
// log-softmax, each against a plain CPU loop in double on random shapes with
// odd sizes and size-1 dimensions. Runs only with LEGATO_CUDA and a GPU;
// otherwise prints "skipped: no CUDA device".
//
// Tolerances: elementwise results 1e-6 absolute + 1e-6 relative (the same
// float operation on both sides; exp/log/tanh differ by a few ulp);
// reductions and softmax 1e-5 + 1e-5 relative (different summation order).
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "legato/cuda/cuda.hpp"
#include "legato/tensor.hpp"

using namespace legato;

#ifdef LEGATO_CUDA

#include "cuda_check.hpp"

using namespace legato::cuda_test;

namespace {

// Random inputs in [lo, hi), this file's usual range by default.
Vec random_vector(std::size_t n, Rng& rng, float lo = -2.f, float hi = 2.f) { return random_uniform(n, rng, lo, hi); }

std::int64_t numel(const cuda::Dims& d) {
  std::int64_t n = 1;
  for (auto x : d) n *= x;
  return n;
}

std::string str(const cuda::Dims& d) {
  std::ostringstream s;
  s << "(";
  for (std::size_t i = 0; i < d.size(); ++i) s << (i ? ", " : "") << d[i];
  return s.str() + ")";
}

// Linear index of `shape` (broadcast into `out`) for the output index o.
std::int64_t broadcast_index(const cuda::Dims& shape, const cuda::Dims& out, std::int64_t o) {
  std::int64_t index = 0, stride = 1;
  for (int i = static_cast<int>(out.size()) - 1; i >= 0; --i) {
    const std::int64_t coord = o % out[static_cast<std::size_t>(i)];
    o /= out[static_cast<std::size_t>(i)];
    const int j = i - static_cast<int>(out.size() - shape.size());
    if (j < 0) continue;
    const std::int64_t dim = shape[static_cast<std::size_t>(j)];
    if (dim != 1) index += coord * stride;
    stride *= dim;
  }
  return index;
}

double apply(cuda::BinaryOp op, double a, double b) {
  switch (op) {
    case cuda::BinaryOp::add: return a + b;
    case cuda::BinaryOp::sub: return a - b;
    case cuda::BinaryOp::mul: return a * b;
    case cuda::BinaryOp::div: return a / b;
    case cuda::BinaryOp::maximum: return std::max(a, b);
    case cuda::BinaryOp::minimum: return std::min(a, b);
  }
  return 0;
}

}  // namespace

TEST_CASE("cuda: binary ops with broadcasting match the CPU loop") {
  SKIP_WITHOUT_GPU();
  Rng rng(11);
  const std::vector<std::pair<cuda::Dims, cuda::Dims>> cases = {
      {{7}, {7}},
      {{3, 5, 9}, {9}},
      {{3, 1, 9}, {1, 5, 1}},
      {{1}, {2, 3, 4, 5}},
      {{2, 1, 1, 7}, {1, 3, 5, 1}},
      {{33, 1}, {1, 17}},
      {{1, 1, 1}, {1, 1, 1}},
      {{4, 0, 3}, {3}},  // empty
  };
  const cuda::BinaryOp ops[] = {cuda::BinaryOp::add, cuda::BinaryOp::sub,     cuda::BinaryOp::mul,
                                cuda::BinaryOp::div, cuda::BinaryOp::maximum, cuda::BinaryOp::minimum};
  for (const auto& [sa, sb] : cases) {
    const cuda::Dims so = cuda::broadcast_shape(sa, sb, "test");
    const auto a = random_vector(static_cast<std::size_t>(numel(sa)), rng);
    auto b = random_vector(static_cast<std::size_t>(numel(sb)), rng, 0.5f, 2.f);  // no division by ~0
    const auto da = upload(a), db = upload(b);
    cuda::Buffer out(static_cast<std::size_t>(numel(so)));
    for (auto op : ops) {
      cuda::binary(op, da.data(), sa, db.data(), sb, out.data());
      std::vector<double> expected(static_cast<std::size_t>(numel(so)));
      for (std::int64_t o = 0; o < numel(so); ++o)
        expected[static_cast<std::size_t>(o)] =
            apply(op, a[static_cast<std::size_t>(broadcast_index(sa, so, o))],
                  b[static_cast<std::size_t>(broadcast_index(sb, so, o))]);
      check_close(download(out.data(), expected.size()), expected, 1e-6, 1e-6,
                  "binary " + std::to_string(int(op)) + " " + str(sa) + " with " + str(sb));
    }
  }
  cuda::Buffer a(6), b(4), out(6);
  CHECK_THROWS_WITH_AS(cuda::binary(cuda::BinaryOp::add, a.data(), {2, 3}, b.data(), {4}, out.data()),
                       "cuda binary: shapes (2, 3) and (4,) cannot be broadcast together", Error);
}

TEST_CASE("cuda: unary ops and their derivatives match the CPU") {
  SKIP_WITHOUT_GPU();
  Rng rng(12);
  const std::size_t n = 1003;
  const auto x = random_vector(n, rng, 0.1f, 3.f);  // positive: log and sqrt are defined
  auto mixed = random_vector(n, rng, -3.f, 3.f);
  const auto g = random_vector(n, rng);
  struct Case {
    cuda::UnaryOp op;
    double (*f)(double);
    double (*df)(double);
    bool positive_only;
  };
  const Case cases[] = {
      {cuda::UnaryOp::neg, [](double v) { return -v; }, [](double) { return -1.0; }, false},
      {cuda::UnaryOp::exp, [](double v) { return std::exp(v); }, [](double v) { return std::exp(v); }, false},
      {cuda::UnaryOp::log, [](double v) { return std::log(v); }, [](double v) { return 1 / v; }, true},
      {cuda::UnaryOp::tanh, [](double v) { return std::tanh(v); },
       [](double v) { return 1 - std::tanh(v) * std::tanh(v); }, false},
      {cuda::UnaryOp::sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); },
       [](double v) {
         const double s = 1 / (1 + std::exp(-v));
         return s * (1 - s);
       },
       false},
      {cuda::UnaryOp::relu, [](double v) { return v > 0 ? v : 0.0; }, [](double v) { return v > 0 ? 1.0 : 0.0; },
       false},
      {cuda::UnaryOp::sqrt, [](double v) { return std::sqrt(v); }, [](double v) { return 0.5 / std::sqrt(v); }, true},
      {cuda::UnaryOp::square, [](double v) { return v * v; }, [](double v) { return 2 * v; }, false},
      {cuda::UnaryOp::abs, [](double v) { return std::fabs(v); }, [](double v) { return v > 0 ? 1.0 : -1.0; },
       false},
  };
  for (const auto& c : cases) {
    const auto& in = c.positive_only ? x : mixed;
    const auto dx_in = upload(in), dg = upload(g);
    cuda::Buffer y(n), dx(n);
    cuda::unary(c.op, dx_in.data(), static_cast<std::int64_t>(n), y.data());
    cuda::unary_backward(c.op, dx_in.data(), y.data(), dg.data(), static_cast<std::int64_t>(n), dx.data());
    std::vector<double> ey(n), edx(n);
    for (std::size_t i = 0; i < n; ++i) {
      ey[i] = c.f(in[i]);
      edx[i] = g[i] * c.df(in[i]);
    }
    const std::string name = "unary " + std::to_string(int(c.op));
    check_close(download(y.data(), n), ey, 1e-6, 1e-5, name);
    check_close(download(dx.data(), n), edx, 1e-6, 1e-5, name + " backward");
  }
  // affine and axpy
  const auto dx_in = upload(mixed);
  cuda::Buffer y(n);
  cuda::affine(dx_in.data(), static_cast<std::int64_t>(n), 2.f, -1.f, y.data());
  cuda::axpy(0.5f, dx_in.data(), static_cast<std::int64_t>(n), y.data());
  std::vector<double> e(n);
  for (std::size_t i = 0; i < n; ++i) e[i] = 2.0 * mixed[i] - 1.0 + 0.5 * mixed[i];
  check_close(download(y.data(), n), e, 1e-6, 1e-6, "affine + axpy");
}

TEST_CASE("cuda: sum_to is the adjoint of broadcasting") {
  SKIP_WITHOUT_GPU();
  Rng rng(13);
  const std::vector<std::pair<cuda::Dims, cuda::Dims>> cases = {
      {{3, 5, 9}, {9}}, {{3, 5, 9}, {5, 1}}, {{2, 3, 4, 5}, {1}}, {{2, 3, 4, 5}, {2, 1, 4, 1}},
      {{7}, {7}},       {{1, 13}, {1, 1}},   {{17, 3}, {17, 1}},
  };
  for (const auto& [from, to] : cases) {
    const auto g = random_vector(static_cast<std::size_t>(numel(from)), rng);
    const auto dg = upload(g);
    cuda::Buffer out(static_cast<std::size_t>(numel(to)));
    cuda::sum_to(dg.data(), from, to, out.data());
    std::vector<double> expected(static_cast<std::size_t>(numel(to)), 0.0);
    for (std::int64_t o = 0; o < numel(from); ++o)
      expected[static_cast<std::size_t>(broadcast_index(to, from, o))] += g[static_cast<std::size_t>(o)];
    check_close(download(out.data(), expected.size()), expected, 1e-5, 1e-5, "sum_to " + str(from) + " -> " + str(to));
  }
}

TEST_CASE("cuda: sum and mean along an axis, and totals") {
  SKIP_WITHOUT_GPU();
  Rng rng(14);
  struct Case {
    std::int64_t outer, n, inner;
  };
  const Case cases[] = {{1, 1, 1}, {5, 7, 1}, {5, 7, 3}, {1, 1000, 1}, {33, 1, 17}, {2, 4097, 1}, {3, 0, 4}};
  for (const auto& c : cases) {
    const auto x = random_vector(static_cast<std::size_t>(c.outer * c.n * c.inner), rng);
    const auto dx_in = upload(x);
    for (bool mean : {false, true}) {
      cuda::Buffer out(static_cast<std::size_t>(c.outer * c.inner));
      cuda::sum_axis(dx_in.data(), c.outer, c.n, c.inner, out.data(), mean);
      std::vector<double> expected(static_cast<std::size_t>(c.outer * c.inner), 0.0);
      for (std::int64_t o = 0; o < c.outer; ++o)
        for (std::int64_t k = 0; k < c.n; ++k)
          for (std::int64_t i = 0; i < c.inner; ++i)
            expected[static_cast<std::size_t>(o * c.inner + i)] += x[static_cast<std::size_t>((o * c.n + k) * c.inner + i)];
      if (mean && c.n > 0)
        for (auto& v : expected) v /= static_cast<double>(c.n);
      std::ostringstream name;
      name << (mean ? "mean" : "sum") << " over (" << c.outer << ", " << c.n << ", " << c.inner << ")";
      check_close(download(out.data(), expected.size()), expected, 1e-5, 1e-5, name.str());
      if (c.n == 0) continue;
      // Backward: every input element receives its output's gradient.
      const auto g = random_vector(static_cast<std::size_t>(c.outer * c.inner), rng);
      const auto dg = upload(g);
      cuda::Buffer dx(x.size());
      cuda::sum_axis_backward(dg.data(), c.outer, c.n, c.inner, dx.data(), mean);
      std::vector<double> edx(x.size());
      for (std::int64_t o = 0; o < c.outer; ++o)
        for (std::int64_t k = 0; k < c.n; ++k)
          for (std::int64_t i = 0; i < c.inner; ++i)
            edx[static_cast<std::size_t>((o * c.n + k) * c.inner + i)] =
                g[static_cast<std::size_t>(o * c.inner + i)] / (mean ? static_cast<double>(c.n) : 1.0);
      check_close(download(dx.data(), x.size()), edx, 1e-6, 1e-6, name.str() + " backward");
    }
  }
  for (std::int64_t n : {1, 255, 256, 257, 100003}) {
    const auto x = random_vector(static_cast<std::size_t>(n), rng);
    const auto dx_in = upload(x);
    double s = 0, sq = 0;
    for (float v : x) s += v, sq += double(v) * v;
    cuda::Buffer out(1);
    cuda::sum_squares(dx_in.data(), n, out.data());
    const float got_sq = download(out.data(), 1)[0];
    const float got = cuda::sum_all_host(dx_in.data(), n);
    CHECK(std::fabs(got - s) <= 1e-5 * std::sqrt(double(n)) + 1e-5 * std::fabs(s));
    CHECK(std::fabs(got_sq - sq) <= 1e-5 * std::sqrt(double(n)) + 1e-5 * sq);
    CHECK(cuda::sum_all_host(dx_in.data(), n) == got);  // deterministic
  }
}

TEST_CASE("cuda: softmax and log_softmax along the last axis, forward and backward") {
  SKIP_WITHOUT_GPU();
  Rng rng(15);
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{1, 1}, {1, 45}, {7, 45}, {64, 33}, {3, 1000}, {5, 32}};
  for (auto [rows, V] : shapes) {
    auto x = random_vector(static_cast<std::size_t>(rows * V), rng, -5.f, 5.f);
    x[0] = 80.f;  // a large logit: must not overflow
    const auto g = random_vector(x.size(), rng);
    const auto dx_in = upload(x), dg = upload(g);
    for (bool log : {false, true}) {
      cuda::Buffer y(x.size()), dx(x.size());
      cuda::softmax_forward(dx_in.data(), rows, V, y.data(), log);
      cuda::softmax_backward(y.data(), dg.data(), rows, V, dx.data(), log);
      std::vector<double> ey(x.size()), edx(x.size());
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::size_t base = static_cast<std::size_t>(r * V);
        double m = -1e300, s = 0;
        for (std::int64_t v = 0; v < V; ++v) m = std::max(m, double(x[base + sz(v)]));
        for (std::int64_t v = 0; v < V; ++v) s += std::exp(x[base + sz(v)] - m);
        double gs = 0, gys = 0;
        for (std::int64_t v = 0; v < V; ++v) {
          const std::size_t i = base + sz(v);
          const double p = std::exp(x[i] - m) / s;
          ey[i] = log ? x[i] - m - std::log(s) : p;
          gs += g[i];
          gys += g[i] * p;
        }
        for (std::int64_t v = 0; v < V; ++v) {
          const std::size_t i = base + sz(v);
          const double p = std::exp(x[i] - m) / s;
          edx[i] = log ? g[i] - p * gs : p * (g[i] - gys);
        }
      }
      const std::string name = std::string(log ? "log_softmax" : "softmax") + " (" + std::to_string(rows) + ", " +
                               std::to_string(V) + ")";
      check_close(download(y.data(), x.size()), ey, 1e-5, 1e-5, name);
      check_close(download(dx.data(), x.size()), edx, 1e-5, 1e-5, name + " backward");
    }
  }
}

#else

TEST_CASE("cuda: elementwise, reductions, softmax") {
  MESSAGE("skipped: no CUDA device (legato was built without LEGATO_CUDA)");
}

#endif

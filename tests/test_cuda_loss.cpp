// CUDA cross-entropy (with ignore_index), embedding gather / scatter-add and
// Philox dropout, against plain CPU loops. Runs only with LEGATO_CUDA and a
// GPU; otherwise prints "skipped: no CUDA device".
//
// Tolerances: cross-entropy 1e-5 + 1e-5 relative (log-sum-exp in float vs
// double); embedding forward exact, backward 1e-5 + 1e-6 · (sum of the
// |terms| added into the entry) (float atomicAdd in any order: 819 terms per
// entry at V 5, N 4096, whose partial sums reach ~30);
// dropout masks exact (the CPU recomputes the same Philox numbers).
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

}  // namespace

TEST_CASE("cuda: cross-entropy forward and backward with ignore_index") {
  SKIP_WITHOUT_GPU();
  Rng rng(21);
  const int ignore = -100;
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{1, 1}, {1, 45}, {13, 45}, {64, 7}, {5, 1000}};
  for (auto [N, V] : shapes) {
    const auto x = random_vector(static_cast<std::size_t>(N * V), rng, -4.f, 4.f);
    std::vector<std::int32_t> t(static_cast<std::size_t>(N));
    for (auto& v : t) v = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V)));
    if (N > 2) t[1] = ignore;  // one padded row
    const auto dx_in = upload(x);
    const auto dt = upload_ints(t);
    cuda::Buffer loss(1), lse(static_cast<std::size_t>(N)), count(1), grad(1), dx(x.size());
    cuda::cross_entropy_forward(dx_in.data(), dt.data(), N, V, ignore, loss.data(), lse.data(), count.data());
    cuda::fill(grad.data(), 1, 2.f);  // an output gradient other than 1
    cuda::cross_entropy_backward(dx_in.data(), dt.data(), lse.data(), count.data(), grad.data(), N, V, ignore,
                                 dx.data());
    double total = 0;
    int kept = 0;
    std::vector<double> edx(x.size(), 0.0);
    for (std::int64_t n = 0; n < N; ++n) {
      if (t[sz(n)] == ignore) continue;
      ++kept;
      const std::size_t base = sz(n * V);
      double m = -1e300, s = 0;
      for (std::int64_t v = 0; v < V; ++v) m = std::max(m, double(x[base + sz(v)]));
      for (std::int64_t v = 0; v < V; ++v) s += std::exp(x[base + sz(v)] - m);
      total += m + std::log(s) - x[base + sz(t[sz(n)])];
      for (std::int64_t v = 0; v < V; ++v)
        edx[base + sz(v)] = std::exp(x[base + sz(v)] - m) / s - (v == t[sz(n)] ? 1 : 0);
    }
    for (auto& g : edx) g *= 2.0 / kept;
    const std::string name = "cross_entropy (" + std::to_string(N) + ", " + std::to_string(V) + ")";
    check_close(download(loss.data(), 1), {total / kept}, 1e-5, 1e-5, name);
    check_close(download(count.data(), 1), {double(kept)}, 0, 0, name + " count");
    check_close(download(dx.data(), x.size()), edx, 1e-6, 1e-5, name + " backward");
  }
}

TEST_CASE("cuda: cross-entropy edge cases: all ignored, bad targets") {
  SKIP_WITHOUT_GPU();
  const std::vector<float> x{1.f, 2.f, 3.f, 4.f, 5.f, 6.f};  // (2, 3)
  const auto dx_in = upload(x);
  cuda::Buffer loss(1), lse(2), count(1), grad(1), dx(6);
  const auto all_ignored = upload_ints({-1, -1});
  cuda::cross_entropy_forward(dx_in.data(), all_ignored.data(), 2, 3, -1, loss.data(), lse.data(), count.data());
  CHECK(download(loss.data(), 1)[0] == 0.f);  // not NaN
  cuda::fill(grad.data(), 1, 1.f);
  cuda::cross_entropy_backward(dx_in.data(), all_ignored.data(), lse.data(), count.data(), grad.data(), 2, 3, -1,
                               dx.data());
  CHECK(download(dx.data(), 6) == std::vector<float>(6, 0.f));
  const auto bad = upload_ints({0, 3});
  CHECK_THROWS_WITH_AS(
      cuda::cross_entropy_forward(dx_in.data(), bad.data(), 2, 3, -100, loss.data(), lse.data(), count.data()),
      "cuda cross_entropy: target 3 of row 1 is outside [0, 3) and is not ignore_index -100", Error);
}

TEST_CASE("cuda: embedding gather and scatter-add") {
  SKIP_WITHOUT_GPU();
  Rng rng(22);
  struct Case {
    std::int64_t V, E, N;
  };
  const Case cases[] = {{1, 1, 1}, {45, 7, 13}, {11, 64, 200}, {5, 33, 4096}};
  for (const auto& c : cases) {
    const auto w = random_vector(static_cast<std::size_t>(c.V * c.E), rng);
    std::vector<std::int32_t> ids(static_cast<std::size_t>(c.N));
    for (auto& v : ids) v = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(c.V)));
    const auto g = random_vector(static_cast<std::size_t>(c.N * c.E), rng);
    const auto dw_in = upload(w), dg = upload(g);
    const auto did = upload_ints(ids);
    cuda::Buffer out(static_cast<std::size_t>(c.N * c.E)), dw(w.size());
    cuda::embedding_forward(dw_in.data(), c.V, c.E, did.data(), c.N, out.data());
    cuda::fill(dw.data(), dw.size(), 0.5f);  // the backward adds: start from a nonzero gradient
    cuda::embedding_backward(dg.data(), did.data(), c.N, c.V, c.E, dw.data());
    std::vector<double> eout(out.size()), edw(w.size(), 0.5), terms(w.size(), 0.5);
    for (std::int64_t n = 0; n < c.N; ++n)
      for (std::int64_t e = 0; e < c.E; ++e) {
        eout[sz(n * c.E + e)] = w[sz(ids[sz(n)] * c.E + e)];
        edw[sz(ids[sz(n)] * c.E + e)] += g[sz(n * c.E + e)];
        terms[sz(ids[sz(n)] * c.E + e)] += std::fabs(g[sz(n * c.E + e)]);
      }
    const std::string name = "embedding V " + std::to_string(c.V) + " E " + std::to_string(c.E);
    check_close(download(out.data(), out.size()), eout, 0, 0, name);
    check_close_scaled(download(dw.data(), dw.size()), edw, terms, 1e-5, 1e-6, name + " backward");
  }
  const auto w = upload(std::vector<float>(6, 1.f));  // (3, 2)
  const auto bad = upload_ints({0, 2, 3});
  cuda::Buffer out(6);
  CHECK_THROWS_WITH_AS(cuda::embedding_forward(w.data(), 3, 2, bad.data(), 3, out.data()),
                       "cuda embedding: id 3 at position 2 is outside the table's [0, 3)", Error);
}

TEST_CASE("cuda: dropout masks equal the CPU's Philox numbers") {
  SKIP_WITHOUT_GPU();
  Rng rng(23);
  for (std::int64_t n : {1, 3, 4, 5, 1001}) {
    for (float p : {0.f, 0.2f, 0.5f}) {
      const auto x = random_vector(static_cast<std::size_t>(n), rng);
      const auto g = random_vector(x.size(), rng);
      const auto dx_in = upload(x), dg = upload(g);
      cuda::Buffer mask(x.size()), out(x.size()), dx(x.size());
      const std::uint64_t seed = 0x5eedULL + static_cast<std::uint64_t>(n), offset = 17;
      cuda::dropout_forward(dx_in.data(), n, p, seed, offset, mask.data(), out.data());
      cuda::dropout_backward(dg.data(), mask.data(), n, dx.data());
      std::vector<double> emask(x.size()), eout(x.size()), edx(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        const float u = cuda::philox_uniform_at(seed, offset, i);
        const float m = u >= p ? 1.f / (1.f - p) : 0.f;
        emask[i] = m;
        eout[i] = x[i] * m;
        edx[i] = g[i] * m;
      }
      const std::string name = "dropout n " + std::to_string(n) + " p " + std::to_string(p);
      check_close(download(mask.data(), x.size()), emask, 0, 0, name + " mask");
      check_close(download(out.data(), x.size()), eout, 1e-6, 1e-6, name);
      check_close(download(dx.data(), x.size()), edx, 1e-6, 1e-6, name + " backward");
    }
  }
  // The kept fraction is close to 1 - p.
  const std::int64_t n = 100000;
  cuda::Buffer ones(static_cast<std::size_t>(n)), mask(static_cast<std::size_t>(n)), out(static_cast<std::size_t>(n));
  cuda::fill(ones.data(), ones.size(), 1.f);
  cuda::dropout_forward(ones.data(), n, 0.3f, 99, 0, mask.data(), out.data());
  const double kept = cuda::sum_all_host(out.data(), n) * 0.7 / n;
  CHECK(std::fabs(kept - 0.7) < 0.01);
  CHECK_THROWS_AS(cuda::dropout_forward(ones.data(), n, 1.f, 99, 0, mask.data(), out.data()), Error);
}

#else

TEST_CASE("cuda: cross-entropy, embedding, dropout") {
  MESSAGE("skipped: no CUDA device (legato was built without LEGATO_CUDA)");
}

#endif

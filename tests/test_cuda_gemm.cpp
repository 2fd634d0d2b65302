// The hand-written CUDA GEMM against a double-precision CPU loop: all four
// transpose combinations, alpha and beta, odd sizes, size-1 dimensions,
// sizes that are not multiples of the 64 x 64 x 16 tiles, and shapes that
// trigger split-K. Runs only with LEGATO_CUDA and a GPU; otherwise prints
// "skipped: no CUDA device".
//
// Tolerance: |C - C_ref| <= 1e-5 sqrt(K) + 1e-5 |C_ref| (float accumulation
// over K terms of size ~1 drifts like sqrt(K) ulp).
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

Vec random_vector(std::size_t n, Rng& rng) { return random_uniform(n, rng, -1.f, 1.f); }

// op(A) op(B) in double.
std::vector<double> product_ref(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K,
                                const std::vector<float>& A, const std::vector<float>& B) {
  std::vector<double> out(static_cast<std::size_t>(M * N));
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (std::int64_t k = 0; k < K; ++k) {
        const double a = ta ? A[sz(k * M + m)] : A[sz(m * K + k)];
        const double b = tb ? B[sz(n * K + k)] : B[sz(k * N + n)];
        s += a * b;
      }
      out[sz(m * N + n)] = s;
    }
  return out;
}

}  // namespace

TEST_CASE("cuda: tiled GEMM matches the CPU for every transpose and odd sizes") {
  SKIP_WITHOUT_GPU();
  Rng rng(31);
  struct Case {
    std::int64_t M, N, K;
  };
  const Case cases[] = {
      {1, 1, 1},     {1, 7, 3},    {5, 1, 9},     {17, 33, 65},  {64, 64, 16},  {65, 63, 17},
      {3, 1024, 45}, {128, 45, 256}, {256, 128, 4096},  // split-K: few tiles, long K (like the LSTM's dW_hh)
      {45, 256, 4096}, {100, 3, 1},  {7, 5, 0},  // K = 0: C = beta C
  };
  for (const auto& c : cases) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool ta = variant & 1, tb = variant & 2;
      const auto A = random_vector(static_cast<std::size_t>(c.M * c.K), rng);
      const auto B = random_vector(static_cast<std::size_t>(c.K * c.N), rng);
      const auto C0 = random_vector(static_cast<std::size_t>(c.M * c.N), rng);
      const auto dA = upload(A), dB = upload(B);
      const auto product = product_ref(ta, tb, c.M, c.N, c.K, A, B);
      for (const auto& [alpha, beta] : {std::pair{1.f, 0.f}, std::pair{0.5f, 1.f}, std::pair{-2.f, 0.25f}}) {
        auto dC = upload(C0);
        cuda::gemm(ta, tb, c.M, c.N, c.K, alpha, dA.data(), dB.data(), beta, dC.data());
        std::vector<double> expected(product.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
          expected[i] = double(alpha) * product[i] + (beta != 0.f ? double(beta) * C0[i] : 0.0);
        const auto got = download(dC.data(), C0.size());
        const double atol = 1e-5 * std::sqrt(double(std::max<std::int64_t>(c.K, 1))) * std::fabs(alpha) + 1e-6;
        int bad = 0;
        double worst = 0;
        std::ostringstream first;
        for (std::size_t i = 0; i < got.size(); ++i) {
          const double d = std::fabs(got[i] - expected[i]);
          worst = std::max(worst, d);
          if (!(d <= atol + 1e-5 * std::fabs(expected[i]))) {
            if (bad++ < 3) first << " [" << i << "] " << got[i] << " vs " << expected[i];
          }
        }
        INFO("gemm M " << c.M << " N " << c.N << " K " << c.K << " trans_a " << ta << " trans_b " << tb << " alpha "
                       << alpha << " beta " << beta << ": max |diff| " << worst << first.str());
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("cuda: GEMM with beta = 0 ignores garbage in C") {
  SKIP_WITHOUT_GPU();
  const std::vector<float> A{1, 2, 3, 4}, B{1, 0, 0, 1};  // (2, 2) times identity
  const auto dA = upload(A), dB = upload(B);
  auto dC = upload({NAN, NAN, INFINITY, -INFINITY});
  cuda::gemm(false, false, 2, 2, 2, 1.f, dA.data(), dB.data(), 0.f, dC.data());
  CHECK(download(dC.data(), 4) == A);
}

#ifdef LEGATO_CUDA_CUBLAS
TEST_CASE("cuda: hand-written GEMM agrees with cuBLAS") {
  SKIP_WITHOUT_GPU();
  Rng rng(32);
  const std::int64_t M = 300, N = 257, K = 129;
  const auto A = random_vector(sz(M * K), rng), B = random_vector(sz(K * N), rng);
  const auto dA = upload(A), dB = upload(B);
  cuda::Buffer C1(sz(M * N)), C2(sz(M * N));
  cuda::gemm(false, true, M, N, K, 1.f, dA.data(), dB.data(), 0.f, C1.data());
  cuda::gemm_cublas(false, true, M, N, K, 1.f, dA.data(), dB.data(), 0.f, C2.data());
  const auto a = download(C1.data(), C1.size()), b = download(C2.data(), C2.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  CHECK(worst < 1e-4);
}
#endif

#else

TEST_CASE("cuda: gemm") { MESSAGE("skipped: no CUDA device (legato was built without LEGATO_CUDA)"); }

#endif

// matmul (2-D, batched 3-D, 3-D x 2-D), transpose and linear against the
// triple-loop references and through the gradient checker.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {
struct Pair {
  Shape a, b;
};
// Odd sizes and size-1 dimensions, so a row-major/column-major mix-up or a
// swapped M/N cannot hide behind a square shape.
const std::vector<Pair> kPairs = {
    {{2, 3}, {3, 4}}, {{1, 5}, {5, 1}}, {{4, 1}, {1, 3}}, {{3, 2, 5}, {3, 5, 4}},
    {{1, 3, 2}, {1, 2, 1}}, {{2, 3, 4}, {4, 5}}, {{3, 1, 2}, {2, 3}},
};
}  // namespace

TEST_CASE("matmul: a hand-computed product pins down the row-major layout") {
  const Tensor a = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = Tensor::from({3, 2}, {7, 8, 9, 10, 11, 12});
  // [1 2 3; 4 5 6] [7 8; 9 10; 11 12] = [58 64; 139 154]
  CHECK(matmul(a, b).to_vector() == std::vector<float>{58, 64, 139, 154});
  CHECK(transpose(a).to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("matmul matches the reference and passes the gradient checker") {
  Rng rng(41);
  for (const Pair& p : kPairs) {
    CAPTURE(shape_str(p.a));
    CAPTURE(shape_str(p.b));
    const Tensor a = random_leaf(p.a, rng), b = random_leaf(p.b, rng);
    const Tensor got = matmul(a, b), want = matmul_ref(a, b);
    CHECK_MESSAGE(allclose(got, want, 1e-5f, 1e-5f), describe_mismatches(got, want, 1e-5f, 1e-5f));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
  }
  // Only one side needs a gradient.
  const Tensor frozen = Tensor::uniform({3, 2}, -1.f, 1.f, rng);
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                  {random_leaf({4, 3}, rng), frozen});
  // Big enough for Eigen's blocked kernels.
  const Tensor a = Tensor::uniform({4, 67, 130}, -1.f, 1.f, rng), b = Tensor::uniform({4, 130, 45}, -1.f, 1.f, rng);
  CHECK(allclose(matmul(a, b), matmul_ref(a, b), 1e-4f, 1e-4f));
  const Tensor w = Tensor::uniform({130, 45}, -1.f, 1.f, rng);
  CHECK(allclose(matmul(a, w), matmul_ref(a, w), 1e-4f, 1e-4f));
}

TEST_CASE("matmul names both shapes when they are incompatible") {
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})),
                       "matmul: shapes (2, 3) and (4, 5) are incompatible", Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})),
                       "matmul: shapes (2, 3, 4) and (3, 4, 5) are incompatible", Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({3}), Tensor::zeros({3, 2})),
                       "matmul: shapes (3,) and (3, 2) are incompatible", Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 3}), Tensor::zeros({2, 3, 4})),
                       "matmul: shapes (2, 3) and (2, 3, 4) are incompatible", Error);
  // An empty inner dimension is a valid product: zeros.
  CHECK(matmul(Tensor::zeros({2, 0}), Tensor::zeros({0, 3})).to_vector() == std::vector<float>(6, 0.f));
}

TEST_CASE("transpose of any two axes matches the reference and passes the gradient checker") {
  Rng rng(42);
  const std::vector<Shape> shapes = {{2, 3}, {2, 1, 3}, {2, 3, 1, 4}};
  for (const Shape& shape : shapes) {
    const int rank = static_cast<int>(shape.size());
    const Tensor x = random_leaf(shape, rng);
    for (int a0 = -rank; a0 < rank; ++a0)
      for (int a1 = 0; a1 < rank; ++a1) {
        CAPTURE(shape_str(shape));
        CAPTURE(a0);
        CAPTURE(a1);
        CHECK(allclose(transpose(x, a0, a1), transpose_ref(x, a0, a1), 0, 0));
      }
    CHECK(allclose(transpose(x), transpose_ref(x, -2, -1), 0, 0));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return transpose(in[0]); }, {x});
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return transpose(in[0], 0, -1); }, {x});
  }
  CHECK_THROWS_WITH_AS(transpose(Tensor::zeros({3})), "transpose: needs at least 2 dimensions, got shape (3,)", Error);
  CHECK_THROWS_WITH_AS(transpose(Tensor::zeros({3, 2}), 0, 2), "transpose: axis 2 is out of range for rank 2", Error);
}

TEST_CASE("linear matches the reference with and without bias, for inputs of rank 1 to 4") {
  Rng rng(43);
  const std::vector<Shape> inputs = {{3}, {4, 3}, {2, 1, 3}, {2, 2, 1, 3}};
  for (const Shape& shape : inputs) {
    CAPTURE(shape_str(shape));
    const Tensor x = random_leaf(shape, rng), w = random_leaf({5, 3}, rng), b = random_leaf({5}, rng);
    CHECK(allclose(linear(x, w, b), linear_ref(x, w, b), 1e-6f, 1e-5f));
    CHECK(allclose(linear(x, w), linear_ref(x, w), 1e-6f, 1e-5f));
    CHECK(linear(x, w).shape().back() == 5);
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w});
  }
  // linear is matmul with the weight transposed, plus the bias.
  const Tensor x = Tensor::uniform({6, 4}, -1.f, 1.f, rng), w = Tensor::uniform({2, 4}, -1.f, 1.f, rng);
  const Tensor b = Tensor::uniform({2}, -1.f, 1.f, rng);
  CHECK(allclose(linear(x, w, b), add(matmul(x, transpose(w)), b), 1e-6f, 1e-5f));

  // I = 0: every output is the bias alone.
  const Tensor only_bias = linear(Tensor::zeros({2, 0}), Tensor::zeros({3, 0}), Tensor::from({1.f, 2.f, 3.f}));
  CHECK(only_bias.to_vector() == std::vector<float>{1, 2, 3, 1, 2, 3});

  CHECK_THROWS_WITH_AS(linear(Tensor::zeros({4, 3}), Tensor::zeros({5, 2})),
                       "linear: input (4, 3) and weight (5, 2) are incompatible (expected (..., I) and (O, I))",
                       Error);
  CHECK_THROWS_WITH_AS(linear(Tensor::zeros({4, 3}), Tensor::zeros({5, 3}), Tensor::zeros({4})),
                       "linear: bias (4,) does not match weight (5, 3) (expected (5,))", Error);
}

// Large Aᵀ B products (weight gradients) take the packed AVX-512 kernel on
// machines that have it (detail::gemm); these shapes are above its threshold
// (m·n·k >= 2^20, n a multiple of 16), so they check that path against sums
// in double. Tolerance: float sums of 600 products of values in [-1, 1].
TEST_CASE("weight gradients of linear and matmul over many rows match sums in double") {
  Rng rng(47);
  auto weight_gradient_ref = [](const Tensor& g, const Tensor& x) {  // Gᵀ X: (R, O)ᵀ (R, I) -> (O, I)
    const std::int64_t R = g.size(0), O = g.size(1), I = x.size(1);
    std::vector<float> out(static_cast<std::size_t>(O * I));
    for (std::int64_t o = 0; o < O; ++o)
      for (std::int64_t i = 0; i < I; ++i) {
        double sum = 0;
        for (std::int64_t r = 0; r < R; ++r) sum += double(g.data()[r * O + o]) * double(x.data()[r * I + i]);
        out[static_cast<std::size_t>(o * I + i)] = float(sum);
      }
    return Tensor::from_vector({O, I}, out);
  };
  // linear: x (600, 96), w (45, 96): dW (45, 96) = Gᵀ X, 45·96·600 = 2.6M multiply-adds.
  const Tensor x = random_leaf({600, 96}, rng), w = random_leaf({45, 96}, rng), b = random_leaf({45}, rng);
  const Tensor g = Tensor::uniform({600, 45}, -1.f, 1.f, rng);
  linear(x, w, b).backward(g);
  const Tensor want_w = weight_gradient_ref(g, x);
  CHECK_MESSAGE(allclose(w.grad(), want_w, 1e-4f, 1e-4f), describe_mismatches(w.grad(), want_w, 1e-4f, 1e-4f));
  // matmul: a (600, 70), b (70, 32): dB (70, 32) = Aᵀ G, 70·32·600 = 1.3M.
  const Tensor a = random_leaf({600, 70}, rng), bm = random_leaf({70, 32}, rng);
  const Tensor gm = Tensor::uniform({600, 32}, -1.f, 1.f, rng);
  matmul(a, bm).backward(gm);
  const Tensor want_b = weight_gradient_ref(a, gm);
  CHECK_MESSAGE(allclose(bm.grad(), want_b, 1e-4f, 1e-4f), describe_mismatches(bm.grad(), want_b, 1e-4f, 1e-4f));
}

TEST_CASE("transpose_into: whole tiles (16 x 16 AVX-512, 8 x 8 AVX2) and ragged edges give exactly the transpose") {
  // Sizes below, at and around both tiles, and the LSTM's (4H, I) at melody_lstm's default.
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {
      {1, 1}, {1, 37}, {37, 1}, {7, 9}, {8, 8}, {9, 24}, {15, 17}, {16, 16}, {17, 33}, {32, 48}, {5, 40}, {1024, 376}};
  for (const auto& [rows, cols] : sizes) {
    std::vector<float> src(static_cast<std::size_t>(rows * cols)), dst(src.size(), -1.f);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) * 0.5f - 3.f;  // distinct values
    transpose_into(src.data(), rows, cols, dst.data());
    std::int64_t wrong = 0, first_r = -1, first_c = -1;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        if (dst[static_cast<std::size_t>(c * rows + r)] != src[static_cast<std::size_t>(r * cols + c)] && wrong++ == 0)
          first_r = r, first_c = c;
    INFO("rows ", rows, " cols ", cols, ": first mismatch at src (", first_r, ", ", first_c, ")");
    CHECK(wrong == 0);
  }
}

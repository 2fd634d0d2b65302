// Losses: cross_entropy (with ignore_index), mse_loss, bce_with_logits and
// gaussian_kl against the references, through the gradient checker, at
// extreme inputs, and their error messages.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {
Ids random_targets(std::int64_t n, std::int32_t classes, Rng& rng) {
  Ids ids{{n}, std::vector<std::int32_t>(static_cast<std::size_t>(n))};
  for (auto& t : ids.values) t = static_cast<std::int32_t>(rng.below(std::uint64_t(classes)));
  return ids;
}
}  // namespace

TEST_CASE("cross_entropy matches the reference and passes the gradient checker") {
  Rng rng(61);
  for (auto [N, C] : {std::pair<std::int64_t, std::int32_t>{1, 1}, {4, 5}, {7, 3}, {3, 11}}) {
    CAPTURE(N);
    CAPTURE(C);
    const Tensor logits = random_leaf({N, C}, rng, -3.f, 3.f);
    const Ids targets = random_targets(N, C, rng);
    CHECK(cross_entropy(logits, targets).shape() == Shape{});
    CHECK(cross_entropy(logits, targets).item() == doctest::Approx(cross_entropy_ref(logits, targets).item()).epsilon(1e-5));
    CHECK_GRADIENTS([targets](const std::vector<Tensor>& in) { return cross_entropy(in[0], targets); }, {logits});
  }
  // Agrees with the composition it fuses: -mean_n log_softmax(x)[n, t_n].
  const Tensor x = Tensor::uniform({6, 4}, -2.f, 2.f, rng);
  const Ids t = random_targets(6, 4, rng);
  const Tensor picked = mul(log_softmax(x), one_hot(t, 4));
  CHECK(cross_entropy(x, t).item() == doctest::Approx(-sum(picked).item() / 6.f).epsilon(1e-5));
  // Large N x V, through the parallel path.
  const Tensor big = Tensor::uniform({512, 97}, -3.f, 3.f, rng);
  const Ids big_t = random_targets(512, 97, rng);
  CHECK(cross_entropy(big, big_t).item() == doctest::Approx(cross_entropy_ref(big, big_t).item()).epsilon(1e-5));
}

TEST_CASE("cross_entropy skips ignored targets, and all-ignored gives 0 with a zero gradient") {
  Rng rng(62);
  Tensor logits = random_leaf({5, 4}, rng, -2.f, 2.f);
  const Ids padded{{5}, {1, -100, 3, -100, 0}};
  const Ids kept_only{{3}, {1, 3, 0}};
  const Tensor kept = concat({slice(logits, 0, 0, 1), slice(logits, 0, 2, 3), slice(logits, 0, 4, 5)}, 0);
  // The mean is over the 3 kept rows only.
  CHECK(cross_entropy(logits, padded).item() == doctest::Approx(cross_entropy(kept, kept_only).item()).epsilon(1e-6));
  CHECK(cross_entropy(logits, padded).item() == doctest::Approx(cross_entropy_ref(logits, padded).item()).epsilon(1e-5));
  CHECK_GRADIENTS([padded](const std::vector<Tensor>& in) { return cross_entropy(in[0], padded); }, {logits});
  // A custom ignore_index; -100 is then an error like any other bad target.
  const Ids pad_zero{{5}, {0, 2, 0, 3, 1}};
  CHECK_GRADIENTS([pad_zero](const std::vector<Tensor>& in) { return cross_entropy(in[0], pad_zero, 0); }, {logits});
  CHECK(cross_entropy(logits, pad_zero, 0).item() ==
        doctest::Approx(cross_entropy_ref(logits, pad_zero, 0).item()).epsilon(1e-5));
  // Ignored rows get no gradient.
  logits.zero_grad();
  cross_entropy(logits, padded).backward();
  for (std::int64_t c = 0; c < 4; ++c) CHECK(logits.grad().at({1, c}) == 0.f);

  const Ids all_ignored{{5}, {-100, -100, -100, -100, -100}};
  logits.zero_grad();
  const Tensor none = cross_entropy(logits, all_ignored);
  CHECK(none.item() == 0.f);
  none.backward();
  CHECK(allclose(logits.grad(), Tensor::zeros({5, 4}), 0, 0));
}

TEST_CASE("cross_entropy is stable for huge logits") {
  Tensor logits = Tensor::from({2, 3}, {1e4f, 0.f, -1e4f, 50.f, 50.f, 50.f}).set_requires_grad();
  const Tensor loss = cross_entropy(logits, Ids{{2}, {1, 2}});
  // Row 0: target logit 1e4 below the max, so the loss is 1e4; row 1: log 3.
  CHECK(loss.item() == doctest::Approx((1e4 + std::log(3.0)) / 2).epsilon(1e-6));
  loss.backward();
  for (float g : logits.grad().to_vector()) CHECK(std::isfinite(g));
  CHECK(logits.grad().at({0, 0}) == doctest::Approx(0.5f));   // softmax 1, target 0, / count 2
  CHECK(logits.grad().at({0, 1}) == doctest::Approx(-0.5f));  // softmax 0, target 1
}

TEST_CASE("cross_entropy reports bad shapes and targets") {
  const Tensor logits = Tensor::zeros({4, 5});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, Ids{{3}, {0, 1, 2}}),
                       "cross_entropy: logits (4, 5) and targets (3,) do not match (expected targets (4,))", Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, Ids{{4}, {0, 1, 7, 2}}),
                       "cross_entropy: target 7 at position 2 is out of range for 5 classes (ignore_index is -100)",
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, Ids{{4}, {0, -100, 1, 2}}, 0),
                       "cross_entropy: target -100 at position 1 is out of range for 5 classes (ignore_index is 0)",
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(Tensor::zeros({2, 3, 4}), Ids{{2}, {0, 1}}),
                       "cross_entropy: logits must be 2-D (N, C), got shape (2, 3, 4)", Error);
}

TEST_CASE("mse_loss and bce_with_logits match the references and pass the gradient checker") {
  Rng rng(63);
  for (const Shape& shape : std::vector<Shape>{{1}, {7}, {3, 4}, {2, 1, 3}, {2, 2, 1, 3}}) {
    CAPTURE(shape_str(shape));
    const Tensor p = random_leaf(shape, rng, -2.f, 2.f), t = random_leaf(shape, rng, -2.f, 2.f);
    CHECK(mse_loss(p, t).item() == doctest::Approx(mse_loss_ref(p, t).item()).epsilon(1e-6));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); }, {p, t});

    const Tensor x = random_leaf(shape, rng, -4.f, 4.f), y = random_leaf(shape, rng, 0.f, 1.f);
    CHECK(bce_with_logits(x, y).item() == doctest::Approx(bce_with_logits_ref(x, y).item()).epsilon(1e-5));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1]); }, {x, y});
  }
  CHECK_THROWS_WITH_AS(mse_loss(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})), "mse_loss: shapes (2, 3) and (3, 2) differ",
                       Error);
  CHECK_THROWS_WITH_AS(bce_with_logits(Tensor::zeros({4, 1}), Tensor::zeros({4})),
                       "bce_with_logits: shapes (4, 1) and (4,) differ", Error);
}

TEST_CASE("bce_with_logits is stable for huge logits") {
  // Confidently wrong by 100: the loss is 100 (a naive log(1 - sigmoid) gives inf).
  Tensor x = Tensor::from({100.f, -100.f, 100.f, -100.f}).set_requires_grad();
  const Tensor t = Tensor::from({0.f, 1.f, 1.f, 0.f});
  const Tensor loss = bce_with_logits(x, t);
  CHECK(loss.item() == doctest::Approx((100.0 + 100.0 + 0.0 + 0.0) / 4));
  loss.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{0.25f, -0.25f, 0.f, 0.f});
}

TEST_CASE("gaussian_kl matches the reference, is 0 at N(0, I), and passes the gradient checker") {
  Rng rng(64);
  for (const Shape& shape : std::vector<Shape>{{1}, {4, 3}, {2, 1, 5}}) {
    CAPTURE(shape_str(shape));
    const Tensor mu = random_leaf(shape, rng, -1.5f, 1.5f), logvar = random_leaf(shape, rng, -2.f, 1.f);
    CHECK(gaussian_kl(mu, logvar).item() == doctest::Approx(gaussian_kl_ref(mu, logvar).item()).epsilon(1e-5));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return gaussian_kl(in[0], in[1]); }, {mu, logvar});
  }
  CHECK(gaussian_kl(Tensor::zeros({3, 4}), Tensor::zeros({3, 4})).item() == 0.f);
  // Summed over all elements, not averaged: twice the batch, twice the KL.
  const Tensor mu = Tensor::full({1, 3}, 0.5f), lv = Tensor::full({1, 3}, 0.2f);
  const Tensor mu2 = Tensor::full({2, 3}, 0.5f), lv2 = Tensor::full({2, 3}, 0.2f);
  CHECK(gaussian_kl(mu2, lv2).item() == doctest::Approx(2 * gaussian_kl(mu, lv).item()));
  CHECK_THROWS_WITH_AS(gaussian_kl(Tensor::zeros({2, 3}), Tensor::zeros({2, 4})),
                       "gaussian_kl: shapes (2, 3) and (2, 4) differ", Error);
}

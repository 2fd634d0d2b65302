// Shape ops: reshape, squeeze/unsqueeze, concat, slice, stack, gather_rows and
// one_hot against the references, through the gradient checker, and their
// error messages.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

TEST_CASE("reshape infers -1, shares storage and passes the gradient checker") {
  Rng rng(31);
  Tensor x = random_leaf({2, 3, 4}, rng);
  const Tensor y = reshape(x, {4, -1});
  CHECK(y.shape() == Shape{4, 6});
  CHECK(y.shares_storage_with(x));
  CHECK(reshape(x, {-1}).shape() == Shape{24});
  CHECK(reshape(x, {2, 1, -1, 3}).shape() == Shape{2, 1, 4, 3});
  CHECK(reshape(Tensor::scalar(3.f), {1, 1}).shape() == Shape{1, 1});
  CHECK(reshape(Tensor::zeros({0, 3}), {3, 0}).shape() == Shape{3, 0});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return mul(reshape(in[0], {6, -1}), reshape(in[0], {6, 4})); },
                  {x});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return reshape(in[0], {}); }, {random_leaf({1, 1}, rng)});

  CHECK_THROWS_WITH_AS(reshape(x, {5, -1}), "reshape: cannot reshape (2, 3, 4) into (5, -1)", Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-1, -1}), "reshape: only one dimension may be -1, got (-1, -1)", Error);
  CHECK_THROWS_WITH_AS(reshape(x, {2, 5, 2}), "reshape: cannot reshape (2, 3, 4) into (2, 5, 2)", Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-2, -12}), "reshape: cannot reshape (2, 3, 4) into (-2, -12)", Error);
  CHECK_THROWS_WITH_AS(reshape(Tensor::zeros({0, 3}), {0, -1}), "reshape: cannot reshape (0, 3) into (0, -1)",
                       Error);
  CHECK_THROWS_WITH_AS(reshape(x, {1, 2, 3, 4, 1}),
                       "reshape: rank 5 of (1, 2, 3, 4, 1) exceeds the maximum of 4", Error);
}

TEST_CASE("squeeze and unsqueeze") {
  Rng rng(32);
  const Tensor x = random_leaf({2, 1, 3}, rng);
  CHECK(squeeze(x, 1).shape() == Shape{2, 3});
  CHECK(squeeze(x, -2).shape() == Shape{2, 3});
  CHECK(unsqueeze(x, 0).shape() == Shape{1, 2, 1, 3});
  CHECK(unsqueeze(x, -1).shape() == Shape{2, 1, 3, 1});
  CHECK(unsqueeze(x, 3).shape() == Shape{2, 1, 3, 1});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return unsqueeze(squeeze(in[0], 1), 0); }, {x});
  CHECK_THROWS_WITH_AS(squeeze(x, 0), "squeeze: axis 0 of shape (2, 1, 3) has size 2, not 1", Error);
  CHECK_THROWS_WITH_AS(unsqueeze(x, 4), "unsqueeze: axis 4 is out of range for a new axis in shape (2, 1, 3) (expected -4 to 3)", Error);
  CHECK_THROWS_WITH_AS(unsqueeze(Tensor::zeros({1, 2, 3, 4}), 0),
                       "unsqueeze: shape (1, 2, 3, 4) already has the maximum rank of 4", Error);
}

TEST_CASE("concat matches the reference on every axis and passes the gradient checker") {
  Rng rng(33);
  const Shape base{2, 3, 1, 4};
  for (int axis = -4; axis < 4; ++axis) {
    CAPTURE(axis);
    const auto a = static_cast<std::size_t>(axis < 0 ? axis + 4 : axis);
    std::vector<Tensor> parts;
    for (std::int64_t width : {2, 0, 1, 3}) {  // unequal widths, one empty
      Shape s = base;
      s[a] = width;
      parts.push_back(random_leaf(s, rng));
    }
    const Tensor got = concat(parts, axis);
    CHECK(got.shape()[a] == 6);
    CHECK(allclose(got, concat_ref(parts, axis), 0, 0));
    CHECK_GRADIENTS([axis](const std::vector<Tensor>& in) { return concat(in, axis); }, parts);
  }
  // One input that does not need a gradient among two that do.
  Tensor frozen = Tensor::uniform({2, 2}, -1.f, 1.f, rng);
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return concat(in, 1); },
                  {random_leaf({2, 3}, rng), frozen, random_leaf({2, 1}, rng)});

  CHECK_THROWS_WITH_AS(concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1),
                       "concat: shapes (2, 3) and (3, 3) do not match outside axis 1", Error);
  CHECK_THROWS_WITH_AS(concat({Tensor::zeros({2, 3}), Tensor::zeros({2, 3, 1})}, 0),
                       "concat: shapes (2, 3) and (2, 3, 1) do not match outside axis 0", Error);
  CHECK_THROWS_WITH_AS(concat({}, 0), "concat: needs at least one tensor", Error);
  CHECK_THROWS_WITH_AS(concat({Tensor::zeros({2})}, 1), "concat: axis 1 is out of range for rank 1", Error);
}

TEST_CASE("slice matches the reference, takes negative bounds, and passes the gradient checker") {
  Rng rng(34);
  const Tensor x = random_leaf({3, 5, 2}, rng);
  struct Case {
    int axis;
    std::int64_t start, end;
  };
  for (const Case& c : {Case{0, 0, 3}, Case{0, 1, 2}, Case{1, 1, 4}, Case{-2, -3, -1}, Case{2, 1, 2},
                        Case{1, 2, 2}, Case{-1, 0, -1}}) {
    CAPTURE(c.axis);
    CAPTURE(c.start);
    CAPTURE(c.end);
    CHECK(allclose(slice(x, c.axis, c.start, c.end), slice_ref(x, c.axis, c.start, c.end), 0, 0));
    CHECK_GRADIENTS([c](const std::vector<Tensor>& in) { return slice(in[0], c.axis, c.start, c.end); }, {x});
  }
  CHECK(slice(x, 1, 1, 4).shape() == Shape{3, 3, 2});
  {  // the gradient is exactly g inside the range and exactly 0 around it
    Tensor leaf = random_leaf({3, 5, 2}, rng);
    const Tensor g = Tensor::uniform({3, 2, 2}, 1.f, 2.f, rng);
    slice(leaf, 1, 2, 4).backward(g);
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t j = 0; j < 5; ++j)
        for (std::int64_t k = 0; k < 2; ++k)
          CHECK(leaf.grad().at({i, j, k}) == (j >= 2 && j < 4 ? g.at({i, j - 2, k}) : 0.f));
  }
  CHECK_THROWS_WITH_AS(slice(x, 1, 2, 6), "slice: range [2, 6) is out of bounds for axis 1 of shape (3, 5, 2)", Error);
  CHECK_THROWS_WITH_AS(slice(x, 0, 2, 1), "slice: range [2, 1) is out of bounds for axis 0 of shape (3, 5, 2)", Error);
  CHECK_THROWS_WITH_AS(slice(x, 3, 0, 1), "slice: axis 3 is out of range for rank 3", Error);
}

TEST_CASE("stack matches the reference and passes the gradient checker") {
  Rng rng(35);
  for (int axis = -3; axis < 3; ++axis) {
    CAPTURE(axis);
    std::vector<Tensor> parts = {random_leaf({2, 3}, rng), random_leaf({2, 3}, rng), random_leaf({2, 3}, rng)};
    const Tensor got = stack(parts, axis);
    CHECK(got.dim() == 3);
    CHECK(allclose(got, stack_ref(parts, axis), 0, 0));
    CHECK_GRADIENTS([axis](const std::vector<Tensor>& in) { return stack(in, axis); }, parts);
  }
  CHECK(stack({Tensor::scalar(1.f), Tensor::scalar(2.f)}, 0).to_vector() == std::vector<float>{1.f, 2.f});
  CHECK_THROWS_WITH_AS(stack({Tensor::zeros({2, 3}), Tensor::zeros({3, 2})}, 0),
                       "stack: shapes (2, 3) and (3, 2) differ", Error);
  CHECK_THROWS_WITH_AS(stack({Tensor::zeros({2, 3})}, 3), "stack: axis 3 is out of range for a new axis in shape (2, 3) (expected -3 to 2)", Error);
}

TEST_CASE("gather_rows looks up rows, scatter-adds its gradient, and names bad ids") {
  Rng rng(36);
  Tensor table = random_leaf({5, 3}, rng);  // (V, E)
  const Ids ids{{2, 3}, {4, 0, 4, 1, 1, 4}};  // (B, T), repeated ids
  const Tensor rows = gather_rows(table, ids);
  CHECK(rows.shape() == Shape{2, 3, 3});
  CHECK(allclose(rows, gather_rows_ref(table, ids), 0, 0));
  CHECK_GRADIENTS([ids](const std::vector<Tensor>& in) { return gather_rows(in[0], ids); }, {table});

  // Row 4 is used three times, so its gradient is 3; row 3 never, so 0.
  table.zero_grad();
  sum(gather_rows(table, ids)).backward();
  CHECK(table.grad().at({4, 1}) == 3.f);
  CHECK(table.grad().at({3, 0}) == 0.f);

  CHECK(gather_rows(table, Ids{{}, {2}}).shape() == Shape{3});  // one id -> one row
  const Tensor big_table = Tensor::uniform({100, 64}, -1.f, 1.f, rng);
  Ids many{{40, 20}, std::vector<std::int32_t>(800)};
  for (auto& id : many.values) id = static_cast<std::int32_t>(rng.below(100));
  CHECK(allclose(gather_rows(big_table, many), gather_rows_ref(big_table, many), 0, 0));  // parallel path

  CHECK_THROWS_WITH_AS(gather_rows(table, Ids{{3}, {0, 5, 1}}),
                       "gather_rows: id 5 at position 1 is out of range for a table of N = 5 rows", Error);
  CHECK_THROWS_WITH_AS(gather_rows(table, Ids{{2}, {-1, 0}}),
                       "gather_rows: id -1 at position 0 is out of range for a table of N = 5 rows", Error);
  CHECK_THROWS_WITH_AS(gather_rows(table, Ids{{3}, {0, 1}}),
                       "gather_rows: ids hold 2 values but their shape (3,) has 3 elements", Error);
  CHECK_THROWS_WITH_AS(gather_rows(Tensor::zeros({5}), Ids{{1}, {0}}),
                       "gather_rows: the table must be 2-D (N, E), got shape (5,)", Error);
}

TEST_CASE("one_hot") {
  const Tensor h = one_hot(Ids{{2, 2}, {0, 2, 1, 2}}, 3);
  CHECK(h.shape() == Shape{2, 2, 3});
  CHECK(h.to_vector() == std::vector<float>{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1});
  CHECK_FALSE(h.requires_grad());
  CHECK_THROWS_WITH_AS(one_hot(Ids{{2}, {0, 3}}, 3), "one_hot: id 3 at position 1 is out of range for 3 classes",
                       Error);
  CHECK_THROWS_WITH_AS(one_hot(Ids{{1}, {0}}, 0), "one_hot: the number of classes must be positive, got 0", Error);
}

// The interpolated Witten–Bell n-gram baseline.
#include <doctest/doctest.h>

#include <numeric>

#include "legato/music/ngram.hpp"

using legato::music::NGramModel;

TEST_CASE("Witten-Bell bigram probabilities match a hand computation") {
  // Vocabulary {0: start/end, 1, 2}; one sequence "1 1 2 0" read from start 0.
  NGramModel model(2, 3);
  model.fit({{1, 1, 2, 0}}, 0);
  // Unigram level: counts 1:2, 2:1, 0:1 (total 4, distinct 3), base 1/3.
  const double p1_uni = (2 + 3 * (1.0 / 3)) / (4 + 3);
  // Context "1" is followed by 1 and 2 once each (total 2, distinct 2).
  const double p1_after_1 = (1 + 2 * p1_uni) / (2 + 2);
  CHECK(model.probability({1}, 1) == doctest::Approx(p1_after_1));
  // An unseen context falls back to the unigram level.
  CHECK(model.probability({2}, 1) == doctest::Approx((0 + 1 * p1_uni) / (1 + 1)));
}

TEST_CASE("distributions sum to one, including unseen contexts and tokens") {
  NGramModel model(4, 6);
  model.fit({{1, 2, 3, 1, 2, 3, 0}, {4, 4, 4, 0}}, 0);
  for (const std::vector<int>& history : {std::vector<int>{0, 0, 0}, {1, 2, 3}, {5, 5, 5}, {4, 4, 4}}) {
    const auto p = model.distribution(history);
    CHECK(std::accumulate(p.begin(), p.end(), 0.0) == doctest::Approx(1.0));
    for (double v : p) CHECK(v > 0.0);
  }
}

TEST_CASE("a deterministic pattern prefers a longer order and predicts it") {
  std::vector<std::vector<int>> songs;
  for (int s = 0; s < 20; ++s) songs.push_back({1, 2, 1, 3, 0});  // after "1", the token before it decides
  std::vector<double> nll;
  const int order = NGramModel::choose_order(songs, songs, 4, 0, 5, &nll);
  CHECK(order >= 3);
  CHECK(nll[static_cast<std::size_t>(order - 1)] < nll[0]);
  NGramModel model(order, 4);
  model.fit(songs, 0);
  const auto score = model.score(songs, 0);
  CHECK(score.correct == score.targets);  // every next token is predictable from 2+ tokens of context
  CHECK(score.mean_nll() < 0.2);
}

TEST_CASE("bad tokens and orders are rejected") {
  CHECK_THROWS_AS(NGramModel(0, 5), legato::Error);
  CHECK_THROWS_AS(NGramModel(9, 5), legato::Error);
  NGramModel model(2, 3);
  CHECK_THROWS_WITH_AS(model.fit({{1, 7}}, 0), "NGramModel: token id 7 is outside the vocabulary of 3", legato::Error);
}

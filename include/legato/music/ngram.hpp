#pragma once
// An n-gram (Markov) model over token ids with interpolated Witten–Bell
// smoothing: the baseline every melody model is measured against.
//
// For a context h of length k and the same context shortened by one on the
// left, h', the probability of token w is
//
//   P(w | h) = ( c(h, w) + u(h) * P(w | h') ) / ( c(h) + u(h) )
//
// where c(h, w) counts w after h, c(h) counts h, and u(h) is the number of
// distinct tokens seen after h. Unseen contexts fall through to P(w | h').
// The recursion ends in the uniform distribution over the vocabulary, so no
// token ever gets probability zero.
//
// Sequences are read the way generation reads them: the context starts as
// (order - 1) copies of a start token, and each sequence should end with the
// end token that it has to predict (the song delimiter).

#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "legato/util/error.hpp"

namespace legato::music {

class NGramModel {
 public:
  static constexpr int kMaxOrder = 8;

  NGramModel(int order, int vocab_size) : order_(order), vocab_size_(vocab_size), tables_(order) {
    check(order >= 1 && order <= kMaxOrder, "NGramModel: order ", order, " is outside 1..", kMaxOrder);
    check(vocab_size >= 1 && vocab_size <= 255, "NGramModel: vocabulary size ", vocab_size, " is outside 1..255");
  }

  int order() const { return order_; }
  int vocab_size() const { return vocab_size_; }

  // Counts every (context, token) pair of every sequence, for every context
  // length 0..order-1. Can be called several times to add data.
  void fit(const std::vector<std::vector<int>>& sequences, int start_token) {
    for (const auto& sequence : sequences) {
      std::vector<int> history(static_cast<std::size_t>(order_ - 1), start_token);
      for (int token : sequence) {
        check_token(token);
        for (int k = 0; k < order_; ++k) {
          ContextCounts& counts = tables_[static_cast<std::size_t>(k)][key(history, k)];
          if (counts.by_token.empty()) counts.by_token.assign(static_cast<std::size_t>(vocab_size_), 0);
          if (counts.by_token[static_cast<std::size_t>(token)]++ == 0) ++counts.distinct;
          ++counts.total;
        }
        if (!history.empty()) {
          history.erase(history.begin());
          history.push_back(token);
        }
      }
    }
  }

  // P(token | history), where history holds at least order-1 tokens (the
  // last order-1 are used).
  double probability(const std::vector<int>& history, int token) const {
    double p = 1.0 / vocab_size_;
    for (int k = 0; k < order_; ++k) {  // shortest context first, refined outward
      const auto& table = tables_[static_cast<std::size_t>(k)];
      const auto found = table.find(key(history, k));
      if (found == table.end()) break;  // longer contexts containing this one are unseen too
      const ContextCounts& c = found->second;
      p = (c.by_token[static_cast<std::size_t>(token)] + c.distinct * p) / double(c.total + c.distinct);
    }
    return p;
  }

  // The full next-token distribution after history (sums to 1).
  std::vector<double> distribution(const std::vector<int>& history) const {
    std::vector<double> p(static_cast<std::size_t>(vocab_size_));
    for (int w = 0; w < vocab_size_; ++w) p[static_cast<std::size_t>(w)] = probability(history, w);
    return p;
  }

  struct Score {
    double total_nll = 0.0;  // nats, summed over targets
    long targets = 0;
    long correct = 0;  // argmax prediction equals the target
    double mean_nll() const { return targets ? total_nll / double(targets) : 0.0; }
  };

  // Reads each sequence from the start state and scores every token in it.
  Score score(const std::vector<std::vector<int>>& sequences, int start_token) const {
    Score s;
    for (const auto& sequence : sequences) {
      std::vector<int> history(static_cast<std::size_t>(std::max(order_ - 1, 0)), start_token);
      for (int token : sequence) {
        check_token(token);
        const std::vector<double> p = distribution(history);
        s.total_nll -= std::log(p[static_cast<std::size_t>(token)]);
        int best = 0;
        for (int w = 1; w < vocab_size_; ++w)
          if (p[static_cast<std::size_t>(w)] > p[static_cast<std::size_t>(best)]) best = w;
        s.correct += best == token;
        ++s.targets;
        if (!history.empty()) {
          history.erase(history.begin());
          history.push_back(token);
        }
      }
    }
    return s;
  }

  // Picks the order (1..max_order) with the lowest NLL on `tune` after
  // fitting on `fit_part`. Returns the order and, through nll_by_order, each
  // order's score (index 0 is order 1).
  static int choose_order(const std::vector<std::vector<int>>& fit_part,
                          const std::vector<std::vector<int>>& tune, int vocab_size, int start_token,
                          int max_order, std::vector<double>* nll_by_order = nullptr) {
    int best_order = 1;
    double best_nll = INFINITY;
    for (int n = 1; n <= max_order; ++n) {
      NGramModel model(n, vocab_size);
      model.fit(fit_part, start_token);
      const double nll = model.score(tune, start_token).mean_nll();
      if (nll_by_order) nll_by_order->push_back(nll);
      if (nll < best_nll) best_nll = nll, best_order = n;
    }
    return best_order;
  }

 private:
  struct ContextCounts {
    std::vector<std::uint32_t> by_token;  // (V) counts of each next token
    std::uint32_t total = 0;              // c(h)
    std::uint32_t distinct = 0;           // u(h)
  };

  void check_token(int token) const {
    check(token >= 0 && token < vocab_size_, "NGramModel: token id ", token, " is outside the vocabulary of ",
          vocab_size_);
  }

  // The last k tokens of history packed 8 bits each (k <= 7).
  static std::uint64_t key(const std::vector<int>& history, int k) {
    std::uint64_t packed = 0;
    for (std::size_t i = history.size() - static_cast<std::size_t>(k); i < history.size(); ++i)
      packed = (packed << 8) | static_cast<std::uint64_t>(history[i] & 0xff);
    return packed;
  }

  int order_;
  int vocab_size_;
  std::vector<std::unordered_map<std::uint64_t, ContextCounts>> tables_;  // by context length 0..order-1
};

}  // namespace legato::music

#pragma once
// melody_lstm evaluation on the held-out songs.
//
// 1. held_out_metrics: each held-out song is read exactly as generation reads
//    it: zero state, the start symbol(s) "/", then the song; every song token
//    and the song's end ("/") is a target, nothing else counts. Reported per
//    16th step: NLL in nats and bits, perplexity, accuracy on all targets and
//    on the non-hold targets (target other than "_").
// 2. ngram_baseline: the interpolated Witten–Bell n-gram (music/ngram.hpp)
//    read the same way. Its order (1..8) is chosen on a tuning slice of the
//    TRAINING songs (about 10%: FNV-1a(name) / 10 % 10 == 0), fitting the
//    other training songs; then it is refitted on all training songs.
// 3. seed_style_accuracy: the seed's measure (spec §6.3): every window of 64
//    over the delimited held-out stream (song, 64 "/", song, …), read from the
//    zero state, the target is the token after the window, and the padding
//    delimiters count as targets. See the comment of that function for how a
//    sequence-mode model, which never models the padding, is read.
// 4. generation_precision: where the build has bf16, the generator's step in
//    bf16 against fp32 on the held-out songs: both NLLs, the mean KL between
//    their next-token distributions, and how often their top tokens agree.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "legato/autograd.hpp"
#include "legato/music/corpus.hpp"
#include "legato/music/ngram.hpp"

#include "data.hpp"
#include "generate.hpp"
#include "model.hpp"
#include "parallel.hpp"

namespace melody_lstm {

struct Metrics {
  double nll_sum = 0;  // nats
  std::int64_t targets = 0, correct = 0;
  std::int64_t nonhold_targets = 0, nonhold_correct = 0;

  double nll() const { return targets ? nll_sum / double(targets) : NAN; }
  double bits() const { return nll() / std::log(2.0); }
  double perplexity() const { return std::exp(nll()); }
  double accuracy() const { return targets ? double(correct) / double(targets) : NAN; }
  double accuracy_nonhold() const { return nonhold_targets ? double(nonhold_correct) / double(nonhold_targets) : NAN; }
};

namespace detail {

// out (V) = log softmax(row), in double (log_sum_exp, generate.hpp);
// returns the index of the largest logit (the first, on ties).
inline std::int64_t log_softmax_row(const float* row, std::int64_t V, std::vector<double>& out) {
  const std::int64_t best = std::max_element(row, row + V) - row;  // the first of equal maxima
  const double log_total = log_sum_exp(row, V);
  out.resize(static_cast<std::size_t>(V));
  for (std::int64_t v = 0; v < V; ++v) out[static_cast<std::size_t>(v)] = double(row[v]) - log_total;
  return best;
}

// Adds the scores of logits (N, V) against targets (N) to m (kIgnore skipped).
inline void score_rows(const float* logits, std::int64_t V, const std::vector<std::int32_t>& targets,
                       std::int32_t hold, Metrics& m) {
  std::vector<double> log_p;
  for (std::size_t n = 0; n < targets.size(); ++n) {
    const std::int32_t y = targets[n];
    if (y == kIgnore) continue;
    const std::int64_t best = log_softmax_row(logits + static_cast<std::int64_t>(n) * V, V, log_p);
    m.nll_sum -= log_p[static_cast<std::size_t>(y)];
    ++m.targets;
    m.correct += best == y;
    if (y != hold) {
      ++m.nonhold_targets;
      m.nonhold_correct += best == y;
    }
  }
}

}  // namespace detail

namespace detail {

// Reads the songs in lanes of B, chunks of T steps, state carried (see 1. at
// the top). Does not change the model's mode: the caller sets eval().
inline Metrics read_songs(MelodyLstm& model, const std::vector<SongIds>& songs, const Vocabulary& vocab,
                          std::int64_t start_symbols, std::int64_t B, std::int64_t T = 128) {
  Metrics m;
  if (songs.empty()) return m;
  legato::NoGradGuard no_grad;
  B = std::max<std::int64_t>(1, std::min<std::int64_t>(B, static_cast<std::int64_t>(songs.size())));
  SequenceBatcher batcher(songs, model.coding(), B, T, vocab.delimiter_id(), start_symbols, /*repeat=*/false,
                          /*order_seed=*/0);
  const std::int32_t hold = vocab.find(legato::music::kHoldToken).value_or(-2);
  const std::int64_t L = model.lstm->options().num_layers, H = model.hidden_size();
  legato::nn::LSTMState state{Tensor::zeros({L, B, H}), Tensor::zeros({L, B, H})};
  SequenceBatch batch;
  while (batcher.next(batch)) {
    for (std::int64_t b = 0; b < B; ++b)  // a lane that starts a song starts from zero
      if (batch.reset[static_cast<std::size_t>(b)])
        for (Tensor* s : {&state.h, &state.c})
          for (std::int64_t l = 0; l < L; ++l) std::fill_n(s->data() + (l * B + b) * H, H, 0.f);
    MelodyLstm::Output out = model.forward(batch.inputs, &state);
    score_rows(out.logits.data(), model.vocab_size(), batch.targets.values, hold, m);
    state = {out.state.h.detach(), out.state.c.detach()};
  }
  return m;
}

}  // namespace detail

// See 1. at the top. With threads > 1 the songs are split between the threads
// (each reads its share alone, parallel.hpp) and the sums are added in order.
inline Metrics held_out_metrics(MelodyLstm& model, const std::vector<SongIds>& songs, const Vocabulary& vocab,
                                std::int64_t start_symbols, int threads = 1) {
  Metrics total;
  if (songs.empty()) return total;
  const bool was_training = model.is_training();
  model.eval();  // before any thread starts: the forward passes then only read the model
  const int shards = std::max(1, std::min<int>(threads, static_cast<int>(songs.size())));
  std::vector<Metrics> parts(static_cast<std::size_t>(shards));
  on_threads(shards, [&](int k) {
    const std::size_t n = songs.size(), s0 = n * std::size_t(k) / std::size_t(shards),
                      s1 = n * std::size_t(k + 1) / std::size_t(shards);
    const std::vector<SongIds> mine(songs.begin() + static_cast<std::ptrdiff_t>(s0),
                                    songs.begin() + static_cast<std::ptrdiff_t>(s1));
    parts[static_cast<std::size_t>(k)] = detail::read_songs(model, mine, vocab, start_symbols, 32 / shards);
  });
  for (const Metrics& m : parts) {
    total.nll_sum += m.nll_sum;
    total.targets += m.targets;
    total.correct += m.correct;
    total.nonhold_targets += m.nonhold_targets;
    total.nonhold_correct += m.nonhold_correct;
  }
  model.train(was_training);
  return total;
}

// --------------------------------------------------------------- n-gram ----

struct NGramResult {
  int order = 0;
  std::vector<double> tune_nll_by_order;  // index 0 is order 1
  Metrics metrics;                        // on the held-out songs (no non-hold split)
};

inline bool in_tuning_slice(const std::string& file_name) {
  return legato::music::fnv1a32(file_name) / 10 % 10 == 0;
}

inline NGramResult ngram_baseline(const MelodyData& data, int max_order = 8) {
  using legato::music::NGramModel;
  const std::int32_t end = data.vocab.delimiter_id();
  auto sequence = [&](const SongIds& s) {  // the song, then its end
    std::vector<int> seq(s.ids.begin(), s.ids.end());
    seq.push_back(end);
    return seq;
  };
  std::vector<std::vector<int>> fit_part, tune, all_train, held;
  for (const SongIds& s : data.train) {
    (in_tuning_slice(s.name) ? tune : fit_part).push_back(sequence(s));
    all_train.push_back(sequence(s));
  }
  for (const SongIds& s : data.held_out) held.push_back(sequence(s));
  if (tune.empty() || fit_part.empty()) {  // a tiny corpus: tune on every 10th training song
    tune.clear();
    fit_part.clear();
    for (std::size_t i = 0; i < all_train.size(); ++i) (i % 10 == 9 ? tune : fit_part).push_back(all_train[i]);
    if (tune.empty()) tune = fit_part;
  }
  NGramResult r;
  r.order = NGramModel::choose_order(fit_part, tune, data.vocab.size(), end, max_order, &r.tune_nll_by_order);
  NGramModel model(r.order, data.vocab.size());
  model.fit(all_train, end);
  const NGramModel::Score s = model.score(held, end);
  r.metrics.nll_sum = s.total_nll;
  r.metrics.targets = s.targets;
  r.metrics.correct = s.correct;
  return r;
}

// "12.3% lower" or, where the model does worse (an over-fitted one on a tiny
// corpus), "4.5% higher": the model's NLL against the baseline's.
inline std::string relative_nll(double model, double baseline) {
  const double change = 100.0 * (model / baseline - 1.0);
  char text[48];
  std::snprintf(text, sizeof text, "%.1f%% %s", std::fabs(change), change <= 0 ? "lower" : "higher");
  return text;
}

// ---------------------------------------------------- seed-style accuracy ----

// See 3. at the top. The seed's model was trained on exactly these windows,
// so a window-mode model reads each window as it is. A sequence-mode model
// was trained to read a song from its start state (zero state, input "/") and
// never to continue the padding, which is format rather than music: after a
// song's end, the next 63 tokens are "/" by construction. So, for it:
//   - a target inside the padding (the window ends in a run of r < 64 "/"
//     that follows a song token) is "/" by the format, and counts as correct;
//   - a window of 64 "/" is followed by a song's first token, which the model
//     predicts from its start state;
//   - otherwise the model reads the window from the zero state, except that a
//     "/" in it puts the model in its start state (it reads from the last "/").
// Both regimes are scored on every target the seed scored.
struct SeedStyleResult {
  double accuracy = NAN;
  std::int64_t windows = 0;
  std::int64_t padding_by_rule = 0;  // padding targets that the format decides (sequence mode)
};

inline SeedStyleResult seed_style_accuracy(MelodyLstm& model, const std::vector<SongIds>& songs,
                                           const Vocabulary& vocab, bool window_model, int threads = 1,
                                           std::int64_t W = 64, std::int64_t B = 256) {
  SeedStyleResult r;
  const std::int32_t slash = vocab.delimiter_id();
  const DelimitedStream delimited = delimited_stream(songs, slash);
  const std::vector<std::int32_t>& stream = delimited.tokens;
  const std::int64_t N = static_cast<std::int64_t>(stream.size());
  if (N <= W) return r;
  struct Segment {
    std::int64_t begin, length;  // stream[begin .. begin + length) is read; the target is stream[i + W]
    std::int32_t target;
  };
  std::vector<Segment> segments;
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i + W < N; ++i) {
    ++r.windows;
    const std::int32_t target = stream[static_cast<std::size_t>(i + W)];
    if (window_model) {
      segments.push_back({i, W, target});
      continue;
    }
    std::int64_t run = 0;  // trailing "/" of the window
    while (run < W && stream[static_cast<std::size_t>(i + W - 1 - run)] == slash) ++run;
    if (run == W) {
      segments.push_back({i + W - 1, 1, target});  // the start state
    } else if (run > 0) {
      ++r.padding_by_rule;
      correct += target == slash;  // always true: the padding is 64 long
    } else {
      std::int64_t from = i;  // from the last "/" in the window, else from the zero state
      for (std::int64_t k = i + W - 1; k >= i; --k)
        if (stream[static_cast<std::size_t>(k)] == slash) {
          from = k;
          break;
        }
      segments.push_back({from, i + W - from, target});
    }
  }
  // Longest first in batches of B, each padded to its longest segment; the
  // logits of a lane are taken at its own last step.
  std::stable_sort(segments.begin(), segments.end(), [](const Segment& a, const Segment& b) { return a.length > b.length; });
  const bool was_training = model.is_training();
  model.eval();
  const std::int64_t V = model.vocab_size();
  const std::size_t batches = (segments.size() + static_cast<std::size_t>(B) - 1) / static_cast<std::size_t>(B);
  const int shards = std::max(1, std::min<int>(threads, static_cast<int>(batches)));
  std::vector<std::int64_t> correct_by(static_cast<std::size_t>(shards), 0);
  on_threads(shards, [&](int k) {  // thread k takes batches k, k + shards, …
    legato::NoGradGuard no_grad;
    for (std::size_t i = static_cast<std::size_t>(k); i < batches; i += static_cast<std::size_t>(shards)) {
      const std::size_t s0 = i * static_cast<std::size_t>(B);
      const std::int64_t b_count = std::min<std::int64_t>(B, static_cast<std::int64_t>(segments.size() - s0));
      const std::int64_t T = segments[s0].length;
      const InputCoding& coding = model.coding();
      const std::int64_t K = coding.ids_per_step();
      legato::Ids ids{coding.shape(T, b_count), std::vector<std::int32_t>(static_cast<std::size_t>(T * b_count * K))};
      for (std::int64_t k = 0; k < T * b_count; ++k)  // after a shorter segment's end: "/" (its logits are not read)
        coding.write(slash, kUnknownStep, {}, ids.values.data() + k * K);
      for (std::int64_t b = 0; b < b_count; ++b) {
        const Segment& g = segments[s0 + static_cast<std::size_t>(b)];
        for (std::int64_t t = 0; t < g.length; ++t)
          delimited.write_input(coding, static_cast<std::size_t>(g.begin + t), static_cast<std::size_t>(g.begin),
                                ids.values.data() + (t * b_count + b) * K);
      }
      const MelodyLstm::Output out = model.forward(ids);  // (T·B, V)
      for (std::int64_t b = 0; b < b_count; ++b) {
        const Segment& g = segments[s0 + static_cast<std::size_t>(b)];
        const float* row = out.logits.data() + ((g.length - 1) * b_count + b) * V;
        correct_by[static_cast<std::size_t>(k)] += std::max_element(row, row + V) - row == g.target;
      }
    }
  });
  for (std::int64_t c : correct_by) correct += c;
  model.train(was_training);
  r.accuracy = double(correct) / double(r.windows);
  return r;
}

// ------------------------------------ generation in bf16 against fp32 ----

// See 4. at the top. Each held-out song is read token by token by two
// generators, as generate reads a seed: start symbols, then the song; every
// song token and the song's end are targets.
struct GenerationPrecision {
  double nll_fp32 = 0, nll_bf16 = 0;  // nats per target
  double kl = 0;                      // mean KL(fp32 ‖ bf16) of the next-token distributions, nats
  double top_agreement = 0;           // share of targets where both put the same token first
  std::int64_t targets = 0;
};

inline std::optional<GenerationPrecision> generation_precision(const MelodyLstm& model,
                                                               const std::vector<SongIds>& songs,
                                                               const Vocabulary& vocab, std::int64_t start_symbols) {
  if (!legato::bf16_supported()) return std::nullopt;
  const std::int32_t slash = vocab.delimiter_id();
  Generator fp32(model, slash, legato::MatmulPrecision::fp32), bf16(model, slash, legato::MatmulPrecision::bf16);
  if (!bf16.bf16()) return std::nullopt;  // H not one the AVX-512 engine takes: both are fp32
  const std::int64_t V = fp32.vocab_size();
  GenerationPrecision r;
  std::vector<double> p, q;  // log-probabilities, fp32 and bf16
  for (const SongIds& song : songs) {
    fp32.start(start_symbols, song.meter[0]);
    bf16.start(start_symbols, song.meter[0]);
    for (std::size_t i = 0; i <= song.ids.size(); ++i) {
      const std::int32_t target = i < song.ids.size() ? song.ids[i] : slash;
      const std::int64_t top_fp32 = detail::log_softmax_row(fp32.logits(), V, p);
      const std::int64_t top_bf16 = detail::log_softmax_row(bf16.logits(), V, q);
      r.nll_fp32 -= p[static_cast<std::size_t>(target)];
      r.nll_bf16 -= q[static_cast<std::size_t>(target)];
      for (std::size_t v = 0; v < p.size(); ++v) r.kl += std::exp(p[v]) * (p[v] - q[v]);
      r.top_agreement += top_fp32 == top_bf16;
      ++r.targets;
      if (i < song.ids.size()) fp32.feed(target, song.meter[i + 1]), bf16.feed(target, song.meter[i + 1]);
    }
  }
  const double n = double(std::max<std::int64_t>(1, r.targets));
  r.nll_fp32 /= n, r.nll_bf16 /= n, r.kl /= n, r.top_agreement /= n;
  return r;
}

// ------------------------------------------------ the evaluate command ----

struct EvaluationReport {
  Metrics lstm;
  NGramResult ngram;
  SeedStyleResult seed_style;
  std::optional<GenerationPrecision> generation;
  std::size_t songs = 0;
};

// threads > 1 splits the songs (and the windows) between threads.
inline EvaluationReport evaluate_model(MelodyLstm& model, const Hyper& h, const MelodyData& data, int threads = 1) {
  legato::check(!data.held_out.empty(), "evaluate: the corpus has no held-out song (FNV-1a(name) % 10 == 0)");
  EvaluationReport r;
  r.songs = data.held_out.size();
  r.lstm = held_out_metrics(model, data.held_out, data.vocab, h.start_symbols(), threads);
  r.ngram = ngram_baseline(data);
  r.seed_style = seed_style_accuracy(model, data.held_out, data.vocab, h.mode == "window", threads);
  r.generation = generation_precision(model, data.held_out, data.vocab, h.start_symbols());
  return r;
}

inline void print_evaluation(const EvaluationReport& r, std::FILE* out) {
  const Metrics& m = r.lstm;
  const Metrics& n = r.ngram.metrics;
  std::fprintf(out, "held-out: %zu songs, %lld targets (%lld non-hold)\n", r.songs, static_cast<long long>(m.targets),
               static_cast<long long>(m.nonhold_targets));
  std::fprintf(out, "%-22s %10s %10s %11s %9s %9s\n", "model", "NLL nats", "NLL bits", "perplexity", "accuracy",
               "non-hold");
  std::fprintf(out, "%-22s %10.4f %10.4f %11.3f %9.4f %9.4f\n", "LSTM", m.nll(), m.bits(), m.perplexity(),
               m.accuracy(), m.accuracy_nonhold());
  char name[40];
  std::snprintf(name, sizeof name, "n-gram (order %d, WB)", r.ngram.order);
  std::fprintf(out, "%-22s %10.4f %10.4f %11.3f %9.4f %9s\n", name, n.nll(), n.bits(), n.perplexity(), n.accuracy(), "-");
  std::fprintf(out, "LSTM vs n-gram: %s NLL\n", relative_nll(m.nll(), n.nll()).c_str());
  std::fprintf(out, "n-gram order chosen on the training songs' tuning slice; NLL by order:");
  for (std::size_t k = 0; k < r.ngram.tune_nll_by_order.size(); ++k)
    std::fprintf(out, " %zu:%.4f", k + 1, r.ngram.tune_nll_by_order[k]);
  std::fprintf(out, "\nseed-style accuracy (windows of 64 over the delimited held-out songs, padding counted): %.4f "
               "over %lld windows",
               r.seed_style.accuracy, static_cast<long long>(r.seed_style.windows));
  if (r.seed_style.padding_by_rule)
    std::fprintf(out, " (%lld padding targets decided by the format)", static_cast<long long>(r.seed_style.padding_by_rule));
  std::fprintf(out, "\n");
  if (const auto& g = r.generation)
    std::fprintf(out, "generation step in bf16 against fp32 (%lld targets): NLL %.5f against %.5f nats, mean KL %.2e "
                 "nats, same top token %.4f\n",
                 static_cast<long long>(g->targets), g->nll_bf16, g->nll_fp32, g->kl, g->top_agreement);
}

}  // namespace melody_lstm

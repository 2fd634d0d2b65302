#pragma once
// melody_lstm lane parallelism (--parallel lanes, the default).
//
// The fast LSTM engine can split the hidden units of every time step between
// the threads (--parallel units), but then the threads meet at a barrier after
// every time step, 128 times per training step at T = 64. When other programs
// compete for the cores, each of those waits can cost a scheduler time slice,
// and two threads end up several times slower than one (docs/results.md).
//
// Lane parallelism splits the batch instead. With P threads, a step cuts its
// B lanes (or windows) into P shards of consecutive lanes; thread k runs shard
// k through its own replica of the model (whose parameters share the
// master's storage, so they always hold its weights, but keep their own
// gradients), single-threaded, forward and backward; then the replicas'
// gradients are added into the master's, each thread on its share of every
// parameter's elements. Each shard's loss is the mean over its own targets,
// so its backward is seeded with n_k / N (its share of the step's N
// targets): the sum is the gradient of the mean over all targets, exactly as
// one model over the whole batch would compute it (up to the order of float
// additions). The threads meet twice per step, and Adam's update after it
// runs on all of them too (optim/adam.hpp).
//
// One thread (or --parallel units) runs the master alone, as before.

#include <algorithm>
#include <exception>
#include <memory>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "legato/nn/replicas.hpp"
#include "legato/ops/loss.hpp"

#include "data.hpp"
#include "model.hpp"

namespace melody_lstm {

namespace detail {

// Lanes b0..b1-1 of a state (L, B, H) as (L, b1-b0, H).
inline Tensor take_lanes(const Tensor& state, std::int64_t b0, std::int64_t b1) {
  const std::int64_t L = state.size(0), B = state.size(1), H = state.size(2), n = b1 - b0;
  Tensor part = Tensor::empty({L, n, H});
  for (std::int64_t l = 0; l < L; ++l)
    std::copy_n(state.data() + (l * B + b0) * H, n * H, part.data() + l * n * H);
  return part;
}

// Writes part (L, n, H) into lanes b0..b0+n-1 of state (L, B, H).
inline void put_lanes(Tensor& state, const Tensor& part, std::int64_t b0) {
  const std::int64_t L = state.size(0), B = state.size(1), H = state.size(2), n = part.size(1);
  for (std::int64_t l = 0; l < L; ++l)
    std::copy_n(part.data() + l * n * H, n * H, state.data() + (l * B + b0) * H);
}

// Columns b0..b1-1 of ids laid out (rows, B, K) as (rows, b1-b0, K); K = 1
// for (rows, B). The caller sets the shape.
inline legato::Ids take_columns(const legato::Ids& ids, std::int64_t rows, std::int64_t B, std::int64_t b0,
                                std::int64_t b1, std::int64_t K = 1) {
  const std::int64_t n = b1 - b0;
  legato::Ids part;
  part.values.resize(static_cast<std::size_t>(rows * n * K));
  for (std::int64_t r = 0; r < rows; ++r)
    std::copy_n(ids.values.data() + (r * B + b0) * K, n * K, part.values.data() + r * n * K);
  return part;
}

// Lanes b0..b1-1 of a batch's inputs (T, B) or (T, B, K).
inline legato::Ids take_input_lanes(const legato::Ids& inputs, std::int64_t b0, std::int64_t b1) {
  const std::int64_t T = inputs.shape[0], B = inputs.shape[1], K = inputs.shape.size() == 3 ? inputs.shape[2] : 1;
  legato::Ids part = take_columns(inputs, T, B, b0, b1, K);
  part.shape = inputs.shape;
  part.shape[1] = b1 - b0;
  return part;
}

}  // namespace detail

// Runs body(k) for k = 0..count-1, each on its own thread, with every kernel
// inside on that thread alone (no nested teams); rethrows the first error.
template <class Body>
void on_threads(int count, Body&& body) {
  if (count <= 1) return body(0);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(count));
#pragma omp parallel num_threads(count)
  {
#ifdef _OPENMP
    const int k = omp_get_thread_num();
    omp_set_num_threads(1);
#else
    const int k = 0;
#endif
    try {
      body(k);
    } catch (...) {
      errors[static_cast<std::size_t>(k)] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

class ShardedStep {
 public:
  // shards = the number of threads (1: the master alone).
  ShardedStep(MelodyLstm& master, const Hyper& h, int shards) : master_(master), hyper_(h) {
    shards_ = std::max(1, std::min<int>(shards, static_cast<int>(h.batch)));
    for (int k = 1; k < shards_; ++k) {
      replicas_.push_back(std::make_unique<MelodyLstm>(master.vocab_size(), h));
      replicas_.back()->share_parameters_of(master);  // reads the master's weights, keeps its own gradients
      replicas_.back()->train();
    }
  }
  int shards() const { return shards_; }

  // Sequence mode: forward and backward of one chunk; gradients land in the
  // master's parameters (zero them before), carry (L, B, H) moves on to the
  // state after the chunk. Returns the mean loss over the chunk's targets.
  double sequence(const SequenceBatch& batch, legato::nn::LSTMState& carry, std::int64_t step) {
    const std::int64_t T = batch.inputs.shape[0], B = batch.inputs.shape[1];
    const double total = double(std::max<std::int64_t>(1, batch.target_count));
    return run(B, step, [&](MelodyLstm& model, std::int64_t b0, std::int64_t b1) {
      const legato::Ids inputs = detail::take_input_lanes(batch.inputs, b0, b1);
      legato::Ids targets = detail::take_columns(batch.targets, T, B, b0, b1);
      targets.shape = {T * (b1 - b0)};
      std::int64_t count = 0;
      for (std::int32_t y : targets.values) count += y != kIgnore;
      legato::nn::LSTMState state{detail::take_lanes(carry.h, b0, b1), detail::take_lanes(carry.c, b0, b1)};
      MelodyLstm::Output out = model.forward(inputs, &state);
      const Tensor loss = legato::cross_entropy(out.logits, targets, kIgnore);
      loss.backward(Tensor::scalar(static_cast<float>(double(count) / total)));
      // Each shard writes its own lanes: no two threads touch the same element.
      detail::put_lanes(carry.h, out.state.h.detach(), b0);
      detail::put_lanes(carry.c, out.state.c.detach(), b0);
      return double(loss.item()) * double(count) / total;
    });
  }

  // Window mode: the seed's step, loss on the token after each window.
  double window(const WindowBatch& batch, std::int64_t step) {
    const std::int64_t B = batch.inputs.shape[1];
    return run(B, step, [&](MelodyLstm& model, std::int64_t b0, std::int64_t b1) {
      const legato::Ids inputs = detail::take_input_lanes(batch.inputs, b0, b1);
      legato::Ids targets = detail::take_columns(batch.targets, 1, B, b0, b1);
      targets.shape = {b1 - b0};
      const Tensor loss = legato::cross_entropy(model.forward_last(inputs), targets);
      const double share = double(b1 - b0) / double(B);
      loss.backward(Tensor::scalar(static_cast<float>(share)));
      return double(loss.item()) * share;
    });
  }

 private:
  // shard(model, b0, b1) runs lanes b0..b1-1 and returns its weighted loss.
  template <class Shard>
  double run(std::int64_t B, std::int64_t step, Shard&& shard) {
    const std::uint64_t seed = hyper_.seed;
    if (shards_ == 1) {
      master_.reseed_dropout(seed, step);
      return shard(master_, 0, B);
    }
    std::vector<double> losses(static_cast<std::size_t>(shards_), 0.0);
    on_threads(shards_, [&](int k) {
      MelodyLstm& model = k == 0 ? master_ : *replicas_[static_cast<std::size_t>(k - 1)];
      if (k > 0) model.zero_grad();  // a replica's fresh gradients, on its own thread
      model.reseed_dropout(seed, step, k);
      losses[static_cast<std::size_t>(k)] = shard(model, B * k / shards_, B * (k + 1) / shards_);
    });
    double loss = 0;
    for (double l : losses) loss += l;
    std::vector<std::vector<Tensor>> replica_params;
    for (auto& replica : replicas_) replica_params.push_back(replica->parameters());
    legato::nn::add_replica_gradients(master_.parameters(), replica_params, shards_);  // in shard order
    return loss;
  }

  MelodyLstm& master_;
  Hyper hyper_;
  int shards_ = 1;
  std::vector<std::unique_ptr<MelodyLstm>> replicas_;
};

}  // namespace melody_lstm

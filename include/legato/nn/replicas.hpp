#pragma once
// Data-parallel replicas: each thread runs a share of the batch through its
// own copy of the model, and the copies' gradients are added into the
// master's before one optimiser step.
//
//   replica.share_parameters_of(master);              // once: the master's weights, own gradients
//   ... thread k: forward and backward of its share through master or replica k ...
//   add_replica_gradients(master.parameters(), {replica.parameters()}, 2);
//
// Module::share_parameters_of (nn/module.hpp) makes the copies; this header
// adds their gradients back.

#include <cstdint>
#include <vector>

#include "legato/tensor.hpp"
#include "legato/util/error.hpp"
#include "legato/util/threads.hpp"

namespace legato::nn {

// master[i].grad += replicas[r][i].grad for every replica r, in replica
// order, on `threads` threads: each adds its own range of every parameter's
// elements, so the sums are those of one thread. Every parameter of the
// master and of each replica must have a gradient.
inline void add_replica_gradients(const std::vector<Tensor>& master, const std::vector<std::vector<Tensor>>& replicas,
                                  int threads = num_threads()) {
  std::vector<float*> into(master.size());
  std::vector<const float*> from;  // replica r, parameter i at [r * P + i]
  for (std::size_t i = 0; i < master.size(); ++i) {
    check(master[i].grad().defined(), "add_replica_gradients: parameter ", i, " of the master has no gradient");
    into[i] = master[i].grad().data();
  }
  for (std::size_t r = 0; r < replicas.size(); ++r) {
    check(replicas[r].size() == master.size(), "add_replica_gradients: replica ", r, " has ", replicas[r].size(),
          " parameters, the master ", master.size());
    for (std::size_t i = 0; i < master.size(); ++i) {
      const Tensor& g = replicas[r][i].grad();
      check(g.defined() && g.numel() == master[i].numel(), "add_replica_gradients: parameter ", i, " of replica ",
            r, " has no gradient of the master's size");
      from.push_back(g.data());
    }
  }
  const std::size_t P = master.size();
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#ifdef _OPENMP
    const std::int64_t k = omp_get_thread_num(), team = omp_get_num_threads();
#else
    const std::int64_t k = 0, team = 1;
#endif
    for (std::size_t i = 0; i < P; ++i) {
      const std::int64_t n = master[i].numel(), begin = n * k / team, end = n * (k + 1) / team;
      for (std::size_t r = 0; r < replicas.size(); ++r) {
        const float* g = from[r * P + i];
        for (std::int64_t j = begin; j < end; ++j) into[i][j] += g[j];
      }
    }
  }
}

}  // namespace legato::nn

#pragma once
// nn::Embedding: a table of N vectors of size E, looked up by token id,
//   ids of shape S (e.g. (T, B)) -> S + (E)  (e.g. (T, B, E)),
// initialised N(0, 1) as in PyTorch. The gradient adds each output row back
// into the table row it came from.

#include "legato/nn/init.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/shape.hpp"

namespace legato::nn {

class Embedding : public Module {
 public:
  Tensor weight;  // (N, E)

  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, Rng& rng = global_rng())
      : num_(num_embeddings), dim_(embedding_dim) {
    check(num_embeddings > 0 && embedding_dim > 0, "Embedding: sizes must be positive, got num=", num_embeddings,
          ", dim=", embedding_dim);
    weight = Tensor::empty({num_embeddings, embedding_dim});
    init::normal_(weight, 0.f, 1.f, rng);
    weight = register_parameter("weight", weight);
  }

  // ids (any shape S, values in 0..N-1) -> S + (E)
  Tensor forward(const Ids& ids) { return record_output(gather_rows(weight, ids)); }
  Tensor operator()(const Ids& ids) { return forward(ids); }

  // summary() feeds zeros of the ids' shape.
  Tensor summary_forward(const Tensor& input) override { return forward(ids_from(input)); }

  std::string describe() const override {
    return "Embedding(num=" + std::to_string(num_) + ", dim=" + std::to_string(dim_) + ")";
  }

 private:
  std::int64_t num_, dim_;
};

}  // namespace legato::nn

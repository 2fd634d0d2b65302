#pragma once
// The LSTM layers, in PyTorch's layout and gate order (i, f, g, o):
//
//   z = x W_ih^T + b_ih + h W_hh^T + b_hh          (B, 4H), four blocks of H
//   i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_g)  o = sigmoid(z_o)
//   c' = f * c + i * g,   h' = o * tanh(c')
//
// - lstm_cell_step(): one step composed from primitive ops (slice, sigmoid,
//   tanh, mul, add), for reading; every op records its own graph node.
// - nn::LSTMCell: one step as a module (PyTorch's nn.LSTMCell names).
// - nn::LSTM: a stack of layers over a whole sequence (PyTorch's nn.LSTM
//   names weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}). By
//   default each layer is the fused op lstm_sequence (ops/lstm.hpp: one graph
//   node per layer, hand-written BPTT); use_fused = false runs the composed
//   steps instead. Both give the same numbers (tests/test_nn_lstm.cpp).
//
// Token ids. forward_ids() treats ids as one-hot vectors of size input_size
// (= V) with the same parameters as PyTorch's nn.LSTM(input_size=V): the
// input term of a one-hot row v is column v of W_ih, so it is gathered
// instead of multiplied. With ids (T, B, K) each row is the sum of K one-hot
// rows: K one-hot features side by side, K columns of W_ih summed.


#include "legato/nn/init.hpp"
#include "legato/nn/module.hpp"
#include "legato/ops/activations.hpp"
#include "legato/ops/dropout.hpp"
#include "legato/ops/lstm.hpp"
#include "legato/ops/matmul.hpp"
#include "legato/ops/reduce.hpp"
#include "legato/ops/shape.hpp"

namespace legato::nn {

// For nn::LSTM: h and c are (num_layers, B, H). For nn::LSTMCell: (B, H).
struct LSTMState {
  Tensor h, c;
};

struct LSTMOutput {
  Tensor output;  // (T, B, H), or (B, T, H) when batch_first
  LSTMState state;
};

// One composed step. x_term (B, 4H) is the input projection x W_ih^T + b_ih of
// this step; h, c (B, H). Returns (h', c').
inline LSTMState lstm_cell_step(const Tensor& x_term, const Tensor& h, const Tensor& c, const Tensor& w_hh,
                                const Tensor& b_hh) {
  const std::int64_t H = w_hh.size(1);
  const Tensor z = add(x_term, linear(h, w_hh, b_hh));  // (B, 4H)
  const Tensor i = sigmoid(slice(z, 1, 0, H));
  const Tensor f = sigmoid(slice(z, 1, H, 2 * H));
  const Tensor g = legato::tanh(slice(z, 1, 2 * H, 3 * H));
  const Tensor o = sigmoid(slice(z, 1, 3 * H, 4 * H));
  const Tensor c_next = add(mul(f, c), mul(i, g));
  return {mul(o, legato::tanh(c_next)), c_next};
}

// Input projection of token ids: row v of W_ih^T (= column v of W_ih) plus
// b_ih, for ids of shape S -> S + (4H). Same as one_hot(ids, V) W_ih^T + b_ih.
inline Tensor lstm_ids_projection(const Ids& ids, const Tensor& w_ih, const Tensor& b_ih) {
  return add(gather_rows(transpose(w_ih), ids), b_ih);
}

// The same for multi-hot rows: ids (T, B, K) -> (T, B, 4H), the K gathered
// columns summed.
inline Tensor lstm_multi_hot_projection(const Ids& ids, const Tensor& w_ih, const Tensor& b_ih) {
  return add(sum(gather_rows(transpose(w_ih), ids), 2), b_ih);
}

// --------------------------------------------------------------- LSTMCell ----

class LSTMCell : public Module {
 public:
  Tensor weight_ih, weight_hh;  // (4H, I), (4H, H)
  Tensor bias_ih, bias_hh;      // (4H,)

  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, Rng& rng = global_rng())
      : input_size_(input_size), hidden_size_(hidden_size) {
    check(input_size > 0 && hidden_size > 0, "LSTMCell: sizes must be positive, got input_size=", input_size,
          ", hidden_size=", hidden_size);
    const float bound = 1.f / std::sqrt(static_cast<float>(hidden_size));
    auto make = [&](const char* name, const Shape& shape) {
      Tensor t = Tensor::empty(shape);
      init::uniform_(t, -bound, bound, rng);
      return register_parameter(name, t);
    };
    weight_ih = make("weight_ih", {4 * hidden_size, input_size});
    weight_hh = make("weight_hh", {4 * hidden_size, hidden_size});
    bias_ih = make("bias_ih", {4 * hidden_size});
    bias_hh = make("bias_hh", {4 * hidden_size});
  }

  // x (B, I); state h, c (B, H), zeros when null. Returns (h', c').
  LSTMState forward(const Tensor& x, const LSTMState* state = nullptr) {
    check(x.dim() == 2 && x.size(1) == input_size_, "LSTMCell: input of shape ", shape_str(x.shape()),
          " is not (B, ", input_size_, ")");
    return step(linear(x, weight_ih, bias_ih), x.size(0), state);
  }
  // ids (B,) treated as one-hot rows of size input_size.
  LSTMState forward_ids(const Ids& ids, const LSTMState* state = nullptr) {
    check(ids.shape.size() == 1, "LSTMCell: ids of shape ", shape_str(ids.shape), " are not (B,)");
    return step(lstm_ids_projection(ids, weight_ih, bias_ih), ids.shape[0], state);
  }

  Tensor summary_forward(const Tensor& input) override { return forward(input).h; }

  std::string describe() const override {
    return "LSTMCell(input_size=" + std::to_string(input_size_) + ", hidden_size=" + std::to_string(hidden_size_) +
           ")";
  }

 private:
  LSTMState step(const Tensor& x_term, std::int64_t B, const LSTMState* state) {
    const Shape expected{B, hidden_size_};
    Tensor h = Tensor::zeros(expected), c = Tensor::zeros(expected);
    if (state) {
      check(state->h.defined() && state->c.defined() && state->h.shape() == expected && state->c.shape() == expected,
            "LSTMCell: state h ", state->h.defined() ? shape_str(state->h.shape()) : "undefined", " and c ",
            state->c.defined() ? shape_str(state->c.shape()) : "undefined", " must both be ", shape_str(expected));
      h = state->h;
      c = state->c;
    }
    LSTMState next = lstm_cell_step(x_term, h, c, weight_hh, bias_hh);
    record_output(next.h);
    return next;
  }

  std::int64_t input_size_, hidden_size_;
};

// ------------------------------------------------------------------- LSTM ----

struct LSTMOptions {
  std::int64_t input_size = 0;   // I, or V for forward_ids
  std::int64_t hidden_size = 0;  // H
  std::int64_t num_layers = 1;
  float dropout = 0.f;           // on the outputs of every layer but the last, in training
  bool batch_first = false;      // (B, T, ...) instead of (T, B, ...) for input and output
  bool use_fused = true;         // false: the composed LSTMCell steps
  std::uint64_t dropout_seed = 0x157d;  // the generator of the dropout masks
};

class LSTM : public Module {
 public:
  explicit LSTM(const LSTMOptions& options, Rng& rng = global_rng()) : opt_(options), dropout_rng_(options.dropout_seed) {
    check(opt_.input_size > 0 && opt_.hidden_size > 0 && opt_.num_layers > 0,
          "LSTM: input_size, hidden_size and num_layers must be positive, got ", opt_.input_size, ", ",
          opt_.hidden_size, ", ", opt_.num_layers);
    check(opt_.dropout >= 0.f && opt_.dropout <= 1.f, "LSTM: dropout ", opt_.dropout, " is outside [0, 1]");
    const std::int64_t H = opt_.hidden_size;
    const float bound = 1.f / std::sqrt(static_cast<float>(H));
    for (std::int64_t k = 0; k < opt_.num_layers; ++k) {
      const std::int64_t in = k == 0 ? opt_.input_size : H;
      auto make = [&](const std::string& name, const Shape& shape) {
        Tensor t = Tensor::empty(shape);
        init::uniform_(t, -bound, bound, rng);
        return register_parameter(name + "_l" + std::to_string(k), t);
      };
      Layer layer;
      layer.w_ih = make("weight_ih", {4 * H, in});
      layer.w_hh = make("weight_hh", {4 * H, H});
      layer.b_ih = make("bias_ih", {4 * H});
      layer.b_hh = make("bias_hh", {4 * H});
      layers_.push_back(layer);
    }
  }

  // x (T, B, I), or (B, T, I) when batch_first; initial h, c (num_layers, B, H)
  // or zeros when null. Returns the last layer's outputs and every layer's
  // final state.
  LSTMOutput forward(const Tensor& x, const LSTMState* initial = nullptr) {
    check(x.dim() == 3 && x.size(2) == opt_.input_size, "LSTM: input of shape ", shape_str(x.shape()), " is not ",
          opt_.batch_first ? "(B, T, " : "(T, B, ", opt_.input_size, ")");
    const Tensor xt = opt_.batch_first ? transpose(x, 0, 1) : x;  // (T, B, I)
    return run(&xt, nullptr, xt.size(0), xt.size(1), initial);
  }

  // ids (T, B), or (B, T) when batch_first, values in 0..input_size-1, read as
  // one-hot rows. ids (T, B, K) or (B, T, K): each input row is the sum of K
  // one-hot rows (K features side by side; ops/lstm.hpp, lstm_sequence_ids).
  LSTMOutput forward_ids(const Ids& ids, const LSTMState* initial = nullptr) {
    const bool multi = ids.shape.size() == 3 && ids.shape[2] >= 1;
    check((ids.shape.size() == 2 || multi) && static_cast<std::int64_t>(ids.values.size()) == numel_of(ids.shape),
          "LSTM: ids of shape ", shape_str(ids.shape), " are not ", opt_.batch_first ? "(B, T) or (B, T, K)" : "(T, B) or (T, B, K)");
    Ids time_major = ids;
    if (opt_.batch_first) {  // (B, T[, K]) -> (T, B[, K])
      const std::int64_t B = ids.shape[0], T = ids.shape[1], K = multi ? ids.shape[2] : 1;
      time_major.shape = multi ? Shape{T, B, K} : Shape{T, B};
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t q = 0; q < K; ++q)
            time_major.values[static_cast<std::size_t>((t * B + b) * K + q)] =
                ids.values[static_cast<std::size_t>((b * T + t) * K + q)];
    }
    return run(nullptr, &time_major, time_major.shape[0], time_major.shape[1], initial);
  }

  // summary() feeds zeros: dense input of the given shape.
  Tensor summary_forward(const Tensor& input) override { return forward(input).output; }

  const LSTMOptions& options() const { return opt_; }
  void set_use_fused(bool on) { opt_.use_fused = on; }
  void reseed_dropout(std::uint64_t seed) { dropout_rng_.reseed(seed); }

  std::string describe() const override {
    std::ostringstream s;
    s << "LSTM(input_size=" << opt_.input_size << ", hidden_size=" << opt_.hidden_size;
    if (opt_.num_layers != 1) s << ", num_layers=" << opt_.num_layers;
    if (opt_.dropout != 0.f) s << ", dropout=" << opt_.dropout;
    if (opt_.batch_first) s << ", batch_first";
    s << (opt_.use_fused ? ", fused)" : ", composed)");
    return s.str();
  }

 private:
  struct Layer {
    Tensor w_ih, w_hh, b_ih, b_hh;
  };

  // Exactly one of x (T, B, I) and ids (T, B) is given.
  LSTMOutput run(const Tensor* x, const Ids* ids, std::int64_t T, std::int64_t B, const LSTMState* initial) {
    check(T > 0 && B > 0, "LSTM: empty input: T = ", T, ", B = ", B);
    const std::int64_t L = opt_.num_layers, H = opt_.hidden_size;
    if (initial) {
      const Shape expected{L, B, H};
      auto ok = [&](const Tensor& t) { return t.defined() && t.shape() == expected; };
      check(ok(initial->h) && ok(initial->c), "LSTM: initial state h ",
            initial->h.defined() ? shape_str(initial->h.shape()) : "undefined", " and c ",
            initial->c.defined() ? shape_str(initial->c.shape()) : "undefined", " must both be (num_layers, B, H) = ",
            shape_str(expected));
    }
    Tensor input;  // (T, B, H) after the first layer
    if (x) input = *x;
    std::vector<Tensor> h_last, c_last;  // (B, H) per layer
    for (std::int64_t k = 0; k < L; ++k) {
      const Layer& p = layers_[static_cast<std::size_t>(k)];
      Tensor h0, c0;  // undefined = zeros
      if (initial) {
        h0 = reshape(slice(initial->h, 0, k, k + 1), {B, H});
        c0 = reshape(slice(initial->c, 0, k, k + 1), {B, H});
      }
      const bool from_ids = k == 0 && ids != nullptr;
      Tensor out, h_t, c_t;
      if (opt_.use_fused) {
        const Tensor packed = from_ids ? lstm_sequence_ids(*ids, h0, c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh)
                                       : lstm_sequence(input, h0, c0, p.w_ih, p.w_hh, p.b_ih, p.b_hh);  // (T+1, B, H)
        out = slice(packed, 0, 0, T);
        h_t = reshape(slice(packed, 0, T - 1, T), {B, H});
        c_t = reshape(slice(packed, 0, T, T + 1), {B, H});
      } else {
        // (T, B, 4H): the input terms of all steps at once
        const Tensor x_terms = !from_ids                ? linear(input, p.w_ih, p.b_ih)
                               : ids->shape.size() == 3 ? lstm_multi_hot_projection(*ids, p.w_ih, p.b_ih)
                                                        : lstm_ids_projection(*ids, p.w_ih, p.b_ih);
        LSTMState s{h0.defined() ? h0 : Tensor::zeros({B, H}), c0.defined() ? c0 : Tensor::zeros({B, H})};
        std::vector<Tensor> outs;
        outs.reserve(static_cast<std::size_t>(T));
        for (std::int64_t t = 0; t < T; ++t) {
          s = lstm_cell_step(reshape(slice(x_terms, 0, t, t + 1), {B, 4 * H}), s.h, s.c, p.w_hh, p.b_hh);
          outs.push_back(s.h);
        }
        out = stack(outs, 0);
        h_t = s.h;
        c_t = s.c;
      }
      h_last.push_back(h_t);
      c_last.push_back(c_t);
      if (training_ && opt_.dropout > 0.f && k + 1 < L) out = dropout(out, dropout_mask(out.shape(), opt_.dropout, dropout_rng_));
      input = out;
    }
    LSTMOutput result{opt_.batch_first ? transpose(input, 0, 1) : input, {stack(h_last, 0), stack(c_last, 0)}};
    record_output(result.output);
    return result;
  }

  LSTMOptions opt_;
  Rng dropout_rng_;
  std::vector<Layer> layers_;
};

}  // namespace legato::nn

#pragma once
// melody_lstm's training step on the GPU (train --device cuda).
//
// The same step as parallel.hpp's ShardedStep, composed from legato's CUDA
// kernels (include/legato/cuda/*.hpp) instead of the CPU ops. The weights,
// their gradients, Adam's moments and the lanes' carried LSTM state stay on
// the device from step to step; the host uploads each step's inputs and
// targets and reads back one float, the loss. Before an evaluation or a
// checkpoint, download() copies everything back into the CPU model and
// optimiser, so checkpoints, --resume, evaluation and generation are the
// CPU's, unchanged.
//
// One sequence-mode step, shapes for T steps of B lanes, H units, L layers,
// I = the coding's input size, V tokens:
//
//   x (T, B, I)      K ones per row (the step's input ids), built on the host
//   layer l:         LSTM(x_l, carried h, c of layer l) -> h_l (T, B, H)
//                    x_{l+1} = dropout(h_l) when L > 1 (PyTorch's between-layer dropout)
//   head:            logits (T·B, V) = dropout(h_{L-1}) W_outᵀ + b_out
//   loss:            cross-entropy over the targets that are not kIgnore (mean)
//   backward:        the same in reverse; the carried state is detached, as on the CPU
//   update:          [global-norm clip], then Adam or AdamW on every tensor
//
// Window mode (the seed's regime) is the same with the zero state, and the
// head and loss on the last step's rows only.
//
// Dropout masks come from the Philox generator (cuda/dropout.hpp) keyed by
// (--seed, step), so a resumed GPU run draws the masks an uninterrupted one
// would; they are not the CPU's masks, so a GPU run and a CPU run agree in
// distribution, not bit for bit.

#ifdef LEGATO_CUDA

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "legato/cuda/cuda.hpp"
#include "legato/optim/adam.hpp"

#include "data.hpp"
#include "model.hpp"

namespace melody_lstm {

class CudaStep {
 public:
  // Uploads the model's weights, the optimiser's state and the carried state
  // (layers, B, H). The optimiser must be the one train() made for `model`.
  CudaStep(MelodyLstm& model, const Hyper& h, const legato::optim::Adam& optimizer, const legato::nn::LSTMState& carry)
      : h_(h),
        V_(model.vocab_size()),
        I_(model.coding().input_size()),
        K_(model.coding().ids_per_step()),
        beta1_(optimizer.beta1()),
        beta2_(optimizer.beta2()),
        eps_(optimizer.eps()),
        decoupled_(optimizer.decoupled()) {
    legato::cuda::require_device();
    const std::int64_t L = h.layers, B = h.batch, T = h.seq_len, H = h.hidden, G = 4 * H, TB = T * B;
    // The model's tensors by their (PyTorch) names, in parameters() order:
    // Adam's state entry i belongs to parameter i.
    const auto named = model.named_parameters();
    for (std::size_t i = 0; i < named.size(); ++i) index_[named[i].first] = i;
    params_.resize(named.size());
    for (std::size_t i = 0; i < named.size(); ++i) {
      Param& p = params_[i];
      p.host = named[i].second;
      const std::size_t n = static_cast<std::size_t>(p.host.numel());
      p.value = legato::cuda::Buffer(n);
      p.grad = legato::cuda::Buffer(n);
      p.m = legato::cuda::Buffer(n);
      p.v = legato::cuda::Buffer(n);
      legato::cuda::copy_to_device(p.value.data(), p.host.data(), n);
    }
    for (const auto& [name, t] : optimizer.state()) {
      if (name.rfind("state.", 0) != 0) continue;
      const std::size_t dot = name.find('.', 6);
      Param& p = params_.at(std::stoul(name.substr(6, dot - 6)));
      const std::string slot = name.substr(dot + 1);
      if (slot == "step")
        p.step = static_cast<std::int64_t>(t.item());
      else
        legato::cuda::copy_to_device((slot == "exp_avg" ? p.m : p.v).data(), t.data(),
                                     static_cast<std::size_t>(t.numel()));
    }
    for (std::int64_t l = 0; l < L; ++l) {
      Layer& y = layers_.emplace_back();
      const std::int64_t in = l == 0 ? I_ : H;
      y.w_ih = &param("lstm.weight_ih_l" + std::to_string(l));
      y.w_hh = &param("lstm.weight_hh_l" + std::to_string(l));
      y.b_ih = &param("lstm.bias_ih_l" + std::to_string(l));
      y.b_hh = &param("lstm.bias_hh_l" + std::to_string(l));
      y.x = buffer(TB * in);
      y.xw = buffer(TB * G);
      y.h = buffer(TB * H);
      y.gates = buffer(TB * G);
      y.c = buffer((T + 1) * B * H);
      y.dz = buffer(TB * G);
      y.dh = buffer(TB * H);
      if (l > 0) y.dx = buffer(TB * in);
      y.mask = buffer(TB * H);  // the dropout mask applied to this layer's output
    }
    w_out_ = &param("head.weight");
    b_out_ = &param("head.bias");
    carry_h_ = buffer(L * B * H);
    carry_c_ = buffer(L * B * H);
    legato::cuda::copy_to_device(carry_h_.data(), carry.h.data(), static_cast<std::size_t>(L * B * H));
    legato::cuda::copy_to_device(carry_c_.data(), carry.c.data(), static_cast<std::size_t>(L * B * H));
    head_in_ = buffer(TB * H);
    head_out_ = buffer(TB * V_);
    logits_ = buffer(TB * V_);
    dlogits_ = buffer(TB * V_);
    lse_ = buffer(TB);
    loss_ = buffer(1);
    count_ = buffer(1);
    norm_part_ = buffer(1);
    one_ = buffer(1);
    legato::cuda::fill(one_.data(), 1, 1.f);
    targets_ = legato::cuda::IntBuffer(static_cast<std::size_t>(TB));
    x_host_.assign(static_cast<std::size_t>(TB * I_), 0.f);
  }

  // Sequence mode: one step over a chunk, from and to the carried state.
  // Returns the mean loss over the chunk's targets.
  double sequence(const SequenceBatch& batch, std::int64_t step, float lr) {
    const std::int64_t T = batch.inputs.shape[0], B = batch.inputs.shape[1];
    // The carried state has a row per lane: every step holds all of them.
    legato::check(B == h_.batch && static_cast<std::int64_t>(batch.reset.size()) == B, "--device cuda: a chunk of ",
                  B, " lanes, but the model trains ", h_.batch);
    reset_lanes(batch.reset);
    const double loss = run(batch.inputs, batch.targets, T, B, /*last_only=*/false, step, lr);
    // The state after the chunk carries over (detached): h_T, c_T of every layer.
    const std::size_t BH = static_cast<std::size_t>(B * h_.hidden);
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      legato::cuda::copy_on_device(carry_h_.data() + l * BH, layers_[l].h.data() + (T - 1) * BH, BH);
      legato::cuda::copy_on_device(carry_c_.data() + l * BH, layers_[l].c.data() + T * BH, BH);
    }
    return loss;
  }

  // Window mode: the loss on the token after each window, from the zero state.
  double window(const WindowBatch& batch, std::int64_t step, float lr) {
    return run(batch.inputs, batch.targets, batch.inputs.shape[0], batch.inputs.shape[1], /*last_only=*/true, step,
               lr);
  }

  // Copies the weights, Adam's state and the carried state back to the host
  // (into `model`'s tensors, `optimizer` and `carry`).
  void download(legato::optim::Adam& optimizer, legato::nn::LSTMState& carry) {
    auto state = optimizer.state();
    for (auto& [name, t] : state) {
      if (name == "lr") continue;
      if (name == "step") {
        t.data()[0] = static_cast<float>(steps_taken());
        continue;
      }
      const std::size_t dot = name.find('.', 6);
      const Param& p = params_.at(std::stoul(name.substr(6, dot - 6)));
      const std::string slot = name.substr(dot + 1);
      if (slot == "step")
        t.data()[0] = static_cast<float>(p.step);
      else
        legato::cuda::copy_to_host(t.data(), (slot == "exp_avg" ? p.m : p.v).data(),
                                   static_cast<std::size_t>(t.numel()));
    }
    optimizer.load_state(state);
    for (Param& p : params_)
      legato::cuda::copy_to_host(p.host.data(), p.value.data(), static_cast<std::size_t>(p.host.numel()));
    legato::cuda::copy_to_host(carry.h.data(), carry_h_.data(), static_cast<std::size_t>(carry.h.numel()));
    legato::cuda::copy_to_host(carry.c.data(), carry_c_.data(), static_cast<std::size_t>(carry.c.numel()));
  }

 private:
  struct Param {
    legato::Tensor host;  // the CPU model's tensor (shares its storage)
    legato::cuda::Buffer value, grad, m, v;
    std::int64_t step = 0;  // Adam's update count for this tensor
  };
  struct Layer {
    Param *w_ih = nullptr, *w_hh = nullptr, *b_ih = nullptr, *b_hh = nullptr;
    legato::cuda::Buffer x;      // (T, B, in): the layer's input
    legato::cuda::Buffer xw;     // (T, B, 4H) scratch: the input term
    legato::cuda::Buffer h;      // (T, B, H)
    legato::cuda::Buffer gates;  // (T, B, 4H)
    legato::cuda::Buffer c;      // (T + 1, B, H)
    legato::cuda::Buffer dz;     // (T, B, 4H) scratch
    legato::cuda::Buffer dh;     // (T, B, H): ∂L/∂h from above
    legato::cuda::Buffer dx;     // (T, B, in): ∂L/∂x, layers above the first
    legato::cuda::Buffer mask;   // (T, B, H): dropout mask of the layer's output
  };

  static legato::cuda::Buffer buffer(std::int64_t n) { return legato::cuda::Buffer(static_cast<std::size_t>(n)); }
  Param& param(const std::string& name) {
    const auto it = index_.find(name);
    legato::check(it != index_.end(), "--device cuda: the model has no tensor '", name, "'");
    return params_[it->second];
  }
  std::int64_t steps_taken() const { return params_.empty() ? 0 : params_.front().step; }

  // Zeroes the carried state of the lanes that start a new song.
  void reset_lanes(const std::vector<char>& reset) {
    const std::int64_t B = h_.batch, H = h_.hidden;
    for (std::int64_t b = 0; b < B; ++b)
      if (reset[static_cast<std::size_t>(b)])
        for (std::int64_t l = 0; l < h_.layers; ++l) {
          legato::cuda::fill(carry_h_.data() + (l * B + b) * H, static_cast<std::size_t>(H), 0.f);
          legato::cuda::fill(carry_c_.data() + (l * B + b) * H, static_cast<std::size_t>(H), 0.f);
        }
  }

  // Forward, backward and update over inputs (T, B[, K]) and targets (T·B,
  // or B with last_only). Returns the loss.
  double run(const legato::Ids& inputs, const legato::Ids& targets, std::int64_t T, std::int64_t B, bool last_only,
             std::int64_t step, float lr) {
    namespace cu = legato::cuda;
    const std::int64_t H = h_.hidden, TB = T * B, L = h_.layers;
    const std::int64_t rows = last_only ? B : TB;  // rows of the head and the loss
    legato::check(T <= h_.seq_len && B <= h_.batch && static_cast<std::int64_t>(targets.values.size()) == rows &&
                      static_cast<std::int64_t>(inputs.values.size()) == TB * K_,
                  "--device cuda: a batch of shape (", T, ", ", B, ") does not fit the step's buffers");
    // x: K ones per row at the input ids (absolute columns of W_ih).
    std::fill(x_host_.begin(), x_host_.begin() + TB * I_, 0.f);
    for (std::int64_t r = 0; r < TB; ++r)
      for (std::int64_t k = 0; k < K_; ++k) {
        const std::int32_t id = inputs.values[static_cast<std::size_t>(r * K_ + k)];
        legato::check(id >= 0 && id < I_, "--device cuda: input id ", id, " is outside 0..", I_ - 1);
        x_host_[static_cast<std::size_t>(r * I_ + id)] = 1.f;
      }
    cu::copy_to_device(layers_[0].x.data(), x_host_.data(), static_cast<std::size_t>(TB * I_));
    cu::copy_ints_to_device(targets_.data(), targets.values.data(), static_cast<std::size_t>(rows));
    const std::uint64_t step_key = static_cast<std::uint64_t>(step);
    const float p = h_.dropout;
    const bool sequence = !last_only;

    // ---- forward ----
    for (std::int64_t l = 0; l < L; ++l) {
      Layer& y = layers_[static_cast<std::size_t>(l)];
      const std::int64_t in = l == 0 ? I_ : H;
      const float* h0 = sequence ? carry_h_.data() + l * B * H : nullptr;
      const float* c0 = sequence ? carry_c_.data() + l * B * H : nullptr;
      cu::lstm_sequence_forward(y.x.data(), T, B, in, H, weights(y), h0, c0, y.xw.data(), y.h.data(), y.gates.data(),
                                y.c.data());
      // Dropout of this layer's output, into the next layer or into the head;
      // keyed like the CPU model's generators (model.hpp, reseed_dropout).
      const bool last = l + 1 == L;
      float* next = last ? head_in_.data() : layers_[static_cast<std::size_t>(l + 1)].x.data();
      if (p > 0.f)
        cu::dropout_forward(y.h.data(), TB * H, p, derived_seed(h_.seed, last ? 3 : 2, step_key),
                            static_cast<std::uint64_t>(l), y.mask.data(), next);
      else
        cu::copy_on_device(next, y.h.data(), static_cast<std::size_t>(TB * H));
    }
    // The head reads every row, or the last step's B rows (window mode).
    const float* features = head_in_.data() + (last_only ? (T - 1) * B * H : 0);
    cu::gemm(false, true, rows, V_, H, 1.f, features, w_out_->value.data(), 0.f, head_out_.data());
    cu::binary(cu::BinaryOp::add, head_out_.data(), {rows, V_}, b_out_->value.data(), {V_}, logits_.data());
    cu::cross_entropy_forward(logits_.data(), targets_.data(), rows, V_, kIgnore, loss_.data(), lse_.data(),
                              count_.data());

    // ---- backward ----
    cu::cross_entropy_backward(logits_.data(), targets_.data(), lse_.data(), count_.data(), one_.data(), rows, V_,
                               kIgnore, dlogits_.data());
    cu::gemm(true, false, V_, H, rows, 1.f, dlogits_.data(), features, 0.f, w_out_->grad.data());  // (V, H)
    cu::sum_axis(dlogits_.data(), 1, rows, V_, b_out_->grad.data());                               // (V)
    Layer& top = layers_.back();
    const std::int64_t head_offset = last_only ? (T - 1) * B * H : 0;  // where the head's rows begin
    if (last_only) cu::fill(top.dh.data(), static_cast<std::size_t>(TB * H), 0.f);  // only h_T feeds the loss
    float* d_features = top.dh.data() + head_offset;
    cu::gemm(false, false, rows, H, V_, 1.f, dlogits_.data(), w_out_->value.data(), 0.f, d_features);  // (rows, H)
    if (p > 0.f) cu::dropout_backward(d_features, top.mask.data() + head_offset, rows * H, d_features);
    for (std::int64_t l = L - 1; l >= 0; --l) {
      Layer& y = layers_[static_cast<std::size_t>(l)];
      const std::int64_t in = l == 0 ? I_ : H;
      const float* h0 = sequence ? carry_h_.data() + l * B * H : nullptr;
      cu::LstmGrads grads{l > 0 ? y.dx.data() : nullptr, nullptr, nullptr, y.w_ih->grad.data(), y.w_hh->grad.data(),
                          y.b_ih->grad.data(), y.b_hh->grad.data()};
      cu::lstm_sequence_backward(y.x.data(), T, B, in, H, weights(y), h0, y.h.data(), y.gates.data(), y.c.data(),
                                 y.dh.data(), nullptr, y.dz.data(), grads);
      if (l > 0) {  // into the layer below, through the between-layer dropout
        Layer& below = layers_[static_cast<std::size_t>(l - 1)];
        if (p > 0.f)
          cu::dropout_backward(y.dx.data(), below.mask.data(), TB * H, below.dh.data());
        else
          cu::copy_on_device(below.dh.data(), y.dx.data(), static_cast<std::size_t>(TB * H));
      }
    }

    // ---- update ----
    if (h_.clip > 0.f) clip_gradients();
    for (Param& prm : params_)
      cu::adam_step(prm.value.data(), prm.grad.data(), prm.m.data(), prm.v.data(), prm.host.numel(), lr, beta1_,
                    beta2_, eps_, h_.weight_decay, ++prm.step, decoupled_);
    float loss = 0.f;
    cu::copy_to_host(&loss, loss_.data(), 1);
    return loss;
  }

  // optim::clip_grad_norm on the device: scale every gradient by
  // max / (norm + 1e-6) when the global norm exceeds max.
  void clip_gradients() {
    double sum_sq = 0;
    for (Param& prm : params_) {
      legato::cuda::sum_squares(prm.grad.data(), prm.host.numel(), norm_part_.data());
      float part = 0.f;
      legato::cuda::copy_to_host(&part, norm_part_.data(), 1);
      sum_sq += part;
    }
    const float coef = h_.clip / (static_cast<float>(std::sqrt(sum_sq)) + 1e-6f);
    if (!(coef < 1.f) && !std::isnan(coef)) return;  // as clip_grad_norm: a NaN norm poisons every gradient
    for (Param& prm : params_) legato::cuda::affine(prm.grad.data(), prm.host.numel(), coef, 0.f, prm.grad.data());
  }

  static legato::cuda::LstmWeights weights(const Layer& y) {
    return {y.w_ih->value.data(), y.w_hh->value.data(), y.b_ih->value.data(), y.b_hh->value.data()};
  }

  Hyper h_;
  std::int64_t V_, I_, K_;
  float beta1_, beta2_, eps_;  // the optimiser's (train.hpp made it)
  bool decoupled_;             // AdamW
  std::map<std::string, std::size_t> index_;
  std::vector<Param> params_;
  std::vector<Layer> layers_;
  Param *w_out_ = nullptr, *b_out_ = nullptr;
  legato::cuda::Buffer carry_h_, carry_c_;  // (L, B, H)
  legato::cuda::Buffer head_in_;   // (T·B, H): the top layer's output after dropout
  legato::cuda::Buffer head_out_;  // (T·B, V): head_in Wᵀ, before the bias
  legato::cuda::Buffer logits_, dlogits_;         // (T·B, V)
  legato::cuda::Buffer lse_;                      // (T·B): the loss's log-sum-exp per row
  legato::cuda::Buffer loss_, count_, one_;       // one float each: the loss, its row count, dL/dL = 1
  legato::cuda::Buffer norm_part_;                // one float: a tensor's sum of squares, for clipping
  legato::cuda::IntBuffer targets_;
  std::vector<float> x_host_;
};

}  // namespace melody_lstm

#endif  // LEGATO_CUDA

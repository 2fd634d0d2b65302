#pragma once
// melody_lstm model: the seed's network (spec §6.2) and its checkpoint.
//
//   input ids (T, B[, K]) ──LSTM(H, one-hot input as the token-id path)──► (T, B, H)
//                    ──Dropout(p)──► Linear(H → V) ──► logits (T·B, V); softmax in the loss
//
// One-hot input: a one-hot row times W_ihᵀ is a column of W_ih, so the LSTM
// gathers columns instead of multiplying (ops/lstm.hpp, lstm_sequence_ids);
// the parameters are exactly those of PyTorch's nn.LSTM(input_size=V). With
// richer inputs (--inputs tokens+meter, tokens+meter+lookback, or
// tokens+meter+lookback+repeat, the default; data.hpp, InputCoding) each step
// reads K one-hot features side by side, and the LSTM is PyTorch's nn.LSTM on
// their concatenation (input_size V + 147, V + 147 + 4 (V + 1), or
// V + 147 + 5 (V + 1) + 8; V + 98 in format-2 files).
//
// A checkpoint is one safetensors file: the model's tensors under PyTorch's
// names ("lstm.weight_ih_l0", …, "head.weight", "head.bias"), and while
// training also the Adam state ("optim.…") and the carried LSTM state of the
// lanes ("train.carry_h", "train.carry_c"), so that --resume continues
// exactly. The metadata holds the vocabulary and every hyperparameter.

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "legato/io/checkpoint.hpp"
#include "legato/io/safetensors.hpp"
#include "legato/music/vocabulary.hpp"
#include "legato/nn/dropout.hpp"
#include "legato/nn/linear.hpp"
#include "legato/nn/lstm.hpp"
#include "legato/ops/bf16.hpp"
#include "legato/ops/shape.hpp"
#include "legato/optim/adam.hpp"
#include "legato/util/error.hpp"

#include "data.hpp"

namespace melody_lstm {

using legato::Tensor;
using legato::music::Vocabulary;

// The --precision of train, generate and complete, where this build can run it.
inline void require_precision(legato::MatmulPrecision precision) {
  legato::check(precision == legato::MatmulPrecision::fp32 || legato::bf16_supported(),
                "--precision bf16 needs a CPU with AVX512_BF16 and a build for it; this one has none");
}

inline const std::string kFormatName = "legato.melody_lstm";
// 2 added "inputs"; a version 1 file reads the tokens alone. 3 added the
// lookback inputs and the beat's length to the metric inputs ("meter_beat");
// a version 2 file has neither. 4 added the repeat inputs.
inline const std::string kFormatVersion = "4";

// Every hyperparameter of a run; all of it goes into the checkpoint. The
// network is the seed's; the training defaults of sequence mode were measured
// to converge faster in wall time, and the weight decay to over-fit less
// (docs/results.md); window mode keeps the seed's (see window_defaults()).
struct Hyper {
  std::int64_t hidden = 256;
  std::int64_t layers = 1;
  float dropout = 0.2f;
  std::int64_t batch = 16;
  std::int64_t seq_len = 64;
  float lr = 3e-3f;
  std::string schedule = "cosine";    // learning rate: constant, or cosine decay to 0 over the run
  float clip = 0.f;                   // global gradient-norm clip, 0 = off (the seed had none)
  float weight_decay = 0.2f;          // AdamW's decoupled decay; 0 = plain Adam, the seed's
  float mid_song_starts = 0.5f;       // sequence mode: the share of songs read from a random token (data.hpp)
  std::string mode = "sequence";      // sequence | window
  std::string inputs = "tokens+meter+lookback+repeat";  // tokens (the seed's) | tokens+meter | …+lookback | …+repeat (data.hpp)
  bool meter_beat = true;  // the metric inputs include the beat's length (false in format-2 files)
  std::uint64_t seed = 1;

  // The seed's training settings (spec §6.3): batch 64, Adam 1e-3 without decay, constant.
  static Hyper window_defaults() {
    Hyper h;
    h.mode = "window";
    h.batch = 64;
    h.lr = 1e-3f;
    h.schedule = "constant";
    h.inputs = "tokens";
    h.weight_decay = 0.f;
    h.mid_song_starts = 0.f;
    return h;
  }

  bool metric_inputs() const { return inputs != "tokens"; }

  // "/" read before a song: 1 in sequence mode; the seed's 64 start symbols
  // for a model trained on windows (it has only ever seen a song start after
  // a run of delimiters).
  std::int64_t start_symbols() const { return mode == "window" ? 64 : 1; }

  void validate() const {
    using legato::check;
    check(hidden >= 1 && hidden <= 4096, "--hidden must be in 1..4096, got ", hidden);
    check(layers >= 1 && layers <= 8, "--layers must be in 1..8, got ", layers);
    check(dropout >= 0.f && dropout < 1.f, "--dropout must be in [0, 1), got ", dropout);
    check(batch >= 1 && batch <= 4096, "--batch must be in 1..4096, got ", batch);
    check(seq_len >= 1 && seq_len <= 4096, "--seq-len must be in 1..4096, got ", seq_len);
    check(lr > 0.f && lr < 10.f, "--lr must be in (0, 10), got ", lr);
    check(clip >= 0.f, "--clip must be >= 0, got ", clip);
    // AdamW scales the weights by 1 - lr · weight_decay each step.
    check(weight_decay >= 0.f && double(lr) * weight_decay < 1.0, "--weight-decay must be >= 0 and below 1 / lr (",
          1.0 / lr, "), got ", weight_decay);
    check(mode == "sequence" || mode == "window", "--mode must be 'sequence' or 'window', got '", mode, "'");
    // At 1 no reading would start at "/" or learn a song's end: generation could not stop.
    check(mid_song_starts >= 0.f && mid_song_starts < 1.f, "--mid-song-starts must be in [0, 1), got ",
          mid_song_starts);
    check(mode == "sequence" || mid_song_starts == 0.f, "--mid-song-starts is for --mode sequence (a window of the "
          "seed's regime always starts where it falls)");
    check(schedule == "constant" || schedule == "cosine", "--schedule must be 'constant' or 'cosine', got '",
          schedule, "'");
    InputCoding::named(inputs, 1);  // checks the name
  }
};

// How far training has gone; saved with every checkpoint.
struct Progress {
  std::int64_t epochs_done = 0;    // complete passes over the training songs
  std::int64_t step_in_epoch = 0;  // steps of the current, unfinished epoch
  std::int64_t global_step = 0;    // optimiser steps in all
  double train_seconds = 0;        // wall time of the training loops so far
  std::int64_t planned_steps = 0;  // the cosine schedule's length (0: constant)
  std::string lanes;               // sequence mode: SequenceBatcher::save_state()
  // --best-out (train.hpp): the validation slice was held back from training,
  // and the best model so far had this validation NLL after this epoch.
  bool validation_split = false;
  double best_validation_nll = NAN;
  std::int64_t best_epoch = 0;
};

class MelodyLstm : public legato::nn::Module {
 public:
  std::shared_ptr<legato::nn::LSTM> lstm;
  std::shared_ptr<legato::nn::Dropout> dropout;
  std::shared_ptr<legato::nn::Linear> head;

  // V tokens; weights drawn from a generator seeded with `seed` (PyTorch's
  // default initialisation: U(±1/√H) for the LSTM, Kaiming-uniform for the head).
  MelodyLstm(std::int64_t V, const Hyper& h)
      : coding_(InputCoding::named(h.inputs, static_cast<std::int32_t>(V), h.meter_beat)), H_(h.hidden) {
    legato::Rng init(derived_seed(h.seed, 1, 0));
    legato::nn::LSTMOptions options;
    options.input_size = coding_.input_size();
    options.hidden_size = h.hidden;
    options.num_layers = h.layers;
    options.dropout = h.layers > 1 ? h.dropout : 0.f;  // between layers, as PyTorch's nn.LSTM
    options.dropout_seed = derived_seed(h.seed, 2, 0);
    lstm = register_module("lstm", std::make_shared<legato::nn::LSTM>(options, init));
    dropout = register_module("dropout", std::make_shared<legato::nn::Dropout>(h.dropout, derived_seed(h.seed, 3, 0)));
    head = register_module("head", std::make_shared<legato::nn::Linear>(h.hidden, V, true, init));
  }

  std::int64_t vocab_size() const { return coding_.vocab_size; }
  std::int64_t hidden_size() const { return H_; }
  const InputCoding& coding() const { return coding_; }

  // Dropout masks of step `step` come from a generator seeded by (seed, step,
  // replica): a resumed run draws the same masks as an uninterrupted one, and
  // the replicas of lane parallelism (parallel.hpp) draw different ones.
  void reseed_dropout(std::uint64_t seed, std::int64_t step, int replica = 0) {
    const std::uint64_t stream = 16 * static_cast<std::uint64_t>(replica);
    dropout->reseed(derived_seed(seed, 3 + stream, static_cast<std::uint64_t>(step)));
    lstm->reseed_dropout(derived_seed(seed, 2 + stream, static_cast<std::uint64_t>(step)));
  }

  struct Output {
    Tensor logits;                // (T·B, V), row t·B + b
    legato::nn::LSTMState state;  // h, c (layers, B, H) after the last step
  };

  // ids (T, B), or (T, B, K) with richer inputs (InputCoding); state (layers, B, H) or null for zeros.
  Output forward(const legato::Ids& ids, const legato::nn::LSTMState* state = nullptr) {
    legato::nn::LSTMOutput out = lstm->forward_ids(ids, state);  // (T, B, H)
    const std::int64_t rows = ids.shape[0] * ids.shape[1];
    const Tensor features = legato::reshape(out.output, {rows, H_});  // (T·B, H)
    return {head->forward(dropout->forward(features)), out.state};
  }

  // The seed's training step: ids (T, B) from the zero state, logits of the
  // last step only (B, V).
  Tensor forward_last(const legato::Ids& ids) {
    legato::nn::LSTMOutput out = lstm->forward_ids(ids);
    const std::int64_t L = out.state.h.size(0), B = ids.shape[1];
    const Tensor last = legato::reshape(legato::slice(out.state.h, 0, L - 1, L), {B, H_});  // h_T (B, H)
    return head->forward(dropout->forward(last));
  }

  std::string describe() const override {
    return "MelodyLstm(V=" + std::to_string(coding_.vocab_size) + ", inputs=" + coding_.name() + ", H=" + std::to_string(H_) + ")";
  }

 private:
  InputCoding coding_;
  std::int64_t H_;
};

// ----------------------------------------------------------- checkpoint ----

inline std::map<std::string, std::string> checkpoint_metadata(const Hyper& h, const Vocabulary& vocab,
                                                              const Progress& p, const std::string& corpus) {
  auto real = [](double v) {
    std::ostringstream s;
    s.precision(9);
    s << v;
    return s.str();
  };
  return {{"format", kFormatName},
          {"format_version", kFormatVersion},
          {"vocabulary", vocab.to_string()},
          {"vocab_size", std::to_string(vocab.size())},
          {"hidden", std::to_string(h.hidden)},
          {"layers", std::to_string(h.layers)},
          {"dropout", real(h.dropout)},
          {"batch", std::to_string(h.batch)},
          {"seq_len", std::to_string(h.seq_len)},
          {"lr", real(h.lr)},
          {"schedule", h.schedule},
          {"clip", real(h.clip)},
          {"weight_decay", real(h.weight_decay)},
          {"mid_song_starts", real(h.mid_song_starts)},
          {"mode", h.mode},
          {"inputs", h.inputs},
          {"meter_beat", h.meter_beat ? "1" : "0"},
          {"seed", std::to_string(h.seed)},
          {"start_symbols", std::to_string(h.start_symbols())},
          {"optimizer", std::string(h.weight_decay > 0 ? "AdamW" : "Adam") + "(beta1=0.9, beta2=0.999, eps=1e-7)"},
          {"epochs_done", std::to_string(p.epochs_done)},
          {"step_in_epoch", std::to_string(p.step_in_epoch)},
          {"global_step", std::to_string(p.global_step)},
          {"planned_steps", std::to_string(p.planned_steps)},
          {"train_seconds", real(p.train_seconds)},
          {"lanes", p.lanes},
          {"corpus", corpus},
          {"validation_split", p.validation_split ? "1" : "0"},
          {"best_validation_nll", std::isfinite(p.best_validation_nll) ? real(p.best_validation_nll) : "none"},
          {"best_epoch", std::to_string(p.best_epoch)}};
}

// Everything a checkpoint holds beyond the model.
struct TrainingState {
  const legato::optim::Optimizer* optimizer = nullptr;  // its state is saved as "optim.<name>"
  Tensor carry_h, carry_c;                              // (layers, B, H), undefined when none
};

inline void save_checkpoint(const std::string& path, const MelodyLstm& model, const Hyper& h, const Vocabulary& vocab,
                            const Progress& p, const std::string& corpus, const TrainingState& training = {}) {
  legato::StateDict tensors = model.state_dict();
  if (training.optimizer)
    for (auto& [name, t] : training.optimizer->state()) tensors.emplace_back("optim." + name, t);
  if (training.carry_h.defined()) {
    tensors.emplace_back("train.carry_h", training.carry_h);
    tensors.emplace_back("train.carry_c", training.carry_c);
  }
  legato::save_safetensors(path, tensors, checkpoint_metadata(h, vocab, p, corpus));
}

struct LoadedModel {
  std::unique_ptr<MelodyLstm> model;
  Hyper hyper;
  Vocabulary vocab;
  Progress progress;
  std::string corpus;
  legato::SafetensorsFile file;  // keeps the optimiser and carry tensors for --resume
};

namespace detail {
inline const std::string& meta(const legato::SafetensorsFile& f, const std::string& path, const std::string& key) {
  const auto it = f.metadata.find(key);
  legato::check(it != f.metadata.end(), "'", path, "': metadata '", key, "' is missing (not a melody_lstm checkpoint?)");
  return it->second;
}
inline double meta_number(const legato::SafetensorsFile& f, const std::string& path, const std::string& key) {
  const std::string& text = meta(f, path, key);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  legato::check(!text.empty() && end && *end == '\0' && std::isfinite(v), "'", path, "': metadata '", key, "' = '",
                text, "' is not a number");
  return v;
}
inline std::int64_t meta_integer(const legato::SafetensorsFile& f, const std::string& path, const std::string& key) {
  const double v = meta_number(f, path, key);
  legato::check(v == std::floor(v) && std::fabs(v) < 9e15, "'", path, "': metadata '", key, "' = ", v,
                " is not an integer");
  return static_cast<std::int64_t>(v);
}
}  // namespace detail

// Loads a checkpoint written by save_checkpoint. Every problem (not a
// safetensors file, another program's file, a missing or misshapen tensor) is
// one legato::Error naming the file.
inline LoadedModel load_model(const std::string& path) {
  LoadedModel out;
  out.file = legato::load_safetensors(path);
  const legato::SafetensorsFile& f = out.file;
  const auto format = f.metadata.find("format");
  legato::check(format != f.metadata.end() && format->second == kFormatName, "'", path,
                "' is not a melody_lstm checkpoint (its metadata has no format=", kFormatName, ")");
  const std::string& version = detail::meta(f, path, "format_version");
  legato::check(version == kFormatVersion || version == "3" || version == "2" || version == "1", "'", path,
                "': format version ", version, " is not supported (expected 1 to ", kFormatVersion, ")");
  try {
    out.vocab = Vocabulary::parse(detail::meta(f, path, "vocabulary"));
  } catch (const legato::Error& e) {
    legato::fail("'", path, "': bad vocabulary in the metadata: ", e.what());
  }
  legato::check(out.vocab.find(legato::music::kDelimiterToken).has_value(), "'", path,
                "': the vocabulary in the metadata has no delimiter '/'");
  if (f.metadata.count("vocab_size"))
    legato::check(detail::meta_integer(f, path, "vocab_size") == out.vocab.size(), "'", path,
                  "': metadata 'vocab_size' = ", detail::meta(f, path, "vocab_size"), " but the vocabulary has ",
                  out.vocab.size(), " tokens");
  Hyper& h = out.hyper;
  h.hidden = detail::meta_integer(f, path, "hidden");
  h.layers = detail::meta_integer(f, path, "layers");
  h.dropout = static_cast<float>(detail::meta_number(f, path, "dropout"));
  h.batch = detail::meta_integer(f, path, "batch");
  h.seq_len = detail::meta_integer(f, path, "seq_len");
  h.lr = static_cast<float>(detail::meta_number(f, path, "lr"));
  h.schedule = detail::meta(f, path, "schedule");
  h.clip = static_cast<float>(detail::meta_number(f, path, "clip"));
  // Files written before --weight-decay existed trained with plain Adam.
  h.weight_decay =
      f.metadata.count("weight_decay") ? static_cast<float>(detail::meta_number(f, path, "weight_decay")) : 0.f;
  // Files written before --mid-song-starts existed read every song from its start.
  h.mid_song_starts =
      f.metadata.count("mid_song_starts") ? static_cast<float>(detail::meta_number(f, path, "mid_song_starts")) : 0.f;
  h.mode = detail::meta(f, path, "mode");
  h.inputs = version == "1" ? "tokens" : detail::meta(f, path, "inputs");
  legato::check(version == kFormatVersion || !InputCoding::named(h.inputs, 1).repeat, "'", path, "': format version ",
                version, " has no repeat inputs, but its metadata says inputs=", h.inputs);
  if (version == "1" || version == "2") {
    h.meter_beat = false;  // written before the beat was an input
  } else {
    const std::string& beat = detail::meta(f, path, "meter_beat");
    legato::check(beat == "0" || beat == "1", "'", path, "': metadata 'meter_beat' = '", beat, "' is not 0 or 1");
    h.meter_beat = beat == "1";
  }
  const std::int64_t seed = detail::meta_integer(f, path, "seed");
  legato::check(seed >= 0, "'", path, "': metadata 'seed' = ", seed, " is negative");
  h.seed = static_cast<std::uint64_t>(seed);
  try {
    h.validate();
  } catch (const legato::Error& e) {
    legato::fail("'", path, "': bad hyperparameters in the metadata: ", e.what());
  }
  Progress& p = out.progress;
  p.epochs_done = detail::meta_integer(f, path, "epochs_done");
  p.step_in_epoch = detail::meta_integer(f, path, "step_in_epoch");
  p.global_step = detail::meta_integer(f, path, "global_step");
  p.planned_steps = detail::meta_integer(f, path, "planned_steps");
  p.train_seconds = detail::meta_number(f, path, "train_seconds");
  p.lanes = detail::meta(f, path, "lanes");
  out.corpus = detail::meta(f, path, "corpus");
  if (f.metadata.count("validation_split")) {  // written since --best-out exists
    p.validation_split = detail::meta(f, path, "validation_split") == "1";
    if (detail::meta(f, path, "best_validation_nll") != "none")
      p.best_validation_nll = detail::meta_number(f, path, "best_validation_nll");
    p.best_epoch = detail::meta_integer(f, path, "best_epoch");
  }
  // --resume continues from these counts: a damaged one must not start a
  // run at epoch -4.
  legato::check(p.epochs_done >= 0 && p.step_in_epoch >= 0 && p.global_step >= 0 && p.planned_steps >= 0 &&
                    p.train_seconds >= 0 && p.best_epoch >= 0 && p.best_epoch <= p.epochs_done,
                "'", path, "': the training progress in the metadata is inconsistent (epochs_done ", p.epochs_done,
                ", step_in_epoch ", p.step_in_epoch, ", global_step ", p.global_step, ", planned_steps ",
                p.planned_steps, ", train_seconds ", p.train_seconds, ", best_epoch ", p.best_epoch, ")");
  if (f.metadata.count("validation_split")) {
    const std::string& split = detail::meta(f, path, "validation_split");
    legato::check(split == "0" || split == "1", "'", path, "': metadata 'validation_split' = '", split,
                  "' is not 0 or 1");
  }

  out.model = std::make_unique<MelodyLstm>(out.vocab.size(), h);
  const legato::StateDictReport report =
      legato::load_state_dict(out.model->state_dict(), f, /*strict=*/false, "'" + path + "'");
  legato::check(report.missing.empty(), "'", path, "' lacks tensor '", report.missing.empty() ? "" : report.missing[0],
                "' of the model");
  for (const std::string& name : report.unexpected)
    legato::check(name.rfind("optim.", 0) == 0 || name.rfind("train.", 0) == 0, "'", path, "' has tensor '", name,
                  "' that the model does not");
  out.model->eval();
  return out;
}

// A model only makes sense with the token ids it was trained on.
inline void require_same_vocabulary(const Vocabulary& model, const std::string& model_path, const Vocabulary& corpus,
                                    const std::string& corpus_dir) {
  if (model == corpus) return;
  legato::fail("model '", model_path, "' was trained on a vocabulary of ", model.size(), " tokens [", model.to_string(),
               "] but corpus '", corpus_dir, "' gives ", corpus.size(), " tokens [", corpus.to_string(),
               "]; use the corpus the model was trained on");
}

}  // namespace melody_lstm

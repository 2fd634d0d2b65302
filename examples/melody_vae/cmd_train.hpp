#pragma once
// melody_vae train: the seed's loop for the seed archs, the ELBO loop with
// shuffling, KL warm-up and augmentation for the default, and the command.

#include "command_common.hpp"

namespace melody_vae {

struct TrainRun {
  std::string corpus, out, metrics;
  long limit = 0, eval_every = 1;
  double time_budget = 0;  // seconds; 0 = none
};

// What every training loop reports per epoch and at the end.
struct TrainLog {
  std::vector<double> epoch_loss;  // per arch: see below
  json epochs = json::array();
  long epochs_done = 0;
  double seconds = 0;

  void end_epoch(long epoch, double loss, json row, std::string line, Model& model,
                 const std::vector<const VaeSong*>& held_out, const TrainRun& run, ProgressBar& bar);
};

// The end of an epoch, for every arch: the log row, the held-out evaluation
// every `eval_every` epochs and after the last, and the printed line.
inline void TrainLog::end_epoch(long epoch, double loss, json row, std::string line, Model& model,
                         const std::vector<const VaeSong*>& held_out, const TrainRun& run, ProgressBar& bar) {
  epoch_loss.push_back(loss);
  epochs_done = epoch;
  if (!held_out.empty() && (epoch % run.eval_every == 0 || epoch == model.config.epochs)) {
    const Evaluation e = evaluate_model(model, held_out, kEvalSeed);
    row["held_out"] = e.json();
    line += "  held-out: " + e.brief();
  }
  epochs.push_back(std::move(row));
  bar.finish();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Stops before an epoch that would overrun the budget (by the last epoch's time).
inline bool out_of_time(const TrainRun& run, const Stopwatch& clock, double last_epoch_seconds) {
  return run.time_budget > 0 && clock.seconds() + last_epoch_seconds > run.time_budget;
}

// The seed's loop (spec §5): contiguous batches in dataset order, no shuffle,
// the last partial batch kept, loss = sum squared error + KL per batch, and the
// printed epoch loss = sum of batch losses / (N // batch).
inline TrainLog train_seed(Model& model, const VaeCorpus& data, const TrainRun& run) {
  const ModelConfig& c = model.config;
  const auto train = pointers(data.train);
  const auto held_out = pointers(data.held_out);
  const std::size_t N = train.size(), B = std::size_t(c.batch);
  const std::size_t batches = (N + B - 1) / B;
  optim::Adam opt(model.module().parameters(), float(c.lr), 0.9f, 0.999f, 1e-8f, float(c.weight_decay));
  Rng rng(c.seed ^ 0x5eedULL);
  TrainLog log;
  Stopwatch clock;
  ProgressBar bar("train " + arch_name(c.arch), c.epochs * long(batches));
  double last_epoch = 0;
  for (long epoch = 1; epoch <= c.epochs; ++epoch) {
    if (out_of_time(run, clock, last_epoch)) {
      std::fprintf(stderr, "\ntime budget of %.0f s reached after %ld epochs\n", run.time_budget, epoch - 1);
      break;
    }
    const double start = clock.seconds();
    double total = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const std::size_t begin = b * B, end = std::min(N, begin + B);
      Tensor x = seed_batch(c.arch, train, begin, end);  // (n 100, 1)
      const SeedVae::Pass pass = model.seed->forward(x, rng, 1.f);
      auto [squared, kl] = SeedVae::loss_terms(pass, x);
      Tensor loss = c.kl_weight == 1.0 ? add(squared, kl) : add(squared, mul(kl, float(c.kl_weight)));
      opt.zero_grad();
      loss.backward();
      if (c.clip > 0) optim::clip_grad_norm(opt.params(), float(c.clip));
      opt.step();
      total += loss.item();
      bar.update((epoch - 1) * long(batches) + long(b) + 1,
                 legato::detail::concat("epoch ", epoch, "/", c.epochs, " batch loss ", loss.item()));
    }
    last_epoch = clock.seconds() - start;
    const double epoch_loss = total / double(std::max<std::size_t>(1, N / B));
    json row = {{"epoch", epoch}, {"loss", epoch_loss}, {"seconds", clock.seconds()}};
    std::string line = legato::detail::concat("epoch ", epoch, ": seed-style loss ", epoch_loss, " (", last_epoch, " s)");
    log.end_epoch(epoch, epoch_loss, std::move(row), line, model, held_out, run, bar);
  }
  log.seconds = clock.seconds();
  return log;
}

// A random variant of a training song (vae_data.hpp `augmented`): a later
// start, and a transposition that keeps every note inside the vocabulary.
inline VaeSong augment(const VaeSong& s, const ModelConfig& c, Rng& rng) {
  const std::size_t n = s.whole.events;
  const std::size_t shift = rng.below(std::min<std::size_t>(std::size_t(c.augment_shift), n / 2) + 1);
  int lowest = 1000, highest = -1000;
  for (std::size_t i = shift; i < n && i < shift + std::size_t(kTwoSeqLength); ++i)
    if (s.whole.notes[i] != music::kTwoSeqRest) {
      lowest = std::min(lowest, s.whole.notes[i]);
      highest = std::max(highest, s.whole.notes[i]);
    }
  std::vector<int> moves;
  for (int t = -c.augment_transpose; t <= c.augment_transpose; ++t)
    if (lowest > highest || (lowest + t >= c.vocab.low && highest + t <= c.vocab.high)) moves.push_back(t);
  const int t = moves.empty() ? 0 : moves[rng.below(moves.size())];
  return augmented(s, shift, t, c.vocab);
}

// The default: shuffled batches, loss per song = cross-entropies summed over
// the 100 positions + beta KL, beta ramped linearly from 0 over `warmup`
// epochs (if any). The logged epoch loss is the mean over songs of
// reconstruction + KL, i.e. the negative ELBO at beta = 1.
inline TrainLog train_sequence_vae(Model& model, const VaeCorpus& data, const TrainRun& run) {
  const ModelConfig& c = model.config;
  SequenceVae& vae = *model.sequence;
  auto train = pointers(data.train);
  const auto held_out = pointers(data.held_out);
  const std::size_t N = train.size(), B = std::size_t(c.batch);
  const std::size_t batches = (N + B - 1) / B;
  optim::Adam opt(model.module().parameters(), float(c.lr), 0.9f, 0.999f, 1e-8f, float(c.weight_decay));
  Rng rng(c.seed ^ 0x5eedULL), shuffle(c.seed ^ 0x5a1dULL);
  TrainLog log;
  Stopwatch clock;
  ProgressBar bar("train " + arch_name(c.arch), c.epochs * long(batches));
  double last_epoch = 0;
  vae.train();
  for (long epoch = 1; epoch <= c.epochs; ++epoch) {
    if (out_of_time(run, clock, last_epoch)) {
      std::fprintf(stderr, "\ntime budget of %.0f s reached after %ld epochs\n", run.time_budget, epoch - 1);
      break;
    }
    const double start = clock.seconds();
    for (std::size_t i = N; i > 1; --i) std::swap(train[i - 1], train[shuffle.below(i)]);  // Fisher-Yates
    double recon_total = 0, kl_total = 0, beta = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const std::size_t begin = b * B, end = std::min(N, begin + B);
      const float songs = float(end - begin);
      std::vector<VaeSong> variants;  // augmented copies of the batch, when asked for
      std::vector<const VaeSong*> view(train.begin() + long(begin), train.begin() + long(end));
      if (c.augment_shift > 0 || c.augment_transpose > 0) {
        for (const VaeSong* s : view) variants.push_back(augment(*s, c, rng));
        for (std::size_t k = 0; k < view.size(); ++k) view[k] = &variants[k];
      }
      const SequenceBatch batch = sequence_batch(view, 0, view.size());
      const SequenceVae::Posterior q = vae.encode(batch.pitch_in, batch.duration_in);
      const SequenceVae::Logits logits = vae.decode(SequenceVae::reparameterise(q, rng));
      // cross_entropy averages over the kept targets; scale to a sum per song.
      auto summed = [&](const Tensor& l, const Ids& targets) {
        return mul(cross_entropy(l, targets, kUnknown), float(kept_targets(targets)) / songs);
      };
      Tensor recon;
      if (logits.length.defined()) {  // events and lengths (sequence_vae.hpp)
        const LengthTargets t = length_targets(batch, c.vocab);
        recon = add(add(summed(logits.pitch, t.pitch), summed(logits.duration, t.duration)),
                    summed(logits.length, t.length));
      } else {
        recon = add(summed(logits.pitch, batch.pitch_target), summed(logits.duration, batch.duration_target));
      }
      Tensor kl = mul(gaussian_kl(q.mu, q.logvar), 1.f / songs);
      const double progress = double(epoch - 1) + double(b + 1) / double(batches);
      beta = c.kl_weight * (c.warmup > 0 ? std::min(1.0, progress / c.warmup) : 1.0);
      Tensor loss = add(recon, mul(kl, float(beta)));
      opt.zero_grad();
      loss.backward();
      if (c.clip > 0) optim::clip_grad_norm(opt.params(), float(c.clip));
      opt.step();
      recon_total += recon.item() * songs;
      kl_total += kl.item() * songs;
      bar.update((epoch - 1) * long(batches) + long(b) + 1,
                 legato::detail::concat("epoch ", epoch, "/", c.epochs, " recon ", recon.item(), " KL ", kl.item()));
    }
    last_epoch = clock.seconds() - start;
    const double epoch_loss = (recon_total + kl_total) / double(N);
    json row = {{"epoch", epoch},
                {"neg_elbo", epoch_loss},
                {"recon", recon_total / double(N)},
                {"kl", kl_total / double(N)},
                {"beta", beta},
                {"seconds", clock.seconds()}};
    std::string line = legato::detail::concat("epoch ", epoch, ": train -ELBO ", epoch_loss, " (recon ",
                                              recon_total / double(N), ", KL ", kl_total / double(N), ", beta ", beta,
                                              ", ", last_epoch, " s)");
    log.end_epoch(epoch, epoch_loss, std::move(row), line, model, held_out, run, bar);
  }
  log.seconds = clock.seconds();
  vae.eval();
  return log;
}

inline int cmd_train(const std::vector<std::string>& args) {
  CommandLine cli("melody_vae train", args);
  const Arch arch = parse_arch(cli.text("arch", "conv", "conv, mlp, seed-notes or seed-rhythm"));
  const ModelConfig d = ModelConfig::defaults(arch);
  TrainRun run;
  run.corpus = examples::corpus_dir(cli, "");
  run.out = cli.text("out", "", "checkpoint to write (.safetensors)");
  run.metrics = cli.text("metrics-json", "", "write the training log and held-out metrics as JSON here");
  run.limit = cli.integer("limit", 0, "read only the first N .krn files in name order (the seed took 1000); 0 = all");
  run.time_budget = cli.real("time-budget", 0, "stop before an epoch that would end after this many seconds; 0 = none");
  run.eval_every = cli.integer("eval-every", arch == Arch::seed_notes ? 10 : 1, "held-out evaluation every N epochs");
  ModelConfig c = d;
  c.epochs = cli.integer("epochs", d.epochs, "training epochs");
  c.batch = cli.integer("batch", d.batch, "songs per batch");
  c.lr = cli.real("lr", d.lr, "Adam learning rate");
  c.weight_decay = cli.real("weight-decay", d.weight_decay, "Adam L2 weight decay (PyTorch style)");
  c.hidden = int_flag(cli, "hidden", d.hidden, "hidden units");
  c.latent = int_flag(cli, "latent", d.latent,
                      "latent size: per melody (mlp), per 4-event column (conv), per position (seed archs)");
  c.kl_weight = cli.real("kl-weight", d.kl_weight, "weight of the KL term (beta)");
  c.clip = cli.real("clip", d.clip, "clip the gradient norm to this (0 = no clipping)");
  if (!is_seed_arch(arch)) {
    c.warmup = cli.real("warmup", d.warmup, "epochs over which beta ramps up from 0 (0 = none)");
    c.pitch_embed = int_flag(cli, "pitch-embed", d.pitch_embed, "pitch embedding size");
    c.duration_embed = int_flag(cli, "duration-embed", d.duration_embed, "duration embedding size");
    c.dropout = float(cli.real("dropout", d.dropout, "dropout after the first encoder layer"));
    const long tie = cli.integer("tie-embeddings", d.tie_embeddings ? 1 : 0,
                                 "1: the decoder scores each position against the input embeddings (0: own output layer)");
    check(tie == 0 || tie == 1, "--tie-embeddings must be 0 or 1, got ", tie);
    c.tie_embeddings = tie == 1;
    c.augment_shift = int_flag(cli, "augment-shift", d.augment_shift,
                               "training windows start up to N events into the song (at most half of it)");
    c.augment_transpose = int_flag(cli, "augment-transpose", d.augment_transpose,
                                   "training songs move by up to +-N semitones (the vocabulary widens by N)");
    if (arch == Arch::conv)
      c.global_latent = int_flag(cli, "global-latent", d.global_latent,
                                 "conv: size of the latent vector for the whole melody (0 = columns only)");
  }
  const long seed = cli.integer("seed", 1, "random seed (weights, noise, shuffling)");
  declare_threads(cli);
  if (answered_help(cli, "melody_vae train --corpus DIR --out MODEL.safetensors [--arch conv|mlp|seed-notes|seed-rhythm]\n"
                          "Defaults follow --arch: the seed's values (spec §5) for seed-notes / seed-rhythm."))
    return 0;
  cli.finish();
  check(!run.out.empty(), "train needs --out MODEL.safetensors");
  c.validate();  // the ranges Model::load accepts
  check(seed >= 0, "--seed must be >= 0, got ", seed);
  check(run.limit >= 0, "--limit must be >= 0, got ", run.limit);
  check(run.time_budget >= 0, "--time-budget must be >= 0, got ", run.time_budget);
  check(run.eval_every >= 1, "--eval-every must be >= 1, got ", run.eval_every);
  legato::check_output_file(run.out, "out");
  legato::check_output_file(run.metrics, "metrics-json");
  legato::check_distinct_outputs({{"out", run.out}, {"metrics-json", run.metrics}});
  examples::require_directory(run.corpus, "train");
  c.seed = std::uint64_t(seed);

  // The corpus is read before the build banner so that an unusable one is
  // the only line on stderr.
  VaeCorpus data = load_vae_corpus(run.corpus, std::size_t(run.limit));
  check(!data.train.empty(), "train: the corpus '", run.corpus, "' has no training songs");
  if (!is_seed_arch(arch)) {
    c.vocab = vocab_of(data.train);
    c.vocab.low = std::max(0, c.vocab.low - c.augment_transpose);
    c.vocab.high = std::min(music::kTwoSeqRest - 1, c.vocab.high + c.augment_transpose);
    for (VaeSong& s : data.train) assign_classes(s, c.vocab);
    for (VaeSong& s : data.held_out) assign_classes(s, c.vocab);
  }
  const int threads = examples::setup_threads(cli);
  const double load_start = load_average();
  const std::string report = data.report.to_string();
  std::fprintf(stderr, "%s", report.substr(0, report.find('\n') + 1).c_str());  // the summary line
  if (data.skipped) std::fprintf(stderr, "skipped %zu songs with a pitch >= 99 (E-2SEQ cannot hold them)\n", data.skipped);
  std::fprintf(stderr, "%zu training songs, %zu held out; %s, hidden %d, latent %d, %ld epochs, batch %ld, lr %g\n",
               data.train.size(), data.held_out.size(), arch_name(arch).c_str(), c.hidden, c.latent, c.epochs, c.batch,
               c.lr);
  if (!is_seed_arch(arch))
    std::fprintf(stderr, "pitch classes: MIDI %d..%d + rest + padding = %d; KL weight %g, warm-up %g epochs\n",
                 c.vocab.low, c.vocab.high, c.vocab.size(), c.kl_weight, c.warmup);

  Rng init(c.seed);
  Model model = Model::build(c, init);
  const TrainLog log = !is_seed_arch(arch) ? train_sequence_vae(model, data, run) : train_seed(model, data, run);

  json result = {{"program", kProgram},
                 {"command", "train"},
                 {"arch", arch_name(arch)},
                 {"corpus", run.corpus},
                 {"limit", run.limit},
                 {"train_songs", data.train.size()},
                 {"held_out_songs", data.held_out.size()},
                 {"epochs", c.epochs},
                 {"epochs_done", log.epochs_done},
                 {"train_seconds", log.seconds},
                 {"threads", threads},
                 {"load_average_start", load_start},
                 {"load_average_end", load_average()},
                 {"parameters", model.module().parameter_count()},
                 {"final_epoch_loss", log.epoch_loss.empty() ? 0.0 : log.epoch_loss.back()},
                 {"history", log.epochs}};
  std::map<std::string, std::string> extra = {{"epochs_done", text(double(log.epochs_done))},
                                              {"train_seconds", text(log.seconds)},
                                              {"train_songs", text(double(data.train.size()))},
                                              {"corpus", run.corpus},
                                              {"limit", text(double(run.limit))},
                                              {"final_epoch_loss", text(result["final_epoch_loss"].get<double>())}};
  if (!data.held_out.empty()) {
    const Evaluation e = evaluate_model(model, pointers(data.held_out), kEvalSeed);
    std::printf("held-out evaluation after training:\n%s", e.table().c_str());
    result["held_out"] = e.json();
  }
  result["config"] = c.metadata();
  model.save(run.out, extra);
  std::fprintf(stderr, "wrote %s (%lld parameters, %.1f s of training)\n", run.out.c_str(),
               static_cast<long long>(model.module().parameter_count()), log.seconds);
  write_metrics_json(run.metrics, result);
  return 0;
}

}  // namespace melody_vae

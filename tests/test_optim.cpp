// Optimisers against torch.optim (golden fixtures), their state round trip
// and argument checks; clip_grad_norm and the schedules against hand-computed
// values.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numbers>
#include <string>

#include "gradcheck.hpp"
#include "legato/io.hpp"
#include "legato/optim.hpp"

using namespace legato;
using legato::testing::error_of;

namespace {

const char* kRegenerate = "regenerate with: python3 tests/fixtures/make_io_fixtures.py";

// Golden tolerance: |legato - torch| <= atol + rtol * |torch|.
constexpr float kAtol = 1e-6f, kRtol = 1e-5f;

void set_grad(Tensor& p, const Tensor& g) { p.impl().grad = g.clone().impl_ptr(); }

std::unique_ptr<optim::Optimizer> make_optimizer(const nlohmann::json& cfg, std::vector<Tensor> params) {
  const std::string kind = cfg["optimizer"];
  const float lr = cfg["lrs"][0].get<float>();
  if (kind == "SGD")
    return std::make_unique<optim::SGD>(params, lr, cfg["momentum"].get<float>(), cfg["nesterov"].get<bool>(),
                                         cfg["weight_decay"].get<float>());
  const float b1 = cfg["betas"][0].get<float>(), b2 = cfg["betas"][1].get<float>();
  const float eps = cfg["eps"].get<float>(), wd = cfg["weight_decay"].get<float>();
  if (kind == "Adam") return std::make_unique<optim::Adam>(params, lr, b1, b2, eps, wd);
  REQUIRE(kind == "AdamW");
  return std::make_unique<optim::AdamW>(params, lr, b1, b2, eps, wd);
}

// Largest |a - e| / (atol + rtol |e|) over the elements: <= 1 means within tolerance.
double worst_ratio(const Tensor& a, const Tensor& e) {
  double worst = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::fabs(double(a.data()[i]) - e.data()[i]) / (kAtol + kRtol * std::fabs(e.data()[i])));
  return worst;
}

}  // namespace

TEST_CASE("SGD, Adam and AdamW replay torch.optim step for step") {
  const SafetensorsFile fixture = load_safetensors(LEGATO_SOURCE_DIR "/tests/fixtures/io_optim.safetensors");
  const int steps = std::stoi(fixture.metadata.at("steps"));
  const int skip_b_at = std::stoi(fixture.metadata.at("skip_b_at"));
  int cases = 0;
  for (const auto& entry : fixture.metadata) {
    const std::string& name = entry.first;  // (not a structured binding: CAPTURE needs a capturable name)
    const std::string& text = entry.second;
    if (text.empty() || text[0] != '{') continue;  // not a case description
    ++cases;
    const auto cfg = nlohmann::json::parse(text);
    CAPTURE(name);
    Tensor a = fixture.at(name + ".a.init").clone().set_requires_grad();
    Tensor b = fixture.at(name + ".b.init").clone().set_requires_grad();
    auto opt = make_optimizer(cfg, {a, b});
    double worst_diff = 0, worst = 0;
    for (int k = 0; k < steps; ++k) {
      std::string s = ".";
      s += std::to_string(k);
      opt->set_lr(cfg["lrs"][k].get<float>());
      opt->zero_grad();
      set_grad(a, fixture.at(name + ".a.grad" + s));
      if (k != skip_b_at) set_grad(b, fixture.at(name + ".b.grad" + s));
      opt->step();
      for (auto& [param, which] : {std::pair{a, std::string("a")}, std::pair{b, std::string("b")}}) {
        const Tensor& expected = fixture.at(name + "." + which + ".after" + s);
        worst_diff = std::max(worst_diff, double(max_abs_diff(param, expected)));
        worst = std::max(worst, worst_ratio(param, expected));
        if (!allclose(param, expected, kAtol, kRtol))
          FAIL_CHECK(name << " parameter " << which << " after step " << k << ": "
                          << describe_mismatches(param, expected, kAtol, kRtol) << "; " << kRegenerate);
      }
    }
    CHECK(opt->steps() == steps);
    MESSAGE(name << ": max |legato - torch| = " << worst_diff << ", " << worst
                 << " of the tolerance (atol 1e-6 + rtol 1e-5)");
  }
  CHECK_MESSAGE(cases == 6, "expected 6 optimiser cases in io_optim.safetensors; ", kRegenerate);
}

TEST_CASE("the optimiser updates the caller's tensors in place and skips missing gradients") {
  Tensor w = Tensor::from({1.f, 2.f}).set_requires_grad();
  Tensor frozen = Tensor::from({5.f}).set_requires_grad();
  Tensor alias = w;  // another handle, as a module keeps
  optim::SGD opt({w, frozen}, 0.5f);
  set_grad(w, Tensor::from({2.f, -4.f}));
  opt.step();
  CHECK(alias.to_vector() == std::vector<float>{0.f, 4.f});  // 1 - 0.5*2, 2 + 0.5*4
  CHECK(frozen.to_vector() == std::vector<float>{5.f});       // no gradient: untouched
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
  opt.zero_grad();
  CHECK(!w.grad().defined());
  opt.step();  // no gradients at all: nothing moves
  CHECK(alias.to_vector() == std::vector<float>{0.f, 4.f});
}

TEST_CASE("Adam's first step moves each parameter by lr against the gradient's sign") {
  // With m = (1-b1) g, v = (1-b2) g^2 and bias correction, the first update is
  // lr * g / (|g| + eps') = lr * sign(g), whatever the gradient's size.
  Tensor p = Tensor::from({1.f, 1.f, 1.f}).set_requires_grad();
  optim::Adam opt({p}, 0.1f);
  set_grad(p, Tensor::from({1000.f, -0.5f, 3.f}));
  opt.step();
  CHECK(p.data()[0] == doctest::Approx(0.9).epsilon(1e-6));
  CHECK(p.data()[1] == doctest::Approx(1.1).epsilon(1e-6));
  CHECK(p.data()[2] == doctest::Approx(0.9).epsilon(1e-6));
}

TEST_CASE("Adam and AdamW update a large parameter on two threads exactly as on one") {
  // 100 000 elements: 13 chunks of 8192, so the update is split between threads.
  Rng rng(11);
  const Tensor start = Tensor::uniform({100000}, -1.f, 1.f, rng);
  const Tensor grad = Tensor::uniform({100000}, -1.f, 1.f, rng);
  for (const bool decoupled : {false, true}) {
    std::vector<std::vector<float>> after;
    for (const int threads : {1, 2}) {
      const int before = num_threads();
      set_num_threads(threads);
      Tensor p = start.clone().set_requires_grad();
      std::unique_ptr<optim::Adam> opt = decoupled ? std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, 1e-2f)
                                                   : std::make_unique<optim::Adam>(std::vector<Tensor>{p}, 1e-2f);
      for (int step = 0; step < 3; ++step) {
        set_grad(p, grad);
        opt->step();
      }
      set_num_threads(before);
      after.push_back(p.to_vector());
    }
    CHECK(after[0] != start.to_vector());
    CHECK(after[0] == after[1]);
  }
}

TEST_CASE("state() and load_state() resume an optimiser exactly, also through a safetensors file") {
  Rng rng(3);
  auto run = [&](optim::Optimizer& opt, Tensor& p, int from, int to) {
    for (int k = from; k < to; ++k) {
      Rng g(100 + k);
      set_grad(p, Tensor::normal(p.shape(), 0.f, 1.f, g));
      opt.step();
    }
  };
  const Tensor init = Tensor::normal({4, 3}, 0.f, 1.f, rng);
  for (const std::string kind : {"SGD", "Adam", "AdamW"}) {
    CAPTURE(kind);
    auto make = [&](Tensor p) -> std::unique_ptr<optim::Optimizer> {
      if (kind == "SGD") return std::make_unique<optim::SGD>(std::vector<Tensor>{p}, 0.1f, 0.9f, true);
      if (kind == "Adam") return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, 0.01f);
      return std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, 0.01f);
    };
    Tensor straight = init.clone().set_requires_grad();
    auto reference = make(straight);
    run(*reference, straight, 0, 5);

    Tensor first = init.clone().set_requires_grad();
    auto before = make(first);
    run(*before, first, 0, 2);
    before->set_lr(before->lr());  // a schedule would set it here
    const std::string bytes = save_safetensors_to_memory(before->state());
    const auto saved = load_safetensors_from_memory(bytes, "optimizer state").tensors;

    Tensor resumed = first.clone().set_requires_grad();
    auto after = make(resumed);
    after->set_lr(0.5f);
    after->load_state(saved);
    CHECK(after->steps() == 2);
    CHECK(after->lr() == before->lr());
    run(*after, resumed, 2, 5);
    CHECK(max_abs_diff(resumed, straight) == 0.f);  // bit-identical to the uninterrupted run
  }

  // Adam's state names, and what load_state refuses.
  Tensor p = init.clone().set_requires_grad();
  optim::Adam adam({p});
  std::vector<std::string> names;
  for (auto& [name, t] : adam.state()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"lr", "step", "state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq"});
  optim::SGD sgd({p}, 0.1f, 0.9f);
  CHECK(error_of([&] { adam.load_state(sgd.state()); }) ==
        "Adam::load_state: unexpected entry 'state.0.momentum_buffer' (state of another optimiser, or of a different "
        "parameter list?)");
  auto state = adam.state();
  state.pop_back();
  CHECK(error_of([&] { adam.load_state(state); }) == "Adam::load_state: missing entry 'state.0.exp_avg_sq'");
  state = adam.state();
  state[3].second = Tensor::zeros({3, 4});
  CHECK(error_of([&] { adam.load_state(state); }) ==
        "Adam::load_state: entry 'state.0.exp_avg' has shape (3, 4) but this optimiser's has shape (4, 3)");
}

TEST_CASE("optimiser arguments are checked") {
  Tensor p = Tensor::zeros({2}).set_requires_grad();
  CHECK(error_of([] { optim::SGD({}, 0.1f); }) == "SGD: the parameter list is empty");
  CHECK(error_of([&] { optim::SGD({p, p}, 0.1f); }) == "SGD: parameter 1 shares storage with parameter 0 (listed twice?)");
  CHECK(error_of([&] { optim::SGD({p}, -1.f); }) == "SGD: learning rate must be >= 0, got -1");
  CHECK(error_of([&] { optim::SGD({p}, 0.1f, 0.f, true); }) == "SGD: Nesterov momentum needs momentum > 0");
  CHECK(error_of([&] { optim::Adam({p}, 0.1f, 1.f); }) == "Adam: beta1 must be in [0, 1), got 1");
  CHECK(error_of([&] { optim::AdamW({p}, 0.1f, 0.9f, 0.999f, 1e-8f, -1.f); }) ==
        "AdamW: weight_decay must be >= 0, got -1");
  Tensor q = Tensor::ones({2}).set_requires_grad();
  optim::SGD opt({q, p}, 0.1f);
  set_grad(q, Tensor::ones({2}));
  set_grad(p, Tensor::zeros({3}));
  CHECK(error_of([&] { opt.step(); }) == "SGD: gradient of parameter 1 has shape (3,) but the parameter has shape (2,)");
  CHECK(q.to_vector() == std::vector<float>{1.f, 1.f});  // checked before anything moved
  CHECK(opt.steps() == 0);
}

TEST_CASE("clip_grad_norm scales by max_norm / total and returns the total before clipping") {
  Tensor a = Tensor::zeros({2}).set_requires_grad();
  Tensor b = Tensor::zeros({1, 1}).set_requires_grad();
  Tensor none = Tensor::zeros({3}).set_requires_grad();  // no gradient: ignored
  set_grad(a, Tensor::from({3.f, 4.f}));
  set_grad(b, Tensor::from({1, 1}, {12.f}));
  // total = sqrt(9 + 16 + 144) = 13; max 6.5 halves every gradient (to within the 1e-6 guard).
  CHECK(optim::clip_grad_norm({a, b, none}, 6.5f) == 13.f);
  CHECK(a.grad().data()[0] == doctest::Approx(1.5).epsilon(1e-6));
  CHECK(a.grad().data()[1] == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(b.grad().data()[0] == doctest::Approx(6.0).epsilon(1e-6));
  CHECK(!none.grad().defined());
  // Now the norm is 6.5 (below 100): the gradients are left bit-for-bit alone.
  const auto kept = a.grad().to_vector();
  CHECK(optim::clip_grad_norm({a, b}, 100.f) == doctest::Approx(6.5).epsilon(1e-6));
  CHECK(a.grad().to_vector() == kept);
  CHECK(optim::clip_grad_norm({none}, 1.f) == 0.f);  // nothing to clip

  set_grad(a, Tensor::from({std::numeric_limits<float>::infinity(), 0.f}));
  CHECK(error_of([&] { optim::clip_grad_norm({a}, 1.f, true); }) ==
        "clip_grad_norm: the total gradient norm is inf (NaN or infinite)");
  CHECK(std::isinf(optim::clip_grad_norm({a}, 1.f)));  // torch's default: no error, gradients scaled by 0
  CHECK(a.grad().data()[1] == 0.f);
}

TEST_CASE("StepLR multiplies by gamma every step_size steps") {
  const optim::StepLR s(3, 0.5f);
  const float expected[] = {0.8f, 0.8f, 0.8f, 0.4f, 0.4f, 0.4f, 0.2f};
  for (int step = 0; step < 7; ++step) CHECK(s.lr(0.8f, step) == doctest::Approx(expected[step]).epsilon(1e-7));
  CHECK(s.lr(0.8f, 30) == doctest::Approx(0.8 / 1024).epsilon(1e-6));
  CHECK(error_of([] { optim::StepLR(0, 0.5f); }) == "StepLR: step_size must be > 0, got 0");
}

TEST_CASE("CosineLR follows the half cosine from base to min, after a linear warm-up") {
  const optim::CosineLR plain(10, 0.1f);
  CHECK(plain.lr(1.1f, 0) == doctest::Approx(1.1).epsilon(1e-7));
  CHECK(plain.lr(1.1f, 5) == doctest::Approx(0.6).epsilon(1e-6));            // halfway: (base + min) / 2
  CHECK(plain.lr(1.1f, 2) == doctest::Approx(1.0045085).epsilon(1e-6));      // 0.1 + 0.5 (1 + cos(0.2 pi))
  CHECK(plain.lr(1.1f, 8) == doctest::Approx(0.19549150).epsilon(1e-6));     // 0.1 + 0.5 (1 + cos(0.8 pi))
  CHECK(plain.lr(1.1f, 10) == 0.1f);
  CHECK(plain.lr(1.1f, 1000) == 0.1f);

  const optim::CosineLR warm(12, 0.f, 4);
  CHECK(warm.lr(2.f, 0) == doctest::Approx(0.5).epsilon(1e-7));  // 2 * 1/4
  CHECK(warm.lr(2.f, 2) == doctest::Approx(1.5).epsilon(1e-7));  // 2 * 3/4
  CHECK(warm.lr(2.f, 3) == doctest::Approx(2.0).epsilon(1e-7));
  CHECK(warm.lr(2.f, 4) == doctest::Approx(2.0).epsilon(1e-7));  // cosine starts at the base
  CHECK(warm.lr(2.f, 8) == doctest::Approx(1.0).epsilon(1e-6));  // halfway through the 8 cosine steps
  CHECK(warm.lr(2.f, 12) == 0.f);
  CHECK(error_of([] { optim::CosineLR(10, 0.f, 10); }) ==
        "CosineLR: warmup_steps must be in [0, total_steps), got 10 with total_steps 10");

  // Drives an optimiser's rate.
  Tensor p = Tensor::zeros({1}).set_requires_grad();
  optim::SGD opt({p}, 1.f);
  opt.set_lr(plain.lr(1.1f, 5));
  CHECK(opt.lr() == doctest::Approx(0.6).epsilon(1e-6));
}

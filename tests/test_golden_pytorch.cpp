// Golden tests against PyTorch. tests/fixtures/make_fixtures.py runs the same
// layers in PyTorch and stores inputs, weights, outputs and every gradient;
// here legato loads the weights by their PyTorch names, runs forward and
// backward, and compares with |legato - torch| <= atol + rtol * |torch|.
//
// Tolerances (float32 on both sides; each test case prints its worst
// difference):
//   values (forward outputs, LSTM included; running statistics; the five Adam
//   losses and the parameters after them): atol 2e-6, rtol 2e-5, five times
//   tighter than the bound for the LSTM forward (atol 1e-5, rtol 1e-4);
//   gradients: atol 1e-5, rtol 1e-4.
// Measured on the development machine (x86-64, AVX-512, torch 2.x on CPU), the
// worst |legato - torch| was below 5e-7 for values and 1e-6 for gradients.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "gradcheck.hpp"

using namespace legato;

namespace {

const char* const kRegenerate = "regenerate with: python3 tests/fixtures/make_fixtures.py";
constexpr float kValueAtol = 2e-6f, kValueRtol = 2e-5f;
constexpr float kGradAtol = 1e-5f, kGradRtol = 1e-4f;

// The worst difference seen per test case, printed at its end.
struct Worst {
  float forward = 0.f, gradient = 0.f;
  void report(const char* name) const {
    MESSAGE(std::string(name) << ": max |legato - torch| values " << forward << ", gradients " << gradient);
  }
};

SafetensorsFile fixture(const std::string& name) {
  const std::string path = std::string(LEGATO_SOURCE_DIR) + "/tests/fixtures/" + name + ".safetensors";
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing fixture " << path << "; " << kRegenerate);
  return load_safetensors(path);
}

// Copies the fixture's "<prefix>state.<name>" tensors into the module's state
// dict, by PyTorch's names; every entry must be there with the same shape.
void load_state(nn::Module& m, const SafetensorsFile& f, const std::string& prefix = "") {
  for (auto& [name, t] : m.state_dict()) {
    const Tensor* src = f.find(prefix + "state." + name);
    REQUIRE_MESSAGE(src != nullptr, "fixture has no tensor '" << prefix << "state." << name << "'; " << kRegenerate);
    REQUIRE_MESSAGE(src->shape() == t.shape(), name << ": fixture shape " << shape_str(src->shape())
                                                    << " vs module shape " << shape_str(t.shape()));
    Tensor dst = t;
    std::memcpy(dst.data(), src->data(), sizeof(float) * static_cast<std::size_t>(t.numel()));
  }
}

Ids ids_of(const Tensor& values) {
  Ids ids{values.shape(), {}};
  for (float v : values.to_vector()) ids.values.push_back(static_cast<std::int32_t>(std::lround(v)));
  return ids;
}

// Values (worst = &Worst::forward) or gradients (&Worst::gradient) with their tolerance.
void compare(const std::string& what, const Tensor& actual, const Tensor& expected, float& worst, bool gradient) {
  const float atol = gradient ? kGradAtol : kValueAtol, rtol = gradient ? kGradRtol : kValueRtol;
  CAPTURE(what);
  REQUIRE_MESSAGE(actual.defined(), what << " is undefined (no gradient reached it)");
  REQUIRE_MESSAGE(actual.shape() == expected.shape(),
                  what << ": shape " << shape_str(actual.shape()) << " vs torch " << shape_str(expected.shape()));
  CHECK_MESSAGE(allclose(actual, expected, atol, rtol),
                what << ": " << describe_mismatches(actual, expected, atol, rtol) << "\n" << kRegenerate);
  worst = std::max(worst, max_abs_diff(actual, expected));
}

// Every parameter's gradient against "<prefix>grad.<name>".
void compare_parameter_grads(const nn::Module& m, const SafetensorsFile& f, Worst& worst, const std::string& prefix = "") {
  for (auto& [name, p] : m.named_parameters())
    compare("grad." + name, p.grad(), f.at(prefix + "grad." + name), worst.gradient, true);
}

Tensor flat(const std::vector<Tensor>& parts) {
  std::vector<Tensor> flats;
  for (const Tensor& t : parts) flats.push_back(reshape(t, {-1}));
  return concat(flats, 0);
}

}  // namespace

TEST_CASE("golden: Linear") {
  const auto f = fixture("golden_linear");
  nn::Linear m(6, 5);
  load_state(m, f);
  Tensor x = f.at("input").clone().set_requires_grad();
  const Tensor y = m.forward(x);
  Worst worst;
  compare("output", y, f.at("output"), worst.forward, false);
  y.backward(f.at("grad_output"));
  compare("grad.input", x.grad(), f.at("grad.input"), worst.gradient, true);
  compare_parameter_grads(m, f, worst);
  worst.report("Linear");
  // The comparison is sharp enough to see one weight off by 1e-4.
  m.weight.data()[3] += 1e-4f;
  CHECK_FALSE(allclose(m.forward(x), f.at("output"), kValueAtol, kValueRtol));
}

TEST_CASE("golden: Embedding") {
  const auto f = fixture("golden_embedding");
  nn::Embedding m(10, 4);
  load_state(m, f);
  const Tensor y = m.forward(ids_of(f.at("ids")));
  Worst worst;
  compare("output", y, f.at("output"), worst.forward, false);
  y.backward(f.at("grad_output"));
  compare_parameter_grads(m, f, worst);
  worst.report("Embedding");
}

TEST_CASE("golden: LSTM, 2 layers with initial state, fused and composed") {
  const auto f = fixture("golden_lstm");
  for (bool fused : {true, false}) {
    CAPTURE(fused);
    nn::LSTM m({.input_size = 5, .hidden_size = 8, .num_layers = 2, .use_fused = fused});
    load_state(m, f);
    Tensor x = f.at("input").clone().set_requires_grad();
    Tensor h0 = f.at("h0").clone().set_requires_grad(), c0 = f.at("c0").clone().set_requires_grad();
    const nn::LSTMState initial{h0, c0};
    const nn::LSTMOutput r = m.forward(x, &initial);
    Worst worst;
    compare("output", r.output, f.at("output"), worst.forward, false);
    compare("h_n", r.state.h, f.at("h_n"), worst.forward, false);
    compare("c_n", r.state.c, f.at("c_n"), worst.forward, false);
    flat({r.output, r.state.h, r.state.c}).backward(flat({f.at("grad_output"), f.at("grad_h_n"), f.at("grad_c_n")}));
    compare("grad.input", x.grad(), f.at("grad.input"), worst.gradient, true);
    compare("grad.h0", h0.grad(), f.at("grad.h0"), worst.gradient, true);
    compare("grad.c0", c0.grad(), f.at("grad.c0"), worst.gradient, true);
    compare_parameter_grads(m, f, worst);
    worst.report(fused ? "LSTM fused" : "LSTM composed");
  }
}

TEST_CASE("golden: LSTM on token ids = PyTorch's nn.LSTM(input_size=V) on one-hot input, batch_first") {
  const auto f = fixture("golden_lstm_ids");
  for (bool fused : {true, false}) {
    CAPTURE(fused);
    nn::LSTM m({.input_size = 7, .hidden_size = 6, .num_layers = 2, .batch_first = true, .use_fused = fused});
    load_state(m, f);
    const nn::LSTMOutput r = m.forward_ids(ids_of(f.at("ids")));
    Worst worst;
    compare("output", r.output, f.at("output"), worst.forward, false);
    compare("h_n", r.state.h, f.at("h_n"), worst.forward, false);
    compare("c_n", r.state.c, f.at("c_n"), worst.forward, false);
    flat({r.output, r.state.h, r.state.c}).backward(flat({f.at("grad_output"), f.at("grad_h_n"), f.at("grad_c_n")}));
    compare_parameter_grads(m, f, worst);
    worst.report(fused ? "LSTM ids fused" : "LSTM ids composed");
  }
}

TEST_CASE("golden: Conv1d with stride, padding and dilation") {
  const auto f = fixture("golden_conv1d");
  struct Case {
    const char* name;
    std::int64_t stride, padding, dilation;
  };
  const Case cases[] = {{"a", 1, 0, 1}, {"b", 2, 1, 1}, {"c", 1, 2, 2}};
  REQUIRE_MESSAGE(f.metadata.at("cases") == "a:stride=1,padding=0,dilation=1;b:stride=2,padding=1,dilation=1;"
                                            "c:stride=1,padding=2,dilation=2",
                  "the fixture's cases changed; " << kRegenerate);
  Worst worst;
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string p = std::string(c.name) + ".";
    nn::Conv1d m(3, 4, 3, c.stride, c.padding, c.dilation);
    load_state(m, f, p);
    Tensor x = f.at(p + "input").clone().set_requires_grad();
    const Tensor y = m.forward(x);
    compare("output", y, f.at(p + "output"), worst.forward, false);
    y.backward(f.at(p + "grad_output"));
    compare("grad.input", x.grad(), f.at(p + "grad.input"), worst.gradient, true);
    compare_parameter_grads(m, f, worst, p);
  }
  worst.report("Conv1d");
}

TEST_CASE("golden: ConvTranspose1d with stride 2") {
  const auto f = fixture("golden_conv_transpose");
  struct Case {
    const char* name;
    std::int64_t stride, padding, output_padding;
  };
  const Case cases[] = {{"a", 2, 1, 1}, {"b", 2, 0, 0}};
  REQUIRE_MESSAGE(f.metadata.at("cases") == "a:stride=2,padding=1,output_padding=1;b:stride=2,padding=0,output_padding=0",
                  "the fixture's cases changed; " << kRegenerate);
  Worst worst;
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string p = std::string(c.name) + ".";
    nn::ConvTranspose1d m(3, 2, 4, c.stride, c.padding, c.output_padding);
    load_state(m, f, p);
    Tensor x = f.at(p + "input").clone().set_requires_grad();
    const Tensor y = m.forward(x);
    compare("output", y, f.at(p + "output"), worst.forward, false);
    y.backward(f.at(p + "grad_output"));
    compare("grad.input", x.grad(), f.at(p + "grad.input"), worst.gradient, true);
    compare_parameter_grads(m, f, worst, p);
  }
  worst.report("ConvTranspose1d");
}

TEST_CASE("golden: BatchNorm1d in training (2-D and 3-D input) and eval mode") {
  const auto f = fixture("golden_batchnorm");
  Worst worst;
  for (auto [name, training] : {std::pair{"train3d", true}, std::pair{"train2d", true}, std::pair{"eval3d", false}}) {
    CAPTURE(name);
    const std::string p = std::string(name) + ".";
    nn::BatchNorm1d m(4, 1e-5f, 0.1f);
    load_state(m, f, p);
    m.train(training);
    Tensor x = f.at(p + "input").clone().set_requires_grad();
    const Tensor y = m.forward(x);
    compare("output", y, f.at(p + "output"), worst.forward, false);
    compare("running_mean", m.running_mean, f.at(p + "running_mean_after"), worst.forward, false);
    compare("running_var", m.running_var, f.at(p + "running_var_after"), worst.forward, false);
    y.backward(f.at(p + "grad_output"));
    compare("grad.input", x.grad(), f.at(p + "grad.input"), worst.gradient, true);
    compare_parameter_grads(m, f, worst, p);
  }
  worst.report("BatchNorm1d");
}

namespace {

// The fixture's TinyModel: embed -> lstm -> head, logits (T, B, V).
struct TinyModel : nn::Module {
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> head;
  TinyModel(std::int64_t V, std::int64_t E, std::int64_t H) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(V, E));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::LSTMOptions{.input_size = E, .hidden_size = H}));
    head = register_module("head", std::make_shared<nn::Linear>(H, V));
  }
  Tensor forward(const Ids& ids) { return head->forward(lstm->forward(embed->forward(ids)).output); }
};

}  // namespace

TEST_CASE("golden: Embedding -> LSTM -> Linear, cross entropy and five Adam steps") {
  const auto f = fixture("golden_model");
  const std::int64_t V = 12;
  TinyModel m(V, 6, 10);
  load_state(m, f);
  const Ids ids = ids_of(f.at("ids"));
  Ids targets = ids_of(f.at("targets"));
  targets.shape = {numel_of(targets.shape)};
  optim::Adam adam(m.parameters(), 0.01f);
  const Tensor torch_losses = f.at("losses");
  REQUIRE(torch_losses.numel() == 5);
  Worst worst;
  std::vector<float> losses;
  for (int step = 0; step < 5; ++step) {
    adam.zero_grad();
    const Tensor logits = m.forward(ids);
    const Tensor loss = cross_entropy(reshape(logits, {-1, V}), targets);
    loss.backward();
    if (step == 0) {
      compare("logits", logits, f.at("logits"), worst.forward, false);
      compare_parameter_grads(m, f, worst);
    }
    losses.push_back(loss.item());
    adam.step();
  }
  compare("losses", Tensor::from_vector({5}, losses), torch_losses, worst.forward, false);
  for (auto& [name, t] : m.state_dict()) compare("after." + name, t, f.at("after." + name), worst.forward, false);
  CHECK(losses[4] < losses[0]);  // it learns
  MESSAGE("losses legato " << losses[0] << " .. " << losses[4] << ", torch " << torch_losses.data()[0] << " .. "
                           << torch_losses.data()[4]);
  worst.report("model + Adam");
}

namespace {

// The seed's melody model in legato: token ids (one-hot V) -> LSTM(256) -> Linear(V).
struct SeedLSTM : nn::Module {
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> linear;
  SeedLSTM(std::int64_t V, std::int64_t H) {
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::LSTMOptions{.input_size = V, .hidden_size = H}));
    linear = register_module("linear", std::make_shared<nn::Linear>(H, V));
  }
  Tensor forward_ids(const Ids& ids) { return linear->forward(lstm->forward_ids(ids).output); }
};

}  // namespace

TEST_CASE("golden: a PyTorch export of the seed's LSTM (V=45, LSTM 256, Linear 45) reproduces its logits") {
  const std::string path = std::string(LEGATO_SOURCE_DIR) + "/tests/fixtures/golden_seed_lstm.safetensors";
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing fixture " << path << "; " << kRegenerate);
  SeedLSTM m(45, 256);
  // The checkpoint loader, by name; the file also holds the test's ids and logits.
  StateDictReport report;
  const SafetensorsFile f = load_module(path, m, /*strict=*/false, &report);
  CHECK(report.missing.empty());
  CHECK(report.unexpected == std::vector<std::string>{"ids", "logits"});
  const Ids ids = ids_of(f.at("ids"));
  REQUIRE(ids.shape == Shape{8, 2});
  Worst worst;
  NoGradGuard no_grad;
  for (bool fused : {true, false}) {
    CAPTURE(fused);
    m.lstm->set_use_fused(fused);
    compare("logits", m.forward_ids(ids), f.at("logits"), worst.forward, false);
    // The same through the dense one-hot input.
    compare("logits (one-hot)", m.linear->forward(m.lstm->forward(one_hot(ids, 45)).output), f.at("logits"),
            worst.forward, false);
  }
  worst.report("seed LSTM logits");
}

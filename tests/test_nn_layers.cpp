// nn layers: Module bookkeeping (names, order, modes, summary), PyTorch's
// default initialisers, and every layer through the gradient checker on its
// input and all its parameters. The ops behind Conv1d, ConvTranspose1d,
// BatchNorm1d and Dropout are checked against their plain-loop references.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {

// The input followed by every parameter of the module: CHECK_GRADIENTS then
// perturbs and checks the module's own parameter tensors (they are handles).
std::vector<Tensor> input_and_parameters(const Tensor& x, const nn::Module& m) {
  std::vector<Tensor> all{x};
  for (const Tensor& p : m.parameters()) all.push_back(p);
  return all;
}

std::vector<std::string> names_of(const nn::NamedTensors& list) {
  std::vector<std::string> names;
  for (auto& [name, t] : list) names.push_back(name);
  return names;
}

float max_abs(const Tensor& t) {
  float m = 0.f;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data()[i]));
  return m;
}

// A nested model: Sequential inside a custom module, with a BatchNorm (buffers).
struct Tiny : nn::Module {
  std::shared_ptr<nn::Sequential> body = register_module(
      "body", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
                  std::make_shared<nn::Linear>(6, 5), std::make_shared<nn::ReLU>(),
                  std::make_shared<nn::BatchNorm1d>(5)}));
  std::shared_ptr<nn::Linear> head = register_module("head", std::make_shared<nn::Linear>(5, 3, false));
  Tensor scale = register_parameter("scale", Tensor::ones({3}));

  Tensor forward(const Tensor& x) { return mul(head->forward(body->forward(x)), scale); }
  Tensor summary_forward(const Tensor& x) override { return forward(x); }
  std::string describe() const override { return "Tiny"; }
};

}  // namespace

// ------------------------------------------------------------- Module ----

TEST_CASE("Module: PyTorch's dotted names and order for parameters, buffers and state_dict") {
  Tiny m;
  // Own parameters first, then submodules in registration order (PyTorch's named_parameters).
  CHECK(names_of(m.named_parameters()) ==
        std::vector<std::string>{"scale", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias",
                                 "head.weight"});
  CHECK(names_of(m.named_buffers()) == std::vector<std::string>{"body.2.running_mean", "body.2.running_var"});
  // state_dict: per module, parameters then buffers (PyTorch's state_dict order).
  CHECK(names_of(m.state_dict()) ==
        std::vector<std::string>{"scale", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias",
                                 "body.2.running_mean", "body.2.running_var", "head.weight"});
  CHECK(m.parameter_count() == 3 + 6 * 5 + 5 + 5 + 5 + 5 * 3);
  CHECK(m.parameters().size() == 6);
  for (const Tensor& p : m.parameters()) CHECK(p.requires_grad());
  for (auto& [name, b] : m.named_buffers()) CHECK_FALSE(b.requires_grad());

  // state_dict tensors are handles on the module's storage.
  auto sd = m.state_dict();
  sd[6].second.data()[0] = 42.f;  // body.2.running_var
  auto& bn = dynamic_cast<nn::BatchNorm1d&>((*m.body)[2]);
  CHECK(bn.running_var.data()[0] == 42.f);
  CHECK(sd[7].second.shares_storage_with(m.head->weight));

  auto modules = m.named_modules();
  REQUIRE(modules.size() == 6);
  CHECK(modules[1].first == "body");
  CHECK(modules[4].first == "body.2");
  CHECK(modules[5].first == "head");
}

TEST_CASE("Module: zero_grad, train/eval propagate, and registration errors") {
  Tiny m;
  Rng rng(1);
  const Tensor x = Tensor::uniform({4, 6}, -1.f, 1.f, rng);
  sum(m.forward(x)).backward();
  for (const Tensor& p : m.parameters()) CHECK(p.grad().defined());
  m.zero_grad();
  for (const Tensor& p : m.parameters()) CHECK_FALSE(p.grad().defined());

  CHECK(m.is_training());
  m.eval();
  CHECK_FALSE(m.is_training());
  CHECK_FALSE((*m.body)[2].is_training());
  m.train();
  CHECK((*m.body)[2].is_training());

  CHECK_THROWS_WITH_AS(m.register_parameter("scale", Tensor::ones({1})),
                       "register_parameter: name 'scale' is already registered in Tiny", Error);
  CHECK_THROWS_WITH_AS(m.register_buffer("a.b", Tensor::ones({1})),
                       "register_buffer: name 'a.b' must not contain '.'", Error);
  CHECK_THROWS_WITH_AS(m.register_module("head", std::make_shared<nn::ReLU>()),
                       "register_module: name 'head' is already registered in Tiny", Error);
}

TEST_CASE("Module: share_parameters_of makes a replica that reads the master's weights and keeps its own gradients; "
          "add_replica_gradients sums them back") {
  nn::Linear master(4, 3), replica(4, 3);
  Rng rng(2);
  replica.weight.fill_(7.f);  // something the master does not hold
  replica.share_parameters_of(master);
  CHECK(replica.weight.shares_storage_with(master.weight));
  CHECK(replica.bias.shares_storage_with(master.bias));
  CHECK(replica.parameters()[0].shares_storage_with(master.weight));  // every handle sees it

  const Tensor x = Tensor::uniform({2, 4}, -1.f, 1.f, rng);
  sum(replica.forward(x)).backward();
  CHECK(replica.weight.grad().defined());
  CHECK_FALSE(master.weight.grad().defined());  // the gradient went to the replica alone
  const std::vector<float> before = master.forward(x).to_vector();
  CHECK(replica.forward(x).to_vector() == before);

  master.weight.data()[0] += 1.f;  // an optimiser step on the master, in place
  CHECK(replica.weight.data()[0] == master.weight.data()[0]);
  CHECK(replica.forward(x).to_vector() == master.forward(x).to_vector());

  // add_replica_gradients: master.grad += replica.grad, on two threads as on one.
  sum(master.forward(x)).backward();
  std::vector<float> expected = master.weight.grad().to_vector();
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += replica.weight.grad().data()[i];
  nn::add_replica_gradients(master.parameters(), {replica.parameters()}, 2);
  CHECK(master.weight.grad().to_vector() == expected);
  replica.zero_grad();
  CHECK_THROWS_WITH_AS(nn::add_replica_gradients(master.parameters(), {replica.parameters()}, 2),
                       "add_replica_gradients: parameter 0 of replica 0 has no gradient of the master's size", Error);

  nn::Linear other(5, 3);
  CHECK_THROWS_WITH_AS(other.share_parameters_of(master),
                       "Tensor::share_storage_of: a tensor of shape (3, 5) on cpu cannot share the storage of one of "
                       "shape (3, 4) on cpu",
                       Error);
}

TEST_CASE("Module: summary lists each layer with output shape and parameter count, and changes no state") {
  Tiny m;
  m.train();
  auto& bn = dynamic_cast<nn::BatchNorm1d&>((*m.body)[2]);
  const std::vector<float> mean_before = bn.running_mean.to_vector();
  const std::string text = m.summary({7, 6});
  MESSAGE(text);
  CHECK(text.find("body.0: Linear(in=6, out=5, bias)") != std::string::npos);
  CHECK(text.find("(7, 5)") != std::string::npos);
  CHECK(text.find("body.1: ReLU") != std::string::npos);
  CHECK(text.find("body.2: BatchNorm1d(5, eps=1e-05, momentum=0.1)") != std::string::npos);
  CHECK(text.find("head: Linear(in=5, out=3, no bias)") != std::string::npos);
  CHECK(text.find("(7, 3)") != std::string::npos);
  CHECK(text.find("Total params: 63") != std::string::npos);
  CHECK(text.find("Buffers (not trained): 10 values") != std::string::npos);
  // Rows come in call order: the Linear row before the ReLU row before the head.
  CHECK(text.find("body.0:") < text.find("body.1:"));
  CHECK(text.find("body.2:") < text.find("head:"));
  CHECK(m.is_training());  // the mode is restored
  CHECK(bn.running_mean.to_vector() == mean_before);  // eval mode inside: no statistics update

  std::ostringstream tree;
  tree << m;
  CHECK(tree.str() ==
        "Tiny  [63 params]\n"
        "  body: Sequential(3 layers)  [45 params]\n"
        "    0: Linear(in=6, out=5, bias)  [35 params]\n"
        "    1: ReLU  [0 params]\n"
        "    2: BatchNorm1d(5, eps=1e-05, momentum=0.1)  [10 params]\n"
        "  head: Linear(in=5, out=3, no bias)  [15 params]\n");

  nn::Sequential seq{std::make_shared<nn::Linear>(1000, 1000)};
  CHECK(seq.summary({2, 1000}).find("1,001,000") != std::string::npos);  // Keras-style thousands
  nn::Module bare;
  CHECK_THROWS_WITH_AS(bare.summary({1}), doctest::Contains("has no single-tensor forward"), Error);
}

// ---------------------------------------------------------- initialisers ----

TEST_CASE("initialisers follow PyTorch's defaults") {
  Rng rng(5);
  nn::Linear lin(400, 300, true, rng);
  const float b_lin = 1.f / std::sqrt(400.f);
  CHECK(max_abs(lin.weight) <= b_lin);
  CHECK(max_abs(lin.weight) > 0.99f * b_lin);  // uses the whole range
  CHECK(max_abs(lin.bias) <= b_lin);
  CHECK(max_abs(lin.bias) > 0.9f * b_lin);

  nn::Conv1d conv(8, 16, 5, 1, 0, 1, true, rng);  // fan_in = 8 * 5
  CHECK(max_abs(conv.weight) <= 1.f / std::sqrt(40.f));
  CHECK(max_abs(conv.weight) > 0.95f / std::sqrt(40.f));
  nn::ConvTranspose1d convt(8, 16, 5, 2, 0, 0, true, 1, rng);  // PyTorch's fan_in = 16 * 5
  CHECK(max_abs(convt.weight) <= 1.f / std::sqrt(80.f));
  CHECK(max_abs(convt.weight) > 0.95f / std::sqrt(80.f));
  CHECK(max_abs(convt.bias) <= 1.f / std::sqrt(80.f));

  nn::Embedding emb(200, 100, rng);  // N(0, 1)
  double s = 0, s2 = 0;
  for (float v : emb.weight.to_vector()) s += v, s2 += double(v) * v;
  const double n = 200 * 100, mean = s / n, var = s2 / n - mean * mean;
  CHECK(std::fabs(mean) < 0.02);
  CHECK(std::fabs(var - 1.0) < 0.03);

  nn::LSTM lstm({.input_size = 10, .hidden_size = 64, .num_layers = 2}, rng);  // U(+-1/sqrt(H))
  for (const Tensor& p : lstm.parameters()) {
    CHECK(max_abs(p) <= 0.125f);
    CHECK(max_abs(p) > 0.11f);
  }

  nn::BatchNorm1d bn(4);
  CHECK(bn.weight.to_vector() == std::vector<float>(4, 1.f));
  CHECK(bn.bias.to_vector() == std::vector<float>(4, 0.f));
  CHECK(bn.running_var.to_vector() == std::vector<float>(4, 1.f));

  // The same seed gives the same layer.
  Rng r1(9), r2(9);
  CHECK(allclose(nn::Linear(3, 4, true, r1).weight, nn::Linear(3, 4, true, r2).weight, 0, 0));
}

// -------------------------------------------------- Linear and Embedding ----

TEST_CASE("Linear: forward as x W^T + b and gradients on input and parameters") {
  Rng rng(11);
  for (bool with_bias : {true, false}) {
    nn::Linear lin(4, 3, with_bias, rng);
    CHECK(lin.parameters().size() == (with_bias ? 2u : 1u));
    const Tensor x = random_leaf({2, 5, 4}, rng);
    const Tensor y = lin.forward(x);
    CHECK(y.shape() == Shape{2, 5, 3});
    CHECK(allclose(y, linear_ref(x, lin.weight, lin.bias), 1e-6f, 1e-5f));
    CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return lin.forward(in[0]); }, input_and_parameters(x, lin));
  }
  nn::Linear lin(4, 3);
  CHECK_THROWS_WITH_AS(lin.forward(Tensor::zeros({2, 5})), doctest::Contains("linear: input (2, 5)"), Error);
  CHECK_THROWS_AS(nn::Linear(0, 3), Error);
}

TEST_CASE("Embedding: rows of the table by id, gradient into the table") {
  Rng rng(12);
  nn::Embedding emb(7, 3, rng);
  const Ids ids{{2, 3}, {0, 6, 2, 2, 5, 1}};
  const Tensor y = emb.forward(ids);
  REQUIRE(y.shape() == Shape{2, 3, 3});
  for (int e = 0; e < 3; ++e) {
    CHECK(y.at({0, 1, e}) == emb.weight.at({6, e}));
    CHECK(y.at({1, 0, e}) == emb.weight.at({2, e}));
  }
  CHECK_GRADIENTS([&](const std::vector<Tensor>&) { return emb.forward(ids); }, {emb.weight});
  CHECK_THROWS_WITH_AS(emb.forward(Ids{{1}, {7}}), doctest::Contains("id 7"), Error);
  CHECK(emb.summary({2, 4}).find("Embedding(num=7, dim=3)") != std::string::npos);
}

// ------------------------------------------ activations, shapes, Sequential ----

TEST_CASE("activation modules, Flatten, Reshape and Sequential") {
  Rng rng(13);
  const Tensor x = random_leaf({2, 3, 4}, rng);
  CHECK(allclose(nn::ReLU().forward(x), relu_ref(x), 0, 0));
  CHECK(allclose(nn::LeakyReLU(0.2f).forward(x), leaky_relu_ref(x, 0.2f), 0, 0));
  CHECK(allclose(nn::Tanh().forward(x), tanh_ref(x), 1e-6f, 0));
  CHECK(allclose(nn::Sigmoid().forward(x), sigmoid_ref(x), 1e-6f, 0));
  // Each activation module through the checker, on values away from ReLU's kink at 0.
  Tensor away = Tensor::uniform({3, 4}, 0.1f, 1.f, rng);
  for (std::int64_t i = 0; i < away.numel(); i += 2) away.data()[i] = -away.data()[i];
  away.set_requires_grad();
  for (std::shared_ptr<nn::UnaryModule> act : std::vector<std::shared_ptr<nn::UnaryModule>>{
           std::make_shared<nn::ReLU>(), std::make_shared<nn::LeakyReLU>(0.2f), std::make_shared<nn::Tanh>(),
           std::make_shared<nn::Sigmoid>()}) {
    CAPTURE(act->describe());
    CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return act->forward(in[0]); }, {away});
  }
  CHECK(nn::Flatten().forward(x).shape() == Shape{2, 12});
  CHECK(nn::Flatten(0, 1).forward(x).shape() == Shape{6, 4});
  CHECK(nn::Reshape({-1, 4, 3}).forward(x).shape() == Shape{2, 4, 3});
  CHECK_THROWS_AS(nn::Reshape({5, -1}).forward(x), Error);

  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Flatten>())
      .add(std::make_shared<nn::Linear>(12, 8, true, rng))
      .add(std::make_shared<nn::Tanh>())  // smooth: finite differences across a ReLU kink are meaningless
      .add(std::make_shared<nn::Linear>(8, 6, true, rng))
      .add(std::make_shared<nn::Tanh>())
      .add(std::make_shared<nn::Reshape>(Shape{-1, 2, 3}))
      .add(std::make_shared<nn::Sigmoid>());
  CHECK(net->size() == 7);
  CHECK(names_of(net->named_parameters()) == std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias"});
  const Tensor y = net->forward(x);
  CHECK(y.shape() == Shape{2, 2, 3});
  // Same as applying the layers by hand.
  Tensor manual = x;
  for (std::size_t i = 0; i < net->size(); ++i) manual = (*net)[i].forward(manual);
  CHECK(allclose(y, manual, 0, 0));
  CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return net->forward(in[0]); }, input_and_parameters(x, *net));
  CHECK_THROWS_WITH_AS((*net)[7], "Sequential: index 7 is out of range for 7 layers", Error);
}

// ---------------------------------------------------------------- Dropout ----

TEST_CASE("Dropout: inverted, seeded, identity in eval, gradient through the fixed mask") {
  const Tensor x = Tensor::ones({200, 50});
  nn::Dropout d(0.3f, 99);
  const Tensor y = d.forward(x);
  std::int64_t zeros = 0;
  for (float v : y.to_vector()) {
    CHECK((v == 0.f || std::fabs(v - 1.f / 0.7f) < 1e-6f));
    zeros += v == 0.f;
  }
  CHECK(std::fabs(double(zeros) / 10000.0 - 0.3) < 0.02);
  d.reseed(99);
  CHECK(allclose(d.forward(x), y, 0, 0));  // same seed, same mask
  CHECK_FALSE(allclose(d.forward(x), y, 0, 0));  // the generator moved on
  d.eval();
  CHECK(allclose(d.forward(x), x, 0, 0));
  CHECK(allclose(nn::Dropout(0.f).forward(x), x, 0, 0));
  CHECK(max_abs(nn::Dropout(1.f).forward(x)) == 0.f);

  Rng rng(14);
  d.train();
  CHECK_GRADIENTS(
      [&](const std::vector<Tensor>& in) {
        d.reseed(7);  // the same mask on every evaluation
        return d.forward(in[0]);
      },
      {random_leaf({4, 6}, rng)});
  const Tensor mask = dropout_mask({3, 4}, 0.5f, rng);
  const Tensor a = random_leaf({3, 4}, rng);
  CHECK(allclose(dropout(a, mask), dropout_ref(a, mask), 0, 0));
  CHECK_THROWS_WITH_AS(dropout(a, Tensor::ones({4, 3})),
                       "dropout: mask of shape (4, 3) does not match the input of shape (3, 4)", Error);
  CHECK_THROWS_AS(nn::Dropout(1.5f), Error);
}

// -------------------------------------------------------------- BatchNorm ----

TEST_CASE("BatchNorm1d training: batch statistics, running statistics with momentum and unbiased variance") {
  Rng rng(15);
  for (const Shape& shape : {Shape{6, 3}, Shape{4, 3, 5}}) {
    CAPTURE(shape_str(shape));
    nn::BatchNorm1d bn(3, 1e-5f, 0.1f);
    nn::init::uniform_(bn.weight, 0.5f, 1.5f, rng);
    nn::init::uniform_(bn.bias, -0.5f, 0.5f, rng);
    const Tensor x = random_leaf(shape, rng, -2.f, 3.f);
    const Tensor y = bn.forward(x);
    CHECK(allclose(y, batch_norm_ref(x, bn.weight, bn.bias, Tensor(), Tensor(), true), 1e-5f, 1e-5f));
    // Running statistics by hand: mean and unbiased variance per channel.
    const std::int64_t n = shape[0], l = shape.size() == 3 ? shape[2] : 1;
    for (std::int64_t c = 0; c < 3; ++c) {
      double s = 0, s2 = 0;
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < l; ++j) {
          const double v = x.data()[(i * 3 + c) * l + j];
          s += v;
          s2 += v * v;
        }
      const double m = double(n * l), mean = s / m, unbiased = (s2 - m * mean * mean) / (m - 1);
      CHECK(bn.running_mean.data()[c] == doctest::Approx(0.1 * mean).epsilon(1e-5));
      CHECK(bn.running_var.data()[c] == doctest::Approx(0.9 + 0.1 * unbiased).epsilon(1e-5));
    }
    CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return bn.forward(in[0]); }, input_and_parameters(x, bn));
  }
  nn::BatchNorm1d bn(3);
  CHECK_THROWS_WITH_AS(bn.forward(Tensor::zeros({1, 3})), doctest::Contains("more than 1 value per channel"), Error);
  CHECK_THROWS_WITH_AS(bn.forward(Tensor::zeros({4, 2})),
                       doctest::Contains("batch_norm: weight of shape (3,) does not match the input of shape (4, 2)"),
                       Error);
}

TEST_CASE("BatchNorm1d eval: running statistics, no update, gradients") {
  Rng rng(16);
  for (const Shape& shape : {Shape{5, 4}, Shape{2, 4, 3}}) {
    nn::BatchNorm1d bn(4);
    nn::init::uniform_(bn.running_mean, -1.f, 1.f, rng);
    nn::init::uniform_(bn.running_var, 0.5f, 2.f, rng);
    nn::init::uniform_(bn.weight, 0.5f, 1.5f, rng);
    nn::init::uniform_(bn.bias, -0.5f, 0.5f, rng);
    bn.eval();
    const Tensor rm = bn.running_mean.clone(), rv = bn.running_var.clone();
    const Tensor x = random_leaf(shape, rng);
    CHECK(allclose(bn.forward(x), batch_norm_ref(x, bn.weight, bn.bias, rm, rv, false), 1e-6f, 1e-5f));
    CHECK(allclose(bn.running_mean, rm, 0, 0));
    CHECK(allclose(bn.running_var, rv, 0, 0));
    CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return bn.forward(in[0]); }, input_and_parameters(x, bn));
  }
}

// ------------------------------------------------------------------- Conv ----

TEST_CASE("conv1d matches the plain loops for stride, padding, dilation, with and without bias") {
  Rng rng(17);
  struct Case {
    std::int64_t n, c_in, l, c_out, k, stride, padding, dilation;
    bool bias;
  };
  for (const Case& c : {Case{2, 3, 10, 4, 3, 1, 0, 1, true}, Case{1, 2, 11, 3, 4, 2, 1, 1, true},
                        Case{3, 1, 9, 2, 2, 1, 2, 3, false}, Case{2, 4, 7, 5, 1, 3, 0, 1, true},
                        Case{1, 2, 3, 2, 5, 1, 2, 1, true}}) {
    CAPTURE(c.stride);
    CAPTURE(c.padding);
    CAPTURE(c.dilation);
    const Tensor x = random_leaf({c.n, c.c_in, c.l}, rng);
    const Tensor w = random_leaf({c.c_out, c.c_in, c.k}, rng);
    const Tensor b = c.bias ? random_leaf({c.c_out}, rng) : Tensor();
    const Tensor y = conv1d(x, w, b, c.stride, c.padding, c.dilation);
    CHECK(y.shape() == Shape{c.n, c.c_out, conv1d_out_length(c.l, c.k, c.stride, c.padding, c.dilation)});
    CHECK(allclose(y, conv1d_ref(x, w, b, c.stride, c.padding, c.dilation), 1e-5f, 1e-5f));
    CHECK_GRADIENTS(
        [&](const std::vector<Tensor>& in) {
          return conv1d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.dilation);
        },
        c.bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w});
  }
  CHECK_THROWS_WITH_AS(conv1d(Tensor::zeros({1, 3, 8}), Tensor::zeros({4, 2, 3}), Tensor()),
                       "conv1d: input of shape (1, 3, 8) has 3 channels but the weight of shape (4, 2, 3) expects 2",
                       Error);
  CHECK_THROWS_WITH_AS(conv1d(Tensor::zeros({1, 2, 2}), Tensor::zeros({4, 2, 3}), Tensor()),
                       doctest::Contains("is shorter than the dilated kernel"), Error);
  CHECK_THROWS_AS(conv1d(Tensor::zeros({2, 8}), Tensor::zeros({4, 2, 3}), Tensor()), Error);
}

TEST_CASE("conv_transpose1d matches the plain loops and is the adjoint of conv1d") {
  Rng rng(18);
  struct Case {
    std::int64_t n, c_in, l, c_out, k, stride, padding, output_padding, dilation;
  };
  for (const Case& c : {Case{2, 3, 5, 4, 4, 2, 1, 0, 1}, Case{1, 2, 6, 3, 3, 2, 0, 1, 1},
                        Case{2, 2, 4, 2, 3, 1, 1, 0, 2}, Case{1, 3, 3, 2, 5, 3, 2, 2, 1}}) {
    CAPTURE(c.stride);
    CAPTURE(c.padding);
    CAPTURE(c.output_padding);
    const Tensor x = random_leaf({c.n, c.c_in, c.l}, rng);
    const Tensor w = random_leaf({c.c_in, c.c_out, c.k}, rng);
    const Tensor b = random_leaf({c.c_out}, rng);
    const Tensor y = conv_transpose1d(x, w, b, c.stride, c.padding, c.output_padding, c.dilation);
    const std::int64_t lo = conv_transpose1d_out_length(c.l, c.k, c.stride, c.padding, c.output_padding, c.dilation);
    CHECK(y.shape() == Shape{c.n, c.c_out, lo});
    CHECK(allclose(y, conv_transpose1d_ref(x, w, b, c.stride, c.padding, c.output_padding, c.dilation), 1e-5f, 1e-5f));
    CHECK_GRADIENTS(
        [&](const std::vector<Tensor>& in) {
          return conv_transpose1d(in[0], in[1], in[2], c.stride, c.padding, c.output_padding, c.dilation);
        },
        {x, w, b});
    // <conv(u), x> = <u, conv_transpose(x)> for the same weight (no bias): the two are adjoint.
    const Tensor u = Tensor::uniform({c.n, c.c_out, lo}, -1.f, 1.f, rng);
    const Tensor cu = conv1d(u, w, Tensor(), c.stride, c.padding, c.dilation);
    REQUIRE(cu.shape() == x.shape());
    const Tensor ty = conv_transpose1d(x, w, Tensor(), c.stride, c.padding, c.output_padding, c.dilation);
    double lhs = 0, rhs = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i) lhs += double(cu.data()[i]) * x.data()[i];
    for (std::int64_t i = 0; i < u.numel(); ++i) rhs += double(u.data()[i]) * ty.data()[i];
    CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5));
  }
  CHECK_THROWS_WITH_AS(conv_transpose1d(Tensor::zeros({1, 2, 4}), Tensor::zeros({2, 3, 3}), Tensor(), 2, 0, 2),
                       "conv_transpose1d: output_padding 2 must be smaller than the stride 2 or the dilation 1", Error);
}

TEST_CASE("Conv1d and ConvTranspose1d modules pass the gradient checker on input and parameters") {
  Rng rng(19);
  nn::Conv1d conv(3, 4, 3, 2, 1, 2, true, rng);
  const Tensor x = random_leaf({2, 3, 9}, rng);
  CHECK(conv.forward(x).shape() == Shape{2, 4, 4});
  CHECK(names_of(conv.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return conv.forward(in[0]); }, input_and_parameters(x, conv));

  nn::ConvTranspose1d up(3, 2, 4, 2, 1, 0, true, 1, rng);  // doubles the length
  CHECK(up.forward(x).shape() == Shape{2, 2, 18});
  CHECK(up.weight.shape() == Shape{3, 2, 4});
  CHECK_GRADIENTS([&](const std::vector<Tensor>& in) { return up.forward(in[0]); }, input_and_parameters(x, up));

  nn::Conv1d no_bias(3, 2, 1, 1, 0, 1, false, rng);
  CHECK(no_bias.parameters().size() == 1);
  CHECK(no_bias.describe() == "Conv1d(3, 2, kernel=1, stride=1, padding=0, dilation=1, no bias)");
}

// Checkpoints: state dicts saved to and loaded from safetensors by name, with
// clear errors for missing, unexpected and mis-shaped tensors; modules; a
// PyTorch BatchNorm state dict with its int64 counter.
#include <doctest/doctest.h>

#include <cmath>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "gradcheck.hpp"
#include "legato/io.hpp"

using namespace legato;
using legato::testing::error_of;
namespace fs = std::filesystem;

namespace {

// A two-level module: parameters, a buffer and a child, as a layer would register them.
struct Child : nn::Module {
  Tensor weight, running_mean;
  explicit Child(Rng& rng) {
    weight = register_parameter("weight", Tensor::normal({3, 2}, 0.f, 1.f, rng));
    running_mean = register_buffer("running_mean", Tensor::normal({3}, 0.f, 1.f, rng));
  }
};
struct Net : nn::Module {
  Tensor scale;
  std::shared_ptr<Child> body;
  explicit Net(std::uint64_t seed) {
    Rng rng(seed);
    scale = register_parameter("scale", Tensor::normal({1}, 0.f, 1.f, rng));
    body = register_module("body", std::make_shared<Child>(rng));
  }
};

}  // namespace

TEST_CASE("a state dict saved and loaded by name lands in the module's own tensors") {
  TemporaryFolder dir("legato_test_checkpoint");
  const std::string path = dir.file("net.safetensors");
  Net a(1), b(2);
  CHECK(max_abs_diff(a.body->weight, b.body->weight) > 0.f);
  save_module(path, a, {{"hidden", "3"}});
  const SafetensorsFile file = load_module(path, b);
  CHECK(file.metadata.at("hidden") == "3");
  CHECK(max_abs_diff(a.scale, b.scale) == 0.f);
  CHECK(max_abs_diff(a.body->weight, b.body->weight) == 0.f);  // b's own handles now hold a's values
  CHECK(max_abs_diff(a.body->running_mean, b.body->running_mean) == 0.f);
  CHECK(b.body->weight.requires_grad());  // still a trainable leaf

  std::vector<std::string> names;
  for (auto& [name, t] : file.tensors) names.push_back(name);
  CHECK(names == std::vector<std::string>{"scale", "body.weight", "body.running_mean"});  // PyTorch's order

  // The plain vector form does the same.
  Net c(3);
  const StateDictReport report = load_state_dict(c.state_dict(), load_safetensors(path));
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  CHECK(max_abs_diff(a.body->weight, c.body->weight) == 0.f);
}

TEST_CASE("missing, unexpected and mis-shaped tensors are named; a failed load changes nothing") {
  TemporaryFolder dir("legato_test_checkpoint");
  const std::string path = dir.file("partial.safetensors");
  Rng rng(9);
  const Tensor w = Tensor::normal({3, 2}, 0.f, 1.f, rng);
  save_state_dict(path, {{"body.weight", w}, {"extra.bias", Tensor::ones({4})}});

  Net net(4);
  const Tensor before = net.body->weight.clone();
  const std::string quoted = "'" + path + "'";
  CHECK(error_of([&] { load_module(path, net); }) ==
        "load_state_dict: " + quoted + " lacks 2 tensor(s) of the module: 'scale', 'body.running_mean'");
  CHECK(max_abs_diff(net.body->weight, before) == 0.f);  // untouched

  save_state_dict(path, {{"scale", Tensor::ones({1})},
                         {"body.weight", w},
                         {"body.running_mean", Tensor::ones({3})},
                         {"extra.bias", Tensor::ones({4})}});
  CHECK(error_of([&] { load_module(path, net); }) ==
        "load_state_dict: " + quoted +
            " has 1 tensor(s) the module does not: 'extra.bias' (pass strict = false to ignore them)");
  CHECK(max_abs_diff(net.body->weight, before) == 0.f);

  // Non-strict: loads what matches and reports the rest.
  save_state_dict(path, {{"body.weight", w}, {"extra.bias", Tensor::ones({4})}});
  StateDictReport report;
  load_module(path, net, /*strict=*/false, &report);
  CHECK(report.missing == std::vector<std::string>{"scale", "body.running_mean"});
  CHECK(report.unexpected == std::vector<std::string>{"extra.bias"});
  CHECK(max_abs_diff(net.body->weight, w) == 0.f);

  // A shape mismatch is an error in both modes, naming the tensor and both shapes.
  save_state_dict(path, {{"body.weight", Tensor::zeros({2, 3})}});
  for (bool strict : {true, false})
    CHECK(error_of([&] { load_module(path, net, strict); }) ==
          "load_state_dict: tensor 'body.weight' has shape (2, 3) in " + quoted + " but (3, 2) in the module");
  CHECK(max_abs_diff(net.body->weight, w) == 0.f);

  // A NaN or inf weight (a run that diverged, a damaged file) is refused in
  // both modes, naming the tensor and the element, and nothing is copied.
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    Tensor damaged = w.clone();
    damaged.data()[4] = bad;
    save_state_dict(path, {{"body.weight", damaged}});
    for (bool strict : {true, false}) {
      const std::string message = error_of([&] { load_module(path, net, strict); });
      CHECK_MESSAGE(message.rfind("load_state_dict: tensor 'body.weight' in " + quoted + " holds ", 0) == 0, message);
      CHECK_MESSAGE(message.find(" at element 4 (a diverged run or a damaged file)") != std::string::npos, message);
    }
    CHECK(max_abs_diff(net.body->weight, w) == 0.f);
  }

  // The destination may not name a tensor twice.
  const Tensor t = Tensor::zeros({1});
  CHECK(error_of([&] { load_state_dict({{"x", t}, {"x", t}}, SafetensorsFile{}); }) ==
        "load_state_dict: the destination names 'x' twice");

  // A damaged checkpoint is reported as such.
  CHECK(error_of([&] { load_module(dir.file("absent.safetensors"), net); }) ==
        "safetensors '" + dir.file("absent.safetensors") + "': no such file");
}

TEST_CASE("a PyTorch BatchNorm1d state dict loads, skipping its int64 num_batches_tracked") {
  const std::string path = LEGATO_SOURCE_DIR "/tests/fixtures/io_torch_bn.safetensors";
  StateDict dest{{"bn.weight", Tensor::zeros({3})},
                 {"bn.bias", Tensor::zeros({3})},
                 {"bn.running_mean", Tensor::zeros({3})},
                 {"bn.running_var", Tensor::zeros({3})}};
  load_checkpoint(path, dest);  // strict: every other name matches
  CHECK(dest[0].second.to_vector() == std::vector<float>{1.f, 1.f, 1.f});  // torch's default init
  CHECK(dest[1].second.to_vector() == std::vector<float>{0.f, 0.f, 0.f});
  // After one training batch: running_mean = 0.1 * batch mean, running_var = 0.9 + 0.1 * unbiased var.
  for (float m : dest[2].second.to_vector()) CHECK(m != 0.f);
  for (float v : dest[3].second.to_vector()) CHECK((v > 0.9f && v < 1.5f));
}

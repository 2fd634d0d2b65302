#pragma once
// melody_gan's configuration: architecture, data layout, optimiser and
// training schedule. It travels in the checkpoint's metadata (every field as
// text under "gan.<name>"), so generate and evaluate rebuild the exact model.
//
// Defaults per architecture follow the seed (spec §7.2-7.4):
//   simple : latent 200, sequence 20, Adam lr G 2e-4, D 2e-4   (gan.ipynb)
//   conv   : latent 100, sequence 30, Adam lr G 2e-4, D 1e-4   (gan2.ipynb)
//   complex: latent 100, sequence 30, Adam lr G 2e-4, D 1e-4   (gan2.ipynb)
// batch 32, 100 epochs, betas (0.5, 0.999), one D step per G step.

#include <cstdint>
#include <map>
#include <string>

#include "legato/util/error.hpp"

namespace melody_gan {

struct GanConfig {
  std::string arch = "simple";  // simple | conv | complex
  bool separate = false;        // two GANs (notes, durations) as the seed; default one GAN over 2 channels
  bool seed_range = false;      // data in [0, 1] against tanh's (-1, 1), as the seed; default scales to [-1, 1]
  long latent = 0;              // 0 = the architecture's default
  long seq_len = 0;             // events per sample L; 0 = the architecture's default
  long batch = 32;
  long epochs = 100;
  long d_steps = 1;             // discriminator updates per generator update
  double lr_g = 2e-4;
  double lr_d = 0;              // 0 = the architecture's default
  double beta1 = 0.5, beta2 = 0.999;
  std::uint64_t seed = 1;       // weights, batch order, z and dropout

  // Fills the architecture's defaults for the fields left at 0.
  void resolve() {
    const bool simple = arch == "simple";
    if (latent == 0) latent = simple ? 200 : 100;
    if (seq_len == 0) seq_len = simple ? 20 : 30;
    if (lr_d == 0) lr_d = simple ? 2e-4 : 1e-4;
  }

  void validate() const {
    legato::check(arch == "simple" || arch == "conv" || arch == "complex", "--arch must be simple, conv or complex, got '",
                  arch, "'");
    legato::check(latent >= 1 && latent <= 4096, "--latent must be between 1 and 4096, got ", latent);
    legato::check(seq_len >= 1 && seq_len <= 100, "--seq-len must be between 1 and 100 (E-2SEQ holds 100 events), got ",
                  seq_len);
    legato::check(batch >= 2 && batch <= 4096, "--batch must be between 2 and 4096 (BatchNorm needs 2), got ", batch);
    legato::check(epochs >= 1 && epochs <= 100000, "--epochs must be between 1 and 100000, got ", epochs);
    legato::check(d_steps >= 1 && d_steps <= 100, "--d-steps must be between 1 and 100, got ", d_steps);
    legato::check(lr_g > 0 && lr_g < 1 && lr_d > 0 && lr_d < 1, "learning rates must be in (0, 1), got --lr-g ", lr_g,
                  " --lr-d ", lr_d);
  }

  // Channels per GAN: 2 (notes, durations) jointly, 1 each when separate.
  int channels() const { return separate ? 1 : 2; }

  std::map<std::string, std::string> to_metadata() const {
    auto num = [](double v) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      return std::string(buf);
    };
    return {{"format", "melody_gan/1"},
            {"gan.arch", arch},
            {"gan.separate", separate ? "1" : "0"},
            {"gan.seed_range", seed_range ? "1" : "0"},
            {"gan.latent", std::to_string(latent)},
            {"gan.seq_len", std::to_string(seq_len)},
            {"gan.batch", std::to_string(batch)},
            {"gan.epochs", std::to_string(epochs)},
            {"gan.d_steps", std::to_string(d_steps)},
            {"gan.lr_g", num(lr_g)},
            {"gan.lr_d", num(lr_d)},
            {"gan.beta1", num(beta1)},
            {"gan.beta2", num(beta2)},
            {"gan.seed", std::to_string(seed)}};
  }

  // The configuration stored in a checkpoint; `source` names the file in errors.
  static GanConfig from_metadata(const std::map<std::string, std::string>& m, const std::string& source) {
    auto get = [&](const std::string& key) -> const std::string& {
      const auto found = m.find(key);
      legato::check(found != m.end(), source, ": not a melody_gan checkpoint (metadata lacks '", key, "')");
      return found->second;
    };
    auto integer = [&](const std::string& key) {
      const std::string& v = get(key);
      char* end = nullptr;
      const long long x = std::strtoll(v.c_str(), &end, 10);
      legato::check(!v.empty() && *end == '\0', source, ": metadata '", key, "' is not an integer: '", v, "'");
      return x;
    };
    auto real = [&](const std::string& key) {
      const std::string& v = get(key);
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      legato::check(!v.empty() && *end == '\0', source, ": metadata '", key, "' is not a number: '", v, "'");
      return x;
    };
    auto flag = [&](const std::string& key) {
      const std::string& v = get(key);
      legato::check(v == "0" || v == "1", source, ": metadata '", key, "' is not 0 or 1: '", v, "'");
      return v == "1";
    };
    legato::check(get("format") == "melody_gan/1", source, ": format '", get("format"), "' is not melody_gan/1");
    GanConfig c;
    c.arch = get("gan.arch");
    c.separate = flag("gan.separate");
    c.seed_range = flag("gan.seed_range");
    c.latent = static_cast<long>(integer("gan.latent"));
    c.seq_len = static_cast<long>(integer("gan.seq_len"));
    c.batch = static_cast<long>(integer("gan.batch"));
    c.epochs = static_cast<long>(integer("gan.epochs"));
    c.d_steps = static_cast<long>(integer("gan.d_steps"));
    c.lr_g = real("gan.lr_g");
    c.lr_d = real("gan.lr_d");
    c.beta1 = real("gan.beta1");
    c.beta2 = real("gan.beta2");
    c.seed = static_cast<std::uint64_t>(integer("gan.seed"));
    try {
      c.validate();
    } catch (const legato::Error& e) {
      legato::fail(source, ": bad configuration in the metadata: ", e.what());
    }
    return c;
  }

  std::string describe() const {
    char buf[256];
    std::snprintf(buf, sizeof buf, "arch %s, %s, data %s, latent %ld, L %ld, batch %ld, D:G %ld:1, lr G %g D %g",
                  arch.c_str(), separate ? "separate notes/durations GANs" : "joint 2-channel GAN",
                  seed_range ? "[0,1] (seed)" : "[-1,1]", latent, seq_len, batch, d_steps, lr_g, lr_d);
    return buf;
  }
};

}  // namespace melody_gan

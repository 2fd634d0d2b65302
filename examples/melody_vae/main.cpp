// melody_vae: the seed's second-generation VAEs, rebuilt faithfully
// (`--arch seed-notes`, `--arch seed-rhythm`), and the VAE its report meant:
// the correct reparameterisation and a categorical output per position for
// pitch and duration, either with one latent code for the whole 100-event
// melody (`--arch mlp`) or, the default, with convolutional bodies, a latent
// column per 4 events, a code for the whole melody and a length head
// (`--arch conv`, sequence_vae.hpp; docs/results_vae.md says why).
//
//   melody_vae train --corpus /data/esac/han --out vae.safetensors
//   melody_vae evaluate --model vae.safetensors --corpus /data/esac/han
//   melody_vae generate --model vae.safetensors --count 8 --out-dir out/vae
//   melody_vae generate --model vae.safetensors --from han0001.krn --variation 0.5 --out-dir out/vae
//   melody_vae generate --model vae.safetensors --interpolate a.krn b.krn --steps 8 --out-dir out/vae
//   melody_vae train --arch seed-notes --corpus ... --out notes.safetensors     (the seed's vae_model.pth)
//   melody_vae train --arch seed-rhythm --corpus ... --out rhythm.safetensors   (vae_model_durations.pth)
//   melody_vae evaluate --model notes.safetensors --rhythm-model rhythm.safetensors --corpus ...
//   melody_vae --smoke
//
// Songs go through the shared pipeline (music/corpus.hpp: filtered, in C
// major / A minor, FNV-1a split) and the seed's E-2SEQ encoding (100 events).
// Training never sees the held-out songs; `evaluate` and the end of `train`
// report on them.
//
// Where to read on: seed_vae.hpp and sequence_vae.hpp (the networks),
// vae_model.hpp (their configuration, and the Model that holds either),
// vae_data.hpp (songs to E-2SEQ), vae_eval.hpp (the reconstruction metrics),
// and one header per subcommand: cmd_train.hpp, cmd_evaluate.hpp,
// cmd_generate.hpp, cmd_smoke.hpp (command_common.hpp: what they share).

#include <string>
#include <vector>

// Each subcommand in its own header; command_common.hpp, which they include,
// includes Eigen first (see there).
#include "cmd_evaluate.hpp"
#include "cmd_generate.hpp"
#include "cmd_smoke.hpp"
#include "cmd_train.hpp"

namespace {

using namespace melody_vae;

constexpr const char* kUsage =
    "usage: melody_vae COMMAND [flags]   (COMMAND --help lists the flags)\n"
    "  train      train a VAE: --arch conv (default), mlp, seed-notes or seed-rhythm (the seed's VAE gen 2)\n"
    "  evaluate   held-out reconstruction accuracy per position, ELBO and KL\n"
    "  generate   sample the prior, vary a song (--from), or interpolate two songs (--interpolate A B)\n"
    "  --smoke    a few seconds of end-to-end checks (CI)\n";

// `--interpolate A B` takes two values; the flag parser takes one, so the
// second becomes `--interpolate-to B`.
std::vector<std::string> expand_interpolate(std::vector<std::string> args) {
  for (std::size_t i = 0; i + 2 < args.size(); ++i)
    if (args[i] == "--interpolate" && args[i + 1].rfind("--", 0) != 0 && args[i + 2].rfind("--", 0) != 0)
      args.insert(args.begin() + long(i) + 2, "--interpolate-to");
  return args;
}

int run(const std::vector<std::string>& all) {
  check(!all.empty(), "no command given (expected train, evaluate, generate or --smoke; see --help)");
  if (all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  const std::string command = all[0];
  const std::vector<std::string> args = expand_interpolate({all.begin() + 1, all.end()});
  if (command == "train") return cmd_train(args);
  if (command == "evaluate") return cmd_evaluate(args);
  if (command == "generate") return cmd_generate(args);
  if (command == "--smoke" || command == "smoke") return cmd_smoke(args);
  fail("unknown command '", command, "' (expected train, evaluate, generate or --smoke; see --help)");
}

}  // namespace

int main(int argc, char** argv) { return legato::examples::guarded_main(kProgram, argc, argv, run); }

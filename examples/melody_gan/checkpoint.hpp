#pragma once
// melody_gan checkpoints: every generator and discriminator tensor in one
// safetensors file ("joint.generator.0.weight", "notes.discriminator.2.bias",
// ...), the configuration and the training summary in its metadata.
// Optimiser state is not saved: a checkpoint is for generate and evaluate.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "legato/io/checkpoint.hpp"

#include "config.hpp"
#include "model.hpp"

namespace melody_gan {

inline void save_gan(const std::string& path, const GanModel& model,
                     const std::map<std::string, std::string>& extra) {
  auto metadata = model.config.to_metadata();
  for (const auto& [k, v] : extra) metadata[k] = v;
  legato::save_module(path, model, metadata);
}

struct LoadedGan {
  std::unique_ptr<GanModel> model;
  std::map<std::string, std::string> metadata;
};

inline LoadedGan load_gan(const std::string& path) {
  std::error_code ec;
  legato::check(std::filesystem::exists(path, ec), "model '", path, "' does not exist");
  legato::check(std::filesystem::is_regular_file(path, ec), "model '", path, "' is not a regular file");
  // Read the metadata first to know which model to build.
  legato::SafetensorsFile file = legato::load_safetensors(path);
  LoadedGan loaded;
  loaded.metadata = file.metadata;
  const GanConfig config = GanConfig::from_metadata(file.metadata, "'" + path + "'");
  loaded.model = std::make_unique<GanModel>(config);
  legato::load_state_dict(loaded.model->state_dict(), file, true, "'" + path + "'");
  loaded.model->eval();
  return loaded;
}

}  // namespace melody_gan

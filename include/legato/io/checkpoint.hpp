#pragma once
// Checkpoints: a module's state dict in a safetensors file, by name.
//
//   save_module("lstm.safetensors", model, {{"hidden", "256"}});
//   SafetensorsFile f = load_module("lstm.safetensors", model);   // strict: names and shapes must match
//   int hidden = std::stoi(f.metadata.at("hidden"));
//
// A state dict is a list of (dotted name, tensor handle); the handles share
// storage with the module (nn::Module::state_dict()), so loading copies the
// file's values into them in place and the module sees the new weights.
// Loading checks everything first and copies only when all is well: a failed
// load leaves the module as it was.
//
// PyTorch files: BatchNorm's `num_batches_tracked` is an int64 counter that
// legato does not keep (see nn/module.hpp); load_module skips it.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "legato/io/safetensors.hpp"
#include "legato/nn/module.hpp"

namespace legato {

using StateDict = std::vector<std::pair<std::string, Tensor>>;

// What a non-strict load left aside (both empty after a strict load).
struct StateDictReport {
  std::vector<std::string> missing;     // in the destination, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the destination
};

namespace detail {
inline std::string checkpoint_name_list(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < 6; ++i) text += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > 6) (text += ", ... (") += std::to_string(names.size()) += " in all)";
  return text;
}

// PyTorch's BatchNorm step counter, which legato does not keep.
inline bool is_torch_batch_counter(const std::string& name, const std::string& dtype) {
  const std::string suffix = "num_batches_tracked";
  return dtype == "I64" && name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace detail

// Copies the file's tensors into `dest` by name. Strict: every destination
// tensor must be in the file and every file tensor in the destination. In
// either mode a tensor present in both must have the same shape. `source`
// names the file in errors.
inline StateDictReport load_state_dict(const StateDict& dest, const SafetensorsFile& file, bool strict = true,
                                       const std::string& source = "checkpoint") {
  std::map<std::string, const Tensor*> in_file;
  for (auto& [name, t] : file.tensors) in_file[name] = &t;

  StateDictReport report;
  std::set<std::string> wanted;
  std::vector<std::pair<Tensor, const Tensor*>> copies;  // (destination, source)
  for (auto& [name, t] : dest) {
    check(wanted.insert(name).second, "load_state_dict: the destination names '", name, "' twice");
    check(t.defined(), "load_state_dict: destination tensor '", name, "' is undefined");
    auto found = in_file.find(name);
    if (found == in_file.end()) {
      report.missing.push_back(name);
      continue;
    }
    const Tensor& value = *found->second;
    check(value.shape() == t.shape(), "load_state_dict: tensor '", name, "' has shape ", shape_str(value.shape()),
          " in ", source, " but ", shape_str(t.shape()), " in the module");
    check(t.is_cpu(), "load_state_dict: destination tensor '", name, "' is on ", device_name(t.device()),
          "; load into a cpu module, then move it");
    // A NaN or inf weight would load and then compute garbage quietly: a
    // training run that diverged, or a damaged file. Refuse it here.
    const float* values = value.data();
    for (std::int64_t k = 0; k < value.numel(); ++k)
      check(std::isfinite(values[k]), "load_state_dict: tensor '", name, "' in ", source, " holds ", values[k],
            " at element ", k, " (a diverged run or a damaged file)");
    copies.emplace_back(t, &value);
  }
  for (auto& [name, t] : file.tensors)
    if (!wanted.count(name)) report.unexpected.push_back(name);

  if (strict) {
    check(report.missing.empty(), "load_state_dict: ", source, " lacks ", report.missing.size(), " tensor(s) of the module: ",
          detail::checkpoint_name_list(report.missing));
    check(report.unexpected.empty(), "load_state_dict: ", source, " has ", report.unexpected.size(),
          " tensor(s) the module does not: ", detail::checkpoint_name_list(report.unexpected),
          " (pass strict = false to ignore them)");
  }
  for (auto& [to, from] : copies)
    std::memcpy(to.data(), from->data(), sizeof(float) * static_cast<std::size_t>(to.numel()));
  return report;
}

// Saves a state dict (or any named tensors) with optional metadata, atomically.
inline void save_state_dict(const std::string& path, const StateDict& state,
                            const std::map<std::string, std::string>& metadata = {}) {
  save_safetensors(path, state, metadata);
}

// Loads `path` into `dest`; returns the file (its metadata, and in a
// non-strict load the tensors that were not used).
inline SafetensorsFile load_checkpoint(const std::string& path, const StateDict& dest, bool strict = true,
                                       StateDictReport* report = nullptr) {
  SafetensorsFile file = load_safetensors(path, detail::is_torch_batch_counter);
  StateDictReport result = load_state_dict(dest, file, strict, "'" + path + "'");
  if (report) *report = std::move(result);
  return file;
}

// ---- modules ----

inline void save_module(const std::string& path, const nn::Module& module,
                        const std::map<std::string, std::string>& metadata = {}) {
  save_state_dict(path, module.state_dict(), metadata);
}

inline SafetensorsFile load_module(const std::string& path, nn::Module& module, bool strict = true,
                                   StateDictReport* report = nullptr) {
  return load_checkpoint(path, module.state_dict(), strict, report);
}

}  // namespace legato

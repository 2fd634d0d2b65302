// libFuzzer target for the safetensors reader. Any input must either load or
// throw legato::Error: another exception, a crash, a sanitizer report or a
// leak is a bug. What loads must also survive a save/load round trip
// unchanged. Seeds: fuzz/seeds/safetensors/ (written by
// tests/fixtures/make_io_fixtures.py).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "legato/io/safetensors.hpp"

namespace {

void round_trip(const legato::SafetensorsFile& file) {
  for (auto& [name, t] : file.tensors)
    if (name.empty()) return;  // the reader accepts an empty name, the writer does not
  const std::string bytes = legato::save_safetensors_to_memory(file.tensors, file.metadata);
  const legato::SafetensorsFile back = legato::load_safetensors_from_memory(bytes, "round trip");
  if (back.tensors.size() != file.tensors.size() || back.metadata != file.metadata) std::abort();
  for (std::size_t i = 0; i < back.tensors.size(); ++i) {
    const legato::Tensor& a = file.tensors[i].second;
    const legato::Tensor& b = back.tensors[i].second;
    if (back.tensors[i].first != file.tensors[i].first || a.shape() != b.shape() ||
        std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.numel())) != 0)
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    round_trip(legato::load_safetensors_from_memory(bytes, "fuzz input"));
  } catch (const legato::Error&) {
  }
  try {  // the path a checkpoint loader takes: non-F32 tensors skipped
    legato::load_safetensors_from_memory(bytes, "fuzz input", [](const std::string&, const std::string& dtype) {
      return dtype == "I64";
    });
  } catch (const legato::Error&) {
  }
  return 0;
}

#pragma once
// safetensors: the tensor file format shared with PyTorch and Hugging Face.
//
//   bytes [0, 8)        N, the length of the header, unsigned 64-bit little-endian
//   bytes [8, 8 + N)    a JSON object, UTF-8, possibly padded with spaces:
//                         {"__metadata__": {"hidden": "256", ...},              (optional, strings only)
//                          "lstm.weight_ih_l0": {"dtype": "F32", "shape": [1024, 45],
//                                                "data_offsets": [0, 184320]}, ...}
//   bytes [8 + N, end)  the data area. Each tensor owns bytes [begin, end) of it,
//                       row-major and little-endian. The tensors tile the area
//                       exactly: no gaps, no overlaps, nothing after the last one.
//
//   save_safetensors("model.safetensors", model.state_dict(), {{"hidden", "256"}});
//   SafetensorsFile f = load_safetensors("model.safetensors");
//   const Tensor* w = f.find("lstm.weight_ih_l0");          // nullptr when absent
//
// legato tensors are float32, so the reader accepts dtype F32 only and names
// the tensor when it meets another. The file is untrusted input: every length,
// offset and shape is checked before it is used, and each problem becomes a
// legato::Error that names the file and what is wrong, never a crash or an
// out-of-bounds read (fuzz/safetensors_fuzz.cpp holds the loader to that).
// Tensors load in the order of their data (which is the order they were
// saved in), and are saved in the order given.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "legato/tensor.hpp"
#include "legato/util/error.hpp"
#include "legato/util/file.hpp"

namespace legato {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file (data) order
  std::map<std::string, std::string> metadata;          // the "__metadata__" map

  // The tensor called `name`, or nullptr.
  const Tensor* find(const std::string& name) const {
    for (auto& [key, t] : tensors)
      if (key == name) return &t;
    return nullptr;
  }
  // The tensor called `name`; throws naming the tensors that do exist.
  const Tensor& at(const std::string& name) const {
    if (const Tensor* t = find(name)) return *t;
    std::string known;
    for (std::size_t i = 0; i < tensors.size() && i < 8; ++i) known += (i ? ", " : "") + tensors[i].first;
    if (tensors.size() > 8) known += ", ...";
    fail("safetensors: no tensor named '", name, "' (", tensors.size(), " tensors: ", known, ")");
  }
};

namespace detail {

// Limits that separate a damaged or hostile file from a real one. The header
// limit is the one of the reference implementation (100 MB); a dimension
// above 2^40 cannot describe data that fits in memory.
constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;
constexpr std::uint64_t kMaxSafetensorsDim = std::uint64_t{1} << 40;

template <class... Parts>
[[noreturn]] void safetensors_fail(const std::string& source, Parts&&... parts) {
  fail("safetensors '", source, "': ", std::forward<Parts>(parts)...);
}

inline std::uint64_t safetensors_read_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

inline void safetensors_append_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Bytes per element of each dtype the format defines, 0 if unknown. legato
// loads F32 only; the sizes let a caller skip other tensors (see
// load_safetensors_from_memory's `skip`) while still checking their offsets.
inline std::uint64_t safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::uint64_t> sizes{
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

inline const char* json_type(const nlohmann::json& j) { return j.type_name(); }

// A non-negative JSON integer, or an error naming `what`.
inline std::uint64_t json_uint(const nlohmann::json& j, const std::string& source, const std::string& what) {
  if (!j.is_number_unsigned()) {
    if (j.is_number_integer()) safetensors_fail(source, what, " is negative (", j.dump(), ")");
    if (j.is_number()) safetensors_fail(source, what, " must be a non-negative integer, found number ", j.dump());
    safetensors_fail(source, what, " must be a non-negative integer, found ", json_type(j));
  }
  return j.get<std::uint64_t>();
}

struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets into the data area
  bool skipped = false;
};

// Reads one header entry: {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
inline SafetensorsEntry parse_safetensors_entry(const std::string& name, const nlohmann::json& info,
                                                std::uint64_t data_bytes, const std::string& source,
                                                const std::function<bool(const std::string&, const std::string&)>& skip) {
  const std::string where = "tensor '" + name + "'";
  if (!info.is_object()) safetensors_fail(source, where, ": entry must be a JSON object, found ", json_type(info));
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!info.contains(field)) safetensors_fail(source, where, ": missing field \"", field, "\"");

  SafetensorsEntry e;
  e.name = name;
  const auto& dtype = info["dtype"];
  if (!dtype.is_string()) safetensors_fail(source, where, ": \"dtype\" must be a string, found ", json_type(dtype));
  e.dtype = dtype.get<std::string>();
  const std::uint64_t element_bytes = safetensors_dtype_size(e.dtype);
  if (element_bytes == 0) safetensors_fail(source, where, ": unknown dtype \"", e.dtype, "\"");
  e.skipped = e.dtype != "F32" && skip && skip(name, e.dtype);
  if (e.dtype != "F32" && !e.skipped)
    safetensors_fail(source, where, ": dtype ", e.dtype, " is not supported (legato reads F32 only; convert with "
                     "tensor.float() before saving)");

  const auto& shape = info["shape"];
  if (!shape.is_array()) safetensors_fail(source, where, ": \"shape\" must be an array, found ", json_type(shape));
  if (shape.size() > static_cast<std::size_t>(kMaxRank))
    safetensors_fail(source, where, ": shape ", shape.dump(), " has rank ", shape.size(),
                     "; legato tensors have at most ", kMaxRank, " dimensions");
  bool has_zero = false;
  for (std::size_t axis = 0; axis < shape.size(); ++axis) {
    const std::uint64_t d = json_uint(shape[axis], source, where + ": shape[" + std::to_string(axis) + "]");
    if (d > kMaxSafetensorsDim) safetensors_fail(source, where, ": shape ", shape.dump(), " has an absurd dimension ", d);
    has_zero = has_zero || d == 0;
    e.shape.push_back(static_cast<std::int64_t>(d));
  }
  // Bytes the shape needs; four dimensions of at most 2^40 can overflow, so
  // stop as soon as the product exceeds the data area.
  std::uint64_t needed = has_zero ? 0 : element_bytes;
  for (auto d : e.shape) {
    if (needed == 0) break;
    if (needed > data_bytes / static_cast<std::uint64_t>(d))
      safetensors_fail(source, where, ": shape ", shape_str(e.shape), " of ", e.dtype, " needs more bytes than the ",
                       data_bytes, "-byte data area holds");
    needed *= static_cast<std::uint64_t>(d);
  }

  const auto& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    safetensors_fail(source, where, ": \"data_offsets\" must be an array of two integers, found ", offsets.dump());
  e.begin = json_uint(offsets[0], source, where + ": data_offsets[0]");
  e.end = json_uint(offsets[1], source, where + ": data_offsets[1]");
  if (e.begin > e.end) safetensors_fail(source, where, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin");
  if (e.end > data_bytes)
    safetensors_fail(source, where, ": data_offsets [", e.begin, ", ", e.end, "] run past the end of the ", data_bytes,
                     "-byte data area (file truncated?)");
  if (e.end - e.begin != needed)
    safetensors_fail(source, where, ": data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin,
                     " bytes, but shape ", shape_str(e.shape), " of ", e.dtype, " needs ", needed);
  return e;
}

}  // namespace detail

// Parses a whole safetensors file held in memory; `source` names it in errors.
// `skip(name, dtype)`, when given, may return true for a non-F32 tensor that
// the caller wants left out instead of rejected (a checkpoint loader uses it
// for PyTorch's int64 BatchNorm counter); its offsets are checked all the same.
inline SafetensorsFile load_safetensors_from_memory(
    std::string_view bytes, const std::string& source = "<memory>",
    const std::function<bool(const std::string& name, const std::string& dtype)>& skip = {}) {
  using detail::safetensors_fail;
  const std::uint64_t size = bytes.size();
  if (size < 8)
    safetensors_fail(source, "file is ", size, " bytes long, shorter than the 8-byte header length (truncated?)");
  const std::uint64_t header_bytes = detail::safetensors_read_u64(bytes.data());
  if (header_bytes > detail::kMaxSafetensorsHeader)
    safetensors_fail(source, "header length ", header_bytes, " is absurdly large (limit ",
                     detail::kMaxSafetensorsHeader, " bytes); not a safetensors file?");
  if (header_bytes > size - 8)
    safetensors_fail(source, "header length ", header_bytes, " runs past the end of the file (", size - 8,
                     " bytes follow the length field; truncated?)");
  const std::string_view header = bytes.substr(8, header_bytes);
  const std::string_view data = bytes.substr(8 + header_bytes);

  // Parse the JSON, noting repeated top-level keys (JSON keeps only the last;
  // the format forbids them).
  std::set<std::string> keys;
  std::string repeated;
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(
        header.begin(), header.end(),
        [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
              !keys.insert(parsed.get<std::string>()).second && repeated.empty())
            repeated = parsed.get<std::string>();
          return true;
        });
  } catch (const nlohmann::json::exception& e) {
    safetensors_fail(source, "header is not valid JSON: ", e.what());
  }
  if (!root.is_object()) safetensors_fail(source, "header must be a JSON object, found ", root.type_name());
  if (!repeated.empty()) safetensors_fail(source, "header names '", repeated, "' twice");

  SafetensorsFile file;
  std::vector<detail::SafetensorsEntry> entries;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object())
        safetensors_fail(source, "\"__metadata__\" must be an object of strings, found ", it->type_name());
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          safetensors_fail(source, "__metadata__ value of '", m.key(), "' must be a string, found ", m->type_name());
        file.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(detail::parse_safetensors_entry(it.key(), *it, data.size(), source, skip));
  }

  // The tensors must tile the data area: sorted by offset, each begins where
  // the previous one ended and the last ends at the end of the file.
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  const detail::SafetensorsEntry* previous = nullptr;
  for (const auto& e : entries) {
    if (e.begin < expected)
      safetensors_fail(source, "tensor '", e.name, "' bytes [", e.begin, ", ", e.end, ") overlap tensor '",
                       previous->name, "' bytes [", previous->begin, ", ", previous->end, ")");
    if (e.begin > expected)
      safetensors_fail(source, "bytes [", expected, ", ", e.begin, ") of the data area before tensor '", e.name,
                       "' belong to no tensor (the format allows no holes)");
    expected = e.end;
    previous = &e;
  }
  if (expected != data.size())
    safetensors_fail(source, "the data area has ", data.size(), " bytes but its tensors cover ", expected,
                     " (trailing bytes, or a header that does not match the data)");

  for (const auto& e : entries) {
    if (e.skipped) continue;
    Tensor t = Tensor::empty(e.shape);
    const char* src = data.data() + e.begin;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(t.data(), src, e.end - e.begin);
    } else {  // the file is little-endian: reverse each float's bytes
      auto* dst = reinterpret_cast<unsigned char*>(t.data());
      for (std::uint64_t i = 0; i < e.end - e.begin; ++i) dst[i] = static_cast<unsigned char>(src[i ^ 3]);
    }
    file.tensors.emplace_back(e.name, std::move(t));
  }
  return file;
}

// Reads a safetensors file; errors name `path`. `skip` as above.
inline SafetensorsFile load_safetensors(
    const std::string& path,
    const std::function<bool(const std::string& name, const std::string& dtype)>& skip = {}) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    fail("safetensors '", path, "': ", std::filesystem::exists(path, error) ? "not a regular file" : "no such file");
  return load_safetensors_from_memory(read_file(path), path, skip);
}

// The bytes of a safetensors file holding `tensors` in the given order. Names
// must be unique, non-empty and not "__metadata__"; tensors must be on the cpu.
inline std::string save_safetensors_to_memory(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                              const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    check(!name.empty(), "save_safetensors: a tensor has an empty name");
    check(name != "__metadata__", "save_safetensors: '__metadata__' is reserved and cannot name a tensor");
    check(names.insert(name).second, "save_safetensors: the name '", name, "' is used twice");
    check(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    check(t.is_cpu(), "save_safetensors: tensor '", name, "' is on ", device_name(t.device()),
          "; copy it to the cpu first");
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata string that is not UTF-8
    fail("save_safetensors: cannot write the header: ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned, as safetensors does

  std::string out;
  out.reserve(8 + text.size() + offset);
  detail::safetensors_append_u64(out, text.size());
  out += text;
  for (const auto& [name, t] : tensors) {
    const char* src = reinterpret_cast<const char*>(t.data());
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * sizeof(float);
    if constexpr (std::endian::native == std::endian::little) {
      out.append(src, bytes);
    } else {
      for (std::size_t i = 0; i < bytes; ++i) out.push_back(src[i ^ 3]);
    }
  }
  return out;
}

// Writes a safetensors file atomically (a temporary file, then a rename).
inline void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  write_file_atomically(path, save_safetensors_to_memory(tensors, metadata));
}

}  // namespace legato

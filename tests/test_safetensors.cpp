// safetensors reader and writer: files written by Python's safetensors, the
// round trip, and every kind of damaged file (each must give a clear
// legato::Error naming the file and the problem, never a crash).
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "gradcheck.hpp"
#include "legato/io.hpp"

using namespace legato;
using legato::testing::error_of;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = LEGATO_SOURCE_DIR "/tests/fixtures/";
const char* kRegenerate = "regenerate with: python3 tests/fixtures/make_io_fixtures.py";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A safetensors file from a header text and a data area.
std::string make_file(const std::string& header, const std::string& data = "") {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((std::uint64_t(header.size()) >> (8 * i)) & 0xff));
  return out + header + data;
}

// Loading `bytes` must throw an Error whose message contains every part.
void check_rejected(const std::string& bytes, std::initializer_list<std::string> parts) {
  const std::string message = error_of([&] { load_safetensors_from_memory(bytes, "bad.safetensors"); });
  INFO("message: " << message);
  CHECK(contains(message, "safetensors 'bad.safetensors': "));
  for (const auto& part : parts) CHECK(contains(message, part));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.numel())) == 0;
}

std::vector<std::pair<std::string, Tensor>> sample_tensors() {
  Rng rng(5);
  return {{"scalar", Tensor::scalar(-2.5f)},
          {"z.last.but.saved.first", Tensor::normal({3}, 0.f, 1.f, rng)},
          {"matrix", Tensor::normal({2, 5}, 0.f, 1.f, rng)},
          {"empty", Tensor::zeros({0, 4})},
          {"cube", Tensor::normal({2, 3, 4}, 0.f, 1.f, rng)},
          {"a.rank4", Tensor::normal({1, 2, 3, 2}, 0.f, 1.f, rng)}};
}

}  // namespace

TEST_CASE("a file written by Python's safetensors loads exactly") {
  const std::string path = kFixtures + "io_python.safetensors";
  std::ifstream json_in(kFixtures + "io_python.json");
  REQUIRE_MESSAGE(json_in.good(), "missing fixture io_python.json; ", kRegenerate);
  const auto expected = nlohmann::json::parse(json_in);

  const SafetensorsFile file = load_safetensors(path);
  CHECK(file.metadata == expected["__metadata__"].get<std::map<std::string, std::string>>());
  CHECK(file.metadata.at("unicode") == "Gr\u00fc\u00dfe \u266a");
  REQUIRE(file.tensors.size() == expected["tensors"].size());
  for (const auto& item : expected["tensors"].items()) {
    const std::string name = item.key();  // (a structured binding cannot be captured by INFO with clang 14)
    const auto& info = item.value();
    INFO("tensor " << name << "; " << kRegenerate);
    const Tensor* t = file.find(name);
    REQUIRE(t != nullptr);
    CHECK(t->shape() == info["shape"].get<Shape>());
    std::vector<float> values;
    for (const auto& v : info["values"])
      values.push_back(v.is_string() ? (v == "inf" ? 1.f : -1.f) * std::numeric_limits<float>::infinity()
                                     : static_cast<float>(v.get<double>()));
    CHECK(same_bits(*t, Tensor::from_vector(t->shape(), values)));  // bit for bit, -0 and denormals included
  }
  CHECK(file.find("scalar")->dim() == 0);
  CHECK(file.find("scalar")->item() == 3.25f);
  CHECK(file.find("empty")->numel() == 0);
  CHECK(file.find("no such tensor") == nullptr);
  CHECK(contains(error_of([&] { file.at("nope"); }), "no tensor named 'nope'"));
}

TEST_CASE("save then load gives back the same names, order, shapes, bits and metadata") {
  TemporaryFolder dir("legato_test_safetensors");
  const auto tensors = sample_tensors();
  const std::map<std::string, std::string> metadata{{"hidden", "256"}, {"note", "say \"hi\"\n\u266a"}};
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, tensors, metadata);
  const SafetensorsFile back = load_safetensors(path);
  REQUIRE(back.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    CHECK(back.tensors[i].first == tensors[i].first);  // stored in the given order
    CHECK(same_bits(back.tensors[i].second, tensors[i].second));
    CHECK(!back.tensors[i].second.shares_storage_with(tensors[i].second));
  }
  CHECK(back.metadata == metadata);

  // The header length is a multiple of 8, so the data is 8-byte aligned.
  const std::string bytes = read_file(path);
  CHECK(detail::safetensors_read_u64(bytes.data()) % 8 == 0);
  // No temporary file is left beside the target.
  int files = 0;
  for (auto& entry : fs::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 1);

  // Overwriting replaces the file whole.
  save_safetensors(path, {{"only", Tensor::ones({2})}});
  const SafetensorsFile replaced = load_safetensors(path);
  CHECK(replaced.tensors.size() == 1);
  CHECK(replaced.metadata.empty());

  // No tensors at all is a valid file too.
  save_safetensors(path, {}, {{"k", "v"}});
  CHECK(load_safetensors(path).tensors.empty());
  CHECK(load_safetensors(path).metadata.at("k") == "v");

  // The in-memory writer and reader agree with the file ones.
  const std::string memory = save_safetensors_to_memory(tensors, metadata);
  save_safetensors(path, tensors, metadata);
  CHECK(memory == read_file(path));
}

TEST_CASE("the writer refuses names and tensors it cannot store") {
  TemporaryFolder dir("legato_test_safetensors");
  const std::string path = dir.file("x.safetensors");
  const Tensor one = Tensor::ones({1});
  CHECK(error_of([&] { save_safetensors(path, {{"a", one}, {"a", one}}); }) ==
        "save_safetensors: the name 'a' is used twice");
  CHECK(error_of([&] { save_safetensors(path, {{"", one}}); }) == "save_safetensors: a tensor has an empty name");
  CHECK(contains(error_of([&] { save_safetensors(path, {{"__metadata__", one}}); }), "reserved"));
  CHECK(error_of([&] { save_safetensors(path, {{"u", Tensor()}}); }) == "save_safetensors: tensor 'u' is undefined");
  CHECK(contains(error_of([&] { save_safetensors(path, {{"bad\xff", one}}); }), "cannot write the header"));
  CHECK(!fs::exists(path));  // nothing written by a failed save
  const std::string no_folder = error_of([&] { save_safetensors(dir.file("no/such/dir/x.safetensors"), {{"a", one}}); });
  CHECK(contains(no_folder, "x.safetensors: cannot write: folder"));
  CHECK(contains(no_folder, "does not exist"));
  CHECK(!contains(no_folder, ".tmp-"));  // the file asked for, not the temporary
}

TEST_CASE("missing files and folders give clear errors") {
  TemporaryFolder dir("legato_test_safetensors");
  CHECK(error_of([&] { load_safetensors(dir.file("absent.safetensors")); }) ==
        "safetensors '" + dir.file("absent.safetensors") + "': no such file");
  CHECK(error_of([&] { load_safetensors(dir.path().string()); }) ==
        "safetensors '" + dir.path().string() + "': not a regular file");
}

TEST_CASE("damaged files: each problem is named") {
  const std::string f32_entry = R"("w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  const std::string eight(8, '\0');

  SUBCASE("shorter than the length field") {
    check_rejected("", {"file is 0 bytes long, shorter than the 8-byte header length"});
    check_rejected("\x01\x02\x03\x04\x05", {"file is 5 bytes long"});
  }
  SUBCASE("header length past the end of the file") {
    std::string bytes = make_file("{" + f32_entry + "}", eight);
    bytes[0] = static_cast<char>(bytes[0] + 20);
    check_rejected(bytes, {"header length", "runs past the end of the file"});
  }
  SUBCASE("absurd header length") {
    std::string bytes = make_file("{}");
    bytes[7] = 0x40;
    check_rejected(bytes, {"header length 4611686018427387906 is absurdly large"});
  }
  SUBCASE("bad JSON") {
    check_rejected(make_file(R"({"w": {"dtype": "F32",)"), {"header is not valid JSON", "parse error"});
    check_rejected(make_file("\xff\xfe{}"), {"header is not valid JSON"});
    check_rejected(make_file(R"({"w": "\u00)"), {"header is not valid JSON"});
  }
  SUBCASE("header of the wrong JSON type") {
    check_rejected(make_file("[1, 2]"), {"header must be a JSON object, found array"});
    check_rejected(make_file(R"({"w": 3})"), {"tensor 'w': entry must be a JSON object, found number"});
  }
  SUBCASE("missing fields") {
    check_rejected(make_file(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': missing field \"dtype\""});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': missing field \"shape\""});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [2]}})", eight),
                   {"tensor 'w': missing field \"data_offsets\""});
  }
  SUBCASE("ill-typed fields") {
    check_rejected(make_file(R"({"w": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}})", eight),
                   {"\"dtype\" must be a string, found number"});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}})", eight),
                   {"\"shape\" must be an array, found string"});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': shape[0] is negative (-2)"});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': shape[0] must be a non-negative integer, found number 2.0"});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", eight),
                   {"\"data_offsets\" must be an array of two integers, found [0]"});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}})", eight),
                   {"tensor 'w': data_offsets[1] must be a non-negative integer, found string"});
    check_rejected(make_file(R"({"__metadata__": {"k": 1}})"),
                   {"__metadata__ value of 'k' must be a string, found number"});
    check_rejected(make_file(R"({"__metadata__": []})"), {"\"__metadata__\" must be an object of strings, found array"});
  }
  SUBCASE("wrong dtype") {
    check_rejected(make_file(R"({"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': dtype F64 is not supported (legato reads F32 only"});
    check_rejected(make_file(R"({"w": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': unknown dtype \"Q7\""});
    const std::string message = error_of([] { load_safetensors(kFixtures + "io_python_f16.safetensors"); });
    CHECK(contains(message, "io_python_f16.safetensors': tensor 'half': dtype F16 is not supported"));
  }
  SUBCASE("rank above 4") {
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [1,1,1,1,2], "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': shape [1,1,1,1,2] has rank 5; legato tensors have at most 4 dimensions"});
  }
  SUBCASE("absurd and overflowing shapes") {
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [1099511627777, 0], "data_offsets": [0, 0]}})"),
                   {"has an absurd dimension 1099511627777"});
    // 2^40 ^ 4 elements overflow 64 bits: caught before any multiplication wraps.
    const std::string big = "1099511627776";
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [)" + big + "," + big + "," + big + "," + big +
                             R"(], "data_offsets": [0, 8]}})",
                             eight),
                   {"needs more bytes than the 8-byte data area holds"});
  }
  SUBCASE("offsets out of range, reversed, or not matching the shape") {
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", eight),
                   {"tensor 'w': data_offsets [0, 16] run past the end of the 8-byte data area"});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", eight),
                   {"data_offsets [8, 0] end before they begin"});
    check_rejected(make_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}})", eight),
                   {"tensor 'w': data_offsets [0, 8] hold 8 bytes, but shape (1,) of F32 needs 4"});
    check_rejected(
        make_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 18446744073709551615]}})", eight),
        {"run past the end"});
  }
  SUBCASE("overlaps, holes and trailing bytes") {
    check_rejected(make_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                             std::string(12, '\0')),
                   {"tensor 'b' bytes [4, 12) overlap tensor 'a' bytes [0, 8)"});
    check_rejected(make_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", eight),
                   {"bytes [0, 4) of the data area before tensor 'a' belong to no tensor"});
    check_rejected(make_file("{" + f32_entry + "}", std::string(12, '\0')),
                   {"the data area has 12 bytes but its tensors cover 8"});
  }
  SUBCASE("a tensor named twice") {
    check_rejected(make_file("{" + f32_entry + ", " + f32_entry + "}", eight), {"header names 'w' twice"});
  }
}

TEST_CASE("every truncation and every single-byte corruption of a valid file is handled") {
  const std::string good = save_safetensors_to_memory(sample_tensors(), {{"k", "v"}});
  REQUIRE(load_safetensors_from_memory(good).tensors.size() == 6);
  int rejected = 0;
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::string message = error_of([&] { load_safetensors_from_memory(good.substr(0, n), "cut"); });
    if (!contains(message, "safetensors 'cut': ")) {
      FAIL_CHECK("prefix of " << n << " bytes: " << message);
    }
    ++rejected;
  }
  CHECK(rejected == static_cast<int>(good.size()));  // no proper prefix is a valid file

  // Flip bits in each byte: the result either loads or throws legato::Error.
  int loaded = 0, errors = 0;
  for (std::size_t i = 0; i < good.size(); ++i)
    for (unsigned char mask : {0x01, 0x20, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      const std::string message = error_of([&] { load_safetensors_from_memory(bad, "flip"); });
      if (message == legato::testing::kNoError)
        ++loaded;
      else if (contains(message, "safetensors 'flip': "))
        ++errors;
      else
        FAIL_CHECK("byte " << i << " ^ " << int(mask) << ": " << message);
    }
  MESSAGE("corrupted variants: " << loaded << " still valid (data bytes), " << errors << " rejected with an Error");
  CHECK(errors > 0);
  CHECK(loaded > 0);  // flipping a data byte only changes a value
}

TEST_CASE("skip lets a caller leave out tensors of other dtypes, still checking their offsets") {
  const std::string path = kFixtures + "io_torch_bn.safetensors";
  CHECK(contains(error_of([&] { load_safetensors(path); }),
                 "tensor 'bn.num_batches_tracked': dtype I64 is not supported"));
  const SafetensorsFile file =
      load_safetensors(path, [](const std::string&, const std::string& dtype) { return dtype == "I64"; });
  CHECK(file.tensors.size() == 4);
  CHECK(file.find("bn.num_batches_tracked") == nullptr);
  CHECK(file.at("bn.running_var").shape() == Shape{3});
  // A skipped tensor's offsets are still checked against its own element size.
  const std::string bad = make_file(R"({"n": {"dtype": "I64", "shape": [1], "data_offsets": [0, 4]}})", std::string(8, '\0'));
  CHECK(contains(error_of([&] { load_safetensors_from_memory(bad, "x", [](auto&, auto&) { return true; }); }),
                 "safetensors 'x': tensor 'n': data_offsets [0, 4] hold 4 bytes, but shape (1,) of I64 needs 8"));
}

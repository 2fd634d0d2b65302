// The CUDA device: availability, the caching allocator, copies, Tensor::to,
// CudaError. Runs only when built with LEGATO_CUDA and a GPU is present;
// otherwise every case prints "skipped: no CUDA device" and passes.
//
// The Philox known-answer test at the end needs no GPU: the generator is
// header-only and the CPU must reproduce the GPU's dropout masks exactly.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "legato/cuda/cuda.hpp"
#include "legato/tensor.hpp"

using namespace legato;

#ifdef LEGATO_CUDA

#include "cuda_check.hpp"

TEST_CASE("cuda: require_device agrees with available") {
  if (!cuda::available()) {
    MESSAGE("skipped: no CUDA device");
    // Without a device the failure must be a clear legato::Error, not a crash.
    CHECK_THROWS_AS(cuda::require_device(), Error);
    CHECK_THROWS_AS(cuda::allocate(4), Error);
    return;
  }
  CHECK_NOTHROW(cuda::require_device());
  MESSAGE("device: " << cuda::device_description());
  CHECK(cuda::multiprocessor_count() > 0);
}

TEST_CASE("cuda: the caching allocator reuses released blocks") {
  SKIP_WITHOUT_GPU();
  cuda::empty_cache();
  const auto before = cuda::allocator_stats();
  float* a = cuda::allocate(1000);  // 4000 bytes -> class 4096
  REQUIRE(a != nullptr);
  CHECK(cuda::allocator_stats().bytes_in_use == before.bytes_in_use + 4096);
  cuda::release(a);
  CHECK(cuda::allocator_stats().bytes_cached >= 4096);
  float* b = cuda::allocate(1010);  // same size class: must be served from the cache
  CHECK(b == a);
  CHECK(cuda::allocator_stats().cache_hits == before.cache_hits + 1);
  cuda::release(b);
  float* c = cuda::allocate(0);  // a valid block even for zero floats
  CHECK(c != nullptr);
  cuda::release(c);
  cuda::release(nullptr);  // ignored
  cuda::empty_cache();
  CHECK(cuda::allocator_stats().bytes_cached == 0);
}

TEST_CASE("cuda: copies round-trip exactly, odd sizes included") {
  SKIP_WITHOUT_GPU();
  for (std::size_t n : {std::size_t(1), std::size_t(7), std::size_t(1000), std::size_t(65537)}) {
    std::vector<float> host(n), back(n, -1.f);
    for (std::size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i) * 0.5f - 3.f;
    cuda::Buffer d(n), e(n);
    cuda::copy_to_device(d.data(), host.data(), n);
    cuda::copy_on_device(e.data(), d.data(), n);
    cuda::copy_to_host(back.data(), e.data(), n);
    CHECK(back == host);
    cuda::fill(e.data(), n, 2.5f);
    cuda::copy_to_host(back.data(), e.data(), n);
    CHECK(back == std::vector<float>(n, 2.5f));
  }
  std::vector<std::int32_t> ids{3, -1, 7}, ids_back(3);
  cuda::IntBuffer di(3);
  cuda::copy_ints_to_device(di.data(), ids.data(), 3);
  cuda::copy_ints_to_host(ids_back.data(), di.data(), 3);
  CHECK(ids_back == ids);
}

TEST_CASE("cuda: Tensor::to moves data to the GPU and back") {
  SKIP_WITHOUT_GPU();
  cuda::install_tensor_allocator();
  Rng rng(5);
  const Tensor x = Tensor::uniform({3, 1, 5}, -1.f, 1.f, rng);
  const Tensor d = x.to(Device::cuda);
  CHECK(d.device() == Device::cuda);
  CHECK(d.shape() == x.shape());
  CHECK_THROWS_AS(d.to_vector(), Error);  // host access to device data is an error, not a crash
  const Tensor back = d.to(Device::cpu);
  CHECK(back.is_cpu());
  CHECK(max_abs_diff(back, x) == 0.f);
}

TEST_CASE("cuda: a failing CUDA call becomes a CudaError naming call, file and line") {
  SKIP_WITHOUT_GPU();
  std::vector<float> host(4, 1.f);
  try {
    cuda::copy_to_device(nullptr, host.data(), 4);  // cudaMemcpy to a null device pointer
    FAIL("no exception");
  } catch (const cuda::CudaError& e) {
    const std::string what = e.what();
    MESSAGE(what);
    CHECK(what.find("cudaMemcpy") != std::string::npos);
    CHECK(e.file().find("device.cu") != std::string::npos);
    CHECK(e.line() > 0);
    CHECK(e.code() != 0);
  }
}

#else

TEST_CASE("cuda: device") { MESSAGE("skipped: no CUDA device (legato was built without LEGATO_CUDA)"); }

TEST_CASE("cuda: without LEGATO_CUDA the backend reports itself off") {
  CHECK_FALSE(cuda::available());
  CHECK_THROWS_AS(cuda::require_device(), Error);
  CHECK_THROWS_AS(Tensor::zeros({2}).to(Device::cuda), Error);
}

#endif

// ------------------------------------------------- Philox, on the CPU ----

TEST_CASE("philox4x32_10 matches the published known-answer vectors") {
  // Known-answer vectors of Random123 (kat_vectors), philox4x32 with 10 rounds.
  struct Kat {
    cuda::Philox4 counter;
    std::uint32_t key0, key1;
    cuda::Philox4 expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       0xffffffffu,
       0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       0xa4093822u,
       0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const auto& k : kats) {
    const cuda::Philox4 r = cuda::philox4x32_10(k.counter, k.key0, k.key1);
    for (int w = 0; w < 4; ++w) {
      INFO("word " << w);
      CHECK(r.v[w] == k.expected.v[w]);
    }
  }
}

TEST_CASE("philox uniforms lie in [0, 1) and look uniform") {
  double sum = 0;
  float lo = 1.f, hi = 0.f;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float u = cuda::philox_uniform_at(42, 7, static_cast<std::uint64_t>(i));
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
  }
  CHECK(lo >= 0.f);
  CHECK(hi < 1.f);
  CHECK(std::abs(sum / n - 0.5) < 0.01);
  // Another offset gives other numbers.
  CHECK(cuda::philox_uniform_at(42, 7, 3) != cuda::philox_uniform_at(42, 8, 3));
}

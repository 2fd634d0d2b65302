#pragma once
// The CUDA device: is there one, device memory, copies, timing.
//
// Every function in legato/cuda/*.hpp takes DEVICE pointers and plain sizes.
// They are defined in kernels/*.cu and exist only in programs linked with
// legato::cuda (CMake option LEGATO_CUDA=ON, which also defines LEGATO_CUDA).
// Without it only cuda::available() is usable, and it returns false.
//
// Conventions for the whole backend:
//   - float32, row-major, contiguous; shapes in comments use B T V I H C L.
//   - All work runs on one stream (the legacy default stream), so device
//     memory handed back to the caching allocator may be reused at once: any
//     later kernel is ordered after the ones that used it.
//   - Outputs are ASSIGNED unless the comment says "adds" (+=).
//   - Sizes are int64 in the API; a kernel checks that its index space fits
//     in 32 bits where it uses int internally, with a clear error otherwise.
//   - Launches are asynchronous. Functions that return a host value, or that
//     validate indices on the device (cross_entropy, embedding), synchronise.

#include <cstddef>
#include <cstdint>
#include <string>

#include "legato/cuda/error.hpp"

namespace legato::cuda {

// available(): true when the CUDA runtime finds at least one device (and a
// driver). require_device(): throws a legato::Error with a one-line reason
// when no device is usable ("legato was built without CUDA", or "no CUDA
// device: <the runtime's reason>"). Both work in every build.
#ifdef LEGATO_CUDA
bool available();
void require_device();
#else
inline bool available() { return false; }
inline void require_device() {
  fail("cuda: legato was built without CUDA (configure with -DLEGATO_CUDA=ON and link legato::cuda)");
}
#endif

// "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB, driver 12.8, runtime 13.0"
std::string device_description();

int multiprocessor_count();

// Waits for all queued work; throws CudaError if any of it failed.
void synchronize();

// ------------------------------------------------------- device memory ----

// The caching allocator: cudaMalloc'd blocks (never managed memory) are kept
// on free lists by size class after release and handed out again, because
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds.
// Size classes are quarter powers of two (512 B, 640 B, 768 B, 896 B, 1 KiB,
// ...), so at most 25% of a block is slack. Thread-safe.
float* allocate(std::size_t count);  // count floats; count 0 gives a valid block
void release(float* data);           // back to the free list (null is ignored)
std::int32_t* allocate_ints(std::size_t count);
void release_ints(std::int32_t* data);

struct AllocatorStats {
  std::size_t bytes_in_use = 0;     // handed out and not yet released
  std::size_t bytes_cached = 0;     // on the free lists
  std::size_t device_allocations = 0;  // cudaMalloc calls so far
  std::size_t cache_hits = 0;          // allocations served from a free list
};
AllocatorStats allocator_stats();
// Returns every cached block to the driver (cudaFree). Blocks in use stay.
void empty_cache();

// Copies between host and device (synchronous: they wait for queued work).
void copy_to_device(float* device_dst, const float* host_src, std::size_t count);
void copy_to_host(float* host_dst, const float* device_src, std::size_t count);
void copy_ints_to_device(std::int32_t* device_dst, const std::int32_t* host_src, std::size_t count);
void copy_ints_to_host(std::int32_t* host_dst, const std::int32_t* device_src, std::size_t count);
// Device to device, asynchronous.
void copy_on_device(float* dst, const float* src, std::size_t count);
// dst[i] = value, asynchronous.
void fill(float* dst, std::size_t count, float value);

// The hook that Tensor::to() and Storage call (see DeviceAllocator in
// legato/tensor.hpp): to_device = host -> device.
void copy_floats(float* dst, const float* src, std::size_t count, bool to_device);

// An owning device buffer, for tests, benchmarks and scratch space.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t count) : data_(allocate(count)), count_(count) {}
  ~Buffer() { release(data_); }
  Buffer(Buffer&& other) noexcept : data_(other.data_), count_(other.count_) {
    other.data_ = nullptr;
    other.count_ = 0;
  }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      release(data_);
      data_ = other.data_;
      count_ = other.count_;
      other.data_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  float* data() const { return data_; }
  std::size_t size() const { return count_; }

 private:
  float* data_ = nullptr;
  std::size_t count_ = 0;
};

class IntBuffer {
 public:
  IntBuffer() = default;
  explicit IntBuffer(std::size_t count) : data_(allocate_ints(count)), count_(count) {}
  ~IntBuffer() { release_ints(data_); }
  IntBuffer(IntBuffer&& other) noexcept : data_(other.data_), count_(other.count_) {
    other.data_ = nullptr;
    other.count_ = 0;
  }
  IntBuffer& operator=(IntBuffer&& other) noexcept {
    if (this != &other) {
      release_ints(data_);
      data_ = other.data_;
      count_ = other.count_;
      other.data_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }
  IntBuffer(const IntBuffer&) = delete;
  IntBuffer& operator=(const IntBuffer&) = delete;

  std::int32_t* data() const { return data_; }
  std::size_t size() const { return count_; }

 private:
  std::int32_t* data_ = nullptr;
  std::size_t count_ = 0;
};

// ------------------------------------------------------------- timing ----

// Elapsed GPU time between two points of the stream, by CUDA events.
//   EventTimer timer; timer.start(); ...launches...; float ms = timer.stop_ms();
class EventTimer {
 public:
  EventTimer();
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start();
  float stop_ms();  // records the end, waits for it, returns milliseconds

 private:
  void* start_ = nullptr;  // cudaEvent_t, kept opaque so this header needs no CUDA
  void* stop_ = nullptr;
};

}  // namespace legato::cuda

// The device, its memory and error reporting.
//
// Strategy of the caching allocator: a request is rounded up to a size class
// (quarter powers of two from 512 B, so at most 25% slack) and served from
// that class's free list when possible; otherwise cudaMalloc. release() puts
// the block back on its list; nothing is returned to the driver until
// empty_cache(), or until a cudaMalloc fails, in which case the cache is
// emptied and the allocation retried once. Because all kernels run on one
// stream, a released block can be handed out again immediately: the next
// user's kernels are queued after the previous user's. Never managed memory.
//
// The allocator object is created on first use and deliberately never
// destroyed, so tensors that die during static destruction can still release
// into it.

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.cuh"

namespace legato::cuda {

namespace detail {

void throw_cuda_error(cudaError_t code, const char* call, const char* file, int line) {
  // A failed call also sets the runtime's last error; clear it, or the next
  // launch check (cudaGetLastError) would blame an innocent kernel. Sticky
  // errors (a faulted context) stay set regardless.
  cudaGetLastError();
  // Strip the directories: "kernels/device.cu" is enough to find the line.
  std::string path = file;
  const auto slash = path.rfind("/kernels/");
  if (slash != std::string::npos) path = path.substr(slash + 1);
  throw CudaError(call, path, line, static_cast<int>(code),
                  std::string(cudaGetErrorString(code)) + " (" + cudaGetErrorName(code) + ")");
}

static bool sync_after_launch() {
  static const bool on = [] {
    const char* env = std::getenv("LEGATO_CUDA_SYNC");
    return env && env[0] == '1';
  }();
  return on;
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess && sync_after_launch()) status = cudaDeviceSynchronize();
  if (status != cudaSuccess) throw_cuda_error(status, kernel, file, line);
}

void check_fits_int(std::int64_t count, const char* op, const char* what) {
  check(count >= 0 && count <= std::numeric_limits<int>::max(), "cuda ", op, ": ", what, " = ", count,
        " exceeds the 2^31 - 1 elements this kernel indexes with int");
}

int grid_for(std::int64_t n, int threads) {
  static const int limit = [] {
    int sms = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess || sms <= 0) sms = 80;
    return sms * 8;
  }();
  const std::int64_t needed = (n + threads - 1) / threads;
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(needed, limit)));
}

}  // namespace detail

// ------------------------------------------------------------- device ----

namespace {

// cudaGetDeviceCount once; its error (no driver, no device) is kept as text.
struct Probe {
  bool ok = false;
  std::string reason;
};

const Probe& probe() {
  static const Probe result = [] {
    Probe p;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      p.reason = std::string(cudaGetErrorString(status)) + " (" + cudaGetErrorName(status) + ")";
      cudaGetLastError();  // clear the sticky error so later calls report their own
    } else if (count == 0) {
      p.reason = "the CUDA runtime found no device";
    } else {
      p.ok = true;
    }
    return p;
  }();
  return result;
}

}  // namespace

bool available() { return probe().ok; }

void require_device() {
  check(probe().ok, "cuda: no CUDA device: ", probe().reason);
}

std::string device_description() {
  require_device();
  int device = 0;
  LEGATO_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  LEGATO_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  int driver = 0, runtime = 0;
  LEGATO_CUDA_CHECK(cudaDriverGetVersion(&driver));
  LEGATO_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  char text[512];
  std::snprintf(text, sizeof text, "%s, sm_%d%d, %d SMs, %.1f GiB, driver %d.%d, runtime %d.%d", prop.name,
                prop.major, prop.minor, prop.multiProcessorCount,
                static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0), driver / 1000,
                (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
  return text;
}

int multiprocessor_count() {
  require_device();
  int device = 0, sms = 0;
  LEGATO_CUDA_CHECK(cudaGetDevice(&device));
  LEGATO_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

void synchronize() { LEGATO_CUDA_CHECK(cudaDeviceSynchronize()); }

// ------------------------------------------------------- the allocator ----

namespace {

// Rounds up to the next quarter power of two, at least 512 bytes.
std::size_t size_class(std::size_t bytes) {
  if (bytes <= 512) return 512;
  std::size_t power = 512;
  while (power * 2 < bytes) power *= 2;  // power < bytes <= 2 power
  const std::size_t quarter = power / 4;
  return ((bytes + quarter - 1) / quarter) * quarter;
}

class CachingAllocator {
 public:
  void* allocate(std::size_t bytes) {
    require_device();
    const std::size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto& list = free_[cls];
    void* p = nullptr;
    if (!list.empty()) {
      p = list.back();
      list.pop_back();
      stats_.bytes_cached -= cls;
      ++stats_.cache_hits;
    } else {
      cudaError_t status = cudaMalloc(&p, cls);
      if (status == cudaErrorMemoryAllocation) {  // give the cache back, then retry once
        cudaGetLastError();
        release_cached_locked();
        status = cudaMalloc(&p, cls);
      }
      if (status != cudaSuccess) {
        cudaGetLastError();
        detail::throw_cuda_error(status, ("cudaMalloc(" + std::to_string(cls) + " bytes)").c_str(), __FILE__,
                                 __LINE__);
      }
      ++stats_.device_allocations;
    }
    live_[p] = cls;
    stats_.bytes_in_use += cls;
    return p;
  }

  // Never throws: it runs in destructors.
  void release(void* p) noexcept {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_.find(p);
    if (it == live_.end()) {
      std::fprintf(stderr, "legato cuda: release of a pointer the allocator does not own (ignored)\n");
      return;
    }
    const std::size_t cls = it->second;
    live_.erase(it);
    stats_.bytes_in_use -= cls;
    try {
      free_[cls].push_back(p);
      stats_.bytes_cached += cls;
    } catch (...) {
      cudaFree(p);  // no memory for the list entry: give the block to the driver
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  void release_cached_locked() {
    for (auto& [cls, list] : free_) {
      for (void* p : list) cudaFree(p);
      stats_.bytes_cached -= cls * list.size();
      list.clear();
    }
  }

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;  // size class -> free blocks
  std::unordered_map<void*, std::size_t> live_;               // block -> size class
  AllocatorStats stats_;
};

CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator();  // never destroyed, see above
  return *instance;
}

}  // namespace

float* allocate(std::size_t count) { return static_cast<float*>(allocator().allocate(count * sizeof(float))); }
void release(float* data) { allocator().release(data); }
std::int32_t* allocate_ints(std::size_t count) {
  return static_cast<std::int32_t*>(allocator().allocate(count * sizeof(std::int32_t)));
}
void release_ints(std::int32_t* data) { allocator().release(data); }
AllocatorStats allocator_stats() { return allocator().stats(); }
void empty_cache() { allocator().empty_cache(); }

// ------------------------------------------------------------- copies ----

void copy_to_device(float* device_dst, const float* host_src, std::size_t count) {
  if (count) LEGATO_CUDA_CHECK(cudaMemcpy(device_dst, host_src, count * sizeof(float), cudaMemcpyHostToDevice));
}
void copy_to_host(float* host_dst, const float* device_src, std::size_t count) {
  if (count) LEGATO_CUDA_CHECK(cudaMemcpy(host_dst, device_src, count * sizeof(float), cudaMemcpyDeviceToHost));
}
void copy_ints_to_device(std::int32_t* device_dst, const std::int32_t* host_src, std::size_t count) {
  if (count)
    LEGATO_CUDA_CHECK(cudaMemcpy(device_dst, host_src, count * sizeof(std::int32_t), cudaMemcpyHostToDevice));
}
void copy_ints_to_host(std::int32_t* host_dst, const std::int32_t* device_src, std::size_t count) {
  if (count)
    LEGATO_CUDA_CHECK(cudaMemcpy(host_dst, device_src, count * sizeof(std::int32_t), cudaMemcpyDeviceToHost));
}
void copy_on_device(float* dst, const float* src, std::size_t count) {
  if (count) LEGATO_CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToDevice, 0));
}
void copy_floats(float* dst, const float* src, std::size_t count, bool to_device) {
  if (to_device)
    copy_to_device(dst, src, count);
  else
    copy_to_host(dst, src, count);
}

namespace {
__global__ void fill_kernel(float* dst, std::int64_t n, float value) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}
}  // namespace

void fill(float* dst, std::size_t count, float value) {
  if (!count) return;
  const auto n = static_cast<std::int64_t>(count);
  fill_kernel<<<detail::grid_for(n, 256), 256>>>(dst, n, value);
  LEGATO_CUDA_LAUNCHED("fill_kernel");
}

// ------------------------------------------------------------- timing ----

EventTimer::EventTimer() {
  require_device();
  cudaEvent_t a, b;
  LEGATO_CUDA_CHECK(cudaEventCreate(&a));
  LEGATO_CUDA_CHECK(cudaEventCreate(&b));
  start_ = a;
  stop_ = b;
}

EventTimer::~EventTimer() {
  cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

void EventTimer::start() { LEGATO_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), 0)); }

float EventTimer::stop_ms() {
  LEGATO_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), 0));
  LEGATO_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0.f;
  LEGATO_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
  return ms;
}

}  // namespace legato::cuda

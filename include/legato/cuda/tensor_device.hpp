#pragma once
// Connects legato::Tensor to the CUDA backend: installs the caching
// allocator, the copy routines, fill and gradient accumulation into
// device_allocator(Device::cuda), so that Tensor::empty(shape, Device::cuda),
// Tensor::to(Device::cuda), zeros, clone and backward work there.
//
// Including this header in a program built with LEGATO_CUDA registers them
// during static initialisation (no CUDA call is made then; the first
// allocation finds out whether a device exists and, if not, throws a
// legato::Error saying so). install_tensor_allocator() does the same
// explicitly and may be called any number of times.
//
// Without LEGATO_CUDA this header does nothing, and Tensor::to(Device::cuda)
// keeps failing with "no copy routine for device 'cuda'".

#include "legato/cuda/device.hpp"
#include "legato/cuda/elementwise.hpp"
#include "legato/tensor.hpp"

namespace legato::cuda {

#ifdef LEGATO_CUDA
inline void install_tensor_allocator() {
  DeviceAllocator& slot = device_allocator(Device::cuda);
  slot.allocate = &cuda::allocate;
  slot.release = &cuda::release;
  slot.copy = &cuda::copy_floats;
  slot.fill = &cuda::fill;
  slot.copy_within = &cuda::copy_on_device;
  slot.accumulate = [](float* acc, const float* src, std::size_t count) {
    cuda::axpy(1.f, src, static_cast<std::int64_t>(count), acc);
  };
}

namespace detail {
// An inline variable is initialised once per program, whichever translation
// units include this header.
inline const bool tensor_allocator_installed = [] {
  install_tensor_allocator();
  return true;
}();
}  // namespace detail
#endif

}  // namespace legato::cuda

#pragma once
// CudaError: a failed CUDA runtime call, as a legato::Error that names the
// call, the file and the line, e.g.
//
//   cuda: cudaMalloc(&p, bytes) failed at kernels/device.cu:88: out of memory (cudaErrorMemoryAllocation)
//
// Thrown by LEGATO_CUDA_CHECK in kernels/common.cuh. Kernel launches are
// checked too (cudaGetLastError right after the launch); a fault inside a
// running kernel surfaces at the next synchronising call. Set the environment
// variable LEGATO_CUDA_SYNC=1 to synchronise after every launch, so that the
// error names the kernel that failed.
//
// This header needs no CUDA headers: the error code is kept as an int.

#include <string>

#include "legato/util/error.hpp"

namespace legato::cuda {

class CudaError : public Error {
 public:
  CudaError(std::string call, std::string file, int line, int code, const std::string& reason)
      : Error(::legato::detail::concat("cuda: ", call, " failed at ", file, ":", line, ": ", reason)),
        call_(std::move(call)),
        file_(std::move(file)),
        line_(line),
        code_(code) {}

  const std::string& call() const { return call_; }  // the expression, as written
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int code() const { return code_; }  // the cudaError_t value

 private:
  std::string call_, file_;
  int line_, code_;
};

}  // namespace legato::cuda

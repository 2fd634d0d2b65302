#pragma once
// The CUDA backend, all of it: include this one header. Every entry point
// takes device pointers and sizes; see device.hpp for the conventions and
// docs/cuda.md for the kernels and how the tensor ops dispatch to them.
// In a build without LEGATO_CUDA only cuda::available() (false) and
// cuda::require_device() (throws) may be called.

#include "legato/cuda/batchnorm.hpp"
#include "legato/cuda/conv1d.hpp"
#include "legato/cuda/device.hpp"
#include "legato/cuda/dropout.hpp"
#include "legato/cuda/elementwise.hpp"
#include "legato/cuda/embedding.hpp"
#include "legato/cuda/error.hpp"
#include "legato/cuda/gemm.hpp"
#include "legato/cuda/loss.hpp"
#include "legato/cuda/lstm.hpp"
#include "legato/cuda/optim.hpp"
#include "legato/cuda/philox.hpp"
#include "legato/cuda/reduce.hpp"
#include "legato/cuda/softmax.hpp"
#include "legato/cuda/tensor_device.hpp"

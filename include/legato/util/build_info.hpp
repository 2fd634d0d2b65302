#pragma once
// How this program was built: compiler and flags, OpenMP and its thread count,
// the Eigen version, and whether CUDA is on. Every example prints it at start.

#include <Eigen/Core>
#include <sstream>
#include <string>

#include "legato/util/threads.hpp"

#ifndef LEGATO_BUILD_FLAGS
#define LEGATO_BUILD_FLAGS "(not built by legato's CMake)"
#endif
#ifndef LEGATO_BUILD_TYPE
#define LEGATO_BUILD_TYPE "unknown"
#endif

namespace legato {

inline std::string compiler_name() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown compiler";
#endif
}

inline bool cuda_enabled() {
#ifdef LEGATO_CUDA
  return true;
#else
  return false;
#endif
}

inline std::string build_info() {
  std::ostringstream out;
  out << "legato build: " << compiler_name() << ", " << LEGATO_BUILD_TYPE << ", flags: " << LEGATO_BUILD_FLAGS
      << "\n  Eigen " << EIGEN_WORLD_VERSION << '.' << EIGEN_MAJOR_VERSION << '.' << EIGEN_MINOR_VERSION
      << " (SIMD: " << Eigen::SimdInstructionSetsInUse() << ")";
#ifdef _OPENMP
  out << ", OpenMP on (" << num_threads() << " threads)";
#else
  out << ", OpenMP OFF (1 thread)";
#endif
  out << ", CUDA " << (cuda_enabled() ? "on" : "off");
  return out.str();
}

}  // namespace legato

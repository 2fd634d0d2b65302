#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. install missing packages            5. libFuzzer targets, bounded time
#   2. Release build, -Werror, all tests   6. the CUDA build compiles (when nvcc exists)
#   3. ASan + UBSan build of the tests     7. an outside project finds the installed legato
#   4. example smoke runs (inside ctest)   8. on an AVX-512 machine, the AVX2 engine's build and tests
# Set LEGATO_TEST_QUICK=1 to run only stage 2.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
passed=0
failed_stages=()
stage() { echo; echo "==== $* ===="; }
ok() { passed=$((passed + 1)); }

bash scripts/setup.sh

stage "release build and tests"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLEGATO_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"
if ctest --test-dir build/release --output-on-failure -j"$jobs"; then ok; else failed_stages+=(release); fi

if [ "${LEGATO_TEST_QUICK:-0}" != 1 ]; then
  stage "address + undefined-behaviour sanitizers"
  cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DLEGATO_SANITIZE=ON -DLEGATO_WERROR=ON \
        -DLEGATO_BUILD_BENCH=OFF -DLEGATO_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
  cmake --build build/sanitize -j"$jobs"
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --test-dir build/sanitize --output-on-failure -j"$jobs"; then ok; else failed_stages+=(sanitize); fi

  # The fused LSTM engine comes in an AVX-512 and an AVX2 version, and
  # -march=native builds only the one this CPU runs. On an AVX-512 machine,
  # also build the AVX2 one (x86-64-v3: AVX2 + FMA) and run the tests that
  # cover it and the other AVX2 paths. An AVX2 machine cannot run the AVX-512
  # version, so there is nothing more to build there.
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null || [ "${LEGATO_TEST_AVX2_BUILD:-0}" = 1 ]; then
    stage "the AVX2 engine, built for x86-64-v3"
    avx2_tests=(test_lstm_fused test_ops_matmul test_optim)
    if cmake -S . -B build/avx2 -DCMAKE_BUILD_TYPE=Release -DLEGATO_WERROR=ON -DLEGATO_PORTABLE=ON \
             -DCMAKE_CXX_FLAGS="-march=x86-64-v3" -DLEGATO_BUILD_EXAMPLES=OFF -DLEGATO_BUILD_BENCH=OFF >/dev/null &&
       cmake --build build/avx2 -j"$jobs" --target "${avx2_tests[@]}" &&
       ctest --test-dir build/avx2 -R "^($(IFS='|'; echo "${avx2_tests[*]}"))\$" --output-on-failure; then
      ok
    else
      failed_stages+=(avx2)
    fi
  fi

  if [ -d fuzz ] && ls fuzz/*_fuzz.cpp >/dev/null 2>&1; then
    stage "fuzzing (bounded time)"
    cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DLEGATO_BUILD_FUZZ=ON \
          -DLEGATO_BUILD_TESTS=OFF -DLEGATO_BUILD_EXAMPLES=OFF -DLEGATO_BUILD_BENCH=OFF \
          -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
    cmake --build build/fuzz -j"$jobs"
    if bash scripts/run_fuzzers.sh build/fuzz "${LEGATO_FUZZ_SECONDS:-45}"; then ok; else failed_stages+=(fuzz); fi
  fi

  if command -v nvcc >/dev/null 2>&1 && [ -f kernels/CMakeLists.txt ]; then
    stage "CUDA build compiles (no GPU needed)"
    # The kernels, the CUDA tests, the GPU benchmark and melody_lstm (whose
    # --device cuda step exists only in this build; its smoke run checks that
    # training on a missing GPU is refused). The rest of the tree is the same
    # code as the release stage and is not rebuilt.
    cuda_targets=(legato_cuda cuda_lstm_bench melody_lstm)
    for t in tests/test_cuda_*.cpp; do cuda_targets+=("$(basename "${t%.cpp}")"); done
    if cmake -S . -B build/cuda -DLEGATO_CUDA=ON -DLEGATO_BUILD_BENCH=OFF -DLEGATO_WERROR=ON >/dev/null &&
       cmake --build build/cuda -j"$jobs" --target "${cuda_targets[@]}" &&
       ctest --test-dir build/cuda -R 'test_cuda|melody_lstm_smoke' --output-on-failure; then ok; else failed_stages+=(cuda-compile); fi
  fi

  stage "install, then find_package(legato) from an outside project"
  rm -rf build/install build/consumer
  cmake --install build/release --prefix build/install >/dev/null
  if cmake -S tests/consumer -B build/consumer -DCMAKE_PREFIX_PATH="$root/build/install" >/dev/null &&
     cmake --build build/consumer -j"$jobs" && build/consumer/legato_consumer; then ok; else failed_stages+=(consumer); fi
fi

echo
if ((${#failed_stages[@]})); then
  echo "failed stages: ${failed_stages[*]}"
  echo "stages: $passed passed, ${#failed_stages[@]} failed"
  exit 1
fi
echo "stages: $passed passed, 0 failed"

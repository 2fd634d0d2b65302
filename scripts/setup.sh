#!/usr/bin/env bash
# Installs the Debian packages legato needs, only those that are missing, so
# the README's two commands work on a fresh Debian 12 machine.
# Usage: scripts/setup.sh            (build, test and example dependencies)
#        LEGATO_SETUP_EXTRA="libtorch-dev libdnnl-dev libopenblas0-pthread" scripts/setup.sh
#                                    (the side-by-side comparisons in bench/, see bench/RESULTS.md)
set -euo pipefail

packages=(
  cmake g++ make            # the build
  libeigen3-dev             # the CPU backend (Eigen 3.4)
  libomp-dev                # OpenMP runtime for clang builds (g++ brings libgomp)
  doctest-dev               # the test framework
  libbenchmark-dev          # Google Benchmark, for bench/
  clang libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes
  nlohmann-json3-dev        # JSON for safetensors headers and metrics files
  python3 python3-mido      # independent MIDI reader for the CI cross-check
)
# shellcheck disable=SC2206
packages+=(${LEGATO_SETUP_EXTRA:-})

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

#!/usr/bin/env bash
# The main job: install what is missing, build, and run the flagship example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target autograd_tour
build/release/examples/autograd_tour/autograd_tour

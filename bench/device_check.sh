#!/usr/bin/env bash
# The CUDA device check: build legato with LEGATO_CUDA=ON on the GPU machine,
# run the CUDA tests, time our LSTM layer (persistent and per-step engines)
# and PyTorch's nn.LSTM on cuDNN at the same shapes, and print one table
# with the ratios. Made to run as ONE call of at most 8 minutes on an H100 or
# H200 machine that has nvcc, CMake and PyTorch (see docs/cuda.md).
#
# Usage (from the repository root):
#   bench/device_check.sh                     on the GPU machine
#   bench/device_check.sh --prepare-deps DIR  on a machine that has Eigen,
#                                             doctest and nlohmann-json: copies
#                                             their headers and CMake files to
#                                             DIR (about 11 MiB) for a GPU
#                                             machine that lacks them
#   bench/device_check.sh --prepare-prebuilt BUILD DIR
#                                             copies the CUDA programs of BUILD
#                                             (configured with LEGATO_CUDA=ON and
#                                             -DLEGATO_PORTABLE=ON, so no
#                                             -march=native) stripped into DIR
#
# Environment:
#   LEGATO_DEPS_DIR   a folder made by --prepare-deps (default: build/deps when
#                     it exists); it goes on CMAKE_PREFIX_PATH and the include path
#   LEGATO_PREBUILT   a folder of programs built elsewhere (test_cuda_*,
#                     cuda_lstm_bench, melody_lstm; made by --prepare-prebuilt):
#                     used instead of building when they start on this machine,
#                     which saves the build's minutes of device time
#   LEGATO_BUILD_DIR  build folder (default build/cuda-device)
#   LEGATO_JOBS       parallel build jobs (default: nproc)
#   OUT               if set, the table, the two timing files and all test output
#                     are copied there when they exist, and an archive of every
#                     log always (at most 5 files)
#   LEGATO_DEADLINE_S sections that would start later than this many seconds
#                     after the start are skipped (default 420)
#   SHAPES            BxTxIxH list (default: the seed's shape 64x64x45x256, then
#                     B=256, then H=512 and H=1024)
#   MELODY_CORPORA    corpus folders (ESAC's han, deutsch: copy them into an
#                     ignored folder and carry it, since ../shared does not
#                     travel). When set, and melody_lstm was built or
#                     prebuilt: its smoke run (which checks the GPU's training
#                     step against the CPU's), then per corpus a 60 s
#                     `train --device cuda` (with --best-out) beside the CPU's
#                     default 60 s run on 8 of the machine's cores, and one
#                     more GPU run per entry of MELODY_GPU_FLAGS
#   MELODY_SECONDS    the runs' --time-budget (default 60)
#   MEMCHECK_TESTS    CUDA tests to run once more under compute-sanitizer's
#                     memcheck at the end (default none), e.g. test_cuda_lstm
#   MELODY_GPU_FLAGS  ';'-separated flag sets for the extra GPU runs (default
#                     none), e.g. "--batch 64"
#
# Exit status: 0 when the build and every CUDA test passed (the timings are
# reported either way), 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

prepare_deps() {
  local dir=$1
  mkdir -p "$dir/include" "$dir/share/eigen3/cmake" "$dir/lib/cmake/doctest"
  cp -r /usr/include/eigen3 "$dir/include/"
  cp /usr/share/eigen3/cmake/Eigen3Config*.cmake /usr/share/eigen3/cmake/Eigen3Targets.cmake "$dir/share/eigen3/cmake/"
  cp -r /usr/include/doctest "$dir/include/"
  if [ -d /usr/include/nlohmann ]; then  # headers and the CMake package find_package(nlohmann_json) needs
    cp -r /usr/include/nlohmann "$dir/include/"
    mkdir -p "$dir/share/cmake/nlohmann_json"
    cp /usr/share/cmake/nlohmann_json/nlohmann_json*.cmake "$dir/share/cmake/nlohmann_json/"
  fi
  # Debian's doctestTargets.cmake hard-codes /usr; write a relocatable one.
  cat >"$dir/lib/cmake/doctest/doctestConfig.cmake" <<'EOF'
# Minimal, relocatable doctest package (written by bench/device_check.sh --prepare-deps).
get_filename_component(_doctest_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET doctest::doctest)
  add_library(doctest::doctest INTERFACE IMPORTED)
  set_target_properties(doctest::doctest PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_doctest_prefix}/include")
endif()
set(doctest_FOUND TRUE)
EOF
  du -sh "$dir"
}

prepare_prebuilt() {
  local build=$1 dir=$2
  mkdir -p "$dir"
  for f in "$build"/tests/test_cuda_* "$build"/kernels/cuda_lstm_bench "$build"/examples/melody_lstm/melody_lstm; do
    [ -x "$f" ] && [ -f "$f" ] && strip -o "$dir/$(basename "$f")" "$f"
  done
  # libgomp, for a machine whose image lacks it (used only then)
  cp "$(gcc -print-file-name=libgomp.so.1)" "$dir/" 2>/dev/null
  du -sh "$dir"; ls "$dir"
}

if [ "${1:-}" = "--prepare-prebuilt" ]; then
  [ -n "${3:-}" ] || { echo "usage: $0 --prepare-prebuilt BUILD DIR" >&2; exit 2; }
  prepare_prebuilt "$2" "$3"
  exit 0
fi

if [ "${1:-}" = "--prepare-deps" ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 --prepare-deps DIR" >&2; exit 2; }
  prepare_deps "$2"
  exit 0
fi

build=${LEGATO_BUILD_DIR:-build/cuda-device}
jobs=${LEGATO_JOBS:-$(nproc)}
shapes=${SHAPES:-64x64x45x256,256x64x45x256,64x64x45x512,64x64x45x1024}
deps=${LEGATO_DEPS_DIR:-}
[ -z "$deps" ] && [ -d build/deps ] && deps=build/deps
logs=$build/device_check  # every log; $OUT gets at most 5 files (the device tool returns 8)
mkdir -p "$logs"
status=0
deadline=$((SECONDS + ${LEGATO_DEADLINE_S:-420}))  # later sections are skipped past it
section() { echo; echo "==== $* ===="; }
time_left() { [ "$SECONDS" -lt "$deadline" ] || { echo "skipped: past the script's deadline"; return 1; }; }
copy_out() {  # what comes back from the device machine: the table, the two timing files, all logs
  [ -n "${OUT:-}" ] || return 0
  mkdir -p "$OUT"
  cp "$logs"/table.txt "$logs"/legato.txt "$logs"/cudnn.txt "$OUT/" 2>/dev/null
  cat "$logs"/test_cuda_*.log >"$OUT/tests.log" 2>/dev/null
  tar czf "$OUT/device_check_logs.tgz" -C "$logs" . 2>/dev/null
}
trap copy_out EXIT

section "machine"
date -u +"%Y-%m-%d %H:%M UTC"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"
nvcc --version | tail -n 2
cmake --version | head -n 1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" \
  || echo "python3: no torch"

section "configure and build ($build, $jobs jobs)"
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DLEGATO_CUDA=ON -DLEGATO_BUILD_BENCH=OFF -DLEGATO_BUILD_EXAMPLES=OFF
            -DLEGATO_WERROR=OFF)
if [ -n "$deps" ]; then
  deps=$(cd "$deps" && pwd)
  echo "dependencies from $deps"
  [ -f "$deps/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake" ] ||
    echo "warning: $deps has no nlohmann_json CMake package; rerun bench/device_check.sh --prepare-deps $deps"
  cmake_args+=(-DCMAKE_PREFIX_PATH="$deps" -DCMAKE_CXX_FLAGS="-isystem $deps/include")
fi
tests=()
for f in tests/test_cuda_*.cpp; do tests+=("$(basename "$f" .cpp)"); done
start=$(date +%s)
# Programs built elsewhere, when they start here: no build, no device minutes spent on it.
test_dir=$build/tests bench_bin=$build/kernels/cuda_lstm_bench melody_bin=$build/examples/melody_lstm/melody_lstm
prebuilt=${LEGATO_PREBUILT:-}
if [ -n "$prebuilt" ] && [ -x "$prebuilt/test_cuda_device" ]; then
  ldconfig -p 2>/dev/null | grep -q 'libgomp.so.1 ' || export LD_LIBRARY_PATH="$(cd "$prebuilt" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if "$prebuilt/test_cuda_device" --help >"$logs/prebuilt_probe.log" 2>&1; then
    echo "using the prebuilt programs in $prebuilt"
    test_dir=$prebuilt bench_bin=$prebuilt/cuda_lstm_bench melody_bin=$prebuilt/melody_lstm
  else
    echo "the prebuilt programs in $prebuilt do not start here; building:"; head -n 3 "$logs/prebuilt_probe.log"
    prebuilt=""
  fi
else
  prebuilt=""
fi
if [ -n "$prebuilt" ]; then
  :
elif cmake -S . -B "$build" "${cmake_args[@]}" >"$logs/configure.log" 2>&1 &&
   cmake --build "$build" -j"$jobs" --target legato_cuda cuda_lstm_bench "${tests[@]}" >"$logs/build.log" 2>&1; then
  echo "built in $(( $(date +%s) - start )) s"
else
  echo "BUILD FAILED after $(( $(date +%s) - start )) s; last lines:"
  tail -n 40 "$logs/configure.log" "$logs/build.log" 2>/dev/null
  exit 1
fi

section "CUDA tests (LEGATO_CUDA_SYNC=1: a kernel fault names its kernel)"
lstm_tests_ok=1
for t in "${tests[@]}"; do
  time_left || { status=1; break; }
  if LEGATO_CUDA_SYNC=1 timeout 60 "$test_dir/$t" >"$logs/$t.log" 2>&1; then
    echo "PASS $t ($(grep -E '^\[doctest\] assertions' "$logs/$t.log" | sed 's/\[doctest\] //'))"
  else
    echo "FAIL $t"
    grep -E "ERROR|CHECK|MESSAGE|with expansion|mismatch" "$logs/$t.log" | head -n 30
    status=1
    [ "$t" = test_cuda_lstm ] && lstm_tests_ok=0
    # A failing test again under compute-sanitizer's memcheck, briefly: an
    # out-of-bounds access or an uninitialised read names its kernel and line.
    if command -v compute-sanitizer >/dev/null && [ "${LEGATO_SANITIZE_FAILURES:-1}" = 1 ] && time_left; then
      timeout 60 compute-sanitizer --tool memcheck --print-limit 20 "$test_dir/$t" >"$logs/$t.memcheck.log" 2>&1
      echo "  memcheck (rc $?): $(grep -cE '^========= (Invalid|Program hit|Uninitialized)' "$logs/$t.memcheck.log") reports; first:"
      grep -E '^========= ' "$logs/$t.memcheck.log" | head -n 8 | sed 's/^/    /'
    fi
  fi
  grep -q "skipped: no CUDA device" "$logs/$t.log" && { echo "  ... but it was SKIPPED: no CUDA device"; status=1; }
  grep -q "persistent kernel not supported" "$logs/$t.log" &&
    { echo "  ... and the persistent LSTM engine was NOT tested (reported unsupported)"; status=1; }
done

# A hang of the persistent kernel in the tests would hang the benchmark too:
# then time the per-step engine only.
algos=persistent,per_step
[ "$lstm_tests_ok" = 1 ] || { algos=per_step; echo "test_cuda_lstm failed: benchmarking the per-step engine only"; }
section "LSTM benchmark: legato ($algos)"
if time_left; then
  timeout 120 "$bench_bin" --shapes "$shapes" --algos "$algos" | tee "$logs/legato.txt" ||
    { echo "cuda_lstm_bench failed"; status=1; }
  grep -q "unsupported" "$logs/legato.txt" && echo "warning: the persistent engine is unsupported at some shape (see above)"
fi

section "LSTM benchmark: PyTorch nn.LSTM on cuDNN"
if time_left; then
  timeout 120 python3 bench/cudnn_lstm.py --shapes "$shapes" | tee "$logs/cudnn.txt" ||
    { echo "cudnn_lstm.py failed"; status=1; }
fi

section "table (milliseconds per call; ratio = cuDNN time / legato time, > 1 means legato is faster)"
python3 - "$logs/legato.txt" "$logs/cudnn.txt" <<'EOF' | tee "$logs/table.txt"
import re, sys

def read(path, kind):
    rows = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return rows
    for line in lines:
        if not line.startswith(kind + " ") or "unsupported" in line:
            continue
        fields = dict(re.findall(r"(\w+)=([^\s]+)", line))
        shape = tuple(int(fields[k]) for k in ("B", "T", "I", "H"))
        variant = fields.get("algo") or ("tf32" if fields.get("tf32") == "1" else "fp32")
        rows[(shape, variant)] = (float(fields["fwd_ms"]), float(fields["fwdbwd_ms"]))
    return rows

ours, theirs = read(sys.argv[1], "legato"), read(sys.argv[2], "cudnn")
shapes = sorted({s for s, _ in ours} | {s for s, _ in theirs}, key=lambda s: (s[3], s[0]))
def cell(rows, key, i):
    return f"{rows[key][i]:.3f}" if key in rows else "-"
header = ("B", "T", "I", "H", "timed", "persistent", "per_step", "cuDNN fp32", "cuDNN tf32", "best legato",
          "vs fp32", "vs tf32")
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for s in shapes:
    for i, name in ((0, "fwd"), (1, "fwd+bwd")):
        mine = [ours[k][i] for k in ((s, "persistent"), (s, "per_step")) if k in ours]
        best = min(mine) if mine else None
        row = [*map(str, s), name, cell(ours, (s, "persistent"), i), cell(ours, (s, "per_step"), i),
               cell(theirs, (s, "fp32"), i), cell(theirs, (s, "tf32"), i),
               f"{best:.3f}" if best else "-",
               f"{theirs[(s, 'fp32')][i] / best:.2f}x" if best and (s, "fp32") in theirs else "-",
               f"{theirs[(s, 'tf32')][i] / best:.2f}x" if best and (s, "tf32") in theirs else "-"]
        print("| " + " | ".join(row) + " |")
EOF

section "melody_lstm: training on the GPU beside the CPU"
melody_runs() {  # corpus, label, extra flags...: one 60 s GPU run with --best-out, then its best model evaluated
  local corpus=$1 label=$2; shift 2
  local out=$models/$label
  "$melody_bin" train --device cuda --corpus "$corpus" --out "$out.safetensors" --best-out "$out.best.safetensors" \
    --time-budget "$seconds" --threads 8 --metrics-json "$logs/$label.json" "$@" >"$logs/$label.log" 2>&1 ||
    { echo "FAIL $label:"; tail -n 5 "$logs/$label.log"; status=1; return; }
  "$melody_bin" evaluate --model "$out.best.safetensors" --corpus "$corpus" --threads 8 >"$logs/$label.best.log" 2>&1
  echo "$label: $(grep -E '^held-out' "$logs/$label.log" | head -n 1)"
  echo "  $(grep -E 'trained [0-9]+ steps' "$logs/$label.log" | head -n 1)"
  echo "  best model ($(grep -oE 'trained [0-9]+ epochs' "$logs/$label.best.log")): $(grep -E '^LSTM ' "$logs/$label.best.log" | head -n 1)"
}
if [ -z "${MELODY_CORPORA:-}" ]; then
  echo "skipped: MELODY_CORPORA is not set"
elif [ ! -x "$melody_bin" ]; then
  echo "skipped: no melody_lstm program ($melody_bin)"
elif time_left; then
  seconds=${MELODY_SECONDS:-60}
  models=$build/melody_models
  mkdir -p "$models"
  if timeout 120 "$melody_bin" --smoke >"$logs/melody_smoke.log" 2>&1; then
    grep -E "device cuda|smoke: ok" "$logs/melody_smoke.log"
  else
    echo "FAIL melody_lstm --smoke:"; tail -n 5 "$logs/melody_smoke.log"; status=1
  fi
  for corpus in $MELODY_CORPORA; do
    time_left || { status=1; break; }
    name=$(basename "$corpus")
    # The CPU's default run on 8 cores, in the same minute as the GPU's.
    "$melody_bin" train --corpus "$corpus" --out "$models/$name.cpu.safetensors" --time-budget "$seconds" --threads 8 \
      --metrics-json "$logs/$name.cpu.json" >"$logs/$name.cpu.log" 2>&1 &
    cpu_pid=$!
    melody_runs "$corpus" "$name.gpu"
    wait "$cpu_pid" || { echo "FAIL $name.cpu"; status=1; }
    echo "$name.cpu: $(grep -E '^held-out' "$logs/$name.cpu.log" | head -n 1)"
    echo "  $(grep -E 'trained [0-9]+ steps' "$logs/$name.cpu.log" | head -n 1)"
  done
  IFS=';' read -r -a flag_sets <<<"${MELODY_GPU_FLAGS:-}"
  for flags in ${flag_sets[@]+"${flag_sets[@]}"}; do  # (an empty array under set -u, before bash 4.4)
    for corpus in $MELODY_CORPORA; do
      time_left || { status=1; break; }
      label="$(basename "$corpus").gpu$(echo "$flags" | tr -c 'A-Za-z0-9.\n' '_')"
      # shellcheck disable=SC2086  # the flag set splits into words on purpose
      melody_runs "$corpus" "$label" $flags
    done
  done
fi

section "compute-sanitizer memcheck (MEMCHECK_TESTS)"
for t in ${MEMCHECK_TESTS:-}; do
  time_left || break
  if ! command -v compute-sanitizer >/dev/null; then echo "skipped: no compute-sanitizer"; break; fi
  # (no --leak-check: the caching allocator keeps its blocks until the program ends, by design)
  timeout 150 compute-sanitizer --tool memcheck "$test_dir/$t" >"$logs/$t.memcheck.log" 2>&1
  rc=$?
  echo "$t under memcheck: rc $rc, $(grep -E '^========= ERROR SUMMARY' "$logs/$t.memcheck.log" | tail -n 1)"
  if [ "$rc" = 124 ]; then
    echo "  (stopped at 150 s: not a finding, and not a clean run either)"
  elif [ "$rc" != 0 ]; then
    grep -E '^========= ' "$logs/$t.memcheck.log" | head -n 8; status=1
  fi
done

section "result"
if [ "$status" = 0 ]; then echo "device check: build and all CUDA tests PASSED"; else echo "device check: FAILED (see above)"; fi
exit "$status"

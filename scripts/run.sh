#!/usr/bin/env bash
# The main job: install what is missing, build, train the LSTM melody model,
# and generate melodies you can listen to (MIDI) and read (**kern).
#
#   scripts/run.sh                                  # the small corpus shipped in data/
#   LEGATO_ESAC_DIR=/path/to/esac/han scripts/run.sh   # a collection of the ESAC corpus
#
# Environment: LEGATO_OUT (output folder, default out/), LEGATO_TRAIN_SECONDS
# (training budget, default 60; above 60, or on a corpus of 20 to 199 songs
# such as data/, the best epoch on held-back training songs is kept),
# LEGATO_NUM_THREADS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target melody_lstm

corpus=${LEGATO_ESAC_DIR:-data}
out=${LEGATO_OUT:-out}
mkdir -p "$out/melodies"
lstm=build/release/examples/melody_lstm/melody_lstm
seconds=${LEGATO_TRAIN_SECONDS:-60}
model="$out/model.safetensors"
keep_best=()
# Past about a minute the default model over-fits (docs/results.md), and a
# small corpus (the 23 songs of data/) is learnt by heart within seconds:
# then hold back a tenth of the training songs and generate from the best
# epoch on them. Below 20 songs there are too few to hold any back.
songs=$(find -L "$corpus" -name '*.krn' | wc -l)  # -L: the corpus may be a link, as load_corpus allows
if awk -v s="$seconds" 'BEGIN { exit !(s + 0 > 60) }' || { [ "$songs" -ge 20 ] && [ "$songs" -lt 200 ]; }; then
  model="$out/best.safetensors"
  keep_best=(--best-out "$model")
fi
"$lstm" train --corpus "$corpus" --out "$out/model.safetensors" "${keep_best[@]}" \
  --time-budget "$seconds" --metrics-json "$out/metrics.json"
if [ ${#keep_best[@]} -gt 0 ]; then  # the numbers above are the last epoch's; these are the kept model's
  "$lstm" evaluate --model "$model" --corpus "$corpus"
fi
"$lstm" generate --model "$model" --count 10 --out-dir "$out/melodies"
echo "melodies written to $out/melodies (.mid to listen, .krn to read)"

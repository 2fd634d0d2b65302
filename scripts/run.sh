#!/usr/bin/env bash
# The main job: install what is missing, build, train the LSTM melody model,
# and generate melodies you can listen to (MIDI) and read (**kern).
#
#   scripts/run.sh                                  # the small corpus shipped in data/
#   LEGATO_ESAC_DIR=/path/to/esac/han scripts/run.sh   # a collection of the ESAC corpus
#
# Environment: LEGATO_OUT (output folder, default out/), LEGATO_TRAIN_SECONDS
# (training budget, default 60; on a corpus of fewer than 200 songs, such as
# data/, training stops after 100 epochs, usually well within the budget; on
# a larger corpus with a budget above 60 s the best epoch on held-back
# training songs is kept, and training stops once ten epochs in a row have
# not improved on it),
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
schedule=()
songs=$(find -L "$corpus" -name '*.krn' | wc -l)  # -L: the corpus may be a link, as load_corpus allows
if [ "$songs" -lt 200 ]; then
  # A small corpus (the 23 songs of data/): a few validation songs cannot
  # choose an epoch (on data/ its one song picked epoch 18, whose melodies
  # mostly never end), so train a fixed 100 epochs, a few seconds there
  # (docs/results.md, "The main command on data/").
  schedule=(--epochs 100)
elif awk -v s="$seconds" 'BEGIN { exit !(s + 0 > 60) }'; then
  # Past about a minute the default model over-fits (docs/results.md): hold
  # back a tenth of the training songs, keep the best epoch on them, and stop
  # once ten epochs in a row bring nothing better.
  model="$out/best.safetensors"
  keep_best=(--best-out "$model" --patience 10)
fi
"$lstm" train --corpus "$corpus" --out "$out/model.safetensors" "${keep_best[@]}" "${schedule[@]}" \
  --time-budget "$seconds" --metrics-json "$out/metrics.json"
if [ ${#keep_best[@]} -gt 0 ]; then  # the numbers above are the last epoch's; these are the kept model's
  "$lstm" evaluate --model "$model" --corpus "$corpus"
fi
"$lstm" generate --model "$model" --count 10 --out-dir "$out/melodies"
echo "melodies written to $out/melodies (.mid to listen, .krn to read)"

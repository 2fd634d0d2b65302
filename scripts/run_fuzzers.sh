#!/usr/bin/env bash
# Runs every libFuzzer binary in a build folder for a bounded time each.
# Usage: scripts/run_fuzzers.sh BUILD_DIR SECONDS_EACH
set -euo pipefail
dir=$1
seconds=$2
status=0
for fuzzer in "$dir"/fuzz/*_fuzz; do
  [ -x "$fuzzer" ] || continue
  name=$(basename "$fuzzer")
  corpus="$dir/corpus_$name"
  mkdir -p "$corpus"
  seeds="fuzz/seeds/${name%_fuzz}"
  echo "fuzz: $name for ${seconds}s"
  if ! "$fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
       "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) 2>"$dir/$name.log"; then
    tail -40 "$dir/$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$dir/$name.log" | tail -2
  fi
done
exit $status

#!/usr/bin/env python3
"""Alternated benchmark rounds, for a machine whose load comes and goes.

A noisy host slows whatever runs during its busy seconds, so benchmarks run
one after the other can differ by 30% for no reason of their own. This runs
ROUNDS rounds; each round runs every configuration once, a short run of each
benchmark, one process per configuration. Every benchmark thus gets ROUNDS
samples spread over the same minutes, and min / median / max are compared.

  bench/alternate_rounds.py ROUNDS FILTER CONFIG...

CONFIG is NAME, NAME:ENV=V;ENV2=V2, or either followed by @FILTER, which
replaces FILTER for that configuration. OPENBLAS_CORETYPE=SkylakeX and
OPENBLAS_NUM_THREADS=2 are set unless a configuration sets them (libtorch's
best settings here, bench/RESULTS.md). BENCH names the binary (default
build/lstm/bench/lstm_bench), also per configuration (old:BENCH=/tmp/old
compares two builds); MIN_TIME the seconds per run (default 0.5).

Example (bench/RESULTS.md, "Generation in bf16"):
  bench/alternate_rounds.py 10 '^(torch_)?lstm_train_last(_bf16)?/.*H:256' \
      '2t' '1t:LEGATO_NUM_THREADS=1@^lstm_generate_token.*H:256'
"""
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile


def parse_config(text, default_filter):
    head, _, own_filter = text.partition("@")  # a filter may itself contain ':'
    name, _, rest = head.partition(":")
    env = {}
    for pair in filter(None, rest.split(";")):
        key, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"alternate_rounds: '{pair}' in config '{text}' is not ENV=VALUE")
        env[key] = value
    return name, env, own_filter or default_filter


def main():
    if len(sys.argv) < 4 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit(__doc__)
    rounds, default_filter = int(sys.argv[1]), sys.argv[2]
    configs = [parse_config(c, default_filter) for c in sys.argv[3:]]
    default_binary = os.environ.get("BENCH", "build/lstm/bench/lstm_bench")
    for name, env, _ in configs:
        binary = env.get("BENCH", default_binary)
        if not os.access(binary, os.X_OK):
            sys.exit(f"alternate_rounds: benchmark binary '{binary}' of config '{name}' not found (set BENCH)")
    min_time = os.environ.get("MIN_TIME", "0.5")
    samples = collections.defaultdict(list)  # (benchmark, config) -> real times
    units = {}
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "round.json")
        for _ in range(rounds):
            for name, env, bench_filter in configs:
                full_env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX", OPENBLAS_NUM_THREADS="2")
                full_env.update(env)
                binary = full_env.pop("BENCH", default_binary)
                run = subprocess.run([binary, f"--benchmark_filter={bench_filter}", f"--benchmark_out={out}",
                                      "--benchmark_out_format=json", f"--benchmark_min_time={min_time}"],
                                     env=full_env, capture_output=True, text=True)
                if run.returncode != 0:
                    sys.exit(f"alternate_rounds: {binary} failed for config '{name}': {run.stderr.strip()[-500:]}")
                with open(out) as f:
                    for b in json.load(f)["benchmarks"]:
                        key = (b["name"].removesuffix("/real_time"), name)
                        samples[key].append(b["real_time"])
                        units[key] = b.get("time_unit", "")
    if not samples:
        sys.exit("alternate_rounds: no benchmark matched")
    width = max(len(key[0]) for key in samples)
    print(f"{'benchmark':{width}s} {'config':8s} {'min':>9s} {'median':>9s} {'max':>9s}")
    for key in sorted(samples):
        v = samples[key]
        print(f"{key[0]:{width}s} {key[1]:8s} {min(v):9.2f} {statistics.median(v):9.2f} {max(v):9.2f} {units[key]}"
              f"  (n={len(v)})")


if __name__ == "__main__":
    main()

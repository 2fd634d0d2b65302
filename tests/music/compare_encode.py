#!/usr/bin/env python3
"""Diffs `melody_data encode` with reference_encode.py (an independent
implementation of the spec's rules) on each corpus folder given, with and
without transposition.

Usage: compare_encode.py MELODY_DATA DIR [DIR...]
Exit 0: identical; 1: a difference (the first one is printed); 77: a folder is
missing (ctest reports the test as skipped).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_encode  # noqa: E402


def first_difference(ours, theirs):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            name_a, _, tokens_a = a.partition('\t')
            name_b, _, tokens_b = b.partition('\t')
            if name_a != name_b:
                return f'line {i + 1}: melody_data has {name_a}, the reference has {name_b}'
            ta, tb = tokens_a.split(' '), tokens_b.split(' ')
            k = next((j for j, (x, y) in enumerate(zip(ta, tb)) if x != y), min(len(ta), len(tb)))
            return (f'{name_a}: first difference at token {k}: melody_data {ta[k:k + 8]} '
                    f'reference {tb[k:k + 8]} (lengths {len(ta)} / {len(tb)})')
    return f'melody_data printed {len(ours)} songs, the reference {len(theirs)}'


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    tool, folders = sys.argv[1], sys.argv[2:]
    missing = [f for f in folders if not os.path.isdir(f)]
    if missing:
        print(f'SKIP: corpus folder not found: {", ".join(missing)}')
        return 77
    status = 0
    for folder in folders:
        for transpose in (True, False):
            cmd = [tool, 'encode', '--corpus', folder] + ([] if transpose else ['--no-transpose'])
            run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if run.returncode != 0:
                print(f'FAIL: {" ".join(cmd)} exited {run.returncode}: {run.stderr.strip()}')
                status = 1
                continue
            ours = run.stdout.splitlines()
            theirs = reference_encode.encode_corpus(folder, transpose)
            label = f'{folder} ({"transposed" if transpose else "not transposed"})'
            if ours == theirs:
                print(f'ok: {label}: {len(ours)} songs, identical E-TS')
            else:
                print(f'FAIL: {label}: {first_difference(ours, theirs)}')
                status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())

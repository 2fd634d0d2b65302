#!/usr/bin/env python3
"""Independent reference for the E-TS encoding of a **kern corpus.

Written from the rules of shared/spec/seed-models.md (sections 1.3-1.6 and
2.1) alone, in plain Python (fractions, re; no music21), and deliberately in a
different style from the C++ reader: regular expressions over whole tokens
instead of a character scanner. tests/music/compare_encode.py diffs its output
with `melody_data encode`.

Usage: reference_encode.py DIR [--no-transpose]
Prints, for every kept song in sorted file-name order, "name<TAB>tokens".
"""
import os
import re
import sys
from fractions import Fraction

TABLE = {Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(3, 2), Fraction(2), Fraction(3),
         Fraction(4)}
MAJOR = [17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494, 0.232998,
         4.95122]
MINOR = [18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186, 7.37619,
         1.75623]
STEP = {'c': 0, 'd': 2, 'e': 4, 'f': 5, 'g': 7, 'a': 9, 'b': 11}


def duration(token):
    """First digit run n and the dots right after it: 4/n ql (0 = breve = 8)."""
    m = re.search(r'(\d+)(\.*)', token)
    n = int(m.group(1))
    value = Fraction(8) if n == 0 else Fraction(4, n)
    increment = value
    for _ in m.group(2):
        increment /= 2
        value += increment
    return value


def pitch(token):
    """First run of one repeated letter; # and - anywhere in the token alter it."""
    m = re.search(r'([a-gA-G])\1*', token)
    run = m.group(0)
    letter = run[0]
    octave = 3 + len(run) if letter.islower() else 4 - len(run)
    return 12 * (octave + 1) + STEP[letter.lower()] + token.count('#') - token.count('-')


def parse(path):
    """Returns (events, meter tokens with their event index, designations with their event index)."""
    events, meters, designations = [], [], []
    with open(path, 'rb') as f:
        text = f.read().decode('latin-1')
    for line in text.split('\n'):
        line = line.rstrip('\r')
        if line == '' or line.startswith('!') or line.startswith('**') or line.startswith('='):
            continue
        if line.startswith('*'):
            if line.startswith('*M') and not line.startswith('*MM'):
                meters.append((len(events), line))
            m = re.fullmatch(r'\*([A-Ga-g])([#-]*):', line)
            if m:
                tonic = (STEP[m.group(1).lower()] + m.group(2).count('#') - m.group(2).count('-')) % 12
                designations.append((len(events), tonic, 'major' if m.group(1).isupper() else 'minor'))
            continue
        if 'r' in line:
            events.append((None, duration(line)))
        else:
            events.append((pitch(line), duration(line)))
    return events, meters, designations


def aarden_essen(events):
    hist = [0.0] * 12
    for p, d in events:
        if p is not None:
            hist[p % 12] += float(d)
    best = None
    for tonic in range(12):
        for mode, profile in (('major', MAJOR), ('minor', MINOR)):
            pm = sum(profile) / 12
            hm = sum(hist) / 12
            top = sum((profile[(j - tonic) % 12] - pm) * (hist[j] - hm) for j in range(12))
            pv = sum((profile[(j - tonic) % 12] - pm) ** 2 for j in range(12))
            hv = sum((hist[j] - hm) ** 2 for j in range(12))
            r = 0.0 if pv == 0 or hv == 0 else top / (pv * hv) ** 0.5
            if best is None or r >= best[0]:
                best = (r, tonic, mode)
    return best[1], best[2]


def shift_for(events, meters, designations):
    regular = bool(meters) and meters[0][0] == 0 and re.fullmatch(r'\*M\d+/\d+', meters[0][1])
    if regular and designations and designations[0][0] == 0:
        _, tonic, mode = designations[0]
    else:
        tonic, mode = aarden_essen(events)
    return -tonic if mode == 'major' else 9 - tonic


def encode(events):
    tokens = []
    for p, d in events:
        steps = int(float(d) / 0.25)
        for s in range(steps):
            tokens.append('_' if s else ('r' if p is None else str(p)))
    return tokens


def encode_corpus(directory, transpose=True):
    """Lines "name<TAB>tokens" for every kept song under directory, sorted by file name."""
    files = []
    for root, _, names in os.walk(directory):
        files += [(n, os.path.join(root, n)) for n in names if n.endswith('.krn')]
    lines = []
    for name, path in sorted(files):
        events, meters, designations = parse(path)
        if not any(p is not None for p, _ in events):
            continue
        if any(d not in TABLE for _, d in events):
            continue
        if transpose:
            shift = shift_for(events, meters, designations)
            events = [(None if p is None else p + shift, d) for p, d in events]
        lines.append(name + '\t' + ' '.join(encode(events)))
    return lines


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    if len(args) != 1:
        sys.exit(__doc__)
    for line in encode_corpus(args[0], '--no-transpose' not in sys.argv):
        print(line)


if __name__ == '__main__':
    main()

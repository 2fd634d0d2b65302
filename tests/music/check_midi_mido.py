#!/usr/bin/env python3
"""MIDI files written by legato, read by mido (an independent reader).

For each .krn file of the shipped sample (and a sample of the ESAC corpus when
it is present), `melody_data convert` writes a format-1 file (defaults) and a
format-0 file (--tempo 90 --program 40). mido reads them, and this script
checks them against its own reading of the .krn text (reference_encode.py's
rules, ties merged as a listener hears them):
  notes: the same pitches at the same start ticks with the same lengths;
  meta events: track name (the title), tempo, every time signature and key
  signature at its tick, an End of Track ending every track, the program change;
  header: format, track count, 480 ticks per quarter.
It also decodes a token string with `melody_data decode` and checks the notes.

Usage: check_midi_mido.py MELODY_DATA DATA_DIR OUT_DIR [ESAC_DIR]
Exit 77 (skipped) when mido is not installed.
"""
import os
import re
import subprocess
import sys
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_encode as ref  # noqa: E402

try:
    import mido
except ImportError:
    print('SKIP: mido is not installed (Debian: python3-mido; run it with /usr/bin/python3)')
    sys.exit(77)

TPQ = 480
MAJOR_KEYS = {-7: 'Cb', -6: 'Gb', -5: 'Db', -4: 'Ab', -3: 'Eb', -2: 'Bb', -1: 'F', 0: 'C', 1: 'G', 2: 'D', 3: 'A',
              4: 'E', 5: 'B', 6: 'F#', 7: 'C#'}
MINOR_KEYS = {-7: 'Abm', -6: 'Ebm', -5: 'Bbm', -4: 'Fm', -3: 'Cm', -2: 'Gm', -1: 'Dm', 0: 'Am', 1: 'Em', 2: 'Bm',
              3: 'F#m', 4: 'C#m', 5: 'G#m', 6: 'D#m', 7: 'A#m'}
SHARPS = ['f#', 'c#', 'g#', 'd#', 'a#', 'e#', 'b#']
FLATS = ['b-', 'e-', 'a-', 'd-', 'g-', 'c-', 'f-']
# Conventional signature of a key (for the malformed *k[c-e-a-] of deut0791).
FIFTHS_MAJOR = {0: 0, 1: -5, 2: 2, 3: -3, 4: 4, 5: -1, 6: 6, 7: 1, 8: -4, 9: 3, 10: -2, 11: 5}
FIFTHS_MINOR = {0: -3, 1: 4, 2: -1, 3: -6, 4: 1, 5: -4, 6: 3, 7: -2, 8: 5, 9: 0, 10: -5, 11: 2}


def expected_from_kern(path):
    """Notes (start tick, pitch, length ticks), meters and keys (tick, ...), title."""
    text = open(path, 'rb').read().decode('latin-1')
    title = ''
    onset = Fraction(0)
    notes, meters, signatures, modes = [], [], [], []
    tie_open = False
    for line in text.split('\n'):
        line = line.rstrip('\r')
        m = re.match(r'!!!OTL: ?(.*)', line)
        if m and not title:
            title = m.group(1)
        if line == '' or line.startswith('!') or line.startswith('**') or line.startswith('='):
            continue
        tick = round(onset * TPQ)
        if line.startswith('*'):
            mm = re.fullmatch(r'\*M(?:FREI)?(\d+)/(\d+)', line)
            if mm:
                meters.append((tick, int(mm.group(1)), int(mm.group(2))))
            km = re.fullmatch(r'\*k\[(.*)\]', line)
            if km:
                entries = re.findall(r'[a-g][#-]', km.group(1))
                standard = entries == SHARPS[:len(entries)] or entries == FLATS[:len(entries)]
                count = sum(e.endswith('#') for e in entries) - sum(e.endswith('-') for e in entries)
                signatures.append((tick, count if standard else None))
            dm = re.fullmatch(r'\*([A-Ga-g])([#-]*):', line)
            if dm:
                tonic = (ref.STEP[dm.group(1).lower()] + dm.group(2).count('#') - dm.group(2).count('-')) % 12
                modes.append((tick, tonic, dm.group(1).islower()))
            continue
        d = ref.duration(line)
        if 'r' not in line:
            p = ref.pitch(line)
            if tie_open and notes and notes[-1][1] == p and (']' in line or '_' in line):
                start, pitch, _ = notes[-1]
                notes[-1] = (start, pitch, round((onset + d) * TPQ) - start)
            else:
                notes.append((tick, p, round((onset + d) * TPQ) - tick))
            tie_open = '[' in line or '_' in line
        onset += d
    keys = []
    for tick, count in signatures:
        designation = [m for m in modes if m[0] <= tick]
        minor = bool(designation) and designation[-1][2]
        if count is None:
            tonic = designation[-1][1]
            count = (FIFTHS_MINOR if minor else FIFTHS_MAJOR)[tonic]
        keys.append((tick, (MINOR_KEYS if minor else MAJOR_KEYS)[count]))
    end = round(onset * TPQ)
    return {'title': title, 'notes': notes, 'meters': meters, 'keys': keys, 'end': end}


def read_with_mido(path):
    mid = mido.MidiFile(path)
    out = {'type': mid.type, 'tracks': len(mid.tracks), 'tpq': mid.ticks_per_beat, 'notes': [], 'meters': [],
           'keys': [], 'tempos': [], 'names': [], 'programs': [], 'ends': []}
    for track in mid.tracks:
        tick = 0
        sounding = {}
        for msg in track:
            tick += msg.time
            if msg.type == 'note_on' and msg.velocity > 0:
                sounding[msg.note] = tick
            elif msg.type in ('note_off', 'note_on'):
                start = sounding.pop(msg.note)
                out['notes'].append((start, msg.note, tick - start))
            elif msg.type == 'time_signature':
                out['meters'].append((tick, msg.numerator, msg.denominator))
            elif msg.type == 'key_signature':
                out['keys'].append((tick, msg.key))
            elif msg.type == 'set_tempo':
                out['tempos'].append((tick, msg.tempo))
            elif msg.type == 'track_name':
                out['names'].append(msg.name)
            elif msg.type == 'program_change':
                out['programs'].append((tick, msg.channel, msg.program))
            elif msg.type == 'end_of_track':
                out['ends'].append(tick)
        if sounding:
            raise AssertionError(f'notes never released: {sounding}')
        if not track or track[-1].type != 'end_of_track':
            raise AssertionError('a track does not end with End of Track')
    out['notes'].sort()
    return out


def compare(label, got, want, problems):
    if got != want:
        problems.append(f'{label}: mido read {str(got)[:200]}, expected {str(want)[:200]}')


def check_file(tool, krn, out_dir, problems):
    exp = expected_from_kern(krn)
    base = os.path.splitext(os.path.basename(krn))[0]
    for fmt, extra, tempo, program in ((1, [], 500000, 0), (0, ['--tempo', '90', '--program', '40'], 666667, 40)):
        mid = os.path.join(out_dir, f'{base}_format{fmt}.mid')
        run = subprocess.run([tool, 'convert', krn, mid, '--format', str(fmt)] + extra, stderr=subprocess.PIPE,
                             text=True)
        if run.returncode != 0:
            problems.append(f'{krn}: convert failed: {run.stderr.strip()}')
            continue
        got = read_with_mido(mid)
        where = f'{base} format {fmt}'
        compare(f'{where} header', (got['type'], got['tracks'], got['tpq']), (fmt, 2 if fmt == 1 else 1, TPQ), problems)
        compare(f'{where} notes', got['notes'], exp['notes'], problems)
        compare(f'{where} time signatures', got['meters'], exp['meters'], problems)
        compare(f'{where} key signatures', got['keys'], exp['keys'], problems)
        compare(f'{where} tempo', got['tempos'], [(0, tempo)], problems)
        compare(f'{where} track names', set(got['names']), {exp['title'] or 'legato melody'}, problems)
        compare(f'{where} program', got['programs'], [(0, 0, program)], problems)
        compare(f'{where} end of track', max(got['ends']), exp['end'], problems)
    return len(exp['notes'])


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tool, data_dir, out_dir = sys.argv[1:4]
    os.makedirs(out_dir, exist_ok=True)
    files = sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir) if f.endswith('.krn'))
    esac = sys.argv[4] if len(sys.argv) > 4 else os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared',
                                                               'data', 'esac')
    if os.path.isdir(esac):
        for collection in sorted(os.listdir(esac)):
            folder = os.path.join(esac, collection)
            if os.path.isdir(folder):
                names = sorted(f for f in os.listdir(folder) if f.endswith('.krn'))
                files += [os.path.join(folder, f) for f in names[::25]]  # every 25th file
    else:
        print(f'note: ESAC corpus not found at {esac}; checking the shipped sample only')
    problems = []
    notes = 0
    for krn in files:
        if os.path.basename(krn) == 'han0953.krn':
            continue  # the empty song: nothing to hear
        notes += check_file(tool, krn, out_dir, problems)

    # A decoded token string.
    mid = os.path.join(out_dir, 'decoded.mid')
    subprocess.run([tool, 'decode', mid, '--tokens', '60 _ _ _ 62 _ r _ 64 _ _ _ _ _ 67'], check=True)
    got = read_with_mido(mid)
    compare('decoded notes', got['notes'], [(0, 60, 480), (480, 62, 240), (960, 64, 720), (1680, 67, 120)], problems)
    compare('decoded meter', got['meters'], [(0, 4, 4)], problems)
    compare('decoded key', got['keys'], [(0, 'C')], problems)

    for p in problems[:20]:
        print('FAIL:', p)
    print(f'{len(files)} .krn files x 2 formats, {notes} notes each, read by mido {getattr(mido, "version_info", "")}: '
          f'{len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""melody_data on bad input: a non-zero exit and exactly one line on standard
error, never a crash. Usage: check_cli.py MELODY_DATA"""
import os
import subprocess
import sys
import tempfile


def main():
    tool = sys.argv[1]
    tmp = tempfile.mkdtemp()
    unreadable = os.path.join(tmp, 'unreadable.krn')
    with open(unreadable, 'w') as f:
        f.write('**kern\n4c\n*-\n')
    os.chmod(unreadable, 0)
    bad_kern = os.path.join(tmp, 'bad.krn')
    with open(bad_kern, 'w') as f:
        f.write('**kern\n4c 4e\n*-\n')
    good_kern = os.path.join(tmp, 'good.krn')
    with open(good_kern, 'w') as f:
        f.write('**kern\n*M2/4\n4c\n4d\n*-\n')
    garbage_midi = os.path.join(tmp, 'garbage.mid')
    with open(garbage_midi, 'wb') as f:
        f.write(b'MThd\x00\x00\x00\x06\x00\x01\x00\x05\x01\xe0MTrk\xff\xff\xff\xff')
    cases = [
        ([], 'no command'),
        (['frobnicate'], 'unknown command'),
        (['stats', '--corpus'], 'missing flag value'),
        (['stats', '--bogus'], 'unknown flag'),
        (['stats', '--corpus', os.path.join(tmp, 'missing')], 'missing folder'),
        (['encode', '--corpus', tmp, '--encoding', 'mp3'], 'unknown encoding'),
        (['convert', os.path.join(tmp, 'missing.krn'), os.path.join(tmp, 'out.mid')], 'missing file'),
        (['convert', bad_kern, os.path.join(tmp, 'out.mid')], 'malformed kern'),
        (['convert', garbage_midi, os.path.join(tmp, 'out.krn')], 'corrupt MIDI'),
        (['convert', bad_kern, os.path.join(tmp, 'out.wav')], 'unknown extension'),
        (['convert', good_kern, os.path.join(tmp, 'out.mid'), '--format', '7'], 'bad format'),
        (['convert', good_kern, os.path.join(tmp, 'out.mid'), '--tempo', 'fast'], 'bad tempo'),
        (['decode', os.path.join(tmp, 'x.mid'), '--tokens', '60 _ banana'], 'bad token'),
        (['decode', os.path.join(tmp, 'x.mid')], 'no tokens'),
    ]
    if os.geteuid() != 0:  # root reads anything
        cases.append((['convert', unreadable, os.path.join(tmp, 'out.mid')], 'unreadable file'))
    env = dict(os.environ)
    env.pop('LEGATO_ESAC_DIR', None)
    cases.append((['stats'], 'no corpus given'))
    failures = 0
    for args, what in cases:
        run = subprocess.run([tool] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines = run.stderr.strip().splitlines()
        ok = run.returncode not in (0,) and run.returncode > 0 and (what == 'no command' or len(lines) == 1)
        print(f'{"ok" if ok else "FAIL"}: {what}: exit {run.returncode}: {lines[-1] if lines else "(no message)"}')
        failures += not ok
    # And the happy paths exit 0.
    for args in (['--help'], ['--version']):
        run = subprocess.run([tool] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        print(f'{"ok" if run.returncode == 0 else "FAIL"}: {args[0]} exits {run.returncode}')
        failures += run.returncode != 0
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

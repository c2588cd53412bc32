# Builds a cross-bandwidth evaluation set: a dev set's enrollment as it is
# (wideband) and its trials through a telephone channel (300-3400 Hz, 8 kHz
# mu-law, sox), the "enroll on the web, verify by phone" case.
#   python3 crossband_set.py ../shared/voice-data/sets/librispeech /tmp/libri_wb2nb
#   voxgate eval /tmp/libri_wb2nb --json
import csv, os, subprocess, sys

src, dst = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
os.makedirs(os.path.join(dst, 'nb'), exist_ok=True)
rel = lambda p: os.path.relpath(os.path.normpath(os.path.join(src, p)), dst)
with open(os.path.join(dst, 'enroll.csv'), 'w', newline='') as f:
    w = csv.writer(f); w.writerow(['model', 'path'])
    for r in csv.DictReader(open(os.path.join(src, 'enroll.csv'))):
        w.writerow([r['model'], rel(r['path'])])
seen = {}
with open(os.path.join(dst, 'trials.csv'), 'w', newline='') as f:
    w = csv.writer(f); w.writerow(['model', 'path', 'label'])
    for r in csv.DictReader(open(os.path.join(src, 'trials.csv'))):
        if r['label'] not in ('target', 'nontarget'):
            continue
        p = os.path.normpath(os.path.join(src, r['path']))
        if p not in seen:
            seen[p] = 'nb/%04d.wav' % len(seen)
            subprocess.run(['sox', p, '-r', '8000', '-e', 'u-law', '-b', '8',
                            os.path.join(dst, seen[p]), 'sinc', '300-3400'], check=True)
        w.writerow([r['model'], seen[p], r['label']])
print(len(seen), 'trial recordings converted')

"""Embed audio files with the decoded MAX78000 ThinResNet; cache the embeddings.

  /usr/bin/python3 train/speaker/thinresnet/embed.py --src DIR --out emb.npz FILE...
  (or --list FILE with one path a line)

DIR holds weights.h and cnn.c of nyangmeong/max78000-speaker-verification @2942b61
(synthesis/voxsv/). Each file: the front end's 1.3 s segments (frontend.py), the integer
network on each, every output L2-normalised, averaged, normalised again (the reference's
"utt" embedding). Written: paths, emb [n, 64] float32, seconds (after silence trimming).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frontend  # noqa: E402
import max78000  # noqa: E402


def load_layers(src):
    return max78000.decode(open(os.path.join(src, 'weights.h')).read(),
                           open(os.path.join(src, 'cnn.c')).read())


def embed_wav(layers, wav, order='trained', do_trim=True, batch=32, fill='pad', hop=frontend.SEG_HOP):
    if fill == 'loop' and do_trim:
        wav = frontend.trim(wav)
        if 0 < len(wav) < frontend.MIN_SAMPLES:
            wav = np.tile(wav, -(-frontend.MIN_SAMPLES // len(wav)))[:frontend.MIN_SAMPLES]
        do_trim = False
    x, secs = frontend.inputs(wav, do_trim=do_trim, hop=hop)
    ys = [max78000.forward_int(layers, x[i:i + batch], order=order) for i in range(0, len(x), batch)]
    y = np.concatenate(ys).astype(np.float64)
    y /= np.linalg.norm(y, axis=1, keepdims=True) + 1e-9
    e = y.mean(0)
    return e / (np.linalg.norm(e) + 1e-9), secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--list')
    ap.add_argument('--order', default='trained', choices=['trained', 'hardware'])
    ap.add_argument('--fill', default='loop', choices=['pad', 'loop'],
                    help='audio shorter than a segment: repeated (loop) or zero-padded (pad, the reference)')
    ap.add_argument('--channel', default='clean', choices=['clean', 'nb'])
    ap.add_argument('--hop', type=float, default=0.5, help='seconds between segments (reference: 0.5)')
    ap.add_argument('files', nargs='*')
    a = ap.parse_args()
    files = list(a.files)
    if a.list:
        files += [l.strip() for l in open(a.list) if l.strip()]
    layers = load_layers(a.src)
    E, S = [], []
    for i, f in enumerate(files):
        e, s = embed_wav(layers, frontend.load(f, a.channel), order=a.order, fill=a.fill, hop=int(a.hop * frontend.SR))
        E.append(e)
        S.append(s)
        if i % 200 == 0:
            print(i, len(files), flush=True)
    np.savez(a.out, paths=np.array(files), emb=np.array(E, np.float32), seconds=np.array(S))


if __name__ == '__main__':
    main()

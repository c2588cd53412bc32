#!/usr/bin/env python3
"""Package a trained TDNN (train_nn.py) into voxgate's shipped speaker model.

Adds to the network weights:
  snorm.cohort                   [K][256] normalised train-pool embeddings (the
                                 training speakers' whole recordings, clean and
                                 narrowband) for adaptive s-norm;
  calibration.nontarget_scores   [4001] quantiles of s-normalised nontarget
                                 scores, from which Go derives the threshold
                                 for any target false-accept rate;
  metadata calibration_a/_b      logistic map normalised score -> confidence.
Calibration trials come from the speakers train_nn.py held out (every 8th by
name), cut into 1.5-4 s crops of each augmented variant, so target trials
cross channels (clean/narrowband/pitch-tilt) as real ones do.
Also writes the parity JSON for the Go test.
"""
import argparse, json, os
import numpy as np, torch, torch.nn.functional as F
from train_nn import TDNN, load, save_safetensors, NMELS

TOPK = 200

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--feats', required=True); ap.add_argument('--list', required=True)
    ap.add_argument('--weights', required=True, help='train_nn.py --out file (its .pt beside it is used too)')
    ap.add_argument('--out', required=True); ap.add_argument('--parity', required=True)
    ap.add_argument('--cc-by-only', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(1); rng = np.random.default_rng(0)
    sd = torch.load(a.weights + '.pt')
    net = TDNN(sd['convs.0.weight'].shape[0], sd['head'].shape[0]); net.load_state_dict(sd); net.eval()
    def embed(x):
        x = x - x.mean(0, keepdims=True)
        if len(x) < 15: x = np.concatenate([x] * (15 // len(x) + 1))[:15]
        with torch.no_grad():
            return F.normalize(net.embed(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]))[0].numpy()
    rows = [l.rstrip('\n').split('\t') for l in open(a.list)]
    if a.cc_by_only: rows = [r for r in rows if r[2] == 'CC-BY-4.0']
    held = set(sorted({r[0] for r in rows})[7::8])
    cohort = np.array([embed(load(os.path.join(a.feats, r[3]))) for r in rows
                       if r[0] not in held and r[3].endswith(('-clean.bin', '-nb.bin'))])
    topk = min(TOPK, len(cohort) // 2)
    ce, cy = [], []
    for r in rows:
        if r[0] not in held: continue
        x = load(os.path.join(a.feats, r[3]))
        for _ in range(3):
            L = int(rng.integers(150, 400)); st = int(rng.integers(0, max(1, len(x) - L)))
            ce.append(embed(x[st:st + L].astype(np.float32))); cy.append(r[0])
    ce = np.array(ce); cy = np.array(cy)
    def stats(e):
        s = np.sort(e @ cohort.T, axis=-1)[..., ::-1][..., :topk]; return s.mean(-1), s.std(-1) + 1e-6
    mu, sdv = stats(ce)
    raw = ce @ ce.T
    norm = 0.5 * ((raw - mu[:, None]) / sdv[:, None] + (raw - mu[None, :]) / sdv[None, :])
    iu = np.triu_indices(len(ce), 1)
    lab = (cy[:, None] == cy[None, :])[iu]; sc = norm[iu]
    tar, non = sc[lab], sc[~lab]
    print('calibration trials', len(tar), len(non))
    xs = np.concatenate([tar, non]); ys = np.concatenate([np.ones(len(tar)), np.zeros(len(non))])
    wts = np.where(ys == 1, 0.5 / len(tar), 0.5 / len(non))
    th = np.zeros(2); A = np.stack([xs, np.ones_like(xs)], 1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ th)); g = A.T @ (wts * (p - ys)); H = (A * (wts * p * (1 - p))[:, None]).T @ A
        th -= np.linalg.solve(H + 1e-9 * np.eye(2), g)
    quant = np.quantile(non, np.linspace(0, 1, 4001))
    srt = np.sort(np.concatenate([tar, non]))
    print('threshold@1%%FAR %.3f  FRR there %.3f  a=%.3f b=%.3f' % (np.quantile(non, .99), (tar < np.quantile(non, .99)).mean(), th[0], th[1]))
    # copy the network tensors and metadata from the trained file
    from safetensors_read import read_safetensors
    tensors, meta = read_safetensors(a.weights)
    tensors['snorm.cohort'] = cohort.astype(np.float32)
    tensors['calibration.nontarget_scores'] = quant.astype(np.float32)
    meta.update(snorm_top_k=topk, calibration_a=repr(float(th[0])), calibration_b=repr(float(th[1])),
                min_speech_frames=10, calibration_speakers=len(held), cohort_size=len(cohort),
                licence='CC-BY-4.0' if a.cc_by_only else 'CC-BY-NC-SA-2.0 (Speech Accent Archive) + CC-BY-4.0 (LibriSpeech): non-commercial use only')
    save_safetensors(a.out, tensors, meta)
    print('wrote', a.out, os.path.getsize(a.out))
    prng = np.random.default_rng(1); cases = []
    for T in (120, 37, 9):
        lm = np.round(prng.normal(0, 1.5, (T, NMELS)) - 6 + np.linspace(2, -3, NMELS), 4).astype(np.float32)
        cases.append({'frames': T, 'logmel': [round(float(v), 4) for v in lm.ravel()], 'mask': [1] * T, 'embedding': embed(lm).tolist()})
    e0, e1 = np.array(cases[0]['embedding']), np.array(cases[1]['embedding'])
    raw = float(e0 @ e1); m0, s0 = stats(e0); m1, s1 = stats(e1)
    json.dump({'model_version': meta['model_version'], 'cases': cases,
               'score': {'raw': raw, 'normalized': float(0.5 * ((raw - m0) / s0 + (raw - m1) / s1))}}, open(a.parity, 'w'))
    print('wrote', a.parity)

if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Research: GMM supervector + PCA/LDA speaker system (approach B in RESULTS.md).
Its output is not loadable by package speaker (no Go implementation kept).

Input: log-mel features written by `go run ./train/speaker/dumpfeats`
(package features, 64 bands, 25 ms / 10 ms, energy VAD mask), one file per
recording and per augmentation (clean, narrowband). Output: a safetensors
model file read by speaker.LoadFile, and speaker/testdata/parity.json with
reference embeddings computed here for the Go parity test.

See train/speaker/README.md for the exact command. Deterministic (seed 0).
"""
import argparse, csv, json, os, struct, time
import numpy as np
import scipy.linalg as sl

NMELS, NCEPS, C, RELEV, PCA, LDA, MIN_SPEECH, TOPK = 64, 20, 256, 16.0, 800, 256, 10, 200

def dctm(n, k):
    c = np.arange(k)[:, None]; m = np.arange(n)[None, :]
    d = np.sqrt(2 / n) * np.cos(np.pi * c * (m + .5) / n); d[0] *= np.sqrt(.5)
    return d.astype(np.float32)
DCT = dctm(NMELS, NCEPS)

def deltas(x):
    p = np.pad(x, ((2, 2), (0, 0)), mode='edge')
    return (-2 * p[:-4] - p[1:-3] + p[3:-1] + 2 * p[4:]) / 10

def frames(logmel, mask):
    """logmel [T][64], mask [T] -> standardized [N][40] speech frames."""
    c = logmel @ DCT.T
    f = np.concatenate([c, deltas(c)], 1)
    if mask.sum() < MIN_SPEECH: mask = np.ones(len(mask), bool)
    f = f[mask]
    f = f - f.mean(0)
    f = f / (f.std(0) + 1e-3)
    return f.astype(np.float32)

def load(path):
    b = open(path, 'rb').read()
    nf, d = struct.unpack('<II', b[:8])
    x = np.frombuffer(b[8:8 + 4 * nf * d], dtype='<f4').reshape(nf, d)
    m = np.frombuffer(b[8 + 4 * nf * d:], dtype='u1').astype(bool)
    return x, m

class UBM:
    def __init__(s, w, mu, var): s.w, s.mu, s.var = w, mu, var
    def post(s, x):
        iv = 1 / s.var
        const = np.log(s.w) - 0.5 * np.sum(np.log(2 * np.pi * s.var), 1) - 0.5 * np.sum(s.mu * s.mu * iv, 1)
        ll = const + x @ (s.mu * iv).T - 0.5 * (x * x) @ iv.T
        mx = ll.max(1, keepdims=True); p = np.exp(ll - mx); sm = p.sum(1, keepdims=True)
        return p / sm, mx[:, 0] + np.log(sm[:, 0])
    def supervec(s, f):
        g, _ = s.post(f)
        N = g.sum(0); F = g.T @ f
        return ((F - N[:, None] * s.mu) / (N[:, None] + RELEV) / np.sqrt(s.var) * np.sqrt(s.w)[:, None]).ravel()

def train_ubm(X, log):
    w = np.ones(1); mu = X.mean(0, keepdims=True); var = X.var(0, keepdims=True)
    while len(w) < C:
        eps = 0.2 * np.sqrt(var)
        mu = np.concatenate([mu - eps, mu + eps]); var = np.concatenate([var, var]); w = np.concatenate([w, w]) / 2
        for it in range(4 if len(w) < C else 10):
            u = UBM(w, mu, var); tot = 0; N = 0; F = 0; S = 0
            for b in range(0, len(X), 50000):
                xb = X[b:b + 50000]; g, l = u.post(xb); tot += l.sum()
                N = N + g.sum(0); F = F + g.T @ xb; S = S + g.T @ (xb * xb)
            w = N / N.sum(); mu = F / np.maximum(N, 1e-3)[:, None]
            var = np.maximum(S / np.maximum(N, 1e-3)[:, None] - mu * mu, 1e-3)
            w = np.maximum(w, 1e-6); w /= w.sum()
        log('ubm', len(w), tot / len(X))
    return UBM(w, mu, var)

def save_safetensors(path, tensors, meta):
    header = {'__metadata__': {k: str(v) for k, v in meta.items()}}
    off = 0; blobs = []
    for k, v in tensors.items():
        a = np.ascontiguousarray(v, dtype='<f4'); b = a.tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--feats', required=True, help='folder written by dumpfeats')
    ap.add_argument('--list', required=True, help='dumpfeats list.tsv: speaker, corpus, licence, feature file')
    ap.add_argument('--out', required=True)
    ap.add_argument('--parity', help='write Go parity reference JSON here')
    ap.add_argument('--cc-by-only', action='store_true', help='train on the CC BY 4.0 LibriSpeech part only')
    ap.add_argument('--version', default='gmmsv-v1')
    a = ap.parse_args()
    t0 = time.time()
    log = lambda *x: print(f'[{time.time() - t0:7.1f}s]', *x, flush=True)
    rng = np.random.default_rng(0)
    rows = [l.rstrip('\n').split('\t') for l in open(a.list)]
    if a.cc_by_only: rows = [r for r in rows if r[2] == 'CC-BY-4.0']
    spk = sorted({r[0] for r in rows}); sid = {s: i for i, s in enumerate(spk)}
    feats = [(sid[r[0]], frames(*load(os.path.join(a.feats, r[3])))) for r in rows]
    log('recordings', len(feats), 'speakers', len(spk))
    ubm = train_ubm(np.concatenate([f[::5] for _, f in feats]), log)
    X = []; Y = []; full = []
    for i, f in feats:
        n = len(f)
        for st in range(0, max(1, n - 150), 150):
            X.append(ubm.supervec(f[st:st + rng.integers(100, 400)])); Y.append(i)
        full.append(len(X)); X.append(ubm.supervec(f)); Y.append(i)
    X = np.array(X, dtype=np.float32); Y = np.array(Y)
    log('supervectors', X.shape)
    m0 = X.mean(0); Xc = X - m0
    sub = Xc[rng.choice(len(Xc), min(len(Xc), 5000), replace=False)]
    ev, U = np.linalg.eigh((sub @ sub.T).astype(np.float64)); ev = ev[::-1]; U = U[:, ::-1]
    k = min(PCA, int((ev > ev[0] * 1e-6).sum()))
    dirs = (sub.T @ U[:, :k]) / np.sqrt(ev[:k])  # [CD][k] unit principal directions
    S = np.sqrt(ev[:k] * len(X) / len(sub))
    P = (dirs / (S / np.sqrt(len(X)))).astype(np.float32)
    Z = (Xc @ P).astype(np.float64)
    Sw = np.zeros((k, k)); means = np.zeros((len(spk), k))
    for c in range(len(spk)):
        z = Z[Y == c]; means[c] = z.mean(0); d = z - means[c]; Sw += d.T @ d
    Sw /= len(Z); Sb = np.cov(means.T, bias=True)
    _, V = sl.eigh(Sb, Sw + 1e-3 * np.eye(k))
    W = (P @ V[:, ::-1][:, :LDA]).astype(np.float32)
    def project(sv):
        e = (sv - m0) @ W; e /= np.linalg.norm(e, axis=-1, keepdims=True); return e
    E = project(X); em = E.mean(0)
    def finish(e):
        e = e - em; return e / np.linalg.norm(e, axis=-1, keepdims=True)
    E = finish(E)
    log('projection', W.shape)
    # cohort: full recordings of half the speakers; calibration: crops of the other half
    perm = rng.permutation(len(spk)); coh = set(perm[:len(spk) // 2].tolist())
    cohort = np.array([E[j] for j in full if Y[j] in coh])
    def snorm_stats(e):
        s = np.sort(e @ cohort.T, axis=-1)[..., ::-1][..., :TOPK]; return s.mean(-1), s.std(-1) + 1e-6
    cal = np.array([j for j in range(len(Y)) if Y[j] not in coh and j not in set(full)])
    ce, cy = E[cal], Y[cal]
    mu_, sd_ = snorm_stats(ce)
    raw = ce @ ce.T
    norm = 0.5 * ((raw - mu_[:, None]) / sd_[:, None] + (raw - mu_[None, :]) / sd_[None, :])
    iu = np.triu_indices(len(ce), 1)
    lab = (cy[:, None] == cy[None, :])[iu]; sc = norm[iu]
    tar = sc[lab]; non = sc[~lab]
    non = np.sort(rng.choice(non, min(len(non), 200000), replace=False))
    log('calibration trials', len(tar), len(non))
    # logistic regression (balanced classes) by Newton's method on [score, 1]
    xs = np.concatenate([tar, non[:: max(1, len(non) // (4 * len(tar)))]])
    ys = np.concatenate([np.ones(len(tar)), np.zeros(len(xs) - len(tar))])
    wts = np.where(ys == 1, 0.5 / ys.sum(), 0.5 / (1 - ys).sum())
    th = np.zeros(2); A = np.stack([xs, np.ones_like(xs)], 1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ th)); g = A.T @ (wts * (p - ys)); H = (A * (wts * p * (1 - p))[:, None]).T @ A
        th -= np.linalg.solve(H + 1e-9 * np.eye(2), g)
    quant = np.quantile(non, np.linspace(0, 1, 4001))
    log('calibration a=%.4f b=%.4f thr@1%%=%.3f' % (th[0], th[1], np.quantile(non, 0.99)))
    meta = dict(model_version=a.version, num_mels=NMELS, num_ceps=NCEPS, relevance=RELEV,
                min_speech_frames=MIN_SPEECH, snorm_top_k=TOPK, calibration_a=repr(float(th[0])),
                calibration_b=repr(float(th[1])), speakers=len(spk), recordings=len(feats),
                licence='CC-BY-4.0' if a.cc_by_only else 'CC-BY-NC-SA (Speech Accent Archive) + CC-BY-4.0 (LibriSpeech): non-commercial')
    save_safetensors(a.out, {
        'ubm.weights': ubm.w, 'ubm.means': ubm.mu, 'ubm.vars': ubm.var,
        'sv.mean': m0, 'sv.projection': W, 'emb.mean': em,
        'snorm.cohort': cohort, 'calibration.nontarget_scores': quant}, meta)
    log('wrote', a.out, os.path.getsize(a.out))
    if a.parity:
        cases = []
        prng = np.random.default_rng(1)
        for T, mfrac in ((150, 1.0), (220, 0.6), (40, 0.1)):
            lm = (prng.normal(0, 1.5, (T, NMELS)) - 6 + np.linspace(2, -3, NMELS)).astype(np.float32)
            mask = prng.random(T) < mfrac
            e = finish(project(ubm.supervec(frames(lm, mask))))
            cases.append({'frames': T, 'logmel': [round(float(v), 5) for v in lm.ravel()],
                          'mask': mask.astype(int).tolist(), 'embedding': e.astype(float).tolist()})
        # re-run on the rounded inputs so Go sees exactly the same numbers
        for c in cases:
            lm = np.array(c['logmel'], dtype=np.float32).reshape(c['frames'], NMELS)
            c['embedding'] = [float(v) for v in finish(project(ubm.supervec(frames(lm, np.array(c['mask'], bool)))))]
        ex = np.array(cases[0]['embedding']); pr = np.array(cases[1]['embedding'])
        raw = float(ex @ pr); m1, s1 = snorm_stats(ex); m2, s2 = snorm_stats(pr)
        nrm = 0.5 * ((raw - m1) / s1 + (raw - m2) / s2)
        json.dump({'model_version': a.version, 'cases': cases,
                   'score': {'raw': raw, 'normalized': float(nrm)}}, open(a.parity, 'w'))
        log('wrote', a.parity)

if __name__ == '__main__':
    main()

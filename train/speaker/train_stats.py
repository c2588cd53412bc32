#!/usr/bin/env python3
"""Train voxgate's shipped speaker model: MFCC statistics + LDA (approach A in
RESULTS.md), with s-norm cohort and calibration, on train-pool log-mel
features written by `go run ./train/speaker/dumpfeats`.

Per recording (speech frames of the energy-VAD mask, all frames if fewer
than 10): MFCC c0..c29 from the 64 log-mel bands (orthonormal DCT-II) plus
regression deltas (+-2 frames, edge padded, computed before frame
selection) -> per-dimension mean (except c0's, which only tracks the recording
level) and population standard deviation (119 values) -> minus the training mean -> LDA to 256 dims (trained on 1-4 s
crops and whole recordings of the clean and narrowband variants) -> L2 norm
-> minus the mean training embedding -> L2 norm. v4 appends a second,
untrained part: the cepstral shape of the bands centred in 1-3.4 kHz, each
frame's spectral tilt removed, c1..c9 averaged over the speech frames,
standardised on the training recordings, L2 norm; v5 a third, the same for
the bands centred in 3.4-7.6 kHz (c1..c7, standardised on the wideband
recordings) times a bandwidth gate (~1 for wideband audio, ~0 for
telephone-band audio). The parts are weighted sqrt(w), sqrt(1-w-wu) and
sqrt(wu) (`--hb-weight` w, `--ub-weight` wu), so a cosine is the weighted sum
of the parts' cosines, and the whole is renormalised. Two recordings that do
not both have the upper band are compared without it, the other two parts
reweighted to `--nb-weight` and its complement (sim below; Go:
speaker.Model.sim). Emotion and vocal effort move the low bands and the tilt
most, a speaker's upper formants least (RESULTS.md, third and fourth rounds).

Training data (v6): every feature folder given with --data (dumpfeats'
list.tsv), by default only rows whose licence allows commercial use
(LibriSpeech train-clean-100 from train-pool and speechocean762, both CC BY
4.0); --include-nc adds Speech Accent Archive (CC BY-NC-SA). speechocean762
gives 250 speakers with ~21 sentences each, the several sessions per speaker
that LDA needs to learn within-speaker variation. The LDA keeps 60 dimensions
(--lda-dims; leave-one-corpus-out tenants gave pooled EER 0.176 / 0.178 /
0.181 / 0.185 at 40 / 60 / 90 / 119, RESULTS.md). The s-norm cohort holds at
most two whole recordings per speaker plus two short crops of each (1-3 s),
one of them with noise added in the log-mel domain.

Calibration (tenantsim.py): for each training corpus, a model fitted without
it scores simulated tenants of its speakers (clean, telephone band, shared
noise; 5-30 enrolled users; outsiders as impostors), through the service's
own scoring (tenant cohort, rival rule). The threshold table is the pooled
outsider nontarget scores' quantiles; the logistic confidence is fitted on
the pooled trials. At run time the service adds the tenant's own enrollment
samples to the cohort (speaker.Cohort).
Writes the model (safetensors) and the Go parity reference JSON.
"""
import argparse, json, os, struct
import numpy as np, scipy.linalg as sl
import tenantsim
from train_nn import save_safetensors, NMELS

NCEPS, LDA, MIN_SPEECH, TOPK = 30, 256, 10, 200
# the high-band part: bands centred in 1-3.4 kHz, c1..c9. Not above 3.4 kHz: telephone,
# 8 kHz and resampled-in-the-browser audio have nothing (or artefacts) there, which made
# every speaker of such a channel alike (RESULTS.md, third round)
HB_LOW_HZ, HB_HIGH_HZ, HB_NCEPS = 1000, 3400, 10
# the upper-band part (v5): bands centred in 3.4-7.6 kHz, c1..c7, multiplied by a
# gate that is ~1 for wideband audio and ~0 for telephone-band audio: the median
# over the speech frames of the mean log-mel of the bands above 4.5 kHz minus that
# of the high-band part's bands (train-pool's clean copies -4.8..4.7 nats, its
# telephone copies -9.3..-6.7), through sigmoid((d + GATE_BIAS) / GATE_SLOPE)
UB_LOW_HZ, UB_HIGH_HZ, UB_NCEPS = 3400, 7600, 8
GATE_HZ, GATE_BIAS, GATE_SLOPE = 4500, 5.5, 0.3
VARIANTS = ('-clean.bin', '-nb.bin')  # clean and narrowband (telephone) copies

def dctm(n, k):
    c = np.arange(k)[:, None]; m = np.arange(n)[None, :]
    d = np.sqrt(2 / n) * np.cos(np.pi * c * (m + .5) / n); d[0] *= np.sqrt(.5)
    return d.astype(np.float32)
DCT = dctm(NMELS, NCEPS)

def deltas(x):
    p = np.pad(x, ((2, 2), (0, 0)), mode='edge')
    return (-2 * p[:-4] - p[1:-3] + p[3:-1] + 2 * p[4:]) / 10

def frames(logmel, mask):
    c = logmel.astype(np.float64) @ DCT.T.astype(np.float64)
    f = np.concatenate([c, deltas(c)], 1)
    if mask.sum() < MIN_SPEECH: mask = np.ones(len(mask), bool)
    return f[mask]

def stats(f):
    # mean of c0 (the recording level) is left out: the statistics are gain invariant
    return np.concatenate([f.mean(0)[1:], f.std(0)])

_melf = lambda f: 2595 * np.log10(1 + f / 700)
_centres = (lambda m: 700 * (10 ** (m / 2595) - 1))(np.linspace(_melf(20), _melf(7600), NMELS + 2))[1:-1]
HB_FIRST = int(np.argmax(_centres >= HB_LOW_HZ))  # first band of the high-band part
_nhb = int(((_centres >= HB_LOW_HZ) & (_centres <= HB_HIGH_HZ)).sum())  # its number of bands
UB_FIRST = int(np.argmax(_centres > UB_LOW_HZ))
_nub = int(((_centres > UB_LOW_HZ) & (_centres <= UB_HIGH_HZ)).sum())
GATE_FIRST = int(np.argmax(_centres > GATE_HZ))  # the gate's upper bands: GATE_FIRST..NMELS-1

def cep_band(first, nb, nceps):
    """Returns f(logmel, mask): the mean over the speech frames of c1..c(nceps-1)
    of the bands first..first+nb-1, each frame's tilt (its projection on a
    centred ramp across the bands) removed."""
    dct = dctm(nb, nceps).astype(np.float64)
    ramp = np.arange(nb) - (nb - 1) / 2; tilt = ramp / np.linalg.norm(ramp)
    def f(logmel, mask):
        if mask.sum() < MIN_SPEECH: mask = np.ones(len(mask), bool)
        y = logmel[mask][:, first:first + nb].astype(np.float64)
        y = y - np.outer(y @ tilt, tilt)
        return (y @ dct.T)[:, 1:].mean(0)
    return f
hb_stats = cep_band(HB_FIRST, _nhb, HB_NCEPS)
ub_stats = cep_band(UB_FIRST, _nub, UB_NCEPS)

def gate(logmel, mask):
    if mask.sum() < MIN_SPEECH: mask = np.ones(len(mask), bool)
    y = logmel[mask].astype(np.float64)
    d = np.median(y[:, GATE_FIRST:].mean(1) - y[:, HB_FIRST:HB_FIRST + _nhb].mean(1))
    return float(1 / (1 + np.exp(-(d + GATE_BIAS) / GATE_SLOPE)))

def part_sim(A, B, lda_end, ub_start, wu, nb_weight, hb_weight):
    """speaker.Model.sim for the rows of A and B, laid out [LDA part | high
    band | gated upper band] with the upper band's weight wu and the LDA
    part's hb_weight: the cosine when both have the upper band (its gate,
    read back from the parts' norms, at least 0.5); otherwise over the LDA
    and high-band parts alone, reweighted to nb_weight and 1 - nb_weight:
    what one recording lacks is no evidence, and without the upper band the
    LDA part (trained on telephone copies too) deserves more weight."""
    A, B = np.atleast_2d(A), np.atleast_2d(B)
    sl2, sh2 = nb_weight / hb_weight, (1 - nb_weight) / (1 - hb_weight - wu)  # the parts' squared scales then
    def split(E):
        nl = (E[:, :lda_end] ** 2).sum(1); nh = (E[:, lda_end:ub_start] ** 2).sum(1); nu = (E[:, ub_start:] ** 2).sum(1)
        return nl + nh + nu, sl2 * nl + sh2 * nh, nu >= 0.25 * wu / (1 - wu) * (nl + nh)
    na, la, ha = split(A); nb_, lb, hb_ = split(B)
    full = (A @ B.T) / np.sqrt(np.outer(na, nb_))
    low = (sl2 * A[:, :lda_end] @ B[:, :lda_end].T + sh2 * A[:, lda_end:ub_start] @ B[:, lda_end:ub_start].T) / np.sqrt(np.outer(la, lb))
    return np.where(ha[:, None] & hb_[None, :], full, low)

def feats(logmel, mask):
    return stats(frames(logmel, mask)), hb_stats(logmel, mask), ub_stats(logmel, mask), gate(logmel, mask)

# noise shapes over the 64 mel bands (relative band power): white, pink-ish
# (falling 1/f), and low-frequency hum/fan
_mel = lambda f: 2595 * np.log10(1 + f / 700)
_imel = lambda m: 700 * (10 ** (m / 2595) - 1)
_edges = _imel(np.linspace(_mel(20), _mel(7600), NMELS + 2))
_bw, _fc = _edges[2:] - _edges[:-2], _edges[1:-1]
NOISE_SHAPES = [v / v.sum() for v in (_bw, _bw / np.maximum(_fc, 50), np.exp(-_fc / 400))]

def add_noise(logmel, mask, rng):
    """Adds noise of a random shape at an SNR of -3..20 dB (speech frames'
    mean power) to log-mel rows, in the power domain."""
    p = np.exp(logmel.astype(np.float64))
    sp = p[mask].sum(1).mean() if mask.sum() > 0 else p.sum(1).mean()
    snr = rng.uniform(-3, 20)
    sh = NOISE_SHAPES[rng.integers(len(NOISE_SHAPES))] * np.exp(rng.normal(0, 0.3, NMELS))
    return np.log(p + sh / sh.sum() * sp / 10 ** (snr / 10)).astype(np.float32)

def loadf(path):
    b = open(path, 'rb').read(); nf, d = struct.unpack('<II', b[:8])
    return (np.frombuffer(b[8:8 + 4 * nf * d], dtype='<f4').reshape(nf, d),
            np.frombuffer(b[8 + 4 * nf * d:], dtype='u1').astype(bool))

PERMISSIVE = {'CC-BY-4.0'}  # licences that allow commercial use of the trained model


def training_material(rows, rng):
    """Per row (speaker, corpus, licence, feature file): the LDA training
    statistics (1-4 s crops every second, and the whole recording), the
    whole recording's parts (stats, hb, ub, gate) and two short cohort crops
    (0.8-3 s, the second with noise added in the log-mel domain), so that
    short, noisy probes find cohort neighbours recorded like them."""
    out = []
    for r in rows:
        lm, mask = loadf(r[3])
        f = frames(lm, mask); n = len(f)
        X = [stats(f[st:st + int(rng.integers(100, 400))]) for st in range(0, max(1, n - 150), 100)] + [stats(f)]
        crops = []
        for k in range(2):
            L = int(rng.integers(80, 300)); st = int(rng.integers(0, max(1, len(lm) - L)))
            x, m = lm[st:st + L], mask[st:st + L]
            if k == 1: x = add_noise(x, m, rng)
            crops.append(feats(x, m))
        out.append((X, feats(lm, mask), crops))
    return out


def fit(rows, mat, a):
    """Fits the model on the rows given (with their training_material):
    LDA on the statistics, the untrained parts' standardisation, and the
    s-norm cohort (at most a.cohort_per_speaker whole recordings, and their
    crops, per speaker). Returns a dict of what the Go side loads plus
    embedf (features -> embeddings) and sim (speaker.Model.sim)."""
    spk = sorted({r[0] for r in rows}); sid = {s: i for i, s in enumerate(spk)}
    X = np.array([x for m in mat for x in m[0]]); Y = np.array([sid[r[0]] for r, m in zip(rows, mat) for _ in m[0]])
    mu = X.mean(0); Xc = X - mu
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    keep = S > S[0] * 1e-5
    P = Vt[keep].T / (S[keep] / np.sqrt(len(X)))
    Z = Xc @ P
    k = Z.shape[1]; Sw = np.zeros((k, k)); means = np.zeros((len(spk), k))
    for c in range(len(spk)):
        z = Z[Y == c]; means[c] = z.mean(0); d = z - means[c]; Sw += d.T @ d
    Sw /= len(Z); Sb = np.cov(means.T, bias=True)
    _, V = sl.eigh(Sb, Sw + 1e-6 * np.eye(k))
    W = P @ V[:, ::-1][:, :min(a.lda_dims, LDA)]
    informative = W.shape[1]  # embedding entries past this are always zero
    W = np.concatenate([W, np.zeros((W.shape[0], LDA - W.shape[1]))], 1)
    def project(s):
        e = (s - mu) @ W; return e / np.linalg.norm(e, axis=-1, keepdims=True)
    em = project(X).mean(0)
    whole = [m[1] for m in mat]
    hbw = np.array([h[1] for h in whole]); hbm, hbs = hbw.mean(0), hbw.std(0) + 1e-6
    ubw = np.array([h[2] for h in whole])[np.array([h[3] for h in whole]) > 0.5]  # wideband recordings
    ubm, ubs = ubw.mean(0), ubw.std(0) + 1e-6
    w, wu = a.hb_weight, a.ub_weight; nhb = HB_NCEPS - 1 if w < 1 else 0; nub = UB_NCEPS - 1 if wu > 0 else 0
    if informative + nhb + nub > LDA: raise SystemExit('no room for the high-band parts')
    if wu > 0 and not nhb: raise SystemExit('the upper band needs the high band')
    def unit(v, m, s):
        v = (np.asarray(v) - m) / s; return v / np.linalg.norm(v, axis=-1, keepdims=True)
    def embed(s, h=None, u=None, g=None):
        e = project(s) - em; e /= np.linalg.norm(e, axis=-1, keepdims=True)
        if not nhb: return e
        e = np.sqrt(w) * e; e[..., informative:informative + nhb] = np.sqrt(1 - w - wu) * unit(h, hbm, hbs)
        if nub:
            e[..., informative + nhb:informative + nhb + nub] = np.sqrt(wu) * np.asarray(g)[..., None] * unit(u, ubm, ubs)
            e /= np.linalg.norm(e, axis=-1, keepdims=True)
        return e
    def embedf(fs):  # [(stats, hb, ub, gate)] -> embeddings
        return embed(*[np.array([f[i] for f in fs]) for i in range(4)])
    # Shipped as float16 without the always-zero columns; everything scores
    # against exactly what the Go side loads: the rounded rows, zero-padded
    # and renormalised.
    used = informative + nhb + nub
    count, cw, cc = {}, [], []
    for r, m in zip(rows, mat):
        count[r[0]] = count.get(r[0], 0) + 1
        if count[r[0]] <= a.cohort_per_speaker:
            cw.append(m[1]); cc += m[2]
    cohort16 = embedf(cw + cc)[:, :used].astype(np.float16)
    cohort = np.zeros((len(cohort16), LDA)); cohort[:, :used] = cohort16
    cohort /= np.linalg.norm(cohort, axis=1, keepdims=True)
    def sim(A, B):
        if not nub: return np.atleast_2d(A) @ np.atleast_2d(B).T
        return part_sim(A, B, informative, informative + nhb, wu, a.nb_weight, w)
    return dict(mu=mu, W=W, em=em, hbm=hbm, hbs=hbs, ubm=ubm, ubs=ubs, informative=informative, nhb=nhb, nub=nub,
                cohort16=cohort16, cohort=cohort, embedf=embedf, sim=sim, speakers=len(spk))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', action='append', required=True,
                    help='a feature folder written by dumpfeats, with its list.tsv; repeat it for each corpus')
    ap.add_argument('--out', required=True); ap.add_argument('--parity', required=True)
    ap.add_argument('--include-nc', action='store_true',
                    help='also train on non-commercial material (Speech Accent Archive, CC BY-NC-SA): the model is then for non-commercial use only')
    ap.add_argument('--version', default='mfccstats-cc-v6')
    ap.add_argument('--lda-dims', type=int, default=60, help='LDA dimensions (the informative part of the embedding)')
    ap.add_argument('--cohort-per-speaker', type=int, default=2, help='whole recordings (and their crops) per speaker in the s-norm cohort')
    ap.add_argument('--cal-tenants', type=int, default=6, help='simulated tenants per condition and size in the calibration')
    ap.add_argument('--hb-weight', type=float, default=0.55, help='weight w of the LDA part (1: no other part)')
    ap.add_argument('--ub-weight', type=float, default=0.15, help='weight of the gated upper-band part (0: none); the high band gets 1 - w - this')
    ap.add_argument('--nb-weight', type=float, default=0.8, help='weight of the LDA part when two recordings do not both have the upper band (the high band gets the rest)')
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for d in a.data:
        for l in open(os.path.join(d, 'list.tsv')):
            r = l.rstrip('\n').split('\t')
            if r[3].endswith(VARIANTS) and (a.include_nc or r[2] in PERMISSIVE):
                rows.append((r[0], r[1], r[2], os.path.join(d, r[3])))
    corpora = sorted({r[1] for r in rows}); licences = sorted({r[2] for r in rows})
    if len(corpora) < 2: raise SystemExit('calibration needs at least two training corpora (leave-one-corpus-out)')
    mat = training_material(rows, rng)
    final = fit(rows, mat, a)
    print('trained on %d speakers of %s (%s); %d rows' % (final['speakers'], ', '.join(corpora), ', '.join(licences), len(rows)), flush=True)
    # Calibration: leave-one-corpus-out simulated tenants (tenantsim.py)
    lab, sc, cnd = [], [], []
    for c in corpora:
        sel = [i for i, r in enumerate(rows) if r[1] != c]
        m = fit([rows[i] for i in sel], [mat[i] for i in sel], a)
        held = {}
        for r in rows:
            if r[1] == c: held.setdefault(r[0], []).append(r[3])
        l, s_, k = tenantsim.simulate(held, m['embedf'], m['sim'], m['cohort'], np.random.default_rng(7), loadf, feats, add_noise, tenants=a.cal_tenants)
        for cond in tenantsim.CONDITIONS:
            t_, n_ = s_[(l == 1) & (k == cond)], s_[(l == 0) & (k == cond)]
            print('calibration on %s, %s: %d target / %d outsider trials, EER %.3f, q99 %.2f' % (c, cond, len(t_), len(n_), tenantsim.eer(t_, n_), np.quantile(n_, .99)), flush=True)
        lab.append(l); sc.append(s_); cnd.append(k)
    lab, sc = np.concatenate(lab), np.concatenate(sc)
    tar, non = sc[lab == 1], sc[lab == 0]
    mu, W, em = final['mu'], final['W'], final['em']
    informative, nhb, nub = final['informative'], final['nhb'], final['nub']
    hbm, hbs, ubm, ubs = final['hbm'], final['hbs'], final['ubm'], final['ubs']
    cohort16, embedf, sim = final['cohort16'], final['embedf'], final['sim']
    w, wu, wn = a.hb_weight, a.ub_weight, a.nb_weight
    topk = min(TOPK, len(cohort16) // 2)
    cohort = final['cohort']
    def snstats(e):
        s = np.sort(sim(e, cohort), axis=-1)[..., ::-1][..., :topk]; m, d = s.mean(-1), s.std(-1) + 1e-6
        return (m[0], d[0]) if np.ndim(e) == 1 else (m, d)
    # logistic calibration of the normalised score to a confidence, classes weighted equally
    xs = np.concatenate([tar, non]); ys = np.concatenate([np.ones(len(tar)), np.zeros(len(non))])
    wts = np.where(ys == 1, 0.5 / len(tar), 0.5 / len(non)); th = np.zeros(2); A = np.stack([xs, np.ones_like(xs)], 1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ th)); g = A.T @ (wts * (p - ys)); H = (A * (wts * p * (1 - p))[:, None]).T @ A
        th -= np.linalg.solve(H + 1e-9 * np.eye(2), g)
    thr = np.quantile(non, .99)
    print('calibration: %d target / %d outsider trials; threshold@1%%FAR %.3f, FRR there %.3f; a=%.3f b=%.3f'
          % (len(tar), len(non), thr, (tar < thr).mean(), th[0], th[1]))
    meta = dict(model_version=a.version, kind='mfccstats', num_mels=NMELS, num_ceps=NCEPS,
                min_speech_frames=MIN_SPEECH, snorm_top_k=topk, calibration_a=repr(float(th[0])),
                calibration_b=repr(float(th[1])), speakers=final['speakers'], corpora=','.join(corpora), cohort_size=len(cohort),
                calibration='leave-one-corpus-out simulated tenants, outsider impostors (train/speaker/tenantsim.py)',
                hb_first_band=HB_FIRST, hb_bands=_nhb, hb_num_ceps=HB_NCEPS if nhb else 0, hb_offset=informative, hb_weight=repr(float(w)),
                ub_first_band=UB_FIRST, ub_bands=_nub, ub_num_ceps=UB_NCEPS if nub else 0, ub_offset=informative + nhb, ub_weight=repr(float(wu)), nb_weight=repr(float(wn)),
                gate_first_band=GATE_FIRST, gate_bias=repr(GATE_BIAS), gate_slope=repr(GATE_SLOPE),
                licence=' + '.join(licences) + ('' if set(licences) <= PERMISSIVE else ': non-commercial use only'))
    tensors = {'stats.mean': mu, 'stats.projection': W, 'emb.mean': em,
               'snorm.cohort': cohort16, 'calibration.nontarget_scores': np.quantile(non, np.linspace(0, 1, 4001))}
    if nhb: tensors.update({'hb.mean': hbm, 'hb.std': hbs})
    if nub: tensors.update({'ub.mean': ubm, 'ub.std': ubs})
    save_safetensors(a.out, tensors, meta)
    print('wrote', a.out, os.path.getsize(a.out))
    prng = np.random.default_rng(1); cases = []
    for T, frac, nb in ((150, 1.0, 0), (220, 0.6, 0), (40, 0.1, 0), (120, 0.8, 1)):
        lm = prng.normal(0, 1.5, (T, NMELS)) - 6 + np.linspace(2, -3, NMELS)
        if nb: lm[:, UB_FIRST:] -= 12  # telephone band: the gate closes
        lm = np.round(lm, 4).astype(np.float32)
        mask = prng.random(T) < frac
        cases.append({'frames': T, 'logmel': [round(float(v), 4) for v in lm.ravel()], 'mask': mask.astype(int).tolist(),
                      'embedding': embedf([feats(lm, mask)])[0].tolist()})
    e0, e1 = np.array(cases[0]['embedding']), np.array(cases[1]['embedding'])
    raw = float(sim(e0, e1)[0, 0]); m0, s0 = snstats(e0); m1, s1 = snstats(e1)
    json.dump({'model_version': a.version, 'cases': cases,
               'score': {'raw': raw, 'normalized': float(0.5 * ((raw - m0) / s0 + (raw - m1) / s1))}}, open(a.parity, 'w'))
    print('wrote', a.parity)

if __name__ == '__main__':
    main()

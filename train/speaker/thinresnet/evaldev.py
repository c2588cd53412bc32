"""Issue 16, does the VoxCeleb-trained MAX78000 ThinResNet help? Dev-set EERs of the
ThinResNet alone, of the shipped model (mfccstats-cc-v6 replica), and of their score-level
fusion with a weight learned on training data (speechocean762 tenants), under the
service's scoring (adaptive s-norm, tenant cohort, rival rule; research/v6_explore.py).

Inputs (embed.py outputs, see RESULTS.md "Sixth round" for the commands):
  DEV   dev-set embeddings (every enroll/trial file of the four sets)
  LS    train-pool's 251 LibriSpeech recordings     (ThinResNet cohort)
  SO    speechocean762, 4 recordings per speaker     (cohort: first 2; fusion tenants)
and /tmp/feats (v6_explore.py's cached Go front-end features) for the shipped model.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'research'))
import v6_explore as V  # noqa: E402
from tenantsim import eer, score_tenant  # noqa: E402

W = '/tmp/h16t'
DEV = os.environ.get('DEV', f'{W}/dev-trained-pad.npz')
LS = os.environ.get('LS', f'{W}/ls-trained-pad.npz')
SO = os.environ.get('SO', f'{W}/so-trained-pad.npz')
SO_PREFIX = ('/tmp/h16t/so762/', '/tmp/so762/')  # our extraction vs the cached features' paths


def npz(path):
    z = np.load(path)
    return {os.path.normpath(p): (e.astype(np.float64), s) for p, e, s in zip(z['paths'], z['emb'], z['seconds'])}


def dot(A, B):
    return np.atleast_2d(A) @ np.atleast_2d(B).T


def raw_cosine(st, E):
    """Plain cosine of the mean enrollment embedding and the probe (no normalisation)."""
    en, tr = V.read_set(st)
    T = {m: np.mean([E[p][0] for p in ps], 0) for m, ps in en.items()}
    T = {m: t / np.linalg.norm(t) for m, t in T.items()}
    tar = [T[m] @ E[p][0] for m, p, l in tr if l == 'target']
    non = [T[m] @ E[p][0] for m, p, l in tr if l == 'nontarget']
    return eer(np.array(tar), np.array(non))


def speakers_so(SOE):
    spk = {}
    for p in sorted(SOE):
        spk.setdefault(p.split('/')[-2], []).append(p)
    return spk


def v6_ls_only():
    """The shipped recipe refitted on LibriSpeech alone, so that speechocean762 is unseen."""
    lic = {r[0]: r[2] for r in V.rows('pool')}
    return V.build([V.load_train('pool', lambda y: lic.get(y) == 'CC-BY-4.0')], dims=60, cohort_per_spk=2)


def so_features(channel):
    rows = {os.path.normpath(r[4]): r for r in V.rows('so') if r[3].endswith(channel + '.bin')}
    return lambda p: V.loadf(os.path.join(V.FE, 'so', rows[p.replace(*SO_PREFIX)][3]))


def material_whole(so_spk, SOE, channel, v6embed):
    """Per speaker: 2 whole enrollment recordings and 2 whole probes, for both systems."""
    feat = so_features(channel)

    def v6(p):
        lm, mask = feat(p)
        return v6embed([V.feats(lm, mask)])[0], float(mask.sum())
    out = {}
    for s, ps in so_spk.items():
        if len(ps) < 4:
            continue
        out[s] = {'v6': ([v6(p) for p in ps[:2]], [v6(p)[0] for p in ps[2:4]]),
                  'thin': ([(SOE[p][0], SOE[p][1] * 100) for p in ps[:2]], [SOE[p][0] for p in ps[2:4]])}
    return out


def material_short(so_spk, channel, v6embed, layers, seed=5):
    """Per speaker, digit-like material: 8 enrollment crops of 0.5-0.9 s (4 from each of 2
    recordings) and 2 probes of 1.2-2.0 s (one from each of 2 others), cut at the same times
    for both systems (the Go front end's 10 ms frames; samples for the ThinResNet) inside
    the recording's speech (frontend.trim of the clean audio)."""
    import embed as EM
    import frontend as FR
    feat = so_features(channel)
    rng = np.random.default_rng(seed)
    out = {}
    for s, ps in sorted(so_spk.items()):
        if len(ps) < 4:
            continue
        m = {'v6': ([], []), 'thin': ([], [])}
        for i, p in enumerate(ps[:4]):
            clean = FR.load(p)
            wav = clean if channel == 'clean' else FR.load(p, channel)
            lo, hi = FR.trim_bounds(clean)  # speech region of the clean recording, in samples
            lm, mask = feat(p)
            for _ in range(4 if i < 2 else 1):
                L = int(rng.uniform(.5, .9) * FR.SR) if i < 2 else int(rng.uniform(1.2, 2.0) * FR.SR)
                L = min(L, hi - lo)
                st = int(rng.integers(lo, max(lo + 1, hi - L)))
                e, secs = EM.embed_wav(layers, wav[st:st + L], fill='loop')
                f0, f1 = st // 160, (st + L) // 160
                v = v6embed([V.feats(lm[f0:f1], mask[f0:f1])])[0]
                if i < 2:
                    m['thin'][0].append((e, secs * 100))
                    m['v6'][0].append((v, float(mask[f0:f1].sum())))
                else:
                    m['thin'][1].append(e)
                    m['v6'][1].append(v)
        out[s] = m
    return out


def v6_so_only():
    """The shipped recipe refitted on speechocean762 alone, so that LibriSpeech is unseen."""
    return V.build([V.load_train('so', lambda y: True)], dims=60, cohort_per_spk=2)


def material_ls(channel, length, v6embed, layers, seed=6):
    """Per train-pool LibriSpeech speaker (one ~12 s recording each): enrollment from the
    first half of its speech, probes from the second. whole: the halves' quarters (2 to
    enroll, 2 probes); short: 8 crops of 0.5-0.9 s to enroll, 2 probes of 1.2-2.0 s."""
    import embed as EM
    import frontend as FR
    rng = np.random.default_rng(seed)
    rows = [r for r in V.rows('pool') if r[2] == 'CC-BY-4.0' and r[3].endswith(channel + '.bin')]
    root = os.path.normpath(os.path.join(HERE, '../../..'))
    out = {}
    for r in rows:
        path = os.path.normpath(os.path.join(root, r[4]))
        clean = FR.load(path)
        wav = clean if channel == 'clean' else FR.load(path, channel)
        lo, hi = FR.trim_bounds(clean)
        mid = (lo + hi) // 2
        lm, mask = V.loadf(os.path.join(V.FE, 'pool', r[3]))
        if length == 'whole':
            q = (hi - lo) // 4
            cuts = [(lo + i * q, lo + (i + 1) * q) for i in range(4)]
        else:
            cuts = []
            for i in range(10):
                a, b, L = (lo, mid, rng.uniform(.5, .9)) if i < 8 else (mid, hi, rng.uniform(1.2, 2.0))
                L = min(int(L * FR.SR), b - a)
                st = int(rng.integers(a, max(a + 1, b - L)))
                cuts.append((st, st + L))
        m = {'v6': ([], []), 'thin': ([], [])}
        n_en = 2 if length == 'whole' else 8
        for i, (a, b) in enumerate(cuts):
            e, secs = EM.embed_wav(layers, wav[a:b], fill='loop')
            f0, f1 = a // 160, b // 160
            v = v6embed([V.feats(lm[f0:f1], mask[f0:f1])])[0]
            if i < n_en:
                m['thin'][0].append((e, secs * 100))
                m['v6'][0].append((v, float(mask[f0:f1].sum())))
            else:
                m['thin'][1].append(e)
                m['v6'][1].append(v)
        out[r[0]] = m
    return out


def fusion_tenants(mat, scorers, seed=11, tenants=40, size=10, n_out=10):
    """speechocean762 tenants: 10 enrolled users and 10 outsiders; each user's enrollment
    and probes from mat (material_*); targets and outsider nontargets, scored by both
    systems with the service's scoring (tenantsim.score_tenant). scorers: {system: (sim,
    cohort)}. Returns rows (label, v6 score, ThinResNet score)."""
    rng = np.random.default_rng(seed)
    names = sorted(mat)
    out = []
    for t in range(tenants):
        pick = [names[i] for i in rng.choice(len(names), size + n_out, replace=False)]
        enrolled, outsiders = pick[:size], pick[size:]
        res = {}
        for name, (s_sim, s_coh) in scorers.items():
            enroll = {s: mat[s][name][0] for s in enrolled}
            tests, trials, lab = [], [], []
            for s in pick:
                for v in mat[s][name][1]:
                    j = len(tests)
                    tests.append(v)
                    if s in outsiders:
                        for e in enrolled:
                            trials.append((e, j))
                            lab.append(0)
                    else:
                        trials.append((s, j))
                        lab.append(1)
            res[name] = score_tenant(s_sim, s_coh, enroll, tests, trials)
        out += list(zip(lab, res['v6'], res['thin']))
    return np.array(out)


def logistic(X, y, iters=200):
    """Plain logistic regression (Newton), bias included; balanced classes."""
    X1 = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(X1.shape[1])
    sw = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    for _ in range(iters):
        p = 1 / (1 + np.exp(-X1 @ w))
        g = X1.T @ (sw * (p - y))
        H = (X1 * (sw * p * (1 - p))[:, None]).T @ X1 + 1e-6 * np.eye(len(w))
        w -= np.linalg.solve(H, g)
    return w


def main():
    DE, LSE, SOE = npz(DEV), npz(LS), npz(SO)
    so_spk = speakers_so(SOE)
    print('ThinResNet, raw cosine EER:', ' '.join(f'{st} {raw_cosine(st, DE):.3f}' for st in V.SETS), flush=True)
    # ThinResNet under the service's scoring; cohort: LibriSpeech + first 2 of speechocean762
    SONB0 = npz(os.environ.get('SONB', f'{W}/so-nb.npz'))
    coh = np.array([e for e, _ in LSE.values()] + [X[p][0] for X in (SOE, SONB0) for s in so_spk for p in so_spk[s][:2]])
    sc = V.Scorer(dot, coh)
    idx = {p: p for p in DE}
    thin = {st: V.evaluate_set(st, lambda p: (DE[p][0], DE[p][1] * 100), sc, idx) for st in V.SETS}  # weight: frames, as v6's
    V.report('ThinResNet (service scoring)', thin, 3.342)
    # shipped model replica (v6: LibriSpeech + speechocean762, LDA 60, cohort 2 per speaker)
    embed, sim, cohort = V.build(V.data('ccby+so'), dims=60, cohort_per_spk=2)
    v6 = V.run_dev('v6 replica', embed, sim, cohort, thr=3.342)
    # fusion weights from training data, one per condition: bandwidth (speechocean762 as
    # recorded; its telephone-channel copies) x length (whole recordings; digit-like crops)
    SONB = npz(os.environ.get('SONB', f'{W}/so-nb.npz'))
    v6e, v6sim, v6coh = v6_ls_only()
    scorers = {'v6': (v6sim, v6coh), 'thin': (dot, np.array([e for e, _ in LSE.values()]))}
    # and the other way round: LibriSpeech tenants, the recipe refitted on speechocean762
    v6e2, v6sim2, v6coh2 = v6_so_only()
    scorers2 = {'v6': (v6sim2, v6coh2),
                'thin': (dot, np.array([X[p][0] for X in (SOE, SONB) for s in so_spk for p in so_spk[s][:2]]))}
    import embed as EM
    layers = EM.load_layers(W)
    alphas = {}

    def fit(tag, F):
        lab, a, b = F[:, 0].astype(int), F[:, 1], F[:, 2]
        w = logistic(np.stack([a, b], 1), lab)
        alpha = float(np.clip(w[1] / (w[0] + w[1]), 0, 1))
        fa = (1 - alpha) * a + alpha * b
        grid = {al: eer(((1 - al) * a + al * b)[lab == 1], ((1 - al) * a + al * b)[lab == 0]) for al in np.arange(0, 1.01, .1)}
        print('fusion tenants (%s): %d target / %d outsider trials; EER v6 stand-in %.3f, '
              'ThinResNet %.3f; logistic alpha (ThinResNet share) %.3f -> fused %.3f\n  EER by alpha: %s'
              % (tag, (lab == 1).sum(), (lab == 0).sum(), eer(a[lab == 1], a[lab == 0]),
                 eer(b[lab == 1], b[lab == 0]), alpha, eer(fa[lab == 1], fa[lab == 0]),
                 ' '.join(f'{k:.1f}:{v:.3f}' for k, v in grid.items())), flush=True)
        return alpha
    for channel, SX in (('clean', SOE), ('nb', SONB)):
        for length in ('whole', 'short'):
            mat = (material_whole(so_spk, SX, channel, v6e) if length == 'whole'
                   else material_short(so_spk, channel, v6e, layers))
            F1 = fusion_tenants(mat, scorers)
            fit(f'speechocean762, {channel}, {length}', F1)
            F2 = fusion_tenants(material_ls(channel, length, v6e2, layers), scorers2)
            fit(f'LibriSpeech, {channel}, {length}', F2)
            alphas[channel, length] = fit(f'both, {channel}, {length}', np.concatenate([F1, F2]))
    for name, al in (('wideband whole-recording alpha everywhere', lambda g, sh: alphas['clean', 'whole']),
                     ('by bandwidth', lambda g, sh: np.where(g, alphas['clean', 'whole'], alphas['nb', 'whole'])),
                     ('by bandwidth and length', lambda g, sh: alphas['clean' if g else 'nb', 'short' if sh else 'whole'])):
        fused = {}
        for st in V.SETS:
            g = wideband_trials(st)
            sh = short_trials(st, DE)
            fused[st] = tuple(np.array([(1 - al(gi, si)) * xi + al(gi, si) * yi for xi, yi, gi, si in zip(x, y, gg, ss)])
                              for x, y, gg, ss in zip(v6[st], thin[st], g, sh))
        V.report(f'fusion, {name} ' + ' '.join(f'{k[0]}/{k[1]} {v:.3f}' for k, v in alphas.items()), fused, 3.342)
    np.savez(f'{W}/scores.npz', **{f'alpha_{k[0]}_{k[1]}': v for k, v in alphas.items()},
             **{f'{n}_{st}_{k}': r[st][i] for n, r in (('thin', thin), ('v6', v6))
                for st in V.SETS for i, k in enumerate(('tar', 'ins', 'outs'))})


def short_trials(st, DE, limit=1.5):
    """Per trial, in evaluate_set's order: the enrollment recordings are short (mean speech
    under limit seconds, after silence trimming), i.e. digit-like material."""
    en, tr = V.read_set(st)
    es = {m: np.mean([DE[p][1] for p in ps]) < limit for m, ps in en.items()}
    t = np.array([es[m] for m, p, l in tr if l == 'target'])
    n = np.array([es[m] for m, p, l in tr if l == 'nontarget'])
    return t, n, n


def wideband_trials(st):
    """Per trial, in evaluate_set's order (targets; nontargets; nontargets): both the probe and
    the enrollment (mean of its recordings) have speech energy above 4.5 kHz (the shipped
    model's bandwidth gate, from the Go front end's features)."""
    dev = np.load(os.path.join(V.FE, 'dev.npy'), allow_pickle=True).tolist()
    gate = {os.path.normpath(d[0]): d[1][3] for d in dev}
    en, tr = V.read_set(st)
    eg = {m: np.mean([gate[p] for p in ps]) for m, ps in en.items()}
    wb = lambda m, p: eg[m] > .5 and gate[p] > .5
    t = np.array([wb(m, p) for m, p, l in tr if l == 'target'])
    n = np.array([wb(m, p) for m, p, l in tr if l == 'nontarget'])
    return t, n, n


if __name__ == '__main__':
    main()

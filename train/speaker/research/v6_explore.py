# Issue 16 research: the mfccstats recipe on commercially usable data
# (LibriSpeech part of train-pool + speechocean762, several sessions per
# speaker), scored on the dev sets with the service's scoring replicated
# (adaptive s-norm against a train cohort plus the tenant's other enrolled
# users, rival rule), under both impostor protocols: insiders (the sets'
# own: every impostor is an enrolled user of the tenant) and outsiders (the
# impostor's own model is not enrolled: no rival, not in the cohort).
#
#   go run ./train/speaker/dumpfeats -speakers ../shared/voice-data/sets/train-pool/speakers.csv -out /tmp/feats/pool -channels clean,nb
#   go run ./train/speaker/dumpfeats -speakers /tmp/so762/speakers.csv -out /tmp/feats/so -channels clean,nb
#   go run ./train/speaker/dumpfeats -speakers /tmp/devfiles.csv -out /tmp/feats/dev -channels clean
#   /usr/bin/python3 train/speaker/research/v6_explore.py
import os, sys, csv
import numpy as np
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from train_stats import feats, frames, stats, loadf, part_sim, add_noise  # noqa: E402
from tenantsim import topk_stats, score_tenant, eer, material as _material  # noqa: E402


def material(files, cond, rng, seed):
    return _material(files, cond, rng, seed, loadf, feats, add_noise)

FE = os.environ.get('FEATS', '/tmp/feats')
SETS_DIR = os.environ.get('VOXGATE_SETS_DIR', os.path.join(HERE, '../../../../shared/voice-data/sets'))
SETS = ['ravdess', 'librispeech', 'fsdd', 'audiomnist_az']


def rows(sub):
    return [l.rstrip('\n').split('\t') for l in open(os.path.join(FE, sub, 'list.tsv'))]


def frr_at(tar, non, far):
    t = np.quantile(non, 1 - far, method='higher') if len(non) else 0
    return (tar <= t).mean()


def read_set(st):
    d = os.path.join(SETS_DIR, st); en = {}
    for r in csv.DictReader(open(os.path.join(d, 'enroll.csv'))):
        en.setdefault(r['model'], []).append(os.path.normpath(os.path.join(d, r['path'])))
    tr = [(r['model'], os.path.normpath(os.path.join(d, r['path'])), r['label'])
          for r in csv.DictReader(open(os.path.join(d, 'trials.csv'))) if r['label'] in ('target', 'nontarget')]
    return en, tr


class Scorer:
    """The model's similarity, its s-norm cohort and the s-norm top k."""
    def __init__(self, sim, cohort, topk=200):
        self.sim, self.cohort, self.topk = sim, cohort, topk


def evaluate_set(st, embed, scorer, devmap, w=2.0):
    """Normalised claim scores (rival rule applied) of the set's target,
    insider nontarget and outsider nontarget trials, as the service scores
    them (speaker.Calibration.ScoreIn)."""
    en, tr = read_set(st)
    mods = sorted(en); mi = {m: i for i, m in enumerate(mods)}
    paths = sorted({p for ps in en.values() for p in ps} | {p for _, p, _ in tr})
    E = {p: embed(devmap[p]) for p in paths}
    if os.environ.get('CENTER'):  # tenant-mean centring of the LDA part (domain adaptation)
        nl = int(os.environ['CENTER'])
        mu_t = np.mean([E[p][0] for m in en for p in en[m]], 0); mu_t[nl:] = 0
        a = float(os.environ.get('CENTER_A', 1))
        E = {p: ((v - a * mu_t) / np.linalg.norm(v - a * mu_t), n) for p, (v, n) in E.items()}
    X = np.array([E[p][0] for m in mods for p in en[m]]); own = np.array([mi[m] for m in mods for p in en[m]])
    wt = np.array([max(E[p][1], 1) for m in mods for p in en[m]], float)
    T = np.array([(X[own == k] * wt[own == k, None]).sum(0) for k in range(len(mods))]); T /= np.linalg.norm(T, axis=1, keepdims=True)
    R = np.array([X[own == k].mean(0) for k in range(len(mods))]); R /= np.linalg.norm(R, axis=1, keepdims=True)
    tests = sorted({p for _, p, _ in tr}); ti = {p: i for i, p in enumerate(tests)}
    B = np.array([E[p][0] for p in tests])
    K = scorer.topk
    def ctop(A):
        S = scorer.sim(A, scorer.cohort); return -np.partition(-S, K - 1, axis=1)[:, :K]
    Bc, Tc, Rc = ctop(B), ctop(T), ctop(R)
    BX, TX, RX = scorer.sim(B, X), scorer.sim(T, X), scorer.sim(R, X)
    rawT, rawR = scorer.sim(T, B), scorer.sim(R, B)
    true = {p: m for m, p, l in tr if l == 'target'}
    for m, ps in en.items():
        for p in ps: true.setdefault(p, m)
    nM = len(mods)
    def tables(absent):
        """N[k]: claim scores of model k for every test; Z[o]: rival scores
        of o (before the claim's probe statistics are applied)."""
        present = np.array([k != absent for k in range(nM)])
        N = np.full((nM, len(tests)), -np.inf); PM = np.zeros((nM, len(tests))); PS = np.ones((nM, len(tests)))
        RM = np.zeros(nM); RS = np.ones(nM)
        for k in range(nM):
            if not present[k]: continue
            cols = present[own] & (own != k)
            a, b = topk_stats(Tc[k:k + 1], TX[k:k + 1], cols, K)
            pm, ps = topk_stats(Bc, BX, cols, K)
            N[k] = 0.5 * ((rawT[k] - a[0]) / b[0] + (rawT[k] - pm) / ps); PM[k], PS[k] = pm, ps
            ra, rb = topk_stats(Rc[k:k + 1], RX[k:k + 1], cols, K); RM[k], RS[k] = ra[0], rb[0]
        return N, PM, PS, RM, RS, present
    def claim(t, k, j):
        N, PM, PS, RM, RS, present = t
        s = N[k, j]; best = -np.inf
        for o in range(nM):
            if o == k or not present[o]: continue
            best = max(best, 0.5 * ((rawR[o, j] - RM[o]) / RS[o] + (rawR[o, j] - PM[k, j]) / PS[k, j]))
        return s - w * max(0, best - s)
    full = tables(None)
    tar = np.array([claim(full, mi[m], ti[p]) for m, p, l in tr if l == 'target'])
    ins = np.array([claim(full, mi[m], ti[p]) for m, p, l in tr if l == 'nontarget'])
    cache = {}; outs = []
    for m, p, l in tr:
        if l != 'nontarget': continue
        a = mi.get(true.get(p), None)
        if a == mi[m]: a = None
        if a not in cache: cache[a] = tables(a)
        outs.append(claim(cache[a], mi[m], ti[p]))
    return tar, ins, np.array(outs)


def report(name, results, thr):
    line = [name]
    for st, (tar, ins, outs) in results.items():
        line.append('%s EER %.3f/%.3f FAR@thr %.4f/%.4f FRR@thr %.3f FRR@1%% %.3f/%.3f' % (
            st, eer(tar, ins), eer(tar, outs), (ins >= thr).mean(), (outs >= thr).mean(), (tar < thr).mean(),
            frr_at(tar, ins, .01), frr_at(tar, outs, .01)) + ' q99 %.2f/%.2f q999 %.2f/%.2f' % (
            np.quantile(ins, .99), np.quantile(outs, .99), np.quantile(ins, .999), np.quantile(outs, .999)))
    print('\n  '.join(line), flush=True)


def train_vectors(sub, rs, rng):
    """LDA training vectors per recording: crops (1-4 s, every second) and
    the whole recording, as in train_stats.py; plus whole-recording parts
    and two short cohort crops (the second noisy) per recording."""
    X, Y, whole, crops = [], [], [], []
    for r in rs:
        lm, mask = loadf(os.path.join(FE, sub, r[3]))
        f = frames(lm, mask); n = len(f)
        for st in range(0, max(1, n - 150), 100):
            X.append(stats(f[st:st + int(rng.integers(100, 400))])); Y.append(r[0])
        X.append(stats(f)); Y.append(r[0])
        whole.append((r[0], feats(lm, mask), int(mask.sum())))
        for k in range(2):
            L = int(rng.integers(80, 300)); st = int(rng.integers(0, max(1, len(lm) - L)))
            x, m = lm[st:st + L], mask[st:st + L]
            if k == 1: x = add_noise(x, m, rng)
            crops.append((r[0], feats(x, m), int(m.sum())))
    return X, Y, whole, crops


if __name__ == '__main__' and os.environ.get('STEP') == 'cache':
    rng = np.random.default_rng(0)
    for sub in os.environ.get('SUBS', 'pool,so').split(','):
        rs = rows(sub)
        v = train_vectors(sub, rs, rng)
        np.save(os.path.join(FE, sub + '-train.npy'), np.array(v, dtype=object), allow_pickle=True)
        print(sub, len(v[0]), flush=True)
    if os.environ.get('SUBS'): sys.exit(0)
    rs = rows('dev')
    np.save(os.path.join(FE, 'dev.npy'), np.array([(r[4], feats(*loadf(os.path.join(FE, 'dev', r[3]))), int(loadf(os.path.join(FE, 'dev', r[3]))[1].sum())) for r in rs], dtype=object), allow_pickle=True)
    print('dev cached')


def lda(X, Y, dims):
    X = np.asarray(X); mu = X.mean(0); Xc = X - mu
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    keep = S > S[0] * 1e-5; P = Vt[keep].T / (S[keep] / np.sqrt(len(X))); Z = Xc @ P
    labs = sorted(set(Y)); yi = np.array([labs.index(y) for y in Y]) if len(labs) < 5000 else None
    k = Z.shape[1]; Sw = np.zeros((k, k)); means = np.zeros((len(labs), k))
    for c in range(len(labs)):
        z = Z[yi == c]; means[c] = z.mean(0); d = z - means[c]; Sw += d.T @ d
    Sw /= len(Z); Sb = np.cov(means.T, bias=True)
    import scipy.linalg as sl
    _, V = sl.eigh(Sb, Sw + 1e-6 * np.eye(k))
    return mu, P @ V[:, ::-1][:, :dims]


def build(train, w=0.55, wu=0.15, wn=0.8, dims=119, cohort_per_spk=None):
    """train: list of (X, Y, whole, crops) from train_vectors. Returns
    (embed, sim, cohort) as train_stats.py would build them."""
    X = sum([t[0] for t in train], []); Y = sum([t[1] for t in train], [])
    whole = sum([t[2] for t in train], []); crops = sum([t[3] for t in train], [])
    mu, W = lda(X, Y, dims)
    def project(s):
        e = (np.asarray(s) - mu) @ W; return e / np.linalg.norm(e, axis=-1, keepdims=True)
    em = project(np.asarray(X)).mean(0)
    hbw = np.array([f[1][1] for f in whole]); hbm, hbs = hbw.mean(0), hbw.std(0) + 1e-6
    ubw = np.array([f[1][2] for f in whole if f[1][3] > .5]); ubm, ubs = ubw.mean(0), ubw.std(0) + 1e-6
    inf = W.shape[1]; nhb, nub = 9, 7
    def unit(v, m, s):
        v = (np.asarray(v) - m) / s; return v / np.linalg.norm(v, axis=-1, keepdims=True)
    def embed(fs):  # fs: list of (stats, hb, ub, gate)
        s, h, u, g = [np.array([f[i] for f in fs]) for i in range(4)]
        e = project(s) - em; e /= np.linalg.norm(e, axis=-1, keepdims=True)
        out = np.zeros((len(fs), inf + nhb + nub))
        out[:, :inf] = np.sqrt(w) * e; out[:, inf:inf + nhb] = np.sqrt(1 - w - wu) * unit(h, hbm, hbs)
        out[:, inf + nhb:] = np.sqrt(wu) * g[:, None] * unit(u, ubm, ubs)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
    sim = lambda A, B: part_sim(A, B, inf, inf + nhb, wu, wn, w)
    if w >= 1:
        sim = lambda A, B: np.atleast_2d(A)[:, :inf] @ np.atleast_2d(B)[:, :inf].T / np.sqrt(w)
    if cohort_per_spk:  # at most this many whole recordings per speaker
        cnt = {}; keep = []
        for f in whole:
            cnt[f[0]] = cnt.get(f[0], 0) + 1
            if cnt[f[0]] <= cohort_per_spk: keep.append(f)
        ccnt = {}; kc = []
        for f in crops:
            ccnt[f[0]] = ccnt.get(f[0], 0) + 1
            if ccnt[f[0]] <= 2 * cohort_per_spk: kc.append(f)
        whole, crops = keep, kc
    cohort = embed([f[1] for f in whole] + [f[1] for f in crops])
    return embed, sim, cohort


def load_train(sub, keep):
    X, Y, whole, crops = np.load(os.path.join(FE, sub + '-train.npy'), allow_pickle=True).tolist()
    ks = lambda y: keep(y)
    sel = [i for i, y in enumerate(Y) if ks(y)]
    return ([X[i] for i in sel], [Y[i] for i in sel], [f for f in whole if ks(f[0])], [f for f in crops if ks(f[0])])


def dev_embedder(embed):
    dev = np.load(os.path.join(FE, 'dev.npy'), allow_pickle=True).tolist()
    paths = [d[0] for d in dev]; E = embed([d[1] for d in dev])
    idx = {os.path.normpath(p): i for i, p in enumerate(paths)}
    return (lambda i: (E[i], dev[i][2])), idx


def run_dev(name, embed, sim, cohort, thr=float(os.environ.get("THR", 4.6)), sets=SETS):
    emb, idx = dev_embedder(embed)
    sc = Scorer(sim, cohort)
    res = {st: evaluate_set(st, emb, sc, idx) for st in sets}
    report(name, res, thr)
    return res


if __name__ == '__main__' and os.environ.get('STEP') == 'base':
    held = lambda s: False
    trainpool = lambda lic: (lambda y: True)
    pool_rows = rows('pool'); lic = {r[0]: r[2] for r in pool_rows}
    ccby = lambda y: lic.get(y) == 'CC-BY-4.0'
    so = load_train('so', lambda y: True)
    for name, tr in [('pool-all (v5 data)', [load_train('pool', lambda y: True)]),
                     ('pool-ccby', [load_train('pool', ccby)]),
                     ('pool-ccby+so762', [load_train('pool', ccby), so])]:
        embed, sim, cohort = build(tr, cohort_per_spk=2)
        run_dev(name, embed, sim, cohort)


def data(spec):
    """spec: '+'-joined of pool, ccby, so, so-clean (so762 clean copies only)."""
    lic = {r[0]: r[2] for r in rows('pool')}
    out = []
    for part in spec.split('+'):
        if part == 'pool': out.append(load_train('pool', lambda y: True))
        elif part == 'ccby': out.append(load_train('pool', lambda y: lic.get(y) == 'CC-BY-4.0'))
        elif part == 'so': out.append(load_train('so', lambda y: True))
        elif part == 'soaug':  # pitch/tilt copies: LDA training vectors only, not the cohort
            X, Y, _, _ = load_train('so-aug', lambda y: True); out.append((X, Y, [], []))
    return out


if __name__ == '__main__' and os.environ.get('STEP') == 'grid':
    # GRID="spec:w:wu:wn:dims:cps;..."
    for g in os.environ['GRID'].split(';'):
        spec, w, wu, wn, dims, cps = g.split(':')
        embed, sim, cohort = build(data(spec), float(w), float(wu), float(wn), int(dims), int(cps))
        run_dev(g, embed, sim, cohort)


def calibration_trials(folds=8, conds=('clean', 'nb', 'noisy'), spec='ccby+so', **kw):
    """Cross-fitted calibration trials: for each fold, a model built without
    its speakers scores simulated tenants of them (one per corpus and
    condition; a third of the speakers are outsiders, in turn)."""
    lic = {r[0]: r[2] for r in rows('pool')}
    files = {}
    for sub in ('pool', 'so'):
        for r in rows(sub):
            if sub == 'pool' and ('ccby' in spec and lic[r[0]] != 'CC-BY-4.0'): continue
            files.setdefault((r[1], r[0]), []).append(os.path.join(FE, sub, r[3]))
    spks = sorted(files)
    fold = {s: i % folds for i, s in enumerate(spks)}
    out = []  # (label, score, probe_s, enroll_s, cond, corpus, fold)
    rng = np.random.default_rng(7)
    for f in range(folds):
        held = {s for s in spks if fold[s] == f}; hn = {s[1] for s in held}
        tr = [load_train('pool', lambda y: lic.get(y) == 'CC-BY-4.0' and y not in hn),
              load_train('so', lambda y: y not in hn)]
        embed, sim, cohort = build(tr, **kw)
        sc = Scorer(sim, cohort)
        for corpus in sorted({s[0] for s in held}):
            S = sorted(s for s in held if s[0] == corpus)
            for ci, cond in enumerate(conds):
                mat = {s: material(files[s], cond, rng, 1000 * f + 10 * ci) for s in S}
                for r in range(3):
                    outsiders = set(S[r::3]); enrolled = [s for s in S if s not in outsiders]
                    enroll = {s[1]: [(embed([e[0]])[0], e[1]) for e in mat[s][0]] for s in enrolled}
                    tests, trials, lab, ps = [], [], [], []
                    for s in S:
                        for p in mat[s][1]:
                            j = len(tests); tests.append(embed([p[0]])[0])
                            if s in outsiders:
                                for e in enrolled: trials.append((e[1], j)); lab.append(0); ps.append(p[1])
                            elif r == 0:  # targets once
                                trials.append((s[1], j)); lab.append(1); ps.append(p[1])
                    scores = score_tenant(sc.sim, sc.cohort, enroll, tests, trials)
                    for l, x, p in zip(lab, scores, ps):
                        out.append((l, x, p, 0, cond, corpus, f))
        print('fold', f, len(out), flush=True)
    return out


if __name__ == '__main__' and os.environ.get('STEP') == 'cal':
    t = calibration_trials()
    np.save(os.path.join(FE, 'cal.npy'), np.array(t, dtype=object), allow_pickle=True)


def calibration_trials_xcorpus(conds=('clean', 'nb', 'noisy'), sizes=(5, 10, 20, 30), tenants=6, n_out=10, seed=7, **kw):
    """Leave-one-corpus-out calibration trials: a model trained on one
    training corpus scores simulated tenants of the other (every speaker of
    it unseen, and its recording conditions too), the way a deployment's
    users are unseen by the shipped model. Tenants of several sizes, since
    the rival rule lowers an outsider's claim more often the more users a
    tenant has; outsiders are other speakers of the same corpus."""
    lic = {r[0]: r[2] for r in rows('pool')}
    files = {}
    for sub in ('pool', 'so'):
        for r in rows(sub):
            if sub == 'pool' and lic[r[0]] != 'CC-BY-4.0': continue
            files.setdefault((r[1], r[0]), []).append(os.path.join(FE, sub, r[3]))
    corpora = sorted({k[0] for k in files})
    out = []; rng = np.random.default_rng(seed)
    for held in corpora:
        tr = [load_train('pool', lambda y: lic.get(y) == 'CC-BY-4.0')] if held == 'speechocean762' else [load_train('so', lambda y: True)]
        embed, sim, cohort = build(tr, **kw)
        sc = Scorer(sim, cohort)
        S = sorted(k for k in files if k[0] == held)
        for ci, cond in enumerate(conds):
            for size in sizes:
                for t in range(tenants):
                    pick = [S[i] for i in rng.choice(len(S), size + n_out, replace=False)]
                    enrolled, outsiders = pick[:size], pick[size:]
                    mat = {s: material(files[s], cond, rng, 1000 * t + 10 * ci) for s in pick}
                    enroll = {s[1]: [(embed([e[0]])[0], e[1]) for e in mat[s][0]] for s in enrolled}
                    tests, trials, lab, ps = [], [], [], []
                    for s in pick:
                        for p in mat[s][1]:
                            j = len(tests); tests.append(embed([p[0]])[0])
                            if s in outsiders:
                                for e in enrolled: trials.append((e[1], j)); lab.append(0); ps.append(p[1])
                            else:
                                trials.append((s[1], j)); lab.append(1); ps.append(p[1])
                    scores = score_tenant(sc.sim, sc.cohort, enroll, tests, trials)
                    for l, x, p in zip(lab, scores, ps):
                        out.append((l, x, p, 0, cond, held, size))
        print(held, len(out), flush=True)
    return out


if __name__ == '__main__' and os.environ.get('STEP') == 'calx':
    t = calibration_trials_xcorpus()
    np.save(os.path.join(FE, 'calx.npy'), np.array(t, dtype=object), allow_pickle=True)


if __name__ == '__main__' and os.environ.get('STEP') == 'wgrid':
    # part weights chosen on training data: pooled EER of the leave-one-corpus-out tenants
    for g in os.environ['GRID'].split(';'):
        w, wu, wn, dims = map(float, g.split(':'))
        t = np.array(calibration_trials_xcorpus(tenants=3, w=w, wu=wu, wn=wn, dims=int(dims)), dtype=object)
        lab = t[:, 0].astype(int); s = t[:, 1].astype(float); cond = t[:, 4]
        print(g, 'pooled EER %.4f' % eer(s[lab == 1], s[lab == 0]), ' '.join(
            '%s %.4f' % (c, eer(s[(lab == 1) & (cond == c)], s[(lab == 0) & (cond == c)])) for c in sorted(set(cond))), flush=True)

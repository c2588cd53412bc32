# The rival rule (speaker.RivalWeight): a claim whose probe matches another
# enrolled user better than the claimed one loses W times the difference.
# Scores every dev-set test file against every model with the shipped recipe
# (domain_cohort.py aug-match-dom: train-pool + tenant cohort, adaptive
# s-norm), then prints EER for W = 0 .. 4, with the impostors enrolled
# (insiders: the dev sets' protocol) and with each impostor's own model left
# out of the rivals (outsiders), and the FAR at the calibrated threshold.
#   /usr/bin/python3 rival.py
import sys
sys.argv = [sys.argv[0], 'aug-match-dom']
from domain_cohort import *

for st in SETS:
    en, tr = read_set(st); cache = {}
    def E(ap):
        if ap not in cache: cache[ap] = E1(ap)
        return cache[ap]
    mods = sorted(en); mi = {m: i for i, m in enumerate(mods)}
    T = np.array([np.mean([E(p) for p in en[m]], 0) for m in mods]); T /= np.linalg.norm(T, axis=1, keepdims=True)
    samp = {m: np.array([E(p) for p in en[m]]) for m in mods}
    tests = sorted({p for _, p, _ in tr}); ti = {p: i for i, p in enumerate(tests)}
    B = np.array([E(p) for p in tests])
    def ns(e, excl):
        c = np.concatenate([coh] + [samp[k] for k in mods if k != excl])
        s = np.sort(c @ e)[::-1][:200]; return s.mean(), s.std() + 1e-6
    # N[k, j]: test j scored as a claim of model k (s-norm, k's samples out of the cohort)
    N = np.zeros((len(mods), len(tests)))
    for k, m in enumerate(mods):
        a, b = ns(T[k], m); pb = np.array([ns(x, m) for x in B])
        raw = B @ T[k]; N[k] = 0.5 * ((raw - a) / b + (raw - pb[:, 0]) / pb[:, 1])
    true = {p: m for m, p, l in tr if l == 'target'}
    out = []
    for W in [0, 0.5, 1, 2, 4]:
        tar, ins, outs = [], [], []
        for m, p, l in tr:
            k, j = mi[m], ti[p]; s = N[k, j]
            def scored(skip):
                o = [r for r in range(len(mods)) if r != k and r not in skip]
                return s - W * max(0, N[o, j].max() - s) if o else s
            if l == 'target': tar.append(scored(()))
            else:
                ins.append(scored(()))
                if p in true: outs.append(scored((mi[true[p]],)))
        tar, ins, outs = map(np.array, (tar, ins, outs))
        out.append('W=%g EER %.3f/%.3f FAR@thr %.3f/%.3f FRR %.3f' % (W, eer(tar, ins), eer(tar, outs), (ins >= thr).mean(), (outs >= thr).mean(), (tar < thr).mean()))
    print(st, '(insiders/outsiders)'); print('  ' + '\n  '.join(out), flush=True)

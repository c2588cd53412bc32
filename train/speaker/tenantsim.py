"""Simulated tenants: how the service scores claims, on training speakers.

The operating threshold must hold its false-accept rate in deployments the
model has never heard: other speakers, other microphones, a tenant of a few
or many users, impostors who are not enrolled (outsiders). train_stats.py
therefore calibrates on leave-one-corpus-out tenants: a model fitted without
one training corpus scores tenants built from that corpus's speakers, in
three conditions (clean, telephone band, shared noise) and four sizes, with
the service's scoring replicated exactly: adaptive s-norm against the
model's cohort plus the tenant's other enrollment samples, and the rival
rule (speaker.Calibration.ScoreIn, speaker.Cohort). Nontarget trials are
outsiders: speakers of the same corpus and condition who are not enrolled.
"""
import numpy as np

TOPK = 200
RIVAL_WEIGHT = 2.0  # speaker.RivalWeight
CONDITIONS = ('clean', 'nb', 'noisy')
SIZES = (5, 10, 20, 30)  # enrolled users per tenant
OUTSIDERS = 10  # not-enrolled impostors per tenant


def topk_stats(Sc, Sx, cols, k=TOPK):
    """s-norm statistics per row: mean and std of the k largest of Sc (the
    row's k largest scores against the model's cohort) and Sx[:, cols] (its
    scores against the tenant's enrollment samples that may take part)."""
    A = np.concatenate([Sc, Sx[:, cols]], 1) if cols.any() else Sc
    if A.shape[1] > k:
        A = -np.partition(-A, k - 1, axis=1)[:, :k]
    return A.mean(1), A.std(1) + 1e-6


def score_tenant(sim, cohort, enroll, tests, trials, topk=TOPK, rival_weight=RIVAL_WEIGHT):
    """The service's normalised claim scores in one tenant.

    enroll: {user: [(embedding, speech seconds)]}, every enrolled user;
    tests: [embedding]; trials: [(claimed user, test index)]. A template is
    the speech-weighted mean of its samples, a rival the plain mean; each
    claim's s-norm leaves the claimed user's samples out of the tenant's."""
    users = sorted(enroll)
    ui = {u: i for i, u in enumerate(users)}
    X = np.array([v for u in users for v, _ in enroll[u]])
    own = np.array([ui[u] for u in users for _ in enroll[u]])
    wt = np.array([max(s, .01) for u in users for _, s in enroll[u]])
    T = np.array([(X[own == k] * wt[own == k, None]).sum(0) for k in range(len(users))])
    T /= np.linalg.norm(T, axis=1, keepdims=True)
    R = np.array([X[own == k].mean(0) for k in range(len(users))])
    R /= np.linalg.norm(R, axis=1, keepdims=True)
    B = np.asarray(tests)
    k = min(topk, len(cohort))

    def ctop(A):
        S = sim(A, cohort)
        return -np.partition(-S, k - 1, axis=1)[:, :k]
    Bc, Tc, Rc = ctop(B), ctop(T), ctop(R)
    BX, TX, RX = sim(B, X), sim(T, X), sim(R, X)
    rawT, rawR = sim(T, B), sim(R, B)
    n = len(users)
    N = np.zeros((n, len(B)))
    PM, PS = np.zeros((n, len(B))), np.ones((n, len(B)))
    RM, RS = np.zeros(n), np.ones(n)
    for u in range(n):
        cols = own != u
        a, b = topk_stats(Tc[u:u + 1], TX[u:u + 1], cols, k)
        pm, ps = topk_stats(Bc, BX, cols, k)
        N[u] = 0.5 * ((rawT[u] - a[0]) / b[0] + (rawT[u] - pm) / ps)
        PM[u], PS[u] = pm, ps
        ra, rb = topk_stats(Rc[u:u + 1], RX[u:u + 1], cols, k)
        RM[u], RS[u] = ra[0], rb[0]
    out = []
    for user, j in trials:
        u = ui[user]
        s = N[u, j]
        if n > 1:
            z = 0.5 * ((rawR[:, j] - RM) / RS + (rawR[:, j] - PM[u, j]) / PS[u, j])
            z[u] = -np.inf
            s -= rival_weight * max(0.0, z.max() - s)
        out.append(s)
    return np.array(out)


def _crop(lm, m, rng, lo, hi):
    L = int(rng.integers(lo, hi + 1))
    if len(lm) <= L:
        return lm, m
    st = int(rng.integers(0, len(lm) - L))
    return lm[st:st + L], m[st:st + L]


def material(files, cond, rng, noise_seed, loadf, feats, add_noise):
    """Enrollment and probe features [(feats, speech seconds)] of one
    speaker in condition cond. files: the speaker's feature files (clean
    and telephone-band copies). A speaker with several recordings enrolls
    on three whole ones and is probed with two more whole and two crops of
    0.6-1.6 s (digit-string length); one with a single long recording
    enrolls on two 3-5 s crops of its first half and is probed with 0.6-7 s
    crops of its second. Noise is shared by the tenant (three shapes)."""
    suffix = '-nb.bin' if cond == 'nb' else '-clean.bin'
    fs = [f for f in files if f.endswith(suffix)]
    rng.shuffle(fs)

    def prep(lm, m):
        if cond == 'noisy':
            lm = add_noise(lm, m, np.random.default_rng(noise_seed + int(rng.integers(3))))
        return feats(lm, m), m.sum() / 100
    enr, pro = [], []
    if len(fs) >= 7:
        enr = [prep(*loadf(f)) for f in fs[:3]]
        for i, f in enumerate(fs[3:7]):
            lm, m = loadf(f)
            if i >= 2:
                lm, m = _crop(lm, m, rng, 60, 160)
            pro.append(prep(lm, m))
    else:
        lm, m = loadf(fs[0])
        h = len(lm) // 2
        enr = [prep(*_crop(lm[:h], m[:h], rng, 300, 500)) for _ in range(2)]
        pro = [prep(*_crop(lm[h:], m[h:], rng, lo, hi)) for lo, hi in ((60, 100), (120, 200), (250, 350), (500, 700))]
    return enr, pro


def simulate(speakers, embedf, sim, cohort, rng, loadf, feats, add_noise, tenants=6, seed=0):
    """Target and outsider-nontarget scores of simulated tenants drawn from
    speakers ({speaker: [feature files]}, all unseen by the model given as
    embedf/sim/cohort). Returns (labels, scores, conditions)."""
    S = sorted(speakers)
    lab, sc, cnd = [], [], []
    for ci, cond in enumerate(CONDITIONS):
        for size in SIZES:
            for t in range(tenants):
                pick = [S[i] for i in rng.choice(len(S), min(len(S), size + OUTSIDERS), replace=False)]
                enrolled, outsiders = pick[:size], set(pick[size:])
                mat = {s: material(speakers[s], cond, rng, seed + 1000 * t + 10 * ci, loadf, feats, add_noise) for s in pick}
                enroll = {s: [(embedf([e[0]])[0], e[1]) for e in mat[s][0]] for s in enrolled}
                tests, trials, tl = [], [], []
                for s in pick:
                    for p in mat[s][1]:
                        j = len(tests)
                        tests.append(embedf([p[0]])[0])
                        if s in outsiders:
                            trials += [(e, j) for e in enrolled]
                            tl += [0] * len(enrolled)
                        else:
                            trials.append((s, j))
                            tl.append(1)
                scores = score_tenant(sim, cohort, enroll, tests, trials)
                lab += tl
                sc += scores.tolist()
                cnd += [cond] * len(tl)
    return np.array(lab), np.array(sc), np.array(cnd)


def eer(tar, non):
    s = np.concatenate([tar, non])
    lab = np.concatenate([np.ones(len(tar)), np.zeros(len(non))])[np.argsort(s, kind='mergesort')]
    frr = np.concatenate([[0], np.cumsum(lab) / len(tar)])
    far = np.concatenate([[1], 1 - np.cumsum(1 - lab) / len(non)])
    i = np.argmin(np.abs(frr - far))
    return (frr[i] + far[i]) / 2

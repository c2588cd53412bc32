#!/usr/bin/python3
"""Trains and evaluates the anti-spoofing back-end (research tool).

Inputs (JSON lines from ./extract, one per file: per-window AASIST hidden
vector + logits and spectral statistics):
  SCRATCH/spoofpool.jsonl   spoof-pool (all rows of sets/spoof-pool/spoof.csv)
  SCRATCH/train.jsonl       generated training audio (make_data.py; list.csv)
  SCRATCH/codec.jsonl       spoof-pool bona fide re-encoded (codec.csv)

Protocols (see RESULTS.md):
  A  system held out: train on generated data only (train-pool real and
     vocoded speech, espeak-ng/flite, ravdess 7-12), test on all spoof-pool.
  B  voice cross-validation: 5 folds over voices; tortoise voice v's cloned
     speech and v's real reference clips, each ravdess actor and each
     LibriSpeech speaker fall in exactly one fold; train on generated data +
     the other 4 folds, test on the held-out fold; pooled scores.
Writes the shipped model (trained on everything) to ../../antispoof/backend.json
with --write.

  /usr/bin/python3 train.py [--write] [--model lr|mlp] [--features all|emb|spec|...]
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
import torch

SCRATCH = os.environ.get("ANTISPOOF_SCRATCH", "/work/scratch/antispoof")
SHARED = os.environ.get("VOXGATE_SHARED", "/work/shared")
HERE = os.path.dirname(os.path.abspath(__file__))
MAX_WINDOWS = 2
EMB = 160
SPEC_NAMES = None  # filled from the Go names via --names or the record length


def read_jsonl(path):
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("err"):
                print("skip", r["path"], r["err"], file=sys.stderr)
                continue
            out[r["path"]] = r
    return out


def load_jsonl(path):
    """Records of NAME.jsonl, with the spectral statistics replaced by those
    in NAME_spec.jsonl (extract -spec, same windows) where present: the
    statistics were revised after AASIST had been run."""
    out = read_jsonl(path)
    spec = read_jsonl(path.replace(".jsonl", "_spec.jsonl"))
    for p, r in out.items():
        o = spec.get(p)
        if o is None:
            continue
        by_start = dict(zip(o["starts"], o["spec"]))
        r["spec"] = [by_start.get(s0, v) for s0, v in zip(r["starts"], r["spec"])]
        r["spec_revised"] = all(s0 in by_start for s0 in r["starts"])
    return out


def capped(rec):
    """Window inputs of the windows the Detector scores (Go windowStarts)."""
    n = len(rec["starts"])
    if n <= MAX_WINDOWS:
        idx = list(range(n))
    else:
        idx = [i * (n - 1) // (MAX_WINDOWS - 1) for i in range(MAX_WINDOWS)]
    x = np.array([np.concatenate([rec["emb"][i], rec["spec"][i]]) for i in idx], dtype=np.float64)
    return x


def spoofpool():
    csvp = os.path.join(SHARED, "voice-data/sets/spoof-pool/spoof.csv")
    feats = load_jsonl(os.path.join(SCRATCH, "spoofpool.jsonl"))
    items = []
    with open(csvp) as f:
        for row in csv.DictReader(f):
            p = os.path.realpath(os.path.join(os.path.dirname(csvp), row["path"]))
            parts = p.split("/")
            if "tortoise" in parts:
                group = "tt-" + parts[-2]
            elif "ravdess" in parts:
                group = "rav-" + parts[-2]
            else:
                group = "ls-" + parts[-2]
            if p in feats:
                items.append(dict(path=p, label=int(row["label"] == "spoof"), group=group, x=capped(feats[p])))
    return items


def generated():
    feats = load_jsonl(os.path.join(SCRATCH, "train.jsonl"))
    items = []
    rows = []
    for name in ("list.csv", "list-pool.csv", "list-extra.csv"):
        if os.path.exists(os.path.join(SCRATCH, "data", name)):
            with open(os.path.join(SCRATCH, "data", name)) as f:
                for row in csv.DictReader(f):
                    # list.csv may hold the first rows of the ravdess/TTS part
                    # when that part was built separately (list-extra.csv)
                    if name == "list.csv" and ("/bona/rav" in row["path"] or "/tts/" in row["path"]) \
                            and os.path.exists(os.path.join(SCRATCH, "data", "list-extra.csv")):
                        continue
                    rows.append(row)
    for row in rows:
        if True:
            p = row["path"]
            if p in feats:
                items.append(dict(path=p, label=int(row["label"] == "spoof"), group="gen", system=row["system"], x=capped(feats[p])))
    return items


def codec_variants():
    """Bona fide spoof-pool files re-encoded: (original path, codec, x)."""
    feats = load_jsonl(os.path.join(SCRATCH, "codec.jsonl"))
    items = []
    p = os.path.join(SCRATCH, "codec/codec.csv")
    if not os.path.exists(p):
        return items
    with open(p) as f:
        for row in csv.DictReader(f):
            if row["path"] in feats:
                items.append(dict(path=row["path"], orig=row["orig"], codec=row["codec"], x=capped(feats[row["path"]])))
    return items


def folds_of(groups, k=5):
    """Assigns voice groups to k folds: tortoise voices round-robin, then
    ravdess actors and LibriSpeech speakers round-robin."""
    fold = {}
    for prefix in ("tt-", "rav-", "ls-"):
        gs = sorted(g for g in set(groups) if g.startswith(prefix))
        for i, g in enumerate(gs):
            fold[g] = i % k
    return fold


def eer(bona, spoof):
    """EER of spoof-positive scores, as antispoof.EER."""
    b, s = np.sort(bona), np.sort(spoof)
    cands = np.concatenate([np.sort(np.concatenate([b, s])), [np.inf]])
    pm, pf = 0.0, 1.0
    for t in cands:
        miss = np.searchsorted(s, t, "left") / len(s)
        fa = 1 - np.searchsorted(b, t, "left") / len(b)
        if miss >= fa:
            d0, d1 = pf - pm, fa - miss
            if d0 - d1 == 0:
                return (miss + fa) / 2, t
            w = d0 / (d0 - d1)
            return pm + w * (miss - pm), t
        pm, pf = miss, fa
    return 0.0, np.inf


class Backend:
    def __init__(self, kind, select, l2, hidden=32, epochs=300, seed=0):
        self.kind, self.select, self.l2, self.hidden, self.epochs, self.seed = kind, select, l2, hidden, epochs, seed

    def fit(self, items):
        X = np.concatenate([it["x"][:, self.select] for it in items])
        y = np.concatenate([np.full(len(it["x"]), it["label"]) for it in items])
        # weight each file equally within its class, classes equally
        w = np.concatenate([np.full(len(it["x"]), it.get("weight", 1.0) / len(it["x"])) for it in items])
        for c in (0, 1):
            w[y == c] /= w[y == c].sum()
        self.mean = X.mean(0)
        self.scale = X.std(0) + 1e-6
        Xs = torch.tensor((X - self.mean) / self.scale, dtype=torch.float32)
        yt = torch.tensor(y, dtype=torch.float32)
        wt = torch.tensor(w, dtype=torch.float32)
        torch.manual_seed(self.seed)
        d = Xs.shape[1]
        if self.kind == "lr":
            net = torch.nn.Linear(d, 1)
        else:
            net = torch.nn.Sequential(torch.nn.Linear(d, self.hidden), torch.nn.ReLU(), torch.nn.Linear(self.hidden, 1))
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        for ep in range(self.epochs):
            opt.zero_grad()
            inp = Xs
            if self.kind != "lr":
                inp = torch.nn.functional.dropout(Xs, 0.2, True)
            out = net(inp).squeeze(1)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(out, yt, reduction="none") * wt).sum()
            reg = sum((p**2).sum() for n_, p in net.named_parameters() if "weight" in n_)
            (loss + self.l2 * reg).backward()
            opt.step()
        self.net = net.eval()
        return self

    def score(self, x):
        """Mean window logit of one file."""
        with torch.no_grad():
            xs = torch.tensor((x[:, self.select] - self.mean) / self.scale, dtype=torch.float32)
            return float(self.net(xs).mean())

    def export(self):
        layers = []
        mods = [self.net] if isinstance(self.net, torch.nn.Linear) else [m for m in self.net if isinstance(m, torch.nn.Linear)]
        for i, m in enumerate(mods):
            layers.append(dict(w=m.weight.detach().double().numpy().tolist(), b=m.bias.detach().double().numpy().tolist(),
                               act="linear" if i == len(mods) - 1 else "relu"))
        return dict(select=[int(s) for s in self.select], mean=self.mean.tolist(), scale=self.scale.tolist(), layers=layers)


def platt(scores, labels):
    s = torch.tensor(scores, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([a, b], max_iter=200)
    w = torch.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum())  # balanced priors

    def closure():
        opt.zero_grad()
        l = (torch.nn.functional.binary_cross_entropy_with_logits(a * s + b, y, reduction="none") * w).sum()
        l.backward()
        return l
    opt.step(closure)
    return float(a), float(b)


def codec_sensitive(limit=0.3):
    """Spectral statistics that a lossy codec alone moves: indices (into the
    spectral block) whose paired AUC between lossless ravdess 7-12 files and
    the same files as MP3 32 kbps (16 or 24 kHz) or Opus 24 kbps is beyond
    0.5 +- limit. Measured on training-side audio only (pairs/, not in
    spoof-pool)."""
    S = read_jsonl(os.path.join(SCRATCH, "pairs_spec.jsonl"))
    with open(os.path.join(SCRATCH, "pairs/pairs.csv")) as f:
        rows = list(csv.DictReader(f))

    def feat(p):
        r = S[p]
        n = len(r["starts"])
        return np.mean([r["spec"][i] for i in sorted({0, n - 1})], 0)
    base = {r["orig"]: feat(r["path"]) for r in rows if r["codec"] == "flac"}
    worst = None
    for c in {r["codec"] for r in rows} - {"flac"}:
        A = np.array([base[r["orig"]] for r in rows if r["codec"] == c])
        B = np.array([feat(r["path"]) for r in rows if r["codec"] == c])
        auc = np.array([np.mean(B[:, j][:, None] > A[:, j][None, :]) + 0.5 * np.mean(B[:, j][:, None] == A[:, j][None, :])
                        for j in range(A.shape[1])])
        d = np.abs(auc - 0.5)
        worst = d if worst is None else np.maximum(worst, d)
    return set(np.nonzero(worst > limit)[0].tolist())


def selection(name, dim):
    emb = list(range(EMB))
    logits = [EMB, EMB + 1]
    spec = list(range(EMB + 2, dim))
    if "robust" in name:
        bad = codec_sensitive()
        robust = [j for j in spec if j - EMB - 2 not in bad]
        print(f"robust spectral statistics: {len(robust)} of {len(spec)} (dropped {sorted(bad)})")
    sets = {"all": emb + logits + spec, "emb": emb + logits, "spec": spec, "logits+spec": logits + spec,
            "logits": logits}
    if "robust" in name:
        sets.update({"robust": robust, "emb+robust": emb + logits + robust, "logits+robust": logits + robust})
    return sets[name]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lr")
    ap.add_argument("--features", default="all")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--only-b", action="store_true", help="skip protocol A")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--sp-weight", type=float, default=1.0, help="weight of spoof-pool training files relative to generated ones")
    ap.add_argument("--no-tortoise-train", action="store_true", help="protocol B without any tortoise in training")
    args = ap.parse_args()

    sp = spoofpool()
    gen = generated()
    cod = codec_variants()
    for it in sp + cod:
        it["weight"] = args.sp_weight
    dim = sp[0]["x"].shape[1]
    sel = selection(args.features, dim)
    print(f"spoof-pool files {len(sp)} (spoof {sum(i['label'] for i in sp)}), generated {len(gen)} "
          f"(spoof {sum(i['label'] for i in gen)}), codec variants {len(cod)}; features {args.features} ({len(sel)})")

    def raw(it):  # AASIST spoof-positive: spoof minus bona fide logit, mean over windows
        return float(np.mean(it["x"][:, EMB] - it["x"][:, EMB + 1]))

    lab = np.array([i["label"] for i in sp])
    r = np.array([raw(i) for i in sp])
    print(f"raw AASIST (<= {MAX_WINDOWS} windows) spoof-pool EER {eer(r[lab == 0], r[lab == 1])[0]:.3f}")

    mk = lambda: Backend(args.model, sel, args.l2, hidden=args.hidden, epochs=args.epochs)
    by_path = {i["path"]: i for i in sp}

    def report(name, scores, models_for_codec):
        s = np.array([scores[i["path"]] for i in sp])
        e, t = eer(s[lab == 0], s[lab == 1])
        print(f"{name}: spoof-pool EER {e:.3f} (threshold {t:.3f})")
        for g in ("rav-", "ls-", "tt-"):
            m = np.array([i["group"].startswith(g) and i["label"] == 0 for i in sp])
            print(f"   bona fide {g:5s} false-spoof at EER thr: {np.mean(s[m] >= t):.3f} (n={m.sum()})")
        if cod:
            by_codec = {}
            for c in cod:
                o = by_path.get(c["orig"])
                if o is None:
                    continue
                by_codec.setdefault(c["codec"], []).append((scores[o["path"]], models_for_codec(o).score(c["x"])))
            for codec, pairs in sorted(by_codec.items()):
                a = np.array(pairs)
                print(f"   codec {codec:12s}: EER orig-vs-{codec} {eer(a[:, 0], a[:, 1])[0]:.3f}, false-spoof {np.mean(a[:, 1] >= t):.3f} "
                      f"(orig {np.mean(a[:, 0] >= t):.3f}), n={len(a)}")
        return e, t

    # Protocol A
    if gen and not args.only_b:
        mA = mk().fit(gen)
        scA = {i["path"]: mA.score(i["x"]) for i in sp}
        report("A (generated only, tortoise unseen)", scA, lambda o: mA)
    gs = [i for i in gen]
    # Protocol B
    fold = folds_of([i["group"] for i in sp])
    models = {}
    scB = {}
    # re-encoded bona fide of the training folds join the training data (the
    # held-out fold's re-encodings are only scored)
    cod_items = []
    for c in cod:
        o = by_path.get(c["orig"])
        if o is not None:
            cod_items.append(dict(path=c["path"], label=0, group=o["group"], x=c["x"], weight=args.sp_weight))
    for k in range(5):
        tr = gen + ([] if args.no_tortoise_train else [i for i in sp + cod_items if fold[i["group"]] != k])
        models[k] = mk().fit(tr)
        for i in sp:
            if fold[i["group"]] == k:
                scB[i["path"]] = models[k].score(i["x"])
    eB, tB = report("B (5-fold by voice)", scB, lambda o: models[fold[o["group"]]])
    s = np.array([scB[i["path"]] for i in sp])
    a, b = platt(s, lab)
    p = 1 / (1 + np.exp(-(a * s + b)))
    thr = 1 / (1 + np.exp(-(a * tB + b)))
    print(f"calibration a={a:.4f} b={b:.4f}; EER threshold as probability {thr:.4f}; "
          f"APCER {np.mean(p[lab == 1] < thr):.3f} BPCER {np.mean(p[lab == 0] >= thr):.3f}")
    # BPCER 1% point for reference
    t1 = np.quantile(s[lab == 0], 0.99)
    print(f"at BPCER 1% (logit {t1:.3f}): APCER {np.mean(s[lab == 1] < t1):.3f}")

    if args.write:
        final = mk().fit(gen + sp + cod_items)
        names = [f"emb{i}" for i in range(EMB)] + ["logit_spoof", "logit_bonafide"] + json.load(open(os.path.join(SCRATCH, "specnames.json")))
        assert len(names) == dim, (len(names), dim)
        out = dict(version=1, inputs=names, **final.export(),
                   calibration=dict(a=a, b=b), threshold=thr,
                   threshold_rule="equal error rate of the pooled 5-fold by-voice cross-validation scores on spoof-pool (protocol B), mapped through the calibration")
        dst = os.path.join(HERE, "../../antispoof/backend.json")
        with open(dst, "w") as f:
            json.dump(out, f, separators=(",", ":"))
        print("wrote", dst, os.path.getsize(dst), "bytes")
        # held-out train-pool speakers (never in training): real MP3 32 kbps
        held = read_jsonl(os.path.join(SCRATCH, "trainpool_heldout.jsonl"))
        if held:
            ps = np.array([1 / (1 + np.exp(-(a * final.score(capped(r)) + b))) for r in held.values()])
            print(f"shipped model on {len(ps)} held-out train-pool MP3 files: false-spoof {np.mean(ps >= thr):.3f}, "
                  f"median P(spoof) {np.median(ps):.3f}")
        # the shipped model's scores, to check the Go inference against
        with open(os.path.join(SCRATCH, "final_scores.json"), "w") as f:
            json.dump({i["path"]: final.score(i["x"]) for i in sp}, f)


if __name__ == "__main__":
    main()

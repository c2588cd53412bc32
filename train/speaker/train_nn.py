#!/usr/bin/env python3
"""Train voxgate's compact neural speaker embedding (TDNN, x-vector style)
on train-pool log-mel features written by `go run ./train/speaker/dumpfeats`.

Front end (identical in Go, package speaker): 64 log-mel bands (package
features), speech frames selected by the mask, per-utterance mean
normalisation. Network: 5 conv1d layers (ReLU then batch norm), mean+std
statistics pooling, linear 2*3C -> 256, batch norm: the embedding.
Training head: additive angular margin softmax over the train-pool speakers.
Augmentation: the dumpfeats channels (clean, narrowband telephone, pitch/tilt
up and down), random 1-3 s crops, additive noise in the power domain, random
spectral tilt, SpecAugment-style frequency and time masks.

Writes a safetensors weight file and a parity JSON (PyTorch embeddings of
fixed inputs) for the Go test. CPU only, deterministic seed.
"""
import argparse, json, math, os, struct, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

NMELS = 64

def load(path):
    b = open(path, 'rb').read()
    nf, d = struct.unpack('<II', b[:8])
    x = np.frombuffer(b[8:8 + 4 * nf * d], dtype='<f4').reshape(nf, d)
    m = np.frombuffer(b[8 + 4 * nf * d:], dtype='u1').astype(bool)
    if m.sum() >= 10: x = x[m]
    return x

class TDNN(nn.Module):
    def __init__(s, C, nspk, emb=256):
        super().__init__()
        spec = [(NMELS, C, 5, 1), (C, C, 3, 2), (C, C, 3, 3), (C, C, 1, 1), (C, 3 * C, 1, 1)]
        s.convs = nn.ModuleList([nn.Conv1d(i, o, k, dilation=d) for i, o, k, d in spec])
        s.bns = nn.ModuleList([nn.BatchNorm1d(o) for _, o, _, _ in spec])
        s.fc = nn.Linear(6 * C, emb)
        s.bn_emb = nn.BatchNorm1d(emb)
        s.head = nn.Parameter(torch.randn(nspk, emb) * 0.01)
    def embed(s, x):  # x: [B][T][64], mean-normalised
        h = x.transpose(1, 2)
        for c, b in zip(s.convs, s.bns):
            h = b(F.relu(c(h)))
        mu = h.mean(2); sd = torch.sqrt(torch.clamp(h.var(2, unbiased=False), min=1e-5))
        return s.bn_emb(s.fc(torch.cat([mu, sd], 1)))
    def forward(s, x, y, m=0.2, sc=30.0):
        e = F.normalize(s.embed(x)); w = F.normalize(s.head)
        cos = e @ w.t()
        theta = torch.acos(torch.clamp(cos, -1 + 1e-6, 1 - 1e-6))
        logits = sc * torch.where(F.one_hot(y, w.shape[0]).bool(), torch.cos(theta + m), cos)
        return F.cross_entropy(logits, y), (cos.argmax(1) == y).float().mean()

def augment(x, rng):
    """x: [T][64] log-mel of one crop (numpy)."""
    x = x.copy()
    if rng.random() < 0.5:  # additive noise at 5-30 dB below the mean band power
        lvl = np.log(np.exp(x).mean()) - rng.uniform(1.2, 7)
        tilt = rng.uniform(-2, 2) * np.linspace(-1, 1, NMELS)
        x = np.log(np.exp(x) + np.exp(lvl + tilt)[None, :])
    if rng.random() < 0.5:  # spectral tilt (vocal effort / microphone)
        x = x + rng.uniform(-1.5, 1.5) * np.linspace(-1, 1, NMELS)[None, :]
    if rng.random() < 0.5:
        f0 = rng.integers(0, NMELS - 8); x[:, f0:f0 + rng.integers(1, 8)] = x.mean()
    if rng.random() < 0.3:
        t0 = rng.integers(0, max(1, len(x) - 20)); x[t0:t0 + rng.integers(1, 20)] = x.mean()
    return (x - x.mean(0, keepdims=True)).astype(np.float32)

def save_safetensors(path, tensors, meta):
    header = {'__metadata__': {k: str(v) for k, v in meta.items()}}
    off = 0; blobs = []
    for k, v in tensors.items():
        f16 = getattr(v, 'dtype', None) == np.float16  # kept as F16; everything else F32
        a = np.ascontiguousarray(v, dtype='<f2' if f16 else '<f4'); b = a.tobytes()
        header[k] = {'dtype': 'F16' if f16 else 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(header, separators=(',', ':')).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--feats', required=True); ap.add_argument('--list', required=True)
    ap.add_argument('--out', required=True); ap.add_argument('--parity')
    ap.add_argument('--channels', type=int, default=128)
    ap.add_argument('--steps', type=int, default=1500); ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--minutes', type=float, default=40, help='stop early after this much wall time')
    ap.add_argument('--cc-by-only', action='store_true')
    ap.add_argument('--version', default='tdnn-v1')
    a = ap.parse_args()
    torch.manual_seed(0); rng = np.random.default_rng(0); torch.set_num_threads(1)
    t0 = time.time(); log = lambda *x: print(f'[{time.time() - t0:7.1f}s]', *x, flush=True)
    rows = [l.rstrip('\n').split('\t') for l in open(a.list)]
    if a.cc_by_only: rows = [r for r in rows if r[2] == 'CC-BY-4.0']
    # hold out every 8th speaker (sorted by name) for calibration: see calibrate.py
    held = set(sorted({r[0] for r in rows})[7::8])
    rows = [r for r in rows if r[0] not in held]
    spk = sorted({r[0] for r in rows}); sid = {s: i for i, s in enumerate(spk)}
    data = [(sid[r[0]], load(os.path.join(a.feats, r[3])).astype(np.float16)) for r in rows]
    by_spk = [[] for _ in spk]
    for j, (i, _) in enumerate(data): by_spk[i].append(j)
    log('recordings', len(data), 'speakers', len(spk))
    net = TDNN(a.channels, len(spk))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=a.steps, pct_start=0.1)
    net.train()
    for step in range(a.steps):
        T = int(rng.integers(100, 300))
        xs = []; ys = []
        for _ in range(a.batch):
            i = int(rng.integers(len(spk))); j = by_spk[i][rng.integers(len(by_spk[i]))]
            x = data[j][1]; st = int(rng.integers(0, max(1, len(x) - T)))
            c = x[st:st + T].astype(np.float32)
            if len(c) < T: c = np.pad(c, ((0, T - len(c)), (0, 0)), mode='wrap')
            xs.append(augment(c, rng)); ys.append(i)
        m = min(0.2, 0.2 * step / (0.3 * a.steps))  # margin warm-up
        loss, acc = net(torch.from_numpy(np.stack(xs)), torch.tensor(ys), m=m)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        if step % 50 == 0: log(f'step {step} loss {loss.item():.3f} acc {acc.item():.3f} lr {sched.get_last_lr()[0]:.5f}')
        if time.time() - t0 > a.minutes * 60:
            log('time limit at step', step); break
    net.eval()
    tensors = {}
    for n, (c, b) in enumerate(zip(net.convs, net.bns)):
        scale = (b.weight / torch.sqrt(b.running_var + b.eps)).detach()
        tensors[f'conv{n}.weight'] = c.weight.detach().numpy()          # [out][in][k]
        tensors[f'conv{n}.bias'] = c.bias.detach().numpy()
        tensors[f'conv{n}.bn_scale'] = scale.numpy()
        tensors[f'conv{n}.bn_shift'] = (b.bias - b.running_mean * scale).detach().numpy()
    scale = (net.bn_emb.weight / torch.sqrt(net.bn_emb.running_var + net.bn_emb.eps)).detach()
    # fold the embedding batch norm into the linear layer
    tensors['fc.weight'] = (net.fc.weight * scale[:, None]).detach().numpy()  # [256][6C]
    tensors['fc.bias'] = ((net.fc.bias - net.bn_emb.running_mean) * scale + net.bn_emb.bias).detach().numpy()
    meta = dict(model_version=a.version, kind='tdnn', channels=a.channels, num_mels=NMELS, speakers=len(spk),
                dilations='1,2,3,1,1', kernels='5,3,3,1,1', steps=step + 1)
    torch.save(net.state_dict(), a.out + '.pt')
    save_safetensors(a.out, tensors, meta)
    log('wrote', a.out)
    if a.parity:
        prng = np.random.default_rng(1); cases = []
        for T in (120, 37):
            lm = np.round((prng.normal(0, 1.5, (T, NMELS)) - 6 + np.linspace(2, -3, NMELS)), 4).astype(np.float32)
            x = lm - lm.mean(0, keepdims=True)
            with torch.no_grad(): e = F.normalize(net.embed(torch.from_numpy(x)[None]))[0].numpy()
            cases.append({'frames': T, 'logmel': lm.ravel().tolist(), 'embedding': e.tolist()})
        json.dump({'model_version': a.version, 'cases': cases}, open(a.parity, 'w'))

if __name__ == '__main__':
    main()

"""Decode the MAX78000 ThinResNet of nyangmeong/max78000-speaker-verification (MIT, @2942b61)
from its generated C (synthesis/voxsv/weights.h + cnn.c) and run it with the accelerator's
integer arithmetic.

Only the generated C is read: weights.h holds the kernel-memory image (KERNELS: chunks of
address, length in words, 9-byte kernels packed big-endian) and the bias memories (BIAS_g,
one byte per output channel); cnn.c holds the per-layer registers, from which come each
layer's input processors and passes, kernel-memory offset and count, weight width, output
shift and bias location. The layer graph (which layer feeds which, kernel size, pooling,
activation) is synthesis/networks/sv.yaml, written out in LAYERS below and cross-checked
against the registers.

Arithmetic (as ai8x-synthesis simulates it, izer/compute.py + simulate.py):
  acc = sum(w * x) + bias * 128                       (int8 weights, int8 activations)
  y   = floor(0.5 + acc * 2**shift / 128), clipped to [-128, 127], ReLU clips to [0, 127]
  max pool: max; average pool: integer mean truncated toward zero; element-wise add: clip.
The float view of the same network: activation a = y / 128, weight w / 128, bias b / 128,
a layer computes 2**shift * (conv(a, w/128) + b/128).

Note: sv.yaml puts the stem's 2x2 max pool *before* its convolution (layer 0 pools its input,
as the accelerator does), while the PyTorch model the weights were trained in
(training/models/ai85net-sv.py) convolves first and pools after the ReLU. The hardware graph
is what sampleoutput.h records; `order='trained'` runs the graph the weights were trained for.
"""
import re

import numpy as np

APB = 0x50000000
MRAM = APB + 0x180000        # kernel memory, quadrant 0, processor 0
GROUP = 0x400000             # quadrant stride
MASK_OFFS = 1024             # kernel slots reserved per processor (768 used)
MASK_WIDTH = 768
LREG = {'ONED': 2, 'RPTR': 10, 'LCTL': 11, 'MCNT': 12, 'ENA': 14, 'POST': 15, 'LCTL2': 20}

# sv.yaml, in order. kind: conv (k = kernel size), pass (passthrough), add (two operands then
# a 1x1 identity convolution the synthesis inserted, add_fake_passthrough.py).
# src: index of the layer whose output feeds this one (-1: network input); for add, two.
LAYERS = [
    dict(name='stem', kind='conv', src=-1, k=3, out=16, pool_first='max', relu=True),
    dict(name='stem_pool_copy', kind='pass', src=0),
    dict(name='stage1.conv1', kind='conv', src=0, k=3, out=16, relu=True),
    dict(name='stage1.conv2', kind='conv', src=2, k=3, out=16, relu=False),
    dict(name='stage1.add', kind='add', src=(1, 3), out=16),
    dict(name='pool1', kind='pass', src=4, pool_first='max'),
    dict(name='stage2.conv1', kind='conv', src=5, k=3, out=32, relu=True),
    dict(name='stage2.conv2', kind='conv', src=6, k=3, out=32, relu=False),
    dict(name='stage2.shortcut', kind='conv', src=5, k=1, out=32, relu=False),
    dict(name='stage2.add', kind='add', src=(8, 7), out=32),
    dict(name='pool2', kind='pass', src=9, pool_first='max'),
    dict(name='stage3.conv1', kind='conv', src=10, k=3, out=64, relu=True),
    dict(name='stage3.conv2', kind='conv', src=11, k=3, out=64, relu=False),
    dict(name='stage3.shortcut', kind='conv', src=10, k=1, out=64, relu=False),
    dict(name='stage3.add', kind='add', src=(13, 12), out=64),
    dict(name='stage4.conv1', kind='conv', src=14, k=3, out=128, relu=True),
    dict(name='stage4.conv2', kind='conv', src=15, k=3, out=128, relu=False),
    dict(name='stage4.shortcut', kind='conv', src=14, k=1, out=128, relu=False),
    dict(name='stage4.add', kind='add', src=(17, 16), out=128),
    dict(name='fc', kind='conv', src=18, k=1, out=64, relu=False, pool_first='avg'),
]


def defines(text):
    """#define NAME { 0x.., ... } blocks of a generated header -> {NAME: [int, ...]}."""
    out = {}
    for m in re.finditer(r'#define (\w+) \{(.*?)\}', text, re.S):
        out[m.group(1)] = [int(x, 16) for x in re.findall(r'0x[0-9a-fA-F]+', m.group(2))]
    return out


def registers(text):
    """Register writes of cnn.c's cnn_init/cnn_configure -> {address: last value}."""
    regs = {}
    for m in re.finditer(r'\(\(volatile uint32_t \*\) (0x[0-9a-f]+)\) = (0x[0-9a-f]+);', text):
        regs[int(m.group(1), 16)] = int(m.group(2), 16)
    return regs


def lreg(regs, group, name, layer):
    return regs.get(APB + 0x100000 + group * GROUP + 0x10 + LREG[name] * 0x80 + layer * 4, 0)


def kernel_memory(words):
    """KERNELS chunks -> uint8 array [64 processors, 768 slots, 9 bytes]."""
    mem = np.zeros((64, MASK_WIDTH, 9), np.uint8)
    i = 0
    while words[i] != 0:
        addr, n = words[i], words[i + 1]
        raw = b''.join(w.to_bytes(4, 'big') for w in words[i + 2:i + 2 + n])
        count = n * 4 // 9
        rel = addr - MRAM
        g, rel = divmod(rel, GROUP)
        p, rel = divmod(rel, MASK_OFFS * 16)
        slot = rel >> 2  # the loader's address is the slot index * 4 (mexpress)
        proc = g * 16 + p
        assert 0 <= proc < 64 and slot + count <= MASK_WIDTH, hex(addr)
        mem[proc, slot:slot + count] = np.frombuffer(raw[:count * 9], np.uint8).reshape(count, 9)
        i += 2 + n
    return mem


def bits(mask):
    return [p for p in range(64) if mask >> p & 1]


def signed(v, nbits):
    v = int(v) & ((1 << nbits) - 1)
    return v - (1 << nbits) if v >> (nbits - 1) else v


def decode(weights_h, cnn_c):
    """-> list of per-layer dicts: W int64 [out, in, k, k], B int64 [out] (or None), shift."""
    d = defines(weights_h)
    regs = registers(cnn_c)
    mem = kernel_memory(d['KERNELS'])
    bias_mem = [np.array(d.get(f'BIAS_{g}', []), np.uint8).astype(np.int8) for g in range(4)]
    out = []
    for ll, spec in enumerate(LAYERS):
        lay = dict(spec)
        if spec['kind'] == 'pass':
            # no operator: no weights; the passthrough must not scale (POST: shift 0)
            assert all((lreg(regs, g, 'POST', ll) >> 13) & 0x1f == 0 for g in range(4)), ll
            out.append(lay)
            continue
        ena = 0
        for g in range(4):
            e = lreg(regs, g, 'ENA', ll)
            assert e & 0xffff == e >> 16, (ll, g, hex(e))  # mask enables == processor enables
            ena |= (e & 0xffff) << (16 * g)
        procs = bits(ena)
        lctl2 = lreg(regs, 0, 'LCTL2', ll)
        in_exp = (lctl2 & 0xf) + 1
        post = [lreg(regs, g, 'POST', ll) for g in range(4)]
        mcnt = lreg(regs, 0, 'MCNT', ll)
        assert all(lreg(regs, g, 'MCNT', ll) == mcnt for g in range(4)), ll
        qcode = (post[0] >> 22) & 3
        quant = {0: 8, 1: 1, 2: 2, 3: 4}[qcode]
        sh = (post[0] >> 13) & 0x1f
        shift = -(sh & 0xf) if sh & 0x10 else sh
        assert all((p >> 13) & 0x1f == sh and (p >> 22) & 3 == qcode for p in post), ll
        bias_groups = [g for g in range(4) if post[g] >> 12 & 1]
        k = 1 if spec['kind'] == 'add' else spec['k']
        n_out = spec['out']
        sad, smax = mcnt >> 16, mcnt & 0xffff
        kern_count = (smax - sad) // quant + 1
        thresh = len(procs)
        n_in = n_out if spec['kind'] == 'add' else None
        out_exp = -(-n_out // 64)
        qf = 8 // quant
        if k == 3:
            assert sad % 8 == 0
            kern_offs = sad // 8
        else:
            assert sad % 72 == 0
            kern_offs = sad // 72
        # kernels per processor: output slots (<= 64 per pass) x passes x input passes
        slots_per_pass = min(n_out, 64)
        assert kern_count == slots_per_pass * out_exp * in_exp, (ll, kern_count)
        if n_in is None:
            n_in = thresh * in_exp
        W = np.zeros((n_out, n_in, k, k), np.int64)
        for ch, p in enumerate(procs):
            if k == 3:
                assert quant == 8
                for m in range(n_out):
                    for ie in range(in_exp):
                        kern = mem[p, kern_offs + m * in_exp + ie].astype(np.int8).astype(np.int64)
                        W[m, ch + ie * thresh] = kern.reshape(3, 3)
            else:
                # 1x1: one byte per kernel (qf output channels per byte for narrow weights),
                # nine to a slot, filled from the slot's last byte to its first
                for m0 in range(0, n_out, qf):
                    for ie in range(in_exp):
                        j = (m0 // qf) * in_exp + ie
                        slot, r = divmod(9 * kern_offs + j, 9)
                        byte = int(mem[p, slot, 8 - r])
                        for n in range(qf):
                            idx = n + ie * qf
                            m, cin = m0 + idx // in_exp, ch + (idx % in_exp) * thresh
                            if m < n_out and cin < n_in:
                                W[m, cin, 0, 0] = signed(byte >> (n * quant), quant)
        B = None
        if bias_groups:
            assert len(bias_groups) == 1, ll
            g = bias_groups[0]
            offs = post[g] & 0xfff
            B = bias_mem[g][offs:offs + n_out].astype(np.int64)
            assert len(B) == n_out, ll
        lay.update(W=W, B=B, shift=shift, quant=quant, procs=procs, in_exp=in_exp)
        if spec['kind'] == 'add':
            # the inserted identity: weight 1 per channel, 2-bit, shift 7 (= x * 128 / 128)
            assert quant == 2 and shift == 7 and B is None, ll
            assert np.array_equal(W[:, :, 0, 0], np.eye(n_out, dtype=np.int64)), ll
        out.append(lay)
    return out


def sample_io(sampledata_h, sampleoutput_h):
    """Known answer: input int8 [1, 1, 80, 128] (CHW, 4 pixels a word, first in the low byte)
    and output int8 [64] (channel c in processor c: word c//4 of its memory, byte c%4)."""
    words = defines(sampledata_h)['SAMPLE_INPUT_0']
    x = np.array([(w >> (8 * i)) & 0xff for w in words for i in range(4)], np.uint8)
    x = x.astype(np.int8).astype(np.int64).reshape(1, 1, 80, 128)
    so = defines(sampleoutput_h)['SAMPLE_OUTPUT']
    y = {}
    i = 0
    while so[i] != 0:
        addr, mask, n = so[i], so[i + 1], so[i + 2]
        assert mask == 0xffffffff and n == 1
        rel = addr - (APB + 0x400000)
        g, rel = divmod(rel, GROUP)
        inst, word = divmod(rel, 0x8000)
        assert word == 0
        for b in range(4):
            y[g * 16 + inst * 4 + b] = signed((so[i + 3] >> (8 * b)) & 0xff, 8)
        i += 4
    return x, np.array([y[c] for c in range(64)], np.int64)


# ---------------------------------------------------------------------------------------
# forward passes

def _conv(x, W, pad):
    """x [N, C, H, W], W [O, C, k, k] -> [N, O, H, W] (stride 1, 'same'). Integer inputs are
    convolved in float64, exact for this network (|acc| < 2**31), then returned as int64."""
    isint = x.dtype.kind == 'i'
    xf, Wf = x.astype(np.float64), W.astype(np.float64)
    N, C, H, Wd = x.shape
    k = W.shape[2]
    if k == 1:
        out = np.einsum('oc,nchw->nohw', Wf[:, :, 0, 0], xf, optimize=True)
    else:
        xp = np.pad(xf, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        # im2col: [N, H, W, C*k*k] @ [C*k*k, O]
        cols = np.stack([xp[:, :, i:i + H, j:j + Wd] for i in range(k) for j in range(k)], axis=2)
        cols = cols.reshape(N, C * k * k, H * Wd)
        out = np.matmul(Wf.reshape(W.shape[0], C * k * k)[None], cols).reshape(N, -1, H, Wd)
    return np.rint(out).astype(np.int64) if isint else out


def _maxpool(x):
    N, C, H, W = x.shape
    return x[:, :, :H // 2 * 2, :W // 2 * 2].reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))


def _requant(acc, shift):
    """floor(0.5 + acc * 2**shift / 128) exactly, for int64 acc."""
    if shift >= 0:
        return (acc * (1 << shift) + 64) >> 7
    d = 7 - shift
    return (acc + (1 << (d - 1))) >> d


def forward_int(layers, x, order='hardware'):
    """Integer forward of a batch of inputs int8 [N, 1, 80, 128] -> int8 [N, 64].
    order='hardware': sv.yaml's graph (stem pools before its convolution; sampleoutput.h);
    order='trained': the stem convolves, applies ReLU, then pools (ai85net-sv.py)."""
    outs = []
    for ll, lay in enumerate(layers):
        kind = lay['kind']
        if kind == 'add':
            a, b = (outs[s] for s in lay['src'])
            data = np.clip(a + b, -128, 127)
        else:
            data = x if lay['src'] == -1 else outs[lay['src']]
        pf = lay.get('pool_first')
        stem_after = ll == 0 and order == 'trained'
        if pf == 'max' and not stem_after:
            data = _maxpool(data)
        elif pf == 'avg':
            n = data.shape[2] * data.shape[3]  # integer mean, toward zero (data >= 0 here)
            tot = data.reshape(data.shape[0], data.shape[1], -1).sum(axis=2)
            data = (np.sign(tot) * (np.abs(tot) // n)).reshape(data.shape[0], -1, 1, 1)
        if kind == 'pass':
            outs.append(data)
            continue
        acc = _conv(data, lay['W'], lay['W'].shape[2] // 2)
        if lay['B'] is not None:
            acc = acc + lay['B'][None, :, None, None] * 128
        y = np.clip(_requant(acc, lay['shift']), -128, 127)
        if lay.get('relu') or kind == 'add':
            y = np.clip(y, 0, 127)
        if stem_after:
            y = _maxpool(y)
        outs.append(y)
    return outs[-1].reshape(outs[-1].shape[0], -1)


def forward_float(layers, a, order='trained', clamp=True):
    """The same network in floating point: a = input / 128 [N, 1, 80, 128] -> [N, 64] (x 1/128).
    clamp keeps the accelerator's saturation of each layer's output to [-1, 127/128]."""
    outs = []
    hi = 127 / 128
    for ll, lay in enumerate(layers):
        kind = lay['kind']
        if kind == 'add':
            a2, b2 = (outs[s] for s in lay['src'])
            data = a2 + b2
            if clamp:
                data = np.clip(data, -1, hi)
        else:
            data = a if lay['src'] == -1 else outs[lay['src']]
        pf = lay.get('pool_first')
        stem_after = ll == 0 and order == 'trained'
        if pf == 'max' and not stem_after:
            data = _maxpool(data)
        elif pf == 'avg':
            data = data.reshape(data.shape[0], data.shape[1], -1).mean(axis=2)[:, :, None, None]
        if kind == 'pass':
            outs.append(data)
            continue
        if kind == 'add':
            y = np.maximum(data, 0)
            outs.append(y)
            continue
        y = _conv(data, lay['W'] / 128.0, lay['W'].shape[2] // 2)
        if lay['B'] is not None:
            y = y + lay['B'][None, :, None, None] / 128.0
        y = y * 2.0 ** lay['shift']
        if clamp:
            y = np.clip(y, -1, hi)
        if lay.get('relu'):
            y = np.maximum(y, 0)
        if stem_after:
            y = _maxpool(y)
        outs.append(y)
    return outs[-1].reshape(outs[-1].shape[0], -1)


def save_safetensors(path, layers, meta):
    """Decoded network -> safetensors: <layer>.weight I8 [out, in, k, k], <layer>.bias I8 [out],
    <layer>.shift I32 [1] for every layer with weights (the identity layers of the element-wise
    adds included, so the file is the whole accelerator program's arithmetic)."""
    import json
    import struct
    header, blobs, off = {'__metadata__': {k: str(v) for k, v in meta.items()}}, [], 0
    for lay in layers:
        if 'W' not in lay:
            continue
        items = [('weight', lay['W'].astype('<i1'), 'I8')]
        if lay['B'] is not None:
            items.append(('bias', lay['B'].astype('<i1'), 'I8'))
        items.append(('shift', np.array([lay['shift']], '<i4'), 'I32'))
        for key, a, dt in items:
            b = np.ascontiguousarray(a).tobytes()
            header[f"{lay['name']}.{key}"] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
            blobs.append(b)
            off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def main():
    import argparse
    import hashlib
    import os
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--src', required=True, help='folder with weights.h, cnn.c, sampledata.h, sampleoutput.h')
    ap.add_argument('--out', help='write the decoded weights here (safetensors)')
    a = ap.parse_args()
    rd = lambda n: open(os.path.join(a.src, n)).read()
    layers = decode(rd('weights.h'), rd('cnn.c'))
    x, want = sample_io(rd('sampledata.h'), rd('sampleoutput.h'))
    got = forward_int(layers, x, order='hardware')[0]
    same = int((got == want).sum())
    print(f'known answer: {same}/64 outputs equal sampleoutput.h')
    fl = forward_float(layers, x / 128.0, order='hardware')[0] * 128
    print(f'float forward vs integer: max |diff| {np.abs(fl - want).max():.2f} (of 128), '
          f'correlation {np.corrcoef(fl, want)[0, 1]:.4f}')
    n = sum(l['W'].size + (0 if l['B'] is None else l['B'].size) for l in layers if 'W' in l and l['kind'] != 'add')
    print(f'{n} parameters in the trained layers')
    if same != 64:
        raise SystemExit('decode does not reproduce the known answer')
    if a.out:
        sha = hashlib.sha256(rd('weights.h').encode()).hexdigest()
        save_safetensors(a.out, layers, {
            'source': 'github.com/nyangmeong/max78000-speaker-verification@2942b61 synthesis/voxsv/weights.h + cnn.c',
            'weights_h_sha256': sha, 'licence': 'MIT (weights); trained on VoxCeleb (CC BY 4.0)',
            'arithmetic': 'acc=sum(w*x)+bias*128; y=clip(floor(0.5+acc*2**shift/128),-128,127)'})
        print('wrote', a.out)


if __name__ == '__main__':
    main()

"""Minimal safetensors reader (F32 only) for the training scripts."""
import json, struct
import numpy as np

def read_safetensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n]); data = b[8 + n:]
    meta = h.pop('__metadata__', {})
    out = {}
    for k, e in h.items():
        lo, hi = e['data_offsets']
        out[k] = np.frombuffer(data[lo:hi], dtype='<f4').reshape(e['shape']).copy()
    return out, dict(meta)

"""The ThinResNet's front end, ported from training/eval_eer_vox1.py of
nyangmeong/max78000-speaker-verification @2942b61 (torchaudio MelSpectrogram), in numpy.

16 kHz audio -> segments of 20,720 samples (1.295 s) every 0.5 s (a shorter recording is
zero-padded on both sides to one segment; a last segment is added at the end when the
remainder exceeds a quarter second) -> power spectrogram (n_fft 512, 400-sample periodic Hann
window centred in the 512-point frame, hop 160, no centre padding: 127 frames, zero-padded
to 128 in the log domain) -> 80 HTK mel bands 20-7600 Hz, no normalisation -> log (floor
1e-9) -> per-band mean over the segment subtracted -> clipped to +-6.8 and scaled to int8
(x * 127 / 6.8, rounded).
"""
import subprocess

import numpy as np

SR = 16000
N_MELS, N_FFT, WIN, HOP, N_FRAMES = 80, 512, 400, 160, 128
MIN_SAMPLES = (N_FRAMES - 1) * HOP + WIN  # 20,720
SEG_HOP = SR // 2
CLIP = 6.8


def load(path, channel='clean'):
    """Any audio file -> float32 mono 16 kHz in [-1, 1] (sox). channel 'nb': through the
    simulated telephone channel of train/speaker/dumpfeats (8 kHz mu-law, 250-3500 Hz)."""
    if channel == 'nb':
        cmd = ['sh', '-c', 'sox "$1" -t wav -r 8000 -e mu-law - sinc 250-3500 | '
               'sox -t wav - -t f32 -e floating-point -c 1 -r 16000 -', 'sh', path]
    else:
        cmd = ['sox', path, '-t', 'f32', '-e', 'floating-point', '-c', '1', '-r', str(SR), '-']
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    return np.frombuffer(raw, '<f4').astype(np.float64)


def _hz2mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel2hz(m):
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


def mel_fbank(n_freqs=N_FFT // 2 + 1, f_min=20.0, f_max=7600.0, n_mels=N_MELS, sr=SR):
    """torchaudio.functional.melscale_fbanks(norm=None, mel_scale='htk') -> [n_freqs, n_mels]."""
    all_freqs = np.linspace(0, sr // 2, n_freqs)
    m_pts = np.linspace(_hz2mel(f_min), _hz2mel(f_max), n_mels + 2)
    f_pts = _mel2hz(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))


FB = mel_fbank()
_w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)  # torch.hann_window (periodic)
WINDOW = np.zeros(N_FFT)
WINDOW[(N_FFT - WIN) // 2:(N_FFT - WIN) // 2 + WIN] = _w


def segments(wav, hop=SEG_HOP):
    """The reference's segmentation: list of 1-D arrays of MIN_SAMPLES samples, hop apart."""
    n = len(wav)
    if n <= MIN_SAMPLES:
        left = (MIN_SAMPLES - n) // 2
        return [np.pad(wav, (left, MIN_SAMPLES - n - left))]
    segs = [wav[s:s + MIN_SAMPLES] for s in range(0, n - MIN_SAMPLES + 1, hop)]
    tail = n - MIN_SAMPLES
    if not segs or (tail % hop) > hop // 2:
        segs.append(wav[tail:tail + MIN_SAMPLES])
    return segs


def logmel(seg):
    """One segment -> mean-normalised log mel [80, 128] (float)."""
    nfr = 1 + (len(seg) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(nfr)[:, None]
    spec = np.abs(np.fft.rfft(seg[idx] * WINDOW, axis=1)) ** 2  # [T, 257]
    feat = np.log(np.maximum(spec @ FB, 1e-9)).T  # [80, T]
    if feat.shape[1] < N_FRAMES:
        feat = np.pad(feat, ((0, 0), (0, N_FRAMES - feat.shape[1])))
    feat = feat[:, :N_FRAMES]
    return feat - feat.mean(axis=1, keepdims=True)


def to_int8(feat):
    """Mean-normalised log mel -> the network's int8 input."""
    return np.clip(np.round(np.clip(feat, -CLIP, CLIP) * (127.0 / CLIP)), -128, 127).astype(np.int64)


def trim_bounds(wav, top_db=40.0, frame=400, hop=160):
    """[lo, hi) of wav without its leading and trailing audio quieter than the loudest
    frame by top_db."""
    if len(wav) < frame:
        return 0, len(wav)
    nfr = 1 + (len(wav) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(nfr)[:, None]
    e = 10 * np.log10(np.mean(wav[idx] ** 2, axis=1) + 1e-12)
    loud = np.nonzero(e >= e.max() - top_db)[0]
    return loud[0] * hop, loud[-1] * hop + frame


def trim(wav):
    lo, hi = trim_bounds(wav)
    return wav[lo:hi]


def inputs(wav, do_trim=True, hop=SEG_HOP):
    """Audio -> int8 network inputs [S, 1, 80, 128] and the audio's seconds after trimming."""
    if do_trim:
        wav = trim(wav)
    segs = segments(wav, hop)
    x = np.stack([to_int8(logmel(s)) for s in segs])[:, None]
    return x, len(wav) / SR

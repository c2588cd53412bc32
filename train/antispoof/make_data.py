#!/usr/bin/python3
"""Builds the anti-spoofing back-end's training audio (research tool).

Writes under OUT (default /work/scratch/antispoof/data):
  bona/       real speech: 5 s excerpts of train-pool (MP3 32 kbps) re-encoded
              to a random codec (lossless WAV, MP3, Opus, AAC) at random rates;
              ravdess actors 7-12 (not in spoof-pool) likewise
  vocoded/    train-pool excerpts resynthesised by signal-processing vocoders
              that mimic neural-vocoder artefacts (mel + Griffin-Lim with
              several settings, LPC pulse/noise vocoder, mel-smoothed
              magnitude with the original phase, partial high-band
              resynthesis), then a random codec
  tts/        espeak-ng (formant and MBROLA-free voices, random rate/pitch)
              and flite voices reading fixed sentences, then a random codec
  list.csv    path,label,system,source (written as files are made)
Every output's codec is drawn from the same distribution for both labels, so
that the codec carries no information about the label.

Run with Debian's python3 (numpy, scipy): /usr/bin/python3 make_data.py
"""
import csv
import hashlib
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import scipy.signal as sg
from scipy.io import wavfile

SR = 16000
SHARED = os.environ.get("VOXGATE_SHARED", "/work/shared")
OUT = sys.argv[1] if len(sys.argv) > 1 else "/work/scratch/antispoof/data"
# PART: "all", or "pool" (train-pool bona fide and vocoded) or "extra"
# (ravdess and text-to-speech) to build the two halves in parallel; each part
# writes its own list (list.csv, list-pool.csv, list-extra.csv).
PART = sys.argv[2] if len(sys.argv) > 2 else "all"
EXCERPT = 5.0  # seconds: one 4.04 s AASIST window plus margin
N_POOL = 480  # train-pool speakers used (of 846); every second one is also vocoded
N_RAVDESS = 12  # files per ravdess actor 7-12
N_TTS = 150

CODECS = [
    # (name, extension, ffmpeg args); weights below
    ("wav16", "wav", ["-ar", "16000", "-c:a", "pcm_s16le"]),
    ("flac22", "flac", ["-ar", "22050", "-c:a", "flac"]),
    ("mp3_16k_32", "mp3", ["-ar", "16000", "-c:a", "libmp3lame", "-b:a", "32k"]),
    ("mp3_24k_32", "mp3", ["-ar", "24000", "-c:a", "libmp3lame", "-b:a", "32k"]),
    ("mp3_22k_48", "mp3", ["-ar", "22050", "-c:a", "libmp3lame", "-b:a", "48k"]),
    ("mp3_44k_128", "mp3", ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k"]),
    ("opus_16", "ogg", ["-ar", "48000", "-c:a", "libopus", "-b:a", "16k"]),
    ("opus_32", "ogg", ["-ar", "48000", "-c:a", "libopus", "-b:a", "32k"]),
    ("aac_48", "m4a", ["-ar", "24000", "-c:a", "aac", "-b:a", "48k"]),
    ("aac_96", "m4a", ["-ar", "44100", "-c:a", "aac", "-b:a", "96k"]),
]
WEIGHTS = [3, 1, 2, 3, 1, 1, 1, 1, 1, 1]

SENTENCES = [
    "Please call Stella and ask her to bring these things with her from the store.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "My voice is my password, please verify me now.",
    "I would like to check the balance of my savings account.",
    "The meeting has been moved to three thirty on Thursday afternoon.",
    "She sells sea shells by the sea shore every summer.",
    "Could you transfer five hundred dollars to my checking account?",
    "It was the best of times, it was the worst of times.",
    "We will need at least four more volunteers for the weekend.",
    "The weather tomorrow will be cloudy with a chance of rain.",
    "Artificial intelligence is changing how we work and live.",
    "Turn left at the second traffic light and keep going straight.",
    "Nobody expected the results to be so surprising.",
    "I forgot my card at home, can you help me reset my pin?",
    "The library closes at nine o'clock on weekdays.",
    "Seven hundred and twenty eight people attended the concert.",
    "Remember to water the plants before you leave for vacation.",
    "This call may be recorded for quality and training purposes.",
    "He said that the train would arrive in about ten minutes.",
    "Thank you for calling, how may I help you today?",
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def load(path, offset=None, dur=None):
    """Decodes any file to 16 kHz mono float64 with ffmpeg."""
    cmd = ["ffmpeg", "-v", "error"]
    if offset is not None:
        cmd += ["-ss", f"{offset:.3f}"]
    cmd += ["-i", path]
    if dur is not None:
        cmd += ["-t", f"{dur:.3f}"]
    cmd += ["-ac", "1", "-ar", str(SR), "-f", "f32le", "-"]
    x = np.frombuffer(run(cmd).stdout, dtype="<f4").astype(np.float64)
    return x


def duration(path):
    out = run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path]).stdout
    return float(out.strip() or 0)


def encode(x, dst_noext, rng, sr=SR):
    """Writes x through a random codec; returns the path and the codec name."""
    name, ext, args = rng.choices(CODECS, WEIGHTS)[0]
    x = x / max(1e-9, np.max(np.abs(x))) * rng.uniform(0.2, 0.95)
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        wavfile.write(tmp.name, sr, (x * 32767).astype(np.int16))
        dst = f"{dst_noext}.{ext}"
        run(["ffmpeg", "-v", "error", "-y", "-i", tmp.name, "-ac", "1", *args, dst])
    return dst, name


# ---- vocoders ------------------------------------------------------------

def mel_filters(n_fft, n_mels, sr=SR, fmax=None):
    fmax = fmax or sr / 2
    def hz2mel(f):
        return 2595 * np.log10(1 + f / 700)
    def mel2hz(m):
        return 700 * (10 ** (m / 2595) - 1)
    pts = mel2hz(np.linspace(hz2mel(0), hz2mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / sr)
    fb = np.zeros((n_mels, len(bins)))
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return fb


def stft(x, n_fft, hop):
    return sg.stft(x, nperseg=n_fft, noverlap=n_fft - hop, nfft=n_fft, boundary="even")[2]


def istft(X, n_fft, hop):
    return sg.istft(X, nperseg=n_fft, noverlap=n_fft - hop, nfft=n_fft, boundary=True)[1]


def griffin_lim(mag, n_fft, hop, iters, rng, length):
    phase = np.exp(2j * np.pi * rng.random(mag.shape))
    x = None
    for _ in range(iters):
        x = istft(mag * phase, n_fft, hop)[:length]
        X = stft(x, n_fft, hop)
        X = X[:, : mag.shape[1]]
        if X.shape[1] < mag.shape[1]:
            X = np.pad(X, ((0, 0), (0, mag.shape[1] - X.shape[1])))
        phase = np.exp(1j * np.angle(X))
    return istft(mag * phase, n_fft, hop)[:length]


def voc_mel_gl(x, rng):
    """Mel spectrogram (40-100 bands) inverted by pseudo-inverse + Griffin-Lim."""
    n_fft = rng.choice([512, 1024])
    hop = n_fft // 4
    n_mels = rng.choice([40, 64, 80, 100])
    X = stft(x, n_fft, hop)
    fb = mel_filters(n_fft, n_mels, fmax=rng.choice([7600, 8000]))
    mel = fb @ np.abs(X)
    mel = np.exp(np.round(np.log(mel + 1e-5) * 8) / 8)  # mild quantisation
    return griffin_lim(mel_to_linear(fb, mel), n_fft, hop, int(rng.choice([8, 16, 32])), rng, len(x))


def mel_to_linear(fb, mel):
    """Spreads each band's mean magnitude back over its bins (a smooth,
    stable stand-in for the pseudo-inverse)."""
    avg = mel / np.maximum(fb.sum(axis=1, keepdims=True), 1e-9)
    return (fb.T @ avg) / np.maximum(fb.sum(axis=0)[:, None], 1e-9)


def voc_mel_phase(x, rng):
    """Mel-smoothed magnitude with the original phase (envelope detail lost)."""
    n_fft, hop = 1024, 256
    X = stft(x, n_fft, hop)
    fb = mel_filters(n_fft, int(rng.choice([60, 80])))
    mag = mel_to_linear(fb, fb @ np.abs(X))
    return istft(mag * np.exp(1j * np.angle(X)), n_fft, hop)[: len(x)]


def voc_lpc(x, rng):
    """LPC vocoder: per-frame all-pole envelope driven by pulses at f0 for
    voiced frames and noise otherwise (or the residual's magnitude spectrum
    with random phase), overlap-added."""
    order = int(rng.choice([14, 18, 24]))
    n, hop = 400, 160
    win = np.hanning(n)
    out = np.zeros(len(x) + n)
    norm = np.zeros(len(x) + n)
    phase_acc = 0.0
    mode = rng.choice(["pulse", "randphase"])
    for start in range(0, len(x) - n, hop):
        fr = x[start : start + n] * win
        r = np.correlate(fr, fr, "full")[n - 1 : n + order]
        if r[0] < 1e-8:
            continue
        r[0] *= 1.0001
        try:
            a = sl_solve_toeplitz(r[:order], r[1 : order + 1])
        except np.linalg.LinAlgError:
            continue
        A = np.concatenate([[1], -a])
        res = sg.lfilter(A, [1], fr)
        g = np.sqrt(np.mean(res**2))
        ac = np.correlate(fr, fr, "full")[n - 1 :]
        lo, hi = SR // 400, SR // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        voiced = ac[lag] > 0.4 * ac[0]
        if mode == "randphase":
            R = np.fft.rfft(res)
            e = np.fft.irfft(np.abs(R) * np.exp(2j * np.pi * rng.random(len(R))), n)
        elif voiced:
            e = np.zeros(n)
            p = phase_acc
            while p < n:
                e[int(p)] = np.sqrt(lag)
                p += lag
            phase_acc = (p - hop) % lag
        else:
            e = rng.standard_normal(n)
        e = e / (np.sqrt(np.mean(e**2)) + 1e-9) * g
        y = sg.lfilter([1], A, e) * win
        out[start : start + n] += y
        norm[start : start + n] += win**2
    return out[: len(x)] / np.maximum(norm[: len(x)], 1e-3)


def sl_solve_toeplitz(c, b):
    from scipy.linalg import solve_toeplitz
    return solve_toeplitz(c, b)


def voc_highband(x, rng):
    """Keeps 0-f Hz of the original and Griffin-Lim-resynthesises above f,
    like vocoders whose high band is noisy."""
    n_fft, hop = 512, 128
    X = stft(x, n_fft, hop)
    cut = int(rng.choice([2000, 3000, 4000]) / (SR / n_fft))
    y = griffin_lim(np.abs(X), n_fft, hop, 16, rng, len(x))
    Y = stft(y, n_fft, hop)[:, : X.shape[1]]
    Z = X.copy()
    Z[cut:, : Y.shape[1]] = Y[cut:]
    return istft(Z, n_fft, hop)[: len(x)]


def voc_sinusoidal(x, rng):
    """Harmonic-plus-noise resynthesis: magnitude sampled at harmonics of a
    frame-wise f0 with smooth phase, noise above a voicing cut-off."""
    n_fft, hop = 1024, 160
    X = stft(x, n_fft, hop)
    mag = np.abs(X)
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    T = mag.shape[1]
    out = np.zeros(T * hop + n_fft)
    ph = np.zeros(64)
    for t in range(T):
        frame = x[max(0, t * hop - 320) : t * hop + 320]
        if len(frame) < 400:
            continue
        ac = np.correlate(frame, frame, "full")[len(frame) - 1 :]
        lo, hi = SR // 400, SR // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        f0 = SR / lag if ac[lag] > 0.35 * ac[0] else 0
        seg = np.zeros(hop)
        tt = np.arange(hop) / SR
        if f0 > 0:
            k = np.arange(1, min(64, int(4000 / f0)) + 1)
            amps = np.interp(k * f0, freqs, mag[:, t]) * 2
            for i, (kk, am) in enumerate(zip(k, amps)):
                seg += am * np.cos(2 * np.pi * kk * f0 * tt + ph[i])
                ph[i] = (ph[i] + 2 * np.pi * kk * f0 * hop / SR) % (2 * np.pi)
        noise = np.fft.irfft(mag[:, t] * n_fft / 2 * np.exp(2j * np.pi * rng.random(mag.shape[0])) * (freqs >= (4000 if f0 else 0)), n_fft)[:hop]
        out[t * hop : t * hop + hop] += seg + noise * 0.5
    return out[: len(x)]


VOCODERS = {
    "mel_gl": voc_mel_gl,
    "mel_phase": voc_mel_phase,
    "lpc": voc_lpc,
    "highband_gl": voc_highband,
    "hnm": voc_sinusoidal,
}


def tts(rng, dst_wav):
    text = rng.choice(SENTENCES)
    if rng.random() < 0.6:
        voice = rng.choice(["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"])
        var = rng.choice(["", "+m1", "+m2", "+m3", "+m4", "+f1", "+f2", "+f3", "+f4", "+klatt", "+klatt2", "+Andy", "+Annie", "+david", "+benjamin"])
        run(["espeak-ng", "-v", voice + var, "-s", str(rng.randint(120, 200)), "-p", str(rng.randint(25, 75)), "-w", dst_wav, text])
        return "espeak:" + voice + var
    voice = rng.choice(["kal", "kal16", "awb", "rms", "slt"])
    run(["flite", "-voice", voice, "-t", text, "-o", dst_wav])
    return "flite:" + voice


def main():
    rng = random.Random(5 if PART != "extra" else 6)
    nrng = np.random.default_rng(5)
    for d in ("bona", "vocoded", "tts"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    listf = open(os.path.join(OUT, "list.csv" if PART == "all" else f"list-{PART}.csv"), "w", newline="")
    w = csv.writer(listf)
    w.writerow(["path", "label", "system", "source"])

    class Rows:
        n = 0

        def append(self, row):
            w.writerow(row)
            listf.flush()
            self.n += 1

    rows = Rows()
    pool_csv = os.path.join(SHARED, "voice-data/sets/train-pool/speakers.csv")
    with open(pool_csv) as f:
        pool = list(csv.DictReader(f))
    base = os.path.dirname(pool_csv)
    rng.shuffle(pool)
    pool = pool[:N_POOL] if PART != "extra" else []
    names = list(VOCODERS)
    for i, r in enumerate(pool):
        src = os.path.normpath(os.path.join(base, r["path"]))
        dur = duration(src)
        off = max(0.0, rng.uniform(0.5, max(0.6, dur - EXCERPT - 0.5)))
        x = load(src, off, EXCERPT)
        if len(x) < SR:
            continue
        stem = hashlib.sha1(src.encode()).hexdigest()[:10]
        # every train-pool speaker gives one bona fide excerpt in a random codec
        p, c = encode(x, os.path.join(OUT, "bona", stem), rng)
        rows.append((p, "bonafide", "real:" + c, r["speaker"]))
        # about half also give a vocoded spoof
        if i % 2 == 0:
            v = names[(i // 2) % len(names)]
            y = VOCODERS[v](x, nrng)
            y = np.nan_to_num(y)
            if np.max(np.abs(y)) > 1e-6:
                p, c = encode(y, os.path.join(OUT, "vocoded", stem + "_" + v), rng)
                rows.append((p, "spoof", v + ":" + c, r["speaker"]))
        if i % 50 == 0:
            print(i, rows.n, flush=True)
    # ravdess actors 7-12: lossless studio bona fide, not in spoof-pool
    rav = os.path.join(SHARED, "voice-data/corpora/ravdess")
    for a in range(7, 13) if PART != "pool" else []:
        files = sorted(os.listdir(os.path.join(rav, f"Actor_{a:02d}")))
        rng.shuffle(files)
        for fn in files[:N_RAVDESS]:
            x = load(os.path.join(rav, f"Actor_{a:02d}", fn))
            p, c = encode(x, os.path.join(OUT, "bona", f"rav{a}_{fn[:-5]}"), rng)
            rows.append((p, "bonafide", "real:" + c, f"ravdess-{a}"))
    # text-to-speech
    for i in range(N_TTS if PART != "pool" else 0):
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            sys_ = tts(rng, tmp.name)
            x = load(tmp.name)
        p, c = encode(x, os.path.join(OUT, "tts", f"tts{i:03d}"), rng)
        rows.append((p, "spoof", sys_ + ":" + c, sys_))
    listf.close()
    print("rows", rows.n)


if __name__ == "__main__":
    main()

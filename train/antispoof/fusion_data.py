#!/usr/bin/python3
"""Builds the training audio of the fused detector's back-end (issue 17).

Permissive data only: train-pool speakers (Speech Accent Archive is
CC BY-NC-SA, LibriSpeech CC BY; see BACKEND_CARD.md), Debian's own
synthesisers, signal-processing vocoders. No tortoise clip, no dev-set
speaker: the 60 train-pool speakers kept for the
held-out BPCER check (the last 60 after a shuffle with seed 1717) are never
used here.

Writes under OUT (default /work/scratch/antispoof2/data):
  bona/     5 s excerpts of train-pool real speech, each through a channel
  vocoded/  the same excerpt resynthesised by one of make_data.py's vocoders,
            through the SAME channel as its real twin (paired), so that
            channel and codec carry no information about the label
  tts/      espeak-ng, flite and (when installed) festival reading fixed
            sentences, through a channel drawn from the same distribution
  list.csv  path,label,family,channel,source

Channels: lossless at 16/22 kHz, MP3 (16/24/44 kHz), Opus, AAC, and the
telephone band: G.711 mu-law 8 kHz, GSM 06.10 8 kHz, Speex narrowband, G.722,
and a plain 8 kHz resample (300-3400 Hz band-pass).

Short mode (FUSION_SHORT=1): the next N_POOL train-pool speakers give
excerpts of 0.6-2.0 s (real and vocoded twin), and the synthesisers read
strings of 1-4 digits, as in digit challenges; AASIST repeats such short
audio to fill its window, which moves its scores. Writes list-short.csv.

  /usr/bin/python3 fusion_data.py [OUT] [N_POOL] [N_TTS]
  FUSION_SHORT=1 /usr/bin/python3 fusion_data.py [OUT] [N_POOL] [N_TTS]
"""
import csv
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from scipy.io import wavfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_data as md  # noqa: E402  (vocoders, sentences, ffmpeg helpers)

SR = 16000
SHARED = os.environ.get("VOXGATE_SHARED", "/work/shared")
OUT = sys.argv[1] if len(sys.argv) > 1 else "/work/scratch/antispoof2/data"
N_POOL = int(sys.argv[2]) if len(sys.argv) > 2 else 200
N_TTS = int(sys.argv[3]) if len(sys.argv) > 3 else 120
EXCERPT = 5.0
HELDOUT = 60  # train-pool speakers kept for evaluation (see RESULTS.md: dev.txt)
SHORT = os.environ.get("FUSION_SHORT", "") != ""
# FUSION_PERMISSIVE=1: only train-pool speakers whose licence allows
# commercial use (LibriSpeech, CC BY 4.0), for weights without NC material.
PERMISSIVE = os.environ.get("FUSION_PERMISSIVE", "") != ""
LONG_POOL = 200  # speakers used by the default (long) mode; short mode takes the next ones
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

CHANNELS = [
    # (name, extension, ffmpeg args, pre-filter), weight
    (("wav16", "wav", ["-ar", "16000", "-c:a", "pcm_s16le"], None), 2),
    (("flac22", "flac", ["-ar", "22050", "-c:a", "flac"], None), 1),
    (("mp3_16k_32", "mp3", ["-ar", "16000", "-c:a", "libmp3lame", "-b:a", "32k"], None), 2),
    (("mp3_24k_32", "mp3", ["-ar", "24000", "-c:a", "libmp3lame", "-b:a", "32k"], None), 2),
    (("mp3_44k_128", "mp3", ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k"], None), 1),
    (("opus_16", "ogg", ["-ar", "48000", "-c:a", "libopus", "-b:a", "16k"], None), 1),
    (("opus_32", "ogg", ["-ar", "48000", "-c:a", "libopus", "-b:a", "32k"], None), 1),
    (("aac_48", "m4a", ["-ar", "24000", "-c:a", "aac", "-b:a", "48k"], None), 1),
    (("mulaw_8k", "wav", ["-ar", "8000", "-c:a", "pcm_mulaw"], "highpass=f=300,lowpass=f=3400"), 1),
    (("gsm_8k", "wav", ["-ar", "8000", "-c:a", "libgsm_ms"], "highpass=f=300,lowpass=f=3400"), 1),
    (("speex_8k", "ogg", ["-ar", "8000", "-c:a", "libspeex"], None), 1),
    (("g722", "wav", ["-ar", "16000", "-c:a", "g722"], None), 1),
    (("resample_8k", "wav", ["-ar", "8000", "-c:a", "pcm_s16le"], "highpass=f=300,lowpass=f=3400"), 1),
]


def draw_channel(rng):
    return rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]


def encode(x, dst_noext, ch, level):
    """Writes x (16 kHz float) through channel ch at peak level; returns the path."""
    name, ext, args, filt = ch
    x = x / max(1e-9, np.max(np.abs(x))) * level
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        wavfile.write(tmp.name, SR, (x * 32767).astype(np.int16))
        dst = f"{dst_noext}.{ext}"
        cmd = ["ffmpeg", "-v", "error", "-y", "-i", tmp.name, "-ac", "1"]
        if filt:
            cmd += ["-af", filt]
        md.run(cmd + args + [dst])
    return dst


def tts(rng, dst_wav):
    """One sentence (short mode: 1-4 digits) from a random Debian synthesiser; returns its family and voice."""
    text = rng.choice(md.SENTENCES)
    if SHORT:
        text = " ".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 4)))
    engines = ["espeak", "flite"] + (["festival"] if shutil.which("text2wave") else [])
    e = rng.choice(engines)
    if e == "espeak":
        voice = rng.choice(["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"])
        var = rng.choice(["", "+m1", "+m2", "+m3", "+m4", "+f1", "+f2", "+f3", "+f4", "+klatt", "+klatt2", "+Andy", "+Annie", "+david", "+benjamin"])
        md.run(["espeak-ng", "-v", voice + var, "-s", str(rng.randint(120, 200)), "-p", str(rng.randint(25, 75)), "-w", dst_wav, text])
        return "espeak", voice + var
    if e == "flite":
        voice = rng.choice(["kal", "kal16", "awb", "rms", "slt"])
        md.run(["flite", "-voice", voice, "-t", text, "-o", dst_wav])
        return "flite", voice
    md.run(["text2wave", "-o", dst_wav], input=text.encode())
    return "festival", "kal_diphone"


def main():
    rng = random.Random(18 if SHORT else 17)
    nrng = np.random.default_rng(18 if SHORT else 17)
    for d in ("bona", "vocoded", "tts"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    f = open(os.path.join(OUT, "list-short.csv" if SHORT else "list.csv"), "w", newline="")
    w = csv.writer(f)
    w.writerow(["path", "label", "family", "channel", "source"])
    pool_csv = os.path.join(SHARED, "voice-data/sets/train-pool/speakers.csv")
    with open(pool_csv) as fp:
        pool = list(csv.DictReader(fp))
    random.Random(1717).shuffle(pool)
    held = pool[-HELDOUT:]
    if PERMISSIVE:  # drop non-commercial speakers (Speech Accent Archive), never the held-out ones' slots
        pool = [r for r in pool[:-HELDOUT] if "NC" not in r["license"]] + held
    pool = pool[:-HELDOUT][LONG_POOL:LONG_POOL + N_POOL] if SHORT else pool[:-HELDOUT][:N_POOL]
    base = os.path.dirname(pool_csv)
    names = list(md.VOCODERS)
    for i, r in enumerate(pool):
        src = os.path.normpath(os.path.join(base, r["path"]))
        dur = md.duration(src)
        ex = rng.uniform(0.6, 2.0) if SHORT else EXCERPT
        off = max(0.0, rng.uniform(0.5, max(0.6, dur - ex - 0.5)))
        x = md.load(src, off, ex)
        if len(x) < SR * min(1.0, ex * 0.9):
            continue
        stem = hashlib.sha1(src.encode()).hexdigest()[:10] + ("s" if SHORT else "")
        ch = draw_channel(rng)
        level = rng.uniform(0.2, 0.95)
        p = encode(x, os.path.join(OUT, "bona", stem), ch, level)
        w.writerow((p, "bonafide", "real-" + r["corpus"], ch[0], r["speaker"]))
        v = names[i % len(names)]
        y = np.nan_to_num(md.VOCODERS[v](x, nrng))
        if np.max(np.abs(y)) > 1e-6:
            p = encode(y, os.path.join(OUT, "vocoded", stem + "_" + v), ch, level)
            w.writerow((p, "spoof", "vocoder-" + v, ch[0], r["speaker"]))
        f.flush()
        if i % 25 == 0:
            print("pool", i, flush=True)
    for i in range(N_TTS):
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            fam, voice = tts(rng, tmp.name)
            x = md.load(tmp.name)
        ch = draw_channel(rng)
        p = encode(x, os.path.join(OUT, "tts", f"tts{'s' if SHORT else ''}{i:03d}"), ch, rng.uniform(0.2, 0.95))
        w.writerow((p, "spoof", fam, ch[0], voice))
        f.flush()
    f.close()


if __name__ == "__main__":
    main()

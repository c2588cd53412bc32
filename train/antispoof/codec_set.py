#!/usr/bin/python3
"""Re-encodes a subset of spoof-pool's bona fide files to lossy codecs, for
the codec-invariance check of the back-end (research tool): the detector must
not tell a real recording from the same recording sent as MP3 or Opus.

Subset: all 60 ravdess files, 3 files of each of the 10 LibriSpeech speakers,
the first reference clip of each of the 17 tortoise voices. Codecs: MP3
32 kbps at 24 kHz (exactly what the tortoise clones in spoof-pool use) for
all, and Opus 24 kbps for the ravdess files.

Writes OUT/codec.csv (path,orig,codec) and the files beside it.
  /usr/bin/python3 codec_set.py [OUT]
"""
import csv
import os
import subprocess
import sys

SHARED = os.environ.get("VOXGATE_SHARED", "/work/shared")
OUT = sys.argv[1] if len(sys.argv) > 1 else "/work/scratch/antispoof/codec"
CODECS = {
    "mp3_24k_32": ("mp3", ["-ar", "24000", "-c:a", "libmp3lame", "-b:a", "32k"]),
    "opus_24": ("ogg", ["-ar", "48000", "-c:a", "libopus", "-b:a", "24k"]),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    csvp = os.path.join(SHARED, "voice-data/sets/spoof-pool/spoof.csv")
    seen = {}
    rows = []
    with open(csvp) as f:
        for row in csv.DictReader(f):
            if row["label"] != "bonafide":
                continue
            p = os.path.realpath(os.path.join(os.path.dirname(csvp), row["path"]))
            parts = p.split("/")
            group = parts[-2]
            if "ravdess" in parts:
                codecs, limit = ["mp3_24k_32", "opus_24"], 99
            elif "tortoise" in parts:
                codecs, limit = ["mp3_24k_32"], 1
            else:
                codecs, limit = ["mp3_24k_32"], 3
            if seen.get(group, 0) >= limit:
                continue
            seen[group] = seen.get(group, 0) + 1
            for c in codecs:
                ext, args = CODECS[c]
                dst = os.path.join(OUT, f"{group}_{os.path.basename(p).rsplit('.', 1)[0]}_{c}.{ext}")
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", p, "-ac", "1", *args, dst], check=True)
                rows.append((dst, p, c))
    with open(os.path.join(OUT, "codec.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "orig", "codec"])
        w.writerows(rows)
    print(len(rows), "files")


if __name__ == "__main__":
    main()

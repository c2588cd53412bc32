package audio

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// Fuzz targets; see the package documentation for how to run them. Seeds are
// synthesised here, never copied from shared data.

// wavSeeds returns small WAV files in every layout the parser handles.
func wavSeeds(t testing.TB) [][]byte {
	sig := tone(64, 440, 8000, 0.7)
	var seeds [][]byte
	for _, s := range []wavSpec{
		{tag: wavePCM, bits: 8}, {tag: wavePCM, bits: 16}, {tag: wavePCM, bits: 24}, {tag: wavePCM, bits: 32},
		{tag: waveFloat, bits: 32}, {tag: waveFloat, bits: 64}, {tag: waveMuLaw, bits: 8}, {tag: waveALaw, bits: 8},
		{tag: wavePCM, bits: 24, extensible: true}, {tag: waveFloat, bits: 32, extensible: true, channels: 3},
		{tag: wavePCM, bits: 16, riff: "RIFX"}, {tag: wavePCM, bits: 16, riff: "RF64", dataSize: u32(0xffffffff)},
		{tag: wavePCM, bits: 16, dataSize: u32(0)}, {tag: wavePCM, bits: 16, dataSize: u32(0xffffffff)},
		{tag: wavePCM, bits: 16, extraFirst: true}, {tag: wavePCM, bits: 16, dataFirst: true, channels: 2},
	} {
		if s.channels == 0 {
			s.channels = 1
		}
		s.rate = 8000
		gains := make([]float64, s.channels)
		for c := range gains {
			gains[c] = 1 / float64(c+1)
		}
		w := makeWAV(s, interleave(sig, gains...))
		seeds = append(seeds, w, w[:len(w)-3])
	}
	return seeds
}

func FuzzWAV(f *testing.F) {
	for _, s := range wavSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeWAV(data, limits{maxDuration: 10 * time.Second})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if p.rate < minRate || p.rate > maxRate || p.channels < 1 {
			t.Fatalf("accepted %d Hz, %d channels", p.rate, p.channels)
		}
		if float64(len(p.samples)) > 10*float64(p.rate)+1 || len(p.samples) > len(data) {
			t.Fatalf("%d samples from %d bytes at %d Hz", len(p.samples), len(data), p.rate)
		}
		for _, v := range p.samples {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatal("non-finite sample")
			}
		}
	})
}

func FuzzDetect(f *testing.F) {
	for _, s := range wavSeeds(f)[:4] {
		f.Add(s[:16])
	}
	for _, s := range []string{"fLaC", "OggS", "\x1a\x45\xdf\xa3", "\x00\x00\x00\x20ftypM4A ", "ID3\x04\x00\x00\x00\x00\x00\x05", "\xff\xfb\x90\xc0", "\xff\xf1\x50\x80\x02\x1f\xfc"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		got := Detect(head)
		switch got {
		case WAV, FLAC, MP3, Ogg, WebM, MP4, AAC, Unknown:
		default:
			t.Fatalf("Detect returned %q", got)
		}
		// More bytes never change a positive answer made from a prefix
		// (ID3 excepted: its look-ahead depends on what follows the tag).
		if got != Unknown && got != MP3 && Detect(append(head[:len(head):len(head)], 0, 0, 0, 0)) != got {
			t.Fatalf("Detect changed its answer when given more bytes")
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range wavSeeds(f) {
		f.Add(s)
	}
	fl := makeFLAC(f, interleave(tone(2000, 440, 8000, 0.5), 1, 0.5), 2, 8000)
	f.Add(fl)
	f.Add(fl[:len(fl)/2])
	mp := silentMP3(3)
	f.Add(mp)
	f.Add(append([]byte("ID3\x03\x00\x00\x00\x00\x00\x04tag!"), mp...))
	d := &Decoder{FFmpeg: "/nonexistent/ffmpeg", MaxDuration: 10 * time.Second}
	f.Fuzz(func(t *testing.T, data []byte) {
		clip, err := d.Decode(context.Background(), data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if len(clip.Samples) == 0 || len(clip.Samples) > 10*Rate+1 || clip.Duration > 10.001 {
			t.Fatalf("%d samples, %.3f s", len(clip.Samples), clip.Duration)
		}
		for _, v := range clip.Samples {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("sample %v outside -1..1", v)
			}
		}
	})
}

func FuzzResample(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint16(48000), uint16(16000))
	f.Add([]byte{0x7f, 0x7f, 0x80, 0x80}, uint16(8000), uint16(16000))
	f.Add([]byte{}, uint16(44100), uint16(16000))
	f.Fuzz(func(t *testing.T, raw []byte, from, to uint16) {
		if from < 8000 || to < 8000 {
			return
		}
		x := make([]float32, len(raw))
		for i, b := range raw {
			x[i] = float32(int8(b)) / 128
		}
		y := Resample(x, int(from), int(to))
		if want := int(math.Ceil(float64(len(x)) * float64(to) / float64(from))); len(y) != want {
			t.Fatalf("%d -> %d Hz: %d samples from %d, want %d", from, to, len(y), len(x), want)
		}
		for _, v := range y {
			// The filter's overshoot is bounded by the sum of |taps| (< 2).
			if !(v >= -2 && v <= 2) {
				t.Fatalf("sample %v out of range", v)
			}
		}
	})
}

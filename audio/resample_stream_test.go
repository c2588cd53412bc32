package audio

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/viterin/vek/vek32"
)

// resampleWhole is Resample as it was before ResampleFunc: the whole input
// copied into one zero-padded buffer. The block-wise path must equal it.
func resampleWhole(r *Resampler, x []float32) []float32 {
	out := make([]float32, r.OutputLen(len(x)))
	if r.l == r.m {
		copy(out, x)
		return out
	}
	if len(x) == 0 {
		return out
	}
	hTaps := r.taps / 2
	xp := make([]float32, hTaps+len(x)+r.taps+1)
	copy(xp[hTaps:], x)
	l, m := int64(r.l), int64(r.m)
	for k := range out {
		num := int64(k) * m
		n := int(num / l)
		p := num % l
		win := xp[n+1 : n+1+r.taps]
		if !r.interp {
			out[k] = vek32.Dot(r.coef[int(p)*r.taps:(int(p)+1)*r.taps], win)
			continue
		}
		pos := float64(p) * float64(r.phases) / float64(l)
		i := int(pos)
		w := float32(pos - float64(i))
		a := vek32.Dot(r.coef[i*r.taps:(i+1)*r.taps], win)
		b := vek32.Dot(r.coef[(i+1)*r.taps:(i+2)*r.taps], win)
		out[k] = a + w*(b-a)
	}
	return out
}

func TestResampleBlockwiseEqualsWholeBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, from := range []int{8000, 16000, 22050, 44100, 47999, 48000, 96000, 192000} {
		for _, n := range []int{0, 1, 7, 4095, 4096, 4097, 3*from + 11} {
			x := make([]float32, n)
			for i := range x {
				x[i] = rng.Float32()*2 - 1
			}
			r := NewResampler(from, Rate)
			want := resampleWhole(r, x)
			reads := 0
			got := r.ResampleFunc(n, func(dst []float32, start int) { reads++; copy(dst, x[start:]) })
			if len(got) != len(want) {
				t.Fatalf("%d Hz, %d samples: %d outputs, want %d", from, n, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%d Hz, %d samples: output %d = %v, want %v", from, n, i, got[i], want[i])
				}
			}
		}
	}
}

// TestDecodeWAVResamplesAsItMixes: Decode's WAV path, which never holds
// the source-rate samples, gives what decoding at the source rate and
// resampling the whole gives.
func TestDecodeWAVResamplesAsItMixes(t *testing.T) {
	for _, s := range []wavSpec{
		{tag: wavePCM, bits: 8, rate: 192000, channels: 1},
		{tag: wavePCM, bits: 16, rate: 44100, channels: 2},
		{tag: waveFloat, bits: 32, rate: 48000, channels: 1},
		{tag: wavePCM, bits: 16, rate: 16000, channels: 1},
	} {
		sig := make([]float64, s.rate*2)
		for i := range sig {
			sig[i] = 0.5 * math.Sin(2*math.Pi*440*float64(i)/float64(s.rate))
		}
		gains := []float64{1, 0.5}[:s.channels]
		data := makeWAV(s, interleave(sig, gains...))
		clip, err := (&Decoder{}).Decode(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodeWAV(data, limits{maxDuration: DefaultMaxDuration})
		if err != nil {
			t.Fatal(err)
		}
		want := p.samples
		if p.rate != Rate {
			want = Resample(p.samples, p.rate, Rate)
		}
		clampUnit(want)
		if len(clip.Samples) != len(want) || clip.SourceRate != s.rate || clip.Channels != s.channels {
			t.Fatalf("%+v: %d samples at %d Hz, %d ch; want %d at %d Hz", s, len(clip.Samples), clip.SourceRate, clip.Channels, len(want), s.rate)
		}
		for i := range want {
			if clip.Samples[i] != want[i] {
				t.Fatalf("%+v: sample %d = %v, want %v", s, i, clip.Samples[i], want[i])
			}
		}
	}
}

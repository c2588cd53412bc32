package audio

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
)

func TestEncodeWAVRoundTripsThroughDecode(t *testing.T) {
	cases := []struct {
		name string
		rate int     // source rate, Hz
		n    int     // samples at rate
		freq float64 // tone, Hz
		amp  float64 // tone amplitude
	}{
		{"telephone 8 kHz", 8000, 8000, 440, 0.5},
		{"wideband 16 kHz", 16000, 16000, 1000, 0.25},
		{"quiet 16 kHz", 16000, 4000, 300, 0.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := toF32(tone(c.n, c.freq, float64(c.rate), c.amp))
			data := EncodeWAV(x, c.rate)
			if len(data) != 44+2*c.n {
				t.Fatalf("file is %d bytes, want %d", len(data), 44+2*c.n)
			}
			clip, err := (&Decoder{}).Decode(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			if clip.Format != WAV || clip.Codec != "pcm_s16le" || clip.SourceRate != c.rate || clip.Channels != 1 {
				t.Fatalf("decoded as %s %s %d Hz %d ch", clip.Format, clip.Codec, clip.SourceRate, clip.Channels)
			}
			if want := c.n * Rate / c.rate; len(clip.Samples) != want {
				t.Fatalf("%d samples at %d Hz, want %d", len(clip.Samples), Rate, want)
			}
			if got := levelAt(clip.Samples, c.freq, Rate); math.Abs(got-c.amp) > 0.01*c.amp {
				t.Fatalf("tone level %.5f, want %.5f", got, c.amp)
			}
			if c.rate == Rate {
				for i := range x {
					if d := math.Abs(float64(clip.Samples[i] - x[i])); d > 1.0/32767 {
						t.Fatalf("sample %d: %v, want %v", i, clip.Samples[i], x[i])
					}
				}
			}
		})
	}
}

func TestEncodeWAVClampsAndRounds(t *testing.T) {
	x := []float32{0, 1, -1, 2, -2, 0.5, -0.5, 0.6 / 32767, float32(math.NaN())}
	want := []int16{0, 32767, -32767, 32767, -32767, 16384, -16384, 1, 0} // round(v*32767), clamped
	data := EncodeWAV(x, 8000)
	for i, w := range want {
		if got := int16(binary.LittleEndian.Uint16(data[44+2*i:])); got != w {
			t.Errorf("sample %d (%v): %d, want %d", i, x[i], got, w)
		}
	}
}

package audio

import (
	"fmt"
	"math"
	"testing"
)

func dBratio(a, b float64) float64 { return 20 * math.Log10(a/b) }

func TestResampleKeepsPassbandTone(t *testing.T) {
	// 7 kHz sits at 0.875 of the 8 kHz output Nyquist: inside the pass band.
	x := toF32(tone(48000, 7000, 48000, 0.5))
	y := Resample(x, 48000, 16000)
	got := dBratio(levelAt(y, 7000, 16000), 0.5)
	t.Logf("7 kHz tone, 48 -> 16 kHz: level change %+.4f dB", got)
	if math.Abs(got) > 0.5 {
		t.Fatalf("7 kHz tone level changed by %.3f dB, want within 0.5 dB", got)
	}
}

func TestResampleRejectsAliasingTone(t *testing.T) {
	// 10 kHz is above the 8 kHz output Nyquist; unfiltered it would fold to 6 kHz.
	x := toF32(tone(48000, 10000, 48000, 0.5))
	y := Resample(x, 48000, 16000)
	lo, hi := len(y)/4, 3*len(y)/4
	got := dBratio(rms(y[lo:hi]), 0.5/math.Sqrt2)
	t.Logf("10 kHz tone, 48 -> 16 kHz: %.1f dB", got)
	if got > -60 {
		t.Fatalf("10 kHz tone attenuated only %.1f dB, want at least 60 dB", -got)
	}
}

func TestResampleUpsamples8kCleanly(t *testing.T) {
	const amp = 0.5
	x := toF32(tone(8000, 1000, 8000, amp))
	y := Resample(x, 8000, 16000)
	if len(y) != 16000 {
		t.Fatalf("got %d samples, want 16000", len(y))
	}
	if got := dBratio(levelAt(y, 1000, 16000), amp); math.Abs(got) > 0.5 {
		t.Fatalf("1 kHz level changed by %.3f dB", got)
	}
	// Anything but the 1 kHz tone (the image at 7 kHz, say) must be 60 dB down.
	t.Logf("1 kHz tone, 8 -> 16 kHz: level change %+.4f dB, everything else %.1f dB",
		dBratio(levelAt(y, 1000, 16000), amp), dBratio(residualRMS(y, 1000, 16000), amp/math.Sqrt2))
	if got := dBratio(residualRMS(y, 1000, 16000), amp/math.Sqrt2); got > -60 {
		t.Fatalf("energy outside the 1 kHz tone at %.1f dB, want below -60 dB", got)
	}
	for f := 4000.0; f < 8000; f += 250 {
		if got := dBratio(levelAt(y, f, 16000), amp); got > -60 {
			t.Fatalf("component at %.0f Hz is %.1f dB, want below -60 dB", f, got)
		}
	}
}

func TestResampleRatios(t *testing.T) {
	for _, tc := range []struct{ from, to int }{
		{44100, 16000}, {22050, 16000}, {24000, 16000}, {32000, 16000}, {11025, 16000},
		{8000, 16000}, {96000, 16000}, {12000, 16000}, {47999, 16000}, {16000, 8000}, {16000, 44100},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.from, tc.to), func(t *testing.T) {
			n := tc.from // 1 s
			x := toF32(tone(n, 1000, float64(tc.from), 0.5))
			y := Resample(x, tc.from, tc.to)
			if want := int(math.Ceil(float64(n) * float64(tc.to) / float64(tc.from))); len(y) != want {
				t.Fatalf("got %d samples, want %d", len(y), want)
			}
			if got := dBratio(levelAt(y, 1000, float64(tc.to)), 0.5); math.Abs(got) > 0.05 {
				t.Errorf("1 kHz level changed by %.3f dB", got)
			}
			// Output k is input time k/to: no delay, so the tone lines up
			// with its ideal samples.
			lo, hi := len(y)/4, 3*len(y)/4
			var maxErr float64
			for k := lo; k < hi; k++ {
				want := 0.5 * math.Sin(2*math.Pi*1000*float64(k)/float64(tc.to))
				maxErr = math.Max(maxErr, math.Abs(float64(y[k])-want))
			}
			if maxErr > 2e-3 {
				t.Errorf("max deviation from the ideal tone %.2g, want <= 2e-3", maxErr)
			}
			// A tone just above the lower Nyquist frequency must vanish.
			stop := 0.52 * float64(min(tc.from, tc.to))
			if stop < float64(tc.from)/2 {
				z := Resample(toF32(tone(n, stop, float64(tc.from), 0.5)), tc.from, tc.to)
				if got := dBratio(rms(z[lo:hi]), 0.5/math.Sqrt2); got > -60 {
					t.Errorf("%.0f Hz tone attenuated only %.1f dB", stop, -got)
				}
			}
		})
	}
}

func TestResampleIdentityCopies(t *testing.T) {
	x := []float32{0.1, -0.2, 0.3}
	y := Resample(x, 16000, 16000)
	y[0] = 9
	if x[0] != 0.1 || len(y) != 3 {
		t.Fatal("identity resampling must return a copy")
	}
	if got := Resample(nil, 48000, 16000); len(got) != 0 {
		t.Fatalf("empty input gave %d samples", len(got))
	}
}

func TestResampleShortInputs(t *testing.T) {
	for n := range 8 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 0.5
		}
		for _, r := range [][2]int{{48000, 16000}, {8000, 16000}, {44100, 16000}} {
			y := Resample(x, r[0], r[1])
			if want := NewResampler(r[0], r[1]).OutputLen(n); len(y) != want {
				t.Fatalf("n=%d %v: got %d samples, want %d", n, r, len(y), want)
			}
		}
	}
}

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(len(x), 1)))
}

// residualRMS is the RMS of the middle half of x once its freq component is removed.
func residualRMS(x []float32, freq, rate float64) float64 {
	lo, hi := len(x)/4, 3*len(x)/4
	var s, c float64
	for i := lo; i < hi; i++ {
		ph := 2 * math.Pi * freq * float64(i) / rate
		s += float64(x[i]) * math.Sin(ph)
		c += float64(x[i]) * math.Cos(ph)
	}
	n := float64(hi - lo)
	s, c = 2*s/n, 2*c/n
	var e float64
	for i := lo; i < hi; i++ {
		ph := 2 * math.Pi * freq * float64(i) / rate
		r := float64(x[i]) - s*math.Sin(ph) - c*math.Cos(ph)
		e += r * r
	}
	return math.Sqrt(e / n)
}

func BenchmarkResample(b *testing.B) {
	for _, from := range []int{48000, 44100, 8000} {
		b.Run(fmt.Sprintf("%dHz-10s", from), func(b *testing.B) {
			x := toF32(tone(10*from, 440, float64(from), 0.5))
			r := NewResampler(from, Rate)
			b.ResetTimer()
			for b.Loop() {
				r.Resample(x)
			}
			b.ReportMetric(10*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
		})
	}
}

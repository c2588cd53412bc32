package audio

import (
	"math"
	"testing"
)

func TestRemoveDC(t *testing.T) {
	tone := func(f, offset float64, n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(offset + 0.3*math.Sin(2*math.Pi*f*float64(i)/Rate))
		}
		return x
	}
	tests := []struct {
		name   string
		freq   float64 // Hz of the 0.3-amplitude tone
		offset float64 // constant added to it
	}{
		{"offset under a 100 Hz voice", 100, -0.085},
		{"offset under a 1 kHz tone", 1000, 0.2},
		{"no offset", 300, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := tone(tt.freq, tt.offset, Rate)
			RemoveDC(x)
			want := tone(tt.freq, 0, Rate)
			var mean, errPow, sigPow float64
			for i, v := range x {
				mean += float64(v)
				if i >= Rate/10 { // after the filter's first 0.1 s
					d := float64(v - want[i])
					errPow += d * d
					sigPow += float64(want[i]) * float64(want[i])
				}
			}
			mean /= float64(len(x))
			if math.Abs(mean) > 1e-3 {
				t.Errorf("mean after RemoveDC = %.5f, want ~0", mean)
			}
			// The tone passes: what differs from it is at least 20 dB down
			// (a 10 Hz high-pass shifts a 100 Hz tone's phase by ~6°).
			if snr := 10 * math.Log10(sigPow/errPow); snr < 20 {
				t.Errorf("tone altered: %.1f dB signal to change, want >= 20", snr)
			}
		})
	}
}

func TestRemoveDCKeepsNonFinite(t *testing.T) {
	x := []float32{0.5, float32(math.NaN()), 0.5, float32(math.Inf(1)), 0.5}
	RemoveDC(x)
	for i, v := range x {
		if i == 1 || i == 3 {
			continue
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e-6 {
			t.Errorf("x[%d] = %v, want 0 (the constant removed, the bad samples not spread)", i, v)
		}
	}
	RemoveDC(nil)
}

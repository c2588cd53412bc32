package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMeasureLevels(t *testing.T) {
	for _, tc := range []struct {
		name                string
		x                   []float32
		rms, peak, clipping float64
	}{
		{"full-scale sine", toF32(tone(16000, 1000, Rate, 1)), -3.01, 0, 0.0},
		{"half-scale sine", toF32(tone(16000, 1000, Rate, 0.5)), -9.03, -6.02, 0},
		{"silence", make([]float32, 16000), floordB, floordB, 0},
		{"empty", nil, floordB, floordB, 0},
		{"square at full scale", square(16000, 1), 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := Measure(tc.x, nil, 0)
			if math.Abs(q.RMSdBFS-tc.rms) > 0.01 || math.Abs(q.PeakdBFS-tc.peak) > 0.01 {
				t.Errorf("rms %.3f peak %.3f dBFS, want %.3f %.3f", q.RMSdBFS, q.PeakdBFS, tc.rms, tc.peak)
			}
			if tc.name != "full-scale sine" && math.Abs(q.Clipping-tc.clipping) > 1e-9 {
				t.Errorf("clipping %.4f, want %.4f", q.Clipping, tc.clipping)
			}
		})
	}
}

func TestMeasureClippingFraction(t *testing.T) {
	// A sine driven 2x past full scale and clipped spends 2/3 of its time at
	// the rails.
	x := toF32(tone(16000, 100, Rate, 2))
	clampUnit(x)
	q := Measure(x, nil, 0)
	if math.Abs(q.Clipping-2.0/3) > 0.01 {
		t.Fatalf("clipping %.3f, want 0.667", q.Clipping)
	}
}

// TestMeasureSNREstimates builds speech-like bursts over white noise at known
// ratios and checks both SNR methods recover them.
func TestMeasureSNREstimates(t *testing.T) {
	for _, want := range []float64{5, 15, 30} {
		x, mask := burstsOverNoise(want, 320)
		for _, method := range []struct {
			name string
			mask []bool
			tol  float64
		}{{"mask", mask, 1}, {"percentile", nil, 2}} {
			q := Measure(x, method.mask, 320)
			if math.Abs(q.SNRdB-want) > method.tol {
				t.Errorf("%s: SNR %.2f dB, want %.0f ± %.0f", method.name, q.SNRdB, want, method.tol)
			}
		}
	}
}

func TestMeasureAlwaysFinite(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		x    []float32
		mask []bool
	}{
		{"digital silence noise floor", append(make([]float32, 8000), toF32(tone(8000, 440, Rate, 0.5))...), nil},
		{"all silence", make([]float32, 16000), nil},
		{"nan and inf", []float32{float32(math.NaN()), inf, -inf, 0.5}, nil},
		{"mask longer than audio", make([]float32, 100), []bool{true, false, true}},
		{"shorter than a frame", []float32{0.1, 0.2}, nil},
		{"huge values", []float32{3e38, -3e38, 1e-45}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := Measure(tc.x, tc.mask, 0)
			for _, v := range []float64{q.RMSdBFS, q.PeakdBFS, q.Clipping, q.SNRdB} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite measurement %+v", q)
				}
			}
			if q.SNRdB < 0 || q.SNRdB > MaxSNR {
				t.Fatalf("SNR %.1f outside 0..%v", q.SNRdB, MaxSNR)
			}
		})
	}
	if q := Measure(append(make([]float32, 8000), toF32(tone(8000, 440, Rate, 0.5))...), nil, 0); q.SNRdB != MaxSNR {
		t.Fatalf("tone after digital silence: SNR %.1f, want the %v dB cap", q.SNRdB, MaxSNR)
	}
}

// burstsOverNoise returns 4 s of 16 kHz white noise with 200 ms noise-like
// bursts every 400 ms whose power is snr dB above the noise, and the
// per-frame mask of the bursts.
func burstsOverNoise(snr float64, frameLen int) ([]float32, []bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	const noise = 0.01
	sig := noise * math.Pow(10, snr/20)
	x := make([]float32, 4*Rate)
	mask := make([]bool, len(x)/frameLen)
	for i := range x {
		v := noise * rng.NormFloat64()
		if (i/(Rate/5))%2 == 1 {
			v += sig * rng.NormFloat64()
		}
		x[i] = float32(v)
	}
	for f := range mask {
		mask[f] = ((f*frameLen)/(Rate/5))%2 == 1
	}
	return x, mask
}

func square(n int, amp float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = amp
		if (i/40)%2 == 1 {
			x[i] = -amp
		}
	}
	return x
}

func BenchmarkMeasure(b *testing.B) {
	x, _ := burstsOverNoise(20, 320)
	x = append(append(x, x...), x[:2*Rate]...) // 10 s
	b.ResetTimer()
	for b.Loop() {
		Measure(x, nil, 0)
	}
	b.ReportMetric(10*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
}

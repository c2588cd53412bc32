package features

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func TestNumFramesFollowsDocumentedFraming(t *testing.T) {
	tests := []struct{ n, want int }{{0, 0}, {399, 0}, {400, 1}, {559, 1}, {560, 2}, {16000, 98}}
	for _, tc := range tests {
		if got := NumFrames(tc.n); got != tc.want {
			t.Errorf("NumFrames(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestFFTMatchesNaiveDFT(t *testing.T) {
	const n = 64
	f := newFFT(n)
	rng := rand.New(rand.NewPCG(1, 1))
	re, im := make([]float32, n), make([]float32, n)
	x := make([]complex128, n)
	for i := range re {
		re[i] = float32(rng.NormFloat64())
		x[i] = complex(float64(re[i]), 0)
	}
	f.transform(re, im)
	for k := 0; k < n; k++ {
		var want complex128
		for t := 0; t < n; t++ {
			want += x[t] * cmplx.Exp(complex(0, -2*math.Pi*float64(k*t)/n))
		}
		if cmplx.Abs(want-complex(float64(re[k]), float64(im[k]))) > 1e-4 {
			t.Fatalf("bin %d: got %v%+vi, want %v", k, re[k], im[k], want)
		}
	}
}

func TestLogMelPeaksInTheBandOfAPureTone(t *testing.T) {
	fe, err := New(DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	tests := []float64{300, 1000, 3000, 6000}
	for _, hz := range tests {
		x := make([]float32, 8000)
		for i := range x {
			x[i] = 0.5 * float32(math.Sin(2*math.Pi*hz*float64(i)/SampleRate))
		}
		lm, en := fe.LogMel(nil, nil, x)
		nm := DefaultConfig.NumMels
		row := lm[10*nm : 11*nm]
		best := 0
		for m := range row {
			if row[m] > row[best] {
				best = m
			}
		}
		// centre frequency of band best
		lo, hi := hzToMel(DefaultConfig.LowHz), hzToMel(DefaultConfig.HighHz)
		cm := lo + (hi-lo)*float64(best+1)/float64(nm+1)
		centre := 700 * (math.Exp(cm/1127) - 1)
		if math.Abs(centre-hz)/hz > 0.1 {
			t.Errorf("%v Hz tone peaks in band %d centred at %.0f Hz", hz, best, centre)
		}
		if en[10] < -40 || en[10] > 0 {
			t.Errorf("%v Hz tone frame energy %v dB", hz, en[10])
		}
	}
}

func TestMFCCOfConstantLogMelIsOnlyC0(t *testing.T) {
	lm := make([]float32, 2*40)
	for i := range lm {
		lm[i] = 2
	}
	c := MFCC(nil, lm, 40, 13)
	if math.Abs(float64(c[0])-2*math.Sqrt(40)) > 1e-4 {
		t.Errorf("c0 = %v, want %v", c[0], 2*math.Sqrt(40))
	}
	for i := 1; i < 13; i++ {
		if math.Abs(float64(c[i])) > 1e-4 {
			t.Errorf("c%d = %v, want 0", i, c[i])
		}
	}
}

func TestCMVNUsesOnlyMaskedFrames(t *testing.T) {
	x := []float32{1, 10, 3, 20, 100, 1000} // 3 frames x 2 dims
	CMVN(x, 2, []bool{true, true, false}, false)
	want := []float32{-1, -5, 1, 5, 98, 985}
	for i := range x {
		if math.Abs(float64(x[i]-want[i])) > 1e-5 {
			t.Fatalf("CMVN = %v, want %v", x, want)
		}
	}
	y := []float32{1, 3, 5, 7}
	CMVN(y, 1, nil, true)
	var s, q float64
	for _, v := range y {
		s += float64(v)
		q += float64(v) * float64(v)
	}
	if math.Abs(s) > 1e-5 || math.Abs(q/4-1) > 1e-4 {
		t.Errorf("CMVN with variance: %v", y)
	}
}

func TestEnergyVADFindsTheLoudSegment(t *testing.T) {
	energy := make([]float32, 100)
	for i := range energy {
		energy[i] = -70
		if i >= 30 && i < 60 {
			energy[i] = -20
		}
	}
	energy[80] = -20 // an isolated click is smoothed away
	mask := EnergyVAD(nil, energy)
	for i, m := range mask {
		want := i >= 30 && i < 60
		if m != want {
			t.Errorf("frame %d: speech=%v, want %v", i, m, want)
		}
	}
	silent := EnergyVAD(nil, make([]float32, 20))
	for _, m := range silent {
		if m {
			t.Fatal("constant energy marked as speech")
		}
	}
}

func BenchmarkLogMel10s(b *testing.B) {
	fe, _ := New(DefaultConfig)
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 10*SampleRate)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * 0.1
	}
	var lm, en []float32
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lm, en = fe.LogMel(lm, en, x)
	}
}

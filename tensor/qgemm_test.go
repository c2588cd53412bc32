package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// GemmQ must compute exactly the product of the dequantised operands (up to
// float32 rounding of the final scale), on the VNNI kernel and the portable
// tail alike, with overlapping rows as the convolutions read them.
func TestGemmQEqualsDequantisedProduct(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ m, n, k, lda int }{
		{96, 32, 96, 32},   // encoder conv, overlapping rows (3·32 read, 32 apart)
		{108, 64, 192, 64}, // conv1 of a 64-channel block
		{24, 64, 192, 192}, // disjoint rows
		{13, 48, 40, 40},   // odd panel count, a 12-row tile and a 1-row tail
		{7, 16, 10, 12},    // K not a multiple of 4: one panel, tails only
		{36, 32, 6, 8},     // short K
	} {
		kp := (tc.k + 3) &^ 3
		a := make([]float32, (tc.m-1)*tc.lda+kp)
		for i := range a {
			a[i] = (r.Float32()*2 - 1) * 3
		}
		p := Pack(true, tc.k, tc.n, 1, randSlice(r, tc.n*tc.k), tc.k)
		q := Quantize(p)
		qa := make([]uint8, len(a))
		sa := QuantizeActivations(qa, a)
		ldc := q.PaddedN()
		for _, acc := range []bool{false, true} {
			c := make([]float32, tc.m*ldc)
			for i := range c {
				c[i] = 0.5
			}
			GemmQ(tc.m, qa, tc.lda, sa, q, c, ldc, acc)
			ref := make([]float32, tc.m*ldc) // the FP32 product of the unquantised operands
			GemmPacked(tc.m, a, tc.lda, p, ref, ldc, false)
			var maxErr, sumSq float64
			for i := range tc.m {
				for j := range tc.n {
					var s int64
					for kk := range tc.k {
						pn, jj := j/Panel, j%Panel
						w := q.Data[pn*q.KP*Panel+(kk/4)*Panel*4+jj*4+kk%4]
						s += (int64(qa[i*tc.lda+kk]) - 128) * int64(w)
					}
					want := float64(s) * float64(sa) * float64(q.Scale[j])
					if acc {
						want += 0.5
					}
					got := float64(c[i*ldc+j])
					if math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("%+v acc=%v: C[%d][%d] = %v, want %v", tc, acc, i, j, got, want)
					}
					base := float64(ref[i*ldc+j])
					if acc {
						base += 0.5
					}
					maxErr = max(maxErr, math.Abs(got-base))
					sumSq += (base - 0.5*b2f(acc)) * (base - 0.5*b2f(acc))
				}
			}
			// Eight-bit operands: the worst error is a few per cent of the
			// products' RMS.
			if rel := maxErr / math.Sqrt(sumSq/float64(tc.m*tc.n)); rel > 0.05 {
				t.Errorf("%+v: INT8 differs from FP32 by %.3f of the RMS", tc, rel)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestQuantizeActivationsKeepsZeroAndRange(t *testing.T) {
	src := []float32{0, 1, -1, 0.5, -0.25, float32(math.NaN())}
	dst := make([]uint8, len(src))
	s := QuantizeActivations(dst, src)
	if s != 1.0/127 {
		t.Fatalf("scale = %v", s)
	}
	want := []uint8{128, 255, 1, 192, 96, 1}
	for i := range want {
		if dst[i] != want[i] {
			t.Errorf("q(%v) = %d, want %d", src[i], dst[i], want[i])
		}
	}
	if s := QuantizeActivations(dst[:2], []float32{0, 0}); s != 1 || dst[0] != 128 {
		t.Errorf("all-zero input: scale %v, q %d", s, dst[0])
	}
}

func benchGemmQ(b *testing.B, m, n, k int) {
	if !UseQ() {
		b.Skip("no AVX-512 VNNI on this CPU")
	}
	r := rand.New(rand.NewPCG(1, 1))
	a := randSlice(r, m*k)
	qa := make([]uint8, len(a))
	sa := QuantizeActivations(qa, a)
	q := Quantize(Pack(true, k, n, 1, randSlice(r, n*k), k))
	c := make([]float32, m*q.PaddedN())
	b.SetBytes(int64(2 * m * n * k)) // reported MB/s is MFLOP/s (MOP/s)
	for b.Loop() {
		GemmQ(m, qa, k, sa, q, c, q.PaddedN(), false)
	}
}

// The encoder shapes of BenchmarkGemmPackedConv32/64, in INT8.
func BenchmarkGemmQConv32(b *testing.B) { benchGemmQ(b, 96, 32, 96) }
func BenchmarkGemmQConv64(b *testing.B) { benchGemmQ(b, 96, 64, 192) }

// The SIMD passes of QuantizeActivations agree with the scalar ones on every
// length (SIMD body plus scalar tail) and on hostile values.
func TestQuantizeActivationsSIMDMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 15, 16, 17, 100, 1000} {
		src := make([]float32, n)
		for i := range src {
			src[i] = (r.Float32()*2 - 1) * 7
		}
		if n > 3 {
			src[1], src[2] = float32(math.NaN()), float32(math.Inf(-1))
		}
		if got, want := maxAbs(src), maxAbsGo(src); got != want {
			t.Fatalf("n=%d: maxAbs %v, scalar %v", n, got, want)
		}
		inv := float32(127 / 7.0)
		got, want := make([]uint8, n), make([]uint8, n)
		quantU8(got, src, inv)
		quantU8Go(want, src, inv)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n=%d: q(%v) = %d, scalar %d", n, src[i], got[i], want[i])
			}
		}
	}
}

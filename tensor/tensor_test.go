package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func naiveGemm(transB bool, m, n, k int, a, b []float32) []float32 {
	c := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += float64(a[i*k+p]) * float64(bv)
			}
			c[i*n+j] = float32(s)
		}
	}
	return c
}

func TestGemmMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 64, 64}, {5, 129, 3}} {
		for _, tb := range []bool{false, true} {
			a := make([]float32, tc.m*tc.k)
			b := make([]float32, tc.k*tc.n)
			for i := range a {
				a[i] = r.Float32()*2 - 1
			}
			for i := range b {
				b[i] = r.Float32()*2 - 1
			}
			ldb := tc.n
			if tb {
				ldb = tc.k
			}
			c := make([]float32, tc.m*tc.n)
			Gemm(tb, tc.m, tc.n, tc.k, 1, a, tc.k, b, ldb, 0, c, tc.n)
			want := naiveGemm(tb, tc.m, tc.n, tc.k, a, b)
			for i := range c {
				if math.Abs(float64(c[i]-want[i])) > 1e-4 {
					t.Fatalf("m=%d n=%d k=%d transB=%v: c[%d]=%v want %v", tc.m, tc.n, tc.k, tb, i, c[i], want[i])
				}
			}
		}
	}
}

func BenchmarkGemm256(b *testing.B) {
	const n = 256
	x := make([]float32, n*n)
	y := make([]float32, n*n)
	z := make([]float32, n*n)
	for i := range x {
		x[i], y[i] = float32(i%7), float32(i%5)
	}
	b.SetBytes(2 * n * n * n) // reported MB/s is MFLOP/s
	for b.Loop() {
		Gemm(false, n, n, n, 1, x, n, y, n, 0, z, n)
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

func TestGemmPackedReadsOverlappingRows(t *testing.T) {
	// A convolution reads row i of A as x[i*stride : i*stride+k]: rows overlap.
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ m, n, k, lda int }{{6, 16, 5, 1}, {13, 70, 129, 1}, {96, 80, 129, 1}, {108, 48, 96, 32}, {30, 64, 3, 1}, {25, 32, 96, 32}, {7, 64, 384, 64}, {1, 3, 2, 2}} {
		x := randSlice(r, (tc.m-1)*tc.lda+tc.k)
		w := randSlice(r, tc.n*tc.k) // [n][k] like a PyTorch weight
		p := Pack(true, tc.k, tc.n, 1, w, tc.k)
		ldc := p.PaddedN()
		c := make([]float32, tc.m*ldc)
		for _, acc := range []bool{false, true} {
			GemmPacked(tc.m, x, tc.lda, p, c, ldc, acc)
		}
		for i := 0; i < tc.m; i++ {
			for j := 0; j < ldc; j++ {
				var want float64
				if j < tc.n {
					for q := 0; q < tc.k; q++ {
						want += float64(x[i*tc.lda+q]) * float64(w[j*tc.k+q])
					}
				}
				want *= 2 // computed, then accumulated once more
				if d := math.Abs(float64(c[i*ldc+j]) - want); d > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%+v: c[%d][%d]=%v want %v", tc, i, j, c[i*ldc+j], want)
				}
			}
		}
	}
}

func TestKernelsMatchPortableVersions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 2, 3, 17, 128} {
		a := randSlice(r, 5*k+k)
		b := randSlice(r, 16*k)
		c0 := randSlice(r, 6*16)
		for _, acc := range []bool{false, true} {
			got := append([]float32(nil), c0...)
			want := append([]float32(nil), c0...)
			kern6x16(k, a, k, b, got, 16, acc)
			kern6x16Go(k, a, k, b, want, 16, acc)
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-4 {
					t.Fatalf("6x16 k=%d acc=%v: [%d] %v vs %v", k, acc, i, got[i], want[i])
				}
			}
			if useAVX512 {
				c2 := randSlice(r, 6*32)
				b2 := randSlice(r, 16*k)
				got2 := append([]float32(nil), c2...)
				want2 := append([]float32(nil), c2...)
				kern6x32(k, a, k, b, b2, got2, 32, acc)
				kern6x16Go(k, a, k, b, want2, 32, acc)
				kern6x16Go(k, a, k, b2, want2[16:], 32, acc)
				for i := range got2 {
					if math.Abs(float64(got2[i]-want2[i])) > 1e-4 {
						t.Fatalf("6x32 k=%d acc=%v: [%d] %v vs %v", k, acc, i, got2[i], want2[i])
					}
				}
			}
			if useAVX512 {
				a12 := randSlice(r, 11*k+k)
				c12 := randSlice(r, 12*32)
				b2 := randSlice(r, 16*k)
				got12 := append([]float32(nil), c12...)
				want12 := append([]float32(nil), c12...)
				kern12x32(k, a12, k, b, b2, got12, 32, acc)
				for half := range 2 {
					kern6x16Go(k, a12[half*6*k:], k, b, want12[half*6*32:], 32, acc)
					kern6x16Go(k, a12[half*6*k:], k, b2, want12[half*6*32+16:], 32, acc)
				}
				for i := range got12 {
					if math.Abs(float64(got12[i]-want12[i])) > 1e-4 {
						t.Fatalf("12x32 k=%d acc=%v: [%d] %v vs %v", k, acc, i, got12[i], want12[i])
					}
				}
			}
			got1 := append([]float32(nil), c0[:16]...)
			want1 := append([]float32(nil), c0[:16]...)
			kern1x16(k, a[:k], b, got1, acc)
			kern1x16Go(k, a[:k], b, want1, acc)
			for i := range got1 {
				if math.Abs(float64(got1[i]-want1[i])) > 1e-4 {
					t.Fatalf("1x16 k=%d acc=%v: [%d] %v vs %v", k, acc, i, got1[i], want1[i])
				}
			}
		}
	}
}

func TestGemmScalesAndStridesLargeProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ m, n, k int }{{100, 70, 129}, {6, 8, 400}, {61, 33, 50}} {
		for _, tb := range []bool{false, true} {
			a := randSlice(r, tc.m*tc.k)
			b := randSlice(r, tc.k*tc.n)
			ldb := tc.n
			if tb {
				ldb = tc.k
			}
			ldc := tc.n + 3
			c := randSlice(r, tc.m*ldc)
			orig := append([]float32(nil), c...)
			Gemm(tb, tc.m, tc.n, tc.k, 0.5, a, tc.k, b, ldb, 2, c, ldc)
			want := naiveGemm(tb, tc.m, tc.n, tc.k, a, b)
			for i := 0; i < tc.m; i++ {
				for j := 0; j < ldc; j++ {
					w := orig[i*ldc+j] // padding columns untouched
					if j < tc.n {
						w = 0.5*want[i*tc.n+j] + 2*orig[i*ldc+j]
					}
					if math.Abs(float64(c[i*ldc+j]-w)) > 1e-3 {
						t.Fatalf("%+v transB=%v: c[%d][%d]=%v want %v", tc, tb, i, j, c[i*ldc+j], w)
					}
				}
			}
		}
	}
}

func TestParallelForVisitsEveryIndexOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 7} {
		seen := make([]int32, 1000)
		ParallelFor(len(seen), workers, func(w, i int) {
			if w < 0 || w >= workers {
				t.Errorf("worker %d out of range", w)
			}
			seen[i]++
		})
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("workers=%d: index %d visited %d times", workers, i, s)
			}
		}
	}
}

func benchGemmPacked(b *testing.B, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a := randSlice(r, m*k)
	p := Pack(true, k, n, 1, randSlice(r, n*k), k)
	c := make([]float32, m*p.PaddedN())
	b.SetBytes(int64(2 * m * n * k)) // reported MB/s is MFLOP/s
	for b.Loop() {
		GemmPacked(m, a, k, p, c, p.PaddedN(), false)
	}
}

// Shapes of AASIST's encoder convolutions: positions × output channels × 3·Cin.
func BenchmarkGemmPackedConv32(b *testing.B) { benchGemmPacked(b, 96, 32, 96) }
func BenchmarkGemmPackedConv64(b *testing.B) { benchGemmPacked(b, 96, 64, 192) }
func BenchmarkGemmPackedSinc(b *testing.B)   { benchGemmPacked(b, 96, 70, 129) }

func BenchmarkGemm64x64x64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y, z := randSlice(r, 64*64), randSlice(r, 64*64), make([]float32, 64*64)
	b.SetBytes(2 * 64 * 64 * 64)
	for b.Loop() {
		Gemm(true, 64, 64, 64, 1, x, 64, y, 64, 0, z, 64)
	}
}

func TestSELUShiftMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	shift := randSlice(r, 32)
	x := make([]float32, 32*50)
	for i := range x {
		x[i] = (r.Float32()*2 - 1) * float32([]float64{1e-6, 0.01, 1, 10, 100}[i%5])
	}
	x[0], x[1], x[2] = -200, 0, float32(math.Copysign(0, -1))
	// Rows of 32 take the widest SIMD path, rows of 8 the AVX2 one, rows of 5
	// the scalar loop.
	for _, c := range []int{32, 8, 5} {
		got := append([]float32(nil), x[:c*(len(x)/c)]...)
		sh := shift[:c]
		SELUShift(got, sh)
		for i := range got {
			w := seluRef(x[i] + sh[i%c])
			if d := math.Abs(float64(got[i] - w)); d > 4e-7*(1+math.Abs(float64(w))) {
				t.Fatalf("c=%d x[%d]: got %v, want %v", c, i, got[i], w)
			}
		}
	}
}

func BenchmarkSELUShift(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, shift := randSlice(r, 102*64), randSlice(r, 64)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		SELUShift(x, shift)
		SELUShift(x, shift) // keep values bounded
	}
}

func seluRef(x float32) float32 {
	if x > 0 {
		return float32(SELUScale * float64(x))
	}
	return float32(SELUScale * SELUAlpha * math.Expm1(float64(x)))
}

func TestScalarActivationsMatchFloat64(t *testing.T) {
	for _, x := range []float32{0, -0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-3, -1e-3, 0.1, -0.5, 0.6931, 1, -1, 3, -7.5, 9, -20, 40, -87.5, -200, 200} {
		if got, want := Tanh(x), float32(math.Tanh(float64(x))); math.Abs(float64(got-want)) > 2e-7*max(1, math.Abs(float64(want))) ||
			(math.Abs(float64(x)) < 1e-3 && math.Abs(float64(got-want)) > 1e-6*math.Abs(float64(want))) {
			t.Errorf("Tanh(%v) = %v, want %v", x, got, want)
		}
		if got, want := SELU(x), seluRef(x); math.Abs(float64(got-want)) > 3e-7*max(1, math.Abs(float64(want))) {
			t.Errorf("SELU(%v) = %v, want %v", x, got, want)
		}
	}
	if v := Tanh(float32(math.NaN())); v == v {
		t.Errorf("Tanh(NaN) = %v", v)
	}
}

func TestMaxPool3BiasMatchesLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range []int{8, 24, 64, 5} {
		groups := 7
		src := randSlice(r, (3*groups+2)*c) // trailing rows are ignored
		bias := randSlice(r, c)
		dst := make([]float32, groups*c)
		MaxPool3Bias(dst, src, bias, groups)
		for g := range groups {
			for i := range c {
				want := max(src[3*g*c+i], src[(3*g+1)*c+i], src[(3*g+2)*c+i]) + bias[i]
				if dst[g*c+i] != want {
					t.Fatalf("c=%d dst[%d][%d]=%v want %v", c, g, i, dst[g*c+i], want)
				}
			}
		}
	}
}

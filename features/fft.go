package features

import "math"

// fft is an in-place iterative radix-2 complex FFT of a fixed power-of-two
// size with precomputed twiddles and bit-reversal table.
type fft struct {
	n      int
	rev    []int
	cosTab []float32 // cos(2*pi*k/n), k < n/2
	sinTab []float32 // -sin(2*pi*k/n)
}

func newFFT(n int) *fft {
	if n&(n-1) != 0 || n < 2 {
		panic("features: FFT size must be a power of two")
	}
	f := &fft{n: n, rev: make([]int, n), cosTab: make([]float32, n/2), sinTab: make([]float32, n/2)}
	bits := 0
	for 1<<bits < n {
		bits++
	}
	for i := range f.rev {
		r := 0
		for b := 0; b < bits; b++ {
			if i&(1<<b) != 0 {
				r |= 1 << (bits - 1 - b)
			}
		}
		f.rev[i] = r
	}
	for k := 0; k < n/2; k++ {
		a := 2 * math.Pi * float64(k) / float64(n)
		f.cosTab[k] = float32(math.Cos(a))
		f.sinTab[k] = float32(-math.Sin(a))
	}
	return f
}

// transform computes X[k] = sum_t x[t] exp(-2*pi*i*k*t/n) in place over
// (re, im), both of length n.
func (f *fft) transform(re, im []float32) {
	n := f.n
	re, im = re[:n], im[:n]
	for i, j := range f.rev {
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half := size >> 1
		step := n / size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				wr, wi := f.cosTab[k*step], f.sinTab[k*step]
				a, b := start+k, start+k+half
				tr := wr*re[b] - wi*im[b]
				ti := wr*im[b] + wi*re[b]
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a] += tr
				im[a] += ti
			}
		}
	}
}

package replay

import "math"

// fft is an in-place iterative radix-2 complex FFT of one fixed size. It is
// built once per Compute call (a few kilobytes of tables), so that no table
// lives in package state.
type fft struct {
	n    int
	rev  []int     // bit-reversal permutation, len n
	cos  []float64 // cos(2πk/n), k < n/2
	sin  []float64 // -sin(2πk/n), k < n/2 (forward transform sign)
	re   []float64 // work buffer, len n
	im   []float64 // work buffer, len n
	bits int
}

// newFFT returns a transform of size n, which must be a power of two >= 2.
func newFFT(n int) *fft {
	bits := 0
	for 1<<bits < n {
		bits++
	}
	if 1<<bits != n || n < 2 {
		panic("replay: fft size must be a power of two")
	}
	f := &fft{n: n, bits: bits,
		rev: make([]int, n), cos: make([]float64, n/2), sin: make([]float64, n/2),
		re: make([]float64, n), im: make([]float64, n)}
	for i := range n {
		r := 0
		for b := range bits {
			if i&(1<<b) != 0 {
				r |= 1 << (bits - 1 - b)
			}
		}
		f.rev[i] = r
	}
	for k := range n / 2 {
		a := 2 * math.Pi * float64(k) / float64(n)
		f.cos[k] = math.Cos(a)
		f.sin[k] = -math.Sin(a)
	}
	return f
}

// power transforms the real frame x (len n) and writes |X[k]|² for
// k in [0, len(dst)) into dst; len(dst) must be <= n/2+1.
func (f *fft) power(x []float64, dst []float64) {
	n := f.n
	for i, r := range f.rev {
		f.re[r] = x[i]
		f.im[r] = 0
	}
	re, im := f.re, f.im
	for size := 2; size <= n; size <<= 1 {
		half := size >> 1
		step := n / size
		for start := 0; start < n; start += size {
			for k := range half {
				wr, wi := f.cos[k*step], f.sin[k*step]
				a, b := start+k, start+k+half
				tr := wr*re[b] - wi*im[b]
				ti := wr*im[b] + wi*re[b]
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a], im[a] = re[a]+tr, im[a]+ti
			}
		}
	}
	for k := range dst {
		dst[k] = re[k]*re[k] + im[k]*im[k]
	}
}

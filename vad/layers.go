package vad

import (
	"math"

	"voxgate/tensor"
)

// state is the per-stream memory: the recurrent state (context samples, LSTM
// h and c) plus scratch buffers for every layer, so a step allocates nothing.
// Activations are time-major ([frames][channels]) with one zero row before
// and after the frames, so each convolution window is contiguous memory.
type state struct {
	x     [padLen]float32              // [0:64] context, [64:576] chunk, [576:640] reflection pad
	re    [nFFT / 2]float64            // FFT scratch, real parts
	im    [nFFT / 2]float64            // FFT scratch, imaginary parts
	stft  [nFrames * 2 * nBins]float32 // basis path: [4 frames][258] real then imaginary
	spec  [(nFrames + 2) * nBins]float32
	a1    [(4 + 2) * 128]float32 // conv1 out: 4 frames x 128
	a2    [(2 + 2) * 64]float32  // conv2 out: 2 frames x 64
	a3    [(1 + 2) * 64]float32  // conv3 out: 1 frame x 64
	xh    [2 * hidden]float32    // [conv4 out = LSTM input (128); h (128)]
	c     [hidden]float32        // LSTM cell state
	gates [4 * hidden]float32
}

func (m *Model) getState() *state {
	s, ok := m.pool.Get().(*state)
	if !ok {
		return new(state)
	}
	s.reset()
	return s
}

// reset clears the recurrent state; scratch buffers are overwritten by every
// step (their zero padding rows are never written).
func (s *state) reset() {
	clear(s.x[:ContextSize])
	clear(s.xh[hidden:])
	clear(s.c[:])
}

// step runs the network on one chunk of at most ChunkSize samples (a short
// chunk is zero-padded) and returns its speech probability.
func (m *Model) step(s *state, chunk []float32) float32 {
	n := copy(s.x[ContextSize:windowLen], chunk)
	clear(s.x[ContextSize+n : windowLen])
	// Reflection padding on the right, edge sample excluded:
	// x[575+1+j] = x[575-1-j].
	for j := 0; j < nFFT/4; j++ {
		s.x[windowLen+j] = s.x[windowLen-2-j]
	}
	m.spectrum(s)
	m.convs[0].apply(s.a1[128:], s.spec[:])
	m.convs[1].apply(s.a2[64:], s.a1[:])
	m.convs[2].apply(s.a3[64:], s.a2[:])
	m.convs[3].apply(s.xh[:hidden], s.a3[:])
	copy(s.x[:ContextSize], s.x[windowLen-ContextSize:windowLen])

	// LSTM cell: gates[512] = wCat · [x; h] + b, order i, f, g, o.
	copy(s.gates[:], m.bias)
	tensor.GemmPacked(1, s.xh[:], 2*hidden, m.lstm, s.gates[:], 4*hidden, true)
	z := float64(m.outB)
	for j := 0; j < hidden; j++ {
		i := sigmoid(s.gates[j])
		f := sigmoid(s.gates[hidden+j])
		g := tanh(s.gates[2*hidden+j])
		o := sigmoid(s.gates[3*hidden+j])
		c := f*s.c[j] + i*g
		h := o * tanh(c)
		s.c[j] = c
		s.xh[hidden+j] = h
		// Output head: ReLU, Conv1d 128->1 (kernel 1), sigmoid. The
		// encoder leaves one frame, so the mean over time is that frame.
		if h > 0 {
			z += float64(m.outW[j]) * float64(h)
		}
	}
	return float32(1 / (1 + math.Exp(-z)))
}

// spectrum fills s.spec rows 1..4 with the STFT magnitudes [4][129] of the
// padded window s.x.
func (m *Model) spectrum(s *state) {
	if m.fft != nil {
		for f := 0; f < nFrames; f++ {
			m.fft.magnitudes(s.spec[(f+1)*nBins:(f+2)*nBins], s.x[f*hop:f*hop+nFFT], &s.re, &s.im)
		}
		return
	}
	// Frames overlap: frame f is x[128f : 128f+256], so A is x itself
	// with row stride hop. stft[4][258] = frames[4][256] · basisᵀ.
	tensor.Gemm(true, nFrames, 2*nBins, nFFT, 1, s.x[:], hop, m.basis, nFFT, 0, s.stft[:], 2*nBins)
	for f := 0; f < nFrames; f++ {
		row := s.stft[f*2*nBins : (f+1)*2*nBins]
		dst := s.spec[(f+1)*nBins : (f+2)*nBins]
		for k := range dst {
			re, im := row[k], row[nBins+k]
			dst[k] = float32(math.Sqrt(float64(re*re + im*im)))
		}
	}
}

// conv is a Conv1d with kernel 3, padding 1, followed by ReLU, run as a
// product of time-major activations with packed weights.
type conv struct {
	in, out, stride int
	tIn             int       // input frames per chunk
	b               []float32 // [out]
	// packs holds the weights as k×out matrices (k = taps·in, rows in
	// [tap][in] order) packed for tensor.GemmPacked, one per run of
	// taps (first tap, count) that the layer's fixed input length uses:
	// all three inside, fewer where the window overlaps the padding.
	packs [3][4]*tensor.Packed // [first tap][tap count]
}

// newConv takes PyTorch weights w [out][in][3] for an input of tIn frames.
func newConv(in, out, stride, tIn int, w, b []float32) conv {
	c := conv{in: in, out: out, stride: stride, tIn: tIn, b: append([]float32(nil), b...)}
	for t := 0; t < c.outFrames(); t++ {
		tap0, taps := c.window(t)
		if c.packs[tap0][taps] != nil {
			continue
		}
		// wt [out][taps][in] is the transposed k×out matrix.
		wt := make([]float32, out*taps*in)
		for o := 0; o < out; o++ {
			for k := 0; k < taps; k++ {
				for i := 0; i < in; i++ {
					wt[(o*taps+k)*in+i] = w[(o*in+i)*3+tap0+k]
				}
			}
		}
		c.packs[tap0][taps] = tensor.Pack(true, taps*in, out, 1, wt, taps*in)
	}
	return c
}

func (c *conv) outFrames() int { return (c.tIn-1)/c.stride + 1 }

// window returns the taps of output frame t that fall on real input
// frames: the first tap (0..2) and how many. In padded coordinates the
// frame reads rows t*stride .. t*stride+2, and rows 0 and tIn+1 are padding.
func (c *conv) window(t int) (tap0, taps int) {
	base := t * c.stride
	r0, r1 := max(base, 1), min(base+2, c.tIn)
	return r0 - base, r1 - r0 + 1
}

// apply computes dst[tOut][out] = ReLU(conv(src)) where src is time-major
// [tIn+2][in] with zero rows 0 and tIn+1 (the padding). Taps that fall on
// padding are skipped rather than multiplied by zeros, and a run of output
// frames with the same taps is one product: their windows are rows of src
// with stride stride*in, overlapping when stride < 3.
func (c *conv) apply(dst, src []float32) {
	tOut := c.outFrames()
	for t := 0; t < tOut; {
		tap0, taps := c.window(t)
		run := 1
		for t+run < tOut {
			if a, n := c.window(t + run); a != tap0 || n != taps {
				break
			}
			run++
		}
		out := dst[t*c.out : (t+run)*c.out]
		for r := 0; r < run; r++ {
			copy(out[r*c.out:], c.b)
		}
		r0 := t*c.stride + tap0
		tensor.GemmPacked(run, src[r0*c.in:], c.stride*c.in, c.packs[tap0][taps], out, c.out, true)
		t += run
	}
	for i, v := range dst[:tOut*c.out] {
		if v < 0 {
			dst[i] = 0
		}
	}
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// tanh uses tanh(x) = 2σ(2x) - 1: one exponential, exact enough in float64.
func tanh(x float32) float32 { return float32(2/(1+math.Exp(-2*float64(x))) - 1) }

// fft computes the magnitudes of a 256-point real DFT with the periodic
// Hann window folded in, used for the STFT when the model's basis is exactly
// that transform (upstream Silero's is). The 256 real samples are packed as
// 128 complex ones (even + i·odd), transformed by a radix-2 FFT and split
// back into bins 0..128: about 10k flops per frame instead of the 66k
// multiply-adds of the basis product.
type fft struct {
	window [nFFT]float64
	twr    [nFFT/2 - 1]float64 // stage twiddles: for half-size h, e^{-iπk/h} at [h-1+k], k < h
	twi    [nFFT/2 - 1]float64
	cos    [nBins]float64  // cos(2πk/256), for the real split
	sin    [nBins]float64  // sin(2πk/256)
	rev    [nFFT / 2]uint8 // 7-bit bit-reversal permutation
}

func newFFT() *fft {
	f := &fft{}
	for i := range f.window {
		f.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/nFFT)
	}
	for h := 1; h < nFFT/2; h <<= 1 {
		for k := 0; k < h; k++ {
			f.twr[h-1+k] = math.Cos(math.Pi * float64(k) / float64(h))
			f.twi[h-1+k] = -math.Sin(math.Pi * float64(k) / float64(h))
		}
	}
	for k := range f.cos {
		f.cos[k] = math.Cos(2 * math.Pi * float64(k) / nFFT)
		f.sin[k] = math.Sin(2 * math.Pi * float64(k) / nFFT)
	}
	for i := range f.rev {
		r := 0
		for b := 0; b < 7; b++ {
			r |= (i >> b & 1) << (6 - b)
		}
		f.rev[i] = uint8(r)
	}
	return f
}

// magnitudes writes |DFT(window·x)| for bins 0..128 into dst (129 values);
// x holds 256 samples, re and im are scratch.
func (f *fft) magnitudes(dst []float32, x []float32, re, im *[nFFT / 2]float64) {
	const n = nFFT / 2
	x = x[:nFFT]
	dst = dst[:nBins]
	for i := 0; i < n; i++ {
		j := f.rev[i&(n-1)]
		re[j] = f.window[2*i] * float64(x[2*i])
		im[j] = f.window[2*i+1] * float64(x[2*i+1])
	}
	// Stage of size 2: the twiddle is 1.
	for a := 0; a < n; a += 2 {
		re[a], re[a+1] = re[a]+re[a+1], re[a]-re[a+1]
		im[a], im[a+1] = im[a]+im[a+1], im[a]-im[a+1]
	}
	// Remaining stages, twiddle-major so each twiddle is loaded once and
	// the inner loop runs over the n/2h butterflies that share it.
	for h := 2; h < n; h <<= 1 {
		twr, twi := f.twr[h-1:2*h-1], f.twi[h-1:2*h-1]
		for k := 0; k < h; k++ {
			wr, wi := twr[k], twi[k]
			for a := k; a < n; a += 2 * h {
				b := (a + h) & (n - 1)
				tr := wr*re[b] - wi*im[b]
				ti := wr*im[b] + wi*re[b]
				re[b], im[b] = re[a&(n-1)]-tr, im[a&(n-1)]-ti
				re[a&(n-1)], im[a&(n-1)] = re[a&(n-1)]+tr, im[a&(n-1)]+ti
			}
		}
	}
	// Split: with Z the 128-point transform, E = (Z[k] + conj Z[128-k])/2
	// is the DFT of the even samples and O = (Z[k] - conj Z[128-k])/2i of
	// the odd ones, and X[k] = E + e^{-2πik/256}·O.
	for k := 0; k < nBins; k++ {
		k1, k2 := k&(n-1), (n-k)&(n-1)
		zr, zi := re[k1], im[k1]
		cr, ci := re[k2], -im[k2]
		er, ei := (zr+cr)/2, (zi+ci)/2
		or, oi := (zi-ci)/2, (cr-zr)/2
		c, s := f.cos[k], f.sin[k]
		xr := er + c*or + s*oi
		xi := ei + c*oi - s*or
		dst[k] = float32(math.Sqrt(xr*xr + xi*xi))
	}
}

// isHannDFT reports whether basis [258][256] is the periodic-Hann-windowed
// DFT: rows k = w·cos(2πkn/256), rows 129+k = -w·sin(2πkn/256).
func isHannDFT(basis []float32) bool {
	const tol = 1e-6
	for k := 0; k < nBins; k++ {
		for n := 0; n < nFFT; n++ {
			w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/nFFT)
			ph := 2 * math.Pi * float64(k*n%nFFT) / nFFT
			if math.Abs(float64(basis[k*nFFT+n])-w*math.Cos(ph)) > tol ||
				math.Abs(float64(basis[(nBins+k)*nFFT+n])+w*math.Sin(ph)) > tol {
				return false
			}
		}
	}
	return true
}

package antispoof

import (
	"math"

	"voxgate/tensor"
)

// frontEnd is AASIST's first stage: a bank of fixed sinc band-pass filters
// over the raw waveform (no padding, stride 1), |x|, a 3×3 max-pool over
// (filter, time), then BatchNorm2d with one channel and SELU. Its output is
// the one-channel "image" the encoder reads: rows are the pooled filters
// (frequency), columns the pooled time steps.
type frontEnd struct {
	taps    int            // kernel length (odd)
	filters int            // number of band-pass filters
	bank    *tensor.Packed // B[tap][column], filters reordered (see newFrontEnd)
	seg     int            // pooled filters rounded up to 8: column stride of a filter group
	bnScale float32        // first_bn, folded
	bnShift [8]float32     // the same shift, once per SIMD lane
}

// Pooled time columns per parallel task: 3*frontChunk conv positions, a
// multiple of the matrix kernel's 6 rows.
const frontChunk = 32

// sincBank builds the authors' filters: n band-pass filters whose band edges
// are equally spaced on the mel scale between 0 and 8 kHz (from a 512-point
// FFT grid), each the difference of two ideal low-pass sinc responses,
// windowed by a Hamming window. Returns [n][taps] in float32, computed in
// float64 as numpy does before PyTorch's float32 conversion.
func sincBank(n, taps int, sampleRate float64) []float32 {
	toMel := func(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }
	toHz := func(mel float64) float64 { return 700 * (math.Pow(10, mel/2595) - 1) }
	// f = sr/2 * linspace(0, 1, 257): the mel range is mel(0) .. mel(sr/2).
	melMin, melMax := toMel(0), toMel(float64(int(sampleRate/2)))
	edges := make([]float64, n+1)
	step := (melMax - melMin) / float64(n)
	for i := range edges {
		edges[i] = toHz(melMin + float64(i)*step)
	}
	edges[n] = toHz(melMax)
	sinc := func(x float64) float64 {
		if x == 0 {
			return 1
		}
		return math.Sin(math.Pi*x) / (math.Pi * x)
	}
	half := float64(taps-1) / 2
	out := make([]float32, n*taps)
	for i := range n {
		lo, hi := edges[i], edges[i+1]
		for k := range taps {
			t := float64(k) - half
			ideal := 2*hi/sampleRate*sinc(2*hi*t/sampleRate) - 2*lo/sampleRate*sinc(2*lo*t/sampleRate)
			hamming := 0.54 - 0.46*math.Cos(2*math.Pi*float64(k)/float64(taps-1))
			out[i*taps+k] = float32(hamming) * float32(ideal)
		}
	}
	return out
}

func newFrontEnd(cfg Config, sd weights) (*frontEnd, error) {
	taps := cfg.FirstConv
	if taps%2 == 0 {
		taps++ // the authors force a symmetric, odd-length filter
	}
	f := &frontEnd{taps: taps, filters: cfg.SincFilters}
	bank := sincBank(cfg.SincFilters, taps, 16000)
	// Reorder the filters so that the three the frequency pooling joins sit
	// one segment apart: filter 3r+k goes to column k*seg+r. Filters past the
	// last whole group of three never reach the output and are dropped.
	f.seg = (f.filters/3 + 7) / 8 * 8
	cols := make([]float32, 3*f.seg*taps) // [column][tap], used transposed
	for r := range f.filters / 3 {
		for k := range 3 {
			copy(cols[(k*f.seg+r)*taps:(k*f.seg+r+1)*taps], bank[(3*r+k)*taps:(3*r+k+1)*taps])
		}
	}
	f.bank = tensor.Pack(true, taps, 3*f.seg, 1, cols, taps)
	scale, shift, err := sd.batchNorm("first_bn", 1)
	if err != nil {
		return nil, err
	}
	f.bnScale = scale[0]
	for i := range f.bnShift {
		f.bnShift[i] = shift[0]
	}
	return f, nil
}

// outShape is the encoder input's rows and columns for an n-sample window.
func (f *frontEnd) outShape(n int) (h, w int) {
	return f.filters / 3, (n - f.taps + 1) / 3
}

// paddedLen is how long the zero-padded waveform buffer must be: the last
// chunk computes whole 6-row tiles past the end.
func (f *frontEnd) paddedLen(n int) int {
	_, w := f.outShape(n)
	chunks := (w + frontChunk - 1) / frontChunk
	return chunks*3*frontChunk + f.taps
}

// forward filters x (len paddedLen, zero past the window) into out (one
// channel). scratch holds one frontScratchLen buffer per worker.
func (f *frontEnd) forward(x []float32, out *fmap, scratch [][]float32) {
	chunks := (out.w + frontChunk - 1) / frontChunk
	ld := f.bank.PaddedN()
	seg := f.seg
	tensor.ParallelFor(chunks, len(scratch), func(worker, i int) {
		tile := scratch[worker][:3*frontChunk*ld]
		pooled := scratch[worker][3*frontChunk*ld:]
		g0 := i * frontChunk
		n := min(frontChunk, out.w-g0)
		// Conv position t reads x[t : t+taps]: rows one sample apart.
		tensor.GemmPacked(3*frontChunk, x[3*g0:], 1, f.bank, tile, ld, false)
		// |x| and 3×3 max-pool: three time steps × the three filters of a
		// group, which sit seg columns apart.
		for g := range n {
			p := pooled[g*seg : (g+1)*seg]
			clear(p)
			for dt := range 3 {
				row := tile[(3*g+dt)*ld:]
				for k := range 3 {
					v := row[k*seg : (k+1)*seg]
					for r := range p {
						p[r] = max(p[r], abs(v[r]))
					}
				}
			}
			for r := range p {
				p[r] *= f.bnScale
			}
		}
		tensor.SELUShift(pooled[:n*seg], f.bnShift[:])
		for g := range n {
			for r := range out.h {
				out.data[out.off(r+1, g0+g+padLeft)] = pooled[g*seg+r]
			}
		}
	})
}

// scratchLen is the length of one worker's buffer: the filter outputs of a
// chunk and its pooled values.
func (f *frontEnd) scratchLen() int {
	return 3*frontChunk*f.bank.PaddedN() + frontChunk*f.seg
}

func abs(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

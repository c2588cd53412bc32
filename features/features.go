// Package features owns the acoustic front end shared by the speaker engine:
// framing of 16 kHz mono audio, log-mel filterbanks, MFCCs, cepstral mean and
// variance normalisation (CMVN), and a simple energy-based speech detector for
// callers that have no external voice-activity mask.
//
// Framing is fixed: 25 ms windows (400 samples) every 10 ms (160 samples) at
// 16 kHz, so frame i covers samples [160*i, 160*i+400). A clip of n >= 400
// samples yields 1 + (n-400)/160 frames; shorter clips yield none. One frame
// therefore lines up with one entry of a 10 ms speech mask.
//
// Every function is deterministic (no dither) and allocation-conscious: a
// Frontend is immutable after construction and safe for concurrent use, and the
// per-call scratch buffers come from a pool.
package features

import (
	"fmt"
	"math"
	"sync"
)

// Fixed framing constants at SampleRate.
const (
	SampleRate = 16000 // Hz
	FrameLen   = 400   // samples per analysis window (25 ms)
	Hop        = 160   // samples between frame starts (10 ms)
	FFTSize    = 512   // zero-padded FFT length
	NumBins    = FFTSize/2 + 1
)

// Config describes a filterbank front end.
type Config struct {
	NumMels int     // mel bands
	LowHz   float64 // lower edge of the first band
	HighHz  float64 // upper edge of the last band (at most 8000)
	PreEmph float32 // pre-emphasis coefficient, 0 disables
}

// DefaultConfig is the configuration the speaker model is trained with:
// 64 mel bands between 20 Hz and 7600 Hz, pre-emphasis 0.97.
var DefaultConfig = Config{NumMels: 64, LowHz: 20, HighHz: 7600, PreEmph: 0.97}

// Frontend computes log-mel filterbank features. It is immutable after New
// and safe for concurrent use.
type Frontend struct {
	cfg    Config
	window [FrameLen]float32 // Hamming window
	// mel filters as sparse rows: filter m covers bins [start[m], start[m]+len(weights[m]))
	start   []int
	weights [][]float32
	fft     *fft
	pool    sync.Pool // *scratch
}

type scratch struct {
	re, im []float32
	frame  []float32
}

// New builds a Frontend for cfg.
func New(cfg Config) (*Frontend, error) {
	if cfg.NumMels <= 0 || cfg.LowHz < 0 || cfg.HighHz <= cfg.LowHz || cfg.HighHz > SampleRate/2 {
		return nil, fmt.Errorf("features: invalid config %+v", cfg)
	}
	f := &Frontend{cfg: cfg, fft: newFFT(FFTSize)}
	for i := range f.window {
		f.window[i] = float32(0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(FrameLen-1)))
	}
	f.start, f.weights = melFilters(cfg)
	for m, w := range f.weights {
		if len(w) == 0 {
			return nil, fmt.Errorf("features: mel band %d of %+v covers no FFT bin", m, cfg)
		}
	}
	f.pool.New = func() any {
		return &scratch{re: make([]float32, FFTSize), im: make([]float32, FFTSize), frame: make([]float32, FrameLen)}
	}
	return f, nil
}

// Config returns the configuration f was built with.
func (f *Frontend) Config() Config { return f.cfg }

// NumFrames returns how many frames a clip of n samples yields.
func NumFrames(n int) int {
	if n < FrameLen {
		return 0
	}
	return 1 + (n-FrameLen)/Hop
}

func hzToMel(hz float64) float64 { return 1127 * math.Log(1+hz/700) }

// melFilters returns triangular filters on the HTK mel scale, evaluated at
// FFT bin centres k*SampleRate/FFTSize, unnormalised (peak 1).
func melFilters(cfg Config) ([]int, [][]float32) {
	lo, hi := hzToMel(cfg.LowHz), hzToMel(cfg.HighHz)
	edges := make([]float64, cfg.NumMels+2)
	for i := range edges {
		edges[i] = lo + (hi-lo)*float64(i)/float64(cfg.NumMels+1)
	}
	start := make([]int, cfg.NumMels)
	weights := make([][]float32, cfg.NumMels)
	for m := 0; m < cfg.NumMels; m++ {
		l, c, r := edges[m], edges[m+1], edges[m+2]
		start[m] = -1
		var w []float32
		for k := 1; k < NumBins; k++ {
			mel := hzToMel(float64(k) * SampleRate / FFTSize)
			var v float64
			switch {
			case mel > l && mel <= c:
				v = (mel - l) / (c - l)
			case mel > c && mel < r:
				v = (r - mel) / (r - c)
			}
			if v > 0 {
				if start[m] < 0 {
					start[m] = k
				}
				// fill any gap (cannot happen for a triangle, kept for safety)
				for start[m]+len(w) < k {
					w = append(w, 0)
				}
				w = append(w, float32(v))
			}
		}
		if start[m] < 0 {
			start[m] = 0
		}
		weights[m] = w
	}
	return start, weights
}

// LogMel computes log-mel energies of samples (16 kHz mono, nominal range
// [-1, 1]). It returns dst resized to [frames][NumMels] row-major, the natural
// log of each band's power plus 1e-6 (so digital silence gives about -13.8),
// and energy (resized to [frames]) holding each frame's log power in dB
// (10*log10 of the mean squared windowed sample, plus 1e-10), which the speech
// detector uses. dst and energy may be nil.
func (f *Frontend) LogMel(dst, energy []float32, samples []float32) ([]float32, []float32) {
	nf := NumFrames(len(samples))
	nm := f.cfg.NumMels
	dst = resize(dst, nf*nm)
	energy = resize(energy, nf)
	s := f.pool.Get().(*scratch)
	defer f.pool.Put(s)
	var power [NumBins]float32
	for t := 0; t < nf; t++ {
		fr := s.frame
		copy(fr, samples[t*Hop:t*Hop+FrameLen])
		// remove the DC offset of the frame
		var mean float32
		for _, v := range fr {
			mean += v
		}
		mean /= FrameLen
		for i := range fr {
			fr[i] -= mean
		}
		// pre-emphasis, backwards so each sample sees its original predecessor;
		// the first sample is emphasised against itself
		if p := f.cfg.PreEmph; p != 0 {
			for i := FrameLen - 1; i > 0; i-- {
				fr[i] -= p * fr[i-1]
			}
			fr[0] -= p * fr[0]
		}
		var e float64
		for i, v := range fr {
			w := v * f.window[i]
			s.re[i] = w
			e += float64(w) * float64(w)
		}
		energy[t] = float32(10 * math.Log10(e/FrameLen+1e-10))
		clear(s.re[FrameLen:])
		clear(s.im)
		f.fft.transform(s.re, s.im)
		for k := 0; k < NumBins; k++ {
			power[k] = s.re[k]*s.re[k] + s.im[k]*s.im[k]
		}
		row := dst[t*nm : (t+1)*nm]
		for m := 0; m < nm; m++ {
			var acc float32
			st := f.start[m]
			for j, w := range f.weights[m] {
				acc += w * power[st+j]
			}
			row[m] = float32(math.Log(float64(acc) + 1e-6))
		}
	}
	return dst, energy
}

// MFCC applies an orthonormal DCT-II to log-mel rows: logmel is
// [frames][nmels], the result dst is [frames][numCeps] holding coefficients
// 0..numCeps-1 (c0 included).
func MFCC(dst, logmel []float32, nmels, numCeps int) []float32 {
	if nmels == 0 {
		return dst[:0]
	}
	nf := len(logmel) / nmels
	dst = resize(dst, nf*numCeps)
	dct := DCTMatrix(nmels, numCeps)
	for t := 0; t < nf; t++ {
		in := logmel[t*nmels : (t+1)*nmels]
		out := dst[t*numCeps : (t+1)*numCeps]
		for c := 0; c < numCeps; c++ {
			var acc float32
			row := dct[c*nmels : (c+1)*nmels]
			for m, v := range in {
				acc += row[m] * v
			}
			out[c] = acc
		}
	}
	return dst
}

// DCTMatrix returns the orthonormal DCT-II basis as [numCeps][n] row-major.
func DCTMatrix(n, numCeps int) []float32 {
	d := make([]float32, numCeps*n)
	for c := 0; c < numCeps; c++ {
		scale := math.Sqrt(2 / float64(n))
		if c == 0 {
			scale = math.Sqrt(1 / float64(n))
		}
		for m := 0; m < n; m++ {
			d[c*n+m] = float32(scale * math.Cos(math.Pi*float64(c)*(float64(m)+0.5)/float64(n)))
		}
	}
	return d
}

// CMVN normalises x ([frames][dim] row-major) in place: each column has its
// mean subtracted and, when variance is true, is divided by its standard
// deviation. Statistics come from the frames where mask is true (all frames
// when mask is nil or selects fewer than two frames).
func CMVN(x []float32, dim int, mask []bool, variance bool) {
	nf := len(x) / dim
	if nf == 0 {
		return
	}
	use := func(t int) bool { return mask == nil || (t < len(mask) && mask[t]) }
	n := 0
	for t := 0; t < nf; t++ {
		if use(t) {
			n++
		}
	}
	if n < 2 {
		mask, n = nil, nf
	}
	sum := make([]float64, 2*dim)
	sq := sum[dim:]
	sum = sum[:dim]
	for t := 0; t < nf; t++ {
		if !use(t) {
			continue
		}
		row := x[t*dim : (t+1)*dim]
		for j, v := range row {
			sum[j] += float64(v)
			sq[j] += float64(v) * float64(v)
		}
	}
	mean := make([]float32, dim)
	inv := make([]float32, dim)
	for j := range mean {
		m := sum[j] / float64(n)
		mean[j] = float32(m)
		inv[j] = 1
		if variance {
			v := sq[j]/float64(n) - m*m
			inv[j] = float32(1 / math.Sqrt(math.Max(v, 1e-8)))
		}
	}
	for t := 0; t < nf; t++ {
		row := x[t*dim : (t+1)*dim]
		for j := range row {
			row[j] = (row[j] - mean[j]) * inv[j]
		}
	}
}

func resize(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

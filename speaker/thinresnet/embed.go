package thinresnet

import (
	"math"
	"math/cmplx"
)

// Front end of the reference (training/eval_eer_vox1.py, torchaudio MelSpectrogram):
// 16 kHz audio, 400-sample periodic Hann window centred in a 512-point frame, hop 160,
// power spectrum, 80 HTK mel bands 20-7600 Hz, log (floor 1e-9).
const (
	SampleRate = 16000
	nFFT       = 512
	winLen     = 400
	hop        = 160
	// SegmentSamples is one network input: 127 frames (a 128th of zeros is added), 1.295 s.
	SegmentSamples = (Frames-1)*hop + winLen
	segHop         = SampleRate / 2
	clipLevel      = 6.8
	trimDB         = 40.0
)

// Embedder turns audio into a unit-length 64-dim embedding. Safe for concurrent use.
type Embedder struct {
	Net *Net
	// Hop is the number of samples between segments; 0 is the reference's 0.5 s. A 1 s hop
	// halves the cost of long audio and measured within 0.005 EER of it on the dev sets
	// (train/speaker/RESULTS.md, sixth round).
	Hop    int
	window [nFFT]float64
	fb     [][]float64 // [Bands][nFFT/2+1]
	lo, hi [Bands]int  // each band's nonzero bins
	tw     []complex128
}

// NewEmbedder prepares the front end for a network.
func NewEmbedder(net *Net) *Embedder {
	e := &Embedder{Net: net}
	off := (nFFT - winLen) / 2
	for i := 0; i < winLen; i++ {
		e.window[off+i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/winLen)
	}
	e.fb = melBank(nFFT/2+1, 20, 7600, Bands, SampleRate)
	for m, row := range e.fb {
		e.lo[m], e.hi[m] = len(row), 0
		for f, w := range row {
			if w != 0 {
				e.lo[m], e.hi[m] = min(e.lo[m], f), f+1
			}
		}
	}
	e.tw = make([]complex128, nFFT/2)
	for k := range e.tw {
		e.tw[k] = cmplx.Exp(complex(0, -2*math.Pi*float64(k)/nFFT))
	}
	return e
}

// melBank is torchaudio.functional.melscale_fbanks(norm=None, mel_scale="htk"), transposed.
func melBank(nFreqs int, fMin, fMax float64, nMels, sr int) [][]float64 {
	mel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	hz := func(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }
	pts := make([]float64, nMels+2)
	for i := range pts {
		pts[i] = hz(mel(fMin) + (mel(fMax)-mel(fMin))*float64(i)/float64(nMels+1))
	}
	fb := make([][]float64, nMels)
	for m := range fb {
		fb[m] = make([]float64, nFreqs)
		for f := range fb[m] {
			freq := float64(sr/2) * float64(f) / float64(nFreqs-1)
			down := (freq - pts[m]) / (pts[m+1] - pts[m])
			up := (pts[m+2] - freq) / (pts[m+2] - pts[m+1])
			fb[m][f] = max(0, min(down, up))
		}
	}
	return fb
}

// Embed returns the embedding of samples (16 kHz) and the seconds of audio it used: the
// audio without its leading and trailing stretches 40 dB below the loudest 25 ms, repeated
// to one segment when shorter, cut into 1.295 s segments every 0.5 s (a last one flush with
// the end; Hop sets the spacing), each segment's int8 output L2-normalised, averaged,
// normalised again.
func (e *Embedder) Embed(samples []float32) ([]float32, float64) {
	wav := trim(samples)
	if len(wav) == 0 {
		return make([]float32, Dim), 0
	}
	secs := float64(len(wav)) / SampleRate
	if len(wav) < SegmentSamples {
		loop := make([]float32, SegmentSamples)
		for i := range loop {
			loop[i] = wav[i%len(wav)]
		}
		wav = loop
	}
	h := e.Hop
	if h <= 0 {
		h = segHop
	}
	var starts []int
	for s := 0; s+SegmentSamples <= len(wav); s += h {
		starts = append(starts, s)
	}
	if tail := len(wav) - SegmentSamples; tail%h > h/2 {
		starts = append(starts, tail)
	}
	sum := make([]float64, Dim)
	x := make([]int8, Bands*Frames)
	frames := map[int][]float64{} // log mel by first sample: segments 0.5 s apart share frames
	for _, s := range starts {
		e.input(x, wav, s, frames)
		y := e.Net.Forward(x, Trained)
		norm := 0.0
		for _, v := range y {
			norm += float64(v) * float64(v)
		}
		norm = math.Sqrt(norm) + 1e-9
		for i, v := range y {
			sum[i] += float64(v) / norm
		}
	}
	out := make([]float32, Dim)
	norm := 0.0
	for _, v := range sum {
		norm += v * v
	}
	norm = math.Sqrt(norm) + 1e-9
	for i, v := range sum {
		out[i] = float32(v / norm)
	}
	return out, secs
}

// Input fills x ([Bands*Frames] int8) from one segment of SegmentSamples samples: log mel,
// each band's mean over the 128 frames subtracted, clipped to +-6.8, scaled by 127/6.8.
func (e *Embedder) Input(x []int8, seg []float32) {
	e.input(x, seg[:SegmentSamples], 0, map[int][]float64{})
}

// input is Input for the segment of wav starting at sample start, taking and leaving
// frames' log mel in cache (by their first sample).
func (e *Embedder) input(x []int8, wav []float32, start int, cache map[int][]float64) {
	feat := make([]float64, Bands*Frames) // band-major; the 128th frame stays 0
	var frame []complex128
	nfr := 1 + (SegmentSamples-nFFT)/hop
	for t := 0; t < nfr && t < Frames; t++ {
		off := start + t*hop
		lm, ok := cache[off]
		if !ok {
			if frame == nil {
				frame = make([]complex128, nFFT)
			}
			for i := range frame {
				frame[i] = complex(float64(wav[off+i])*e.window[i], 0)
			}
			fft(frame, e.tw)
			lm = make([]float64, Bands)
			for m := range lm {
				p := 0.0
				for f := e.lo[m]; f < e.hi[m]; f++ {
					c := frame[f]
					p += e.fb[m][f] * (real(c)*real(c) + imag(c)*imag(c))
				}
				lm[m] = math.Log(max(p, 1e-9))
			}
			cache[off] = lm
		}
		for m, v := range lm {
			feat[m*Frames+t] = v
		}
	}
	for m := 0; m < Bands; m++ {
		row := feat[m*Frames : (m+1)*Frames]
		mean := 0.0
		for _, v := range row {
			mean += v
		}
		mean /= Frames
		for t, v := range row {
			q := math.RoundToEven(min(max(v-mean, -clipLevel), clipLevel) * (127 / clipLevel))
			x[m*Frames+t] = int8(min(max(q, -128), 127))
		}
	}
}

// fft is an in-place radix-2 FFT of len(a) = 2*len(tw) points.
func fft(a []complex128, tw []complex128) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				t := tw[k*step] * a[start+k+half]
				a[start+k+half] = a[start+k] - t
				a[start+k] += t
			}
		}
	}
}

// trim drops the leading and trailing audio quieter than the loudest 400-sample frame
// (hop 160) by 40 dB.
func trim(w []float32) []float32 {
	const frame = 400
	if len(w) < frame {
		return w
	}
	n := 1 + (len(w)-frame)/hop
	e := make([]float64, n)
	top := math.Inf(-1)
	for i := range e {
		s := 0.0
		for _, v := range w[i*hop : i*hop+frame] {
			s += float64(v) * float64(v)
		}
		e[i] = 10 * math.Log10(s/frame+1e-12)
		top = max(top, e[i])
	}
	first, last := -1, -1
	for i, v := range e {
		if v >= top-trimDB {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return w[first*hop : last*hop+frame]
}

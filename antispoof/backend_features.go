package antispoof

import (
	"math"
	"math/cmplx"
	"sort"
)

// Spectral statistics of one analysis window, the hand-made half of the
// back-end's input. They describe what neural vocoders and codecs leave in
// the long-term spectrum, its dynamics and the voice source, which AASIST's
// 2019-era training did not see.
//
// Analysis: 16 kHz audio, 512-sample (32 ms) Hann frames every 256 samples,
// power spectra of 257 bins (31.25 Hz apart). "Active" frames are those
// within 40 dB of the loudest frame; all statistics but the silence ones
// use only active frames. Logarithms of power are floored 50 dB below the
// loudest frame's mean bin power, so that the spectral holes lossy codecs
// cut into quiet bands (MP3 zeroes whole scale-factor bands at low bit
// rates) do not read as huge dynamics.

const (
	specFrame = 512
	specHop   = 256
	specBins  = specFrame/2 + 1
	binHz     = float64(SampleRate) / specFrame // 31.25 Hz

	ltasBands = 16 // 500 Hz each
	dynBands  = 8  // 1 kHz each
	lfccBanks = 20
	lfccCoefs = 12  // c1..c12
	minF0     = 60  // Hz
	maxF0     = 400 // Hz
)

// specFeatureNames lists the statistics specFeatures returns, in order.
var specFeatureNames = func() []string {
	var n []string
	for b := range ltasBands {
		n = append(n, "ltas_"+itoa(b*500)+"_"+itoa((b+1)*500))
	}
	n = append(n, "flatness_mean", "flatness_std", "flux_mean", "flux_std", "highband_ratio_std")
	for b := range dynBands {
		n = append(n, "band_std_"+itoa(b)+"k")
	}
	for b := range dynBands {
		n = append(n, "band_delta_"+itoa(b)+"k")
	}
	for c := 1; c <= lfccCoefs; c++ {
		n = append(n, "lfcc"+itoa(c)+"_mean")
	}
	for c := 1; c <= lfccCoefs; c++ {
		n = append(n, "lfcc"+itoa(c)+"_std")
	}
	n = append(n, "voiced_frac", "f0_std", "f0_jitter", "harmonicity", "silence_frac", "noise_floor_db")
	return n
}()

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// NumSpecFeatures is the length of the vectors specFeatures returns.
var numSpecFeatures = len(specFeatureNames)

// spectrum holds the shared analysis tables; it is read-only after
// newSpectrum and safe for concurrent use.
type spectrum struct {
	window  []float64    // [specFrame] Hann
	winAC   []float64    // [specFrame/2] autocorrelation of the window, normalised to 1 at lag 0
	twiddle []complex128 // [specFrame/2]
	lfcc    [][]float64  // [lfccBanks][specBins] triangular filters on a linear scale
	dct     [][]float64  // [lfccCoefs][lfccBanks] DCT-II rows for c1..c12
}

func newSpectrum() *spectrum {
	s := &spectrum{window: make([]float64, specFrame), twiddle: make([]complex128, specFrame/2)}
	for i := range s.window {
		s.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/specFrame)
	}
	for i := range s.twiddle {
		s.twiddle[i] = cmplx.Exp(complex(0, -2*math.Pi*float64(i)/specFrame))
	}
	s.winAC = make([]float64, specFrame/2)
	for lag := range s.winAC {
		var a float64
		for i := 0; i+lag < specFrame; i++ {
			a += s.window[i] * s.window[i+lag]
		}
		s.winAC[lag] = a
	}
	for lag := len(s.winAC) - 1; lag >= 0; lag-- {
		s.winAC[lag] /= s.winAC[0]
	}
	// Linear triangular filters: centres evenly spaced over 0..8 kHz.
	edges := make([]float64, lfccBanks+2)
	for i := range edges {
		edges[i] = float64(i) * float64(specBins-1) / float64(lfccBanks+1)
	}
	s.lfcc = make([][]float64, lfccBanks)
	for b := range s.lfcc {
		f := make([]float64, specBins)
		lo, c, hi := edges[b], edges[b+1], edges[b+2]
		for k := range f {
			x := float64(k)
			switch {
			case x > lo && x <= c:
				f[k] = (x - lo) / (c - lo)
			case x > c && x < hi:
				f[k] = (hi - x) / (hi - c)
			}
		}
		s.lfcc[b] = f
	}
	s.dct = make([][]float64, lfccCoefs)
	for c := range s.dct {
		row := make([]float64, lfccBanks)
		for b := range row {
			row[b] = math.Cos(math.Pi * float64(c+1) * (float64(b) + 0.5) / lfccBanks)
		}
		s.dct[c] = row
	}
	return s
}

// fft transforms x in place (radix 2, len(x) == specFrame).
func (s *spectrum) fft(x []complex128) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		step := n / size
		for start := 0; start < n; start += size {
			for k := range size / 2 {
				t := s.twiddle[k*step] * x[start+k+size/2]
				x[start+k+size/2] = x[start+k] - t
				x[start+k] += t
			}
		}
	}
}

// frameStats is what one frame contributes.
type frameStats struct {
	energy float64           // total power, linear
	pow    [specBins]float64 // power per bin
	logPow [specBins]float64 // log10 power per bin (floored)
	f0     float64           // Hz; 0 if unvoiced
	peak   float64           // normalised autocorrelation at the pitch lag
}

// features returns the spectral statistics of x (16 kHz, any length; audio
// shorter than one frame is zero-padded), named by specFeatureNames.
func (s *spectrum) features(x []float32) []float64 {
	if len(x) < specFrame {
		p := make([]float32, specFrame)
		copy(p, x)
		x = p
	}
	nf := 1 + (len(x)-specFrame)/specHop
	frames := make([]frameStats, nf)
	buf := make([]complex128, specFrame)
	pow := make([]float64, specBins)
	for f := range frames {
		seg := x[f*specHop : f*specHop+specFrame]
		var mean float64
		for _, v := range seg {
			mean += float64(v)
		}
		mean /= specFrame
		for i, v := range seg {
			buf[i] = complex((float64(v)-mean)*s.window[i], 0)
		}
		s.fft(buf)
		fs := &frames[f]
		for k := range specBins {
			p := real(buf[k])*real(buf[k]) + imag(buf[k])*imag(buf[k])
			pow[k] = p
			fs.pow[k] = p
			fs.energy += p
		}
		fs.f0, fs.peak = s.pitch(buf, pow)
	}

	out := make([]float64, 0, numSpecFeatures)
	maxE := 0.0
	for _, fs := range frames {
		maxE = max(maxE, fs.energy)
	}
	if maxE == 0 { // digital silence
		return make([]float64, numSpecFeatures)
	}
	// Relative floor: 50 dB below the loudest frame's mean bin power.
	floor := maxE / specBins * 1e-5
	for f := range frames {
		fs := &frames[f]
		for k := range specBins {
			fs.pow[k] += floor
			fs.logPow[k] = math.Log10(fs.pow[k])
		}
	}
	var active []*frameStats
	silent := 0
	for i := range frames {
		if frames[i].energy > maxE*1e-4 {
			active = append(active, &frames[i])
		}
		if frames[i].energy <= maxE*1e-5 {
			silent++
		}
	}
	na := float64(len(active))

	// Long-term average spectrum in 500 Hz bands, dB relative to the mean
	// over all bands.
	ltas := make([]float64, ltasBands)
	perBand := (specBins - 1) / ltasBands
	for _, fs := range active {
		for b := range ltasBands {
			for k := b * perBand; k < (b+1)*perBand; k++ {
				ltas[b] += fs.pow[k+1]
			}
		}
	}
	var lmean float64
	for b := range ltas {
		ltas[b] = 10 * math.Log10(ltas[b]/na+floor)
		lmean += ltas[b] / ltasBands
	}
	for b := range ltas {
		out = append(out, ltas[b]-lmean)
	}

	// Flatness, flux and the variability of the share above 4 kHz.
	flat := make([]float64, 0, len(active))
	flux := make([]float64, 0, len(active))
	high := make([]float64, 0, len(active))
	var prev []float64
	for _, fs := range active {
		var lg, ar, hi float64
		for k := 1; k < specBins; k++ {
			p := fs.pow[k]
			lg += fs.logPow[k] * math.Ln10
			ar += p
			if float64(k)*binHz >= 4000 {
				hi += p
			}
		}
		n := float64(specBins - 1)
		flat = append(flat, math.Exp(lg/n)/(ar/n+floor))
		high = append(high, math.Log10(hi/ar+1e-10))
		cur := make([]float64, specBins)
		var norm float64
		for k := range cur {
			cur[k] = math.Sqrt(fs.pow[k])
			norm += cur[k] * cur[k]
		}
		norm = math.Sqrt(norm) + floor
		for k := range cur {
			cur[k] /= norm
		}
		if prev != nil {
			var d float64
			for k := range cur {
				d += (cur[k] - prev[k]) * (cur[k] - prev[k])
			}
			flux = append(flux, math.Sqrt(d))
		}
		prev = cur
	}
	m, sd := meanStd(flat)
	out = append(out, m, sd)
	m, sd = meanStd(flux)
	out = append(out, m, sd)
	_, sd = meanStd(high)
	out = append(out, sd)

	// Dynamics of 1 kHz bands: spread of their log energy over active frames
	// and mean absolute change from frame to frame (dB).
	perDyn := (specBins - 1) / dynBands
	bandLog := make([][]float64, dynBands)
	for _, fs := range active {
		for b := range dynBands {
			var e float64
			for k := b * perDyn; k < (b+1)*perDyn; k++ {
				e += fs.pow[k+1]
			}
			bandLog[b] = append(bandLog[b], 10*math.Log10(e+floor))
		}
	}
	for b := range dynBands {
		_, sd := meanStd(bandLog[b])
		out = append(out, sd)
	}
	for b := range dynBands {
		var d float64
		for i := 1; i < len(bandLog[b]); i++ {
			d += math.Abs(bandLog[b][i] - bandLog[b][i-1])
		}
		out = append(out, d/math.Max(1, float64(len(bandLog[b])-1)))
	}

	// Linear-frequency cepstra c1..c12: mean and spread over active frames.
	cep := make([][]float64, lfccCoefs)
	fb := make([]float64, lfccBanks)
	for _, fs := range active {
		for b, filt := range s.lfcc {
			var e float64
			for k, w := range filt {
				if w != 0 {
					e += w * fs.pow[k]
				}
			}
			fb[b] = math.Log(e + floor)
		}
		for c, row := range s.dct {
			var v float64
			for b, w := range row {
				v += w * fb[b]
			}
			cep[c] = append(cep[c], v)
		}
	}
	stds := make([]float64, lfccCoefs)
	for c := range cep {
		m, sd := meanStd(cep[c])
		out = append(out, m)
		stds[c] = sd
	}
	out = append(out, stds...)

	// Voice source: share of voiced frames, spread of log f0, mean absolute
	// log-f0 change between consecutive voiced frames, mean harmonicity.
	var lf0, jit, peaks []float64
	prevF0 := 0.0
	for _, fs := range active {
		if fs.f0 == 0 {
			prevF0 = 0
			continue
		}
		l := math.Log(fs.f0)
		lf0 = append(lf0, l)
		peaks = append(peaks, fs.peak)
		if prevF0 > 0 {
			jit = append(jit, math.Abs(l-math.Log(prevF0)))
		}
		prevF0 = fs.f0
	}
	_, f0sd := meanStd(lf0)
	jm, _ := meanStd(jit)
	pm, _ := meanStd(peaks)
	out = append(out, float64(len(lf0))/na, f0sd, jm, pm)

	// Silence: share of frames 50 dB below the loudest, and the noise floor
	// (10th percentile frame energy) relative to the loudest, in dB.
	es := make([]float64, len(frames))
	for i, fs := range frames {
		es[i] = fs.energy
	}
	sort.Float64s(es)
	out = append(out, float64(silent)/float64(len(frames)),
		10*math.Log10((es[len(es)/10]+floor)/(maxE+floor)))
	return out
}

// pitch estimates f0 from the autocorrelation of a frame, the inverse
// transform of its power spectrum, corrected for the window's own
// autocorrelation. spec is overwritten. It returns 0 when the best
// normalised peak in 60..400 Hz is below 0.45.
func (s *spectrum) pitch(spec []complex128, pow []float64) (f0, peak float64) {
	for k := range specFrame {
		var p float64
		if k < specBins {
			p = pow[k]
		} else {
			p = pow[specFrame-k]
		}
		spec[k] = complex(p, 0)
	}
	s.fft(spec) // forward transform of a real even sequence = N·IFFT
	r0 := real(spec[0])
	if r0 <= 0 {
		return 0, 0
	}
	lo := SampleRate / maxF0
	hi := min(SampleRate/minF0, specFrame/2-1)
	best, bestLag := 0.0, 0
	for lag := lo; lag <= hi; lag++ {
		v := real(spec[lag]) / r0 / s.winAC[lag]
		if v > best && real(spec[lag]) >= real(spec[lag-1]) && real(spec[lag]) >= real(spec[lag+1]) {
			best, bestLag = v, lag
		}
	}
	if bestLag == 0 || best < 0.45 {
		return 0, best
	}
	return float64(SampleRate) / float64(bestLag), min(best, 1)
}

func meanStd(x []float64) (mean, std float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

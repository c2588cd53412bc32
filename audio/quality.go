package audio

import (
	"math"
	"slices"
)

// Quality summarises the level and cleanliness of a recording.
type Quality struct {
	RMSdBFS  float64 // RMS level, dB relative to a full-scale square wave (a full-scale sine is -3.01); floor -120
	PeakdBFS float64 // largest |sample|, dB relative to full scale; floor -120
	Clipping float64 // fraction of samples at or near full scale (|x| >= ClipLevel), 0..1
	SNRdB    float64 // estimated speech-to-noise ratio, dB, 0..100
}

// Measurement constants.
const (
	// ClipLevel is the |sample| from which a sample counts as clipped:
	// -0.18 dBFS, just under the largest mu-law (0.980) and A-law (0.984)
	// values so that clipped G.711 telephone audio counts too.
	ClipLevel = 0.98
	// MaxSNR caps the SNR estimate, reached when the noise floor is digital
	// silence.
	MaxSNR = 100.0
	// floordB is the level reported for digital silence.
	floordB = -120.0
	// defaultFrame is the analysis frame when Measure is given none:
	// 20 ms at Rate.
	defaultFrame = Rate / 50
)

// Measure reports the level, peak, clipping and SNR of samples (mono, -1..1;
// normally a Clip's 16 kHz samples).
//
// SNR is estimated from the mean energy of frames of frameLen samples
// (default 320, 20 ms at 16 kHz; a trailing partial frame is ignored):
//
//   - with a speech mask (speech[i] covers samples [i*frameLen, (i+1)*frameLen)),
//     signal is the mean energy of speech frames and noise that of the other
//     frames;
//   - without one, or when the mask leaves either class empty, signal is the
//     90th and noise the 10th percentile of the frame energies, a robust
//     estimate for recordings with pauses between words.
//
// The noise energy is subtracted from the signal energy (speech frames hold
// both), so SNR = 10 log10((S-N)/N), clamped to 0..MaxSNR; all-silent noise
// frames give MaxSNR. Every field is a finite number, whatever the input.
func Measure(samples []float32, speech []bool, frameLen int) Quality {
	q := Quality{RMSdBFS: floordB, PeakdBFS: floordB}
	if len(samples) == 0 {
		return q
	}
	var sum float64
	var peak float32
	clipped := 0
	for _, v := range samples {
		a := v
		if a < 0 {
			a = -a
		}
		if !(a <= math.MaxFloat32) { // NaN and ±Inf count as silence
			continue
		}
		sum += float64(v) * float64(v)
		peak = max(peak, a)
		if a >= ClipLevel {
			clipped++
		}
	}
	q.RMSdBFS = dB(sum / float64(len(samples)))
	q.PeakdBFS = dB(float64(peak) * float64(peak))
	q.Clipping = float64(clipped) / float64(len(samples))

	if frameLen <= 0 {
		frameLen = defaultFrame
	}
	energies := frameEnergies(samples, frameLen)
	if len(energies) == 0 {
		return q
	}
	sig, noise, ok := maskedEnergies(energies, speech)
	if !ok {
		sorted := slices.Clone(energies)
		slices.Sort(sorted)
		sig, noise = percentile(sorted, 0.9), percentile(sorted, 0.1)
	}
	q.SNRdB = snr(sig, noise)
	return q
}

// frameEnergies returns the mean square of each whole frame of x.
func frameEnergies(x []float32, frameLen int) []float64 {
	n := len(x) / frameLen
	e := make([]float64, n)
	for i := range e {
		var s float64
		for _, v := range x[i*frameLen : (i+1)*frameLen] {
			if finite(v) {
				s += float64(v) * float64(v)
			}
		}
		e[i] = s / float64(frameLen)
	}
	return e
}

// maskedEnergies averages the frame energies inside and outside the speech
// mask; ok is false when either side has no frames.
func maskedEnergies(e []float64, speech []bool) (sig, noise float64, ok bool) {
	var ns, nn int
	for i, v := range e {
		if i >= len(speech) {
			break
		}
		if speech[i] {
			sig += v
			ns++
		} else {
			noise += v
			nn++
		}
	}
	if ns == 0 || nn == 0 {
		return 0, 0, false
	}
	return sig / float64(ns), noise / float64(nn), true
}

// percentile returns the p-quantile (0..1) of sorted by linear interpolation.
func percentile(sorted []float64, p float64) float64 {
	pos := p * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// snr turns a signal(+noise) and a noise energy into a clamped dB ratio.
func snr(sig, noise float64) float64 {
	clean := sig - noise
	switch {
	case clean <= 0:
		return 0
	case noise <= 0 || clean/noise >= 1e10:
		return MaxSNR
	}
	return math.Max(0, math.Min(MaxSNR, 10*math.Log10(clean/noise)))
}

// dB converts an energy (mean square) to dB, floored at floordB.
func dB(energy float64) float64 {
	if !(energy > 0) {
		return floordB
	}
	return math.Max(floordB, 10*math.Log10(energy))
}

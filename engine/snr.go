package engine

import (
	"math"
	"slices"

	"voxgate/audio"
	"voxgate/vad"
)

// snrGuard is how many 20 ms frames on either side of speech are left out of
// the noise estimate: VAD padding and word onsets hold speech energy.
const snrGuard = 4

// estimateSNR returns the speech-to-noise ratio in dB, -30..audio.MaxSNR;
// negative when the noise is louder than the speech.
//
// Signal is the active speech level: the 90th percentile of the speech
// frames' energy (a mean would count the noise in VAD padding and pauses). Noise is the median energy
// of the non-speech frames at least snrGuard frames from any speech; when
// there are fewer than 5 such frames (a short clip that is nearly all
// speech), it is the 5th percentile of all frames, the quietest moments
// between syllables. The noise is subtracted from the signal, since speech
// frames hold both. Either estimate alone fails somewhere: the VAD mask alone
// reads clean continuous audiobooks as 0 dB, percentiles alone read short
// digit recordings as 0 dB.
func estimateSNR(x []float32, segs []vad.Segment) float64 {
	n := len(x) / frameLen
	if n == 0 {
		return 0
	}
	energy := make([]float64, n)
	for i := range energy {
		var s float64
		for _, v := range x[i*frameLen : (i+1)*frameLen] {
			s += float64(v) * float64(v)
		}
		energy[i] = s / frameLen
	}
	speech := vad.Mask(segs, n, frameLen)
	var speechFrames []float64
	far := make([]bool, n) // non-speech frames far from speech
	for i := range far {
		far[i] = !speech[i]
	}
	for i, sp := range speech {
		if !sp {
			continue
		}
		speechFrames = append(speechFrames, energy[i])
		for j := max(0, i-snrGuard); j <= min(n-1, i+snrGuard); j++ {
			far[j] = false
		}
	}
	var noiseFrames []float64
	for i, f := range far {
		if f {
			noiseFrames = append(noiseFrames, energy[i])
		}
	}
	sorted := slices.Clone(energy)
	slices.Sort(sorted)
	sig := sorted[n*9/10]
	if len(speechFrames) > 0 {
		slices.Sort(speechFrames)
		sig = speechFrames[len(speechFrames)*9/10]
	}
	var noise float64
	if len(noiseFrames) >= 5 {
		slices.Sort(noiseFrames)
		noise = noiseFrames[len(noiseFrames)/2]
	} else {
		noise = sorted[n/20]
	}
	if noise <= 1e-12 {
		return audio.MaxSNR
	}
	if sig <= noise*1.001 {
		return -30
	}
	return max(-30, min(audio.MaxSNR, 10*math.Log10((sig-noise)/noise)))
}

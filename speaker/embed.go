package speaker

import (
	"errors"
	"math"

	"voxgate/features"
)

// ErrTooShort is returned by Embed when the audio holds less than one
// 25 ms analysis frame.
var ErrTooShort = errors.New("speaker: audio shorter than one 25 ms frame")

// work holds per-call buffers, pooled across calls.
type work struct {
	logmel, energy []float32
	frames         []float32
	mask           []bool
	use            []bool
	net            tdnnWork
	stats          statsWork
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Embed returns the L2-normalised 256-dim embedding of samples (16 kHz mono,
// nominal range [-1, 1]). speech is an optional per-frame speech mask with
// one entry per 10 ms frame as numbered by package features (frame i starts
// at sample 160*i); entries past its end count as non-speech. When speech is
// nil, or selects fewer frames than the model's minimum, the built-in energy
// detector decides, and when that too finds too little speech every frame is
// used. The result is deterministic for given inputs.
func (m *Model) Embed(samples []float32, speech []bool) ([]float32, error) {
	e, _, err := m.EmbedSpeech(samples, speech)
	return e, err
}

// EmbedSpeech is Embed that also returns the net speech seconds the
// embedding was computed from (10 ms per selected frame), the natural
// enrollment weight.
func (m *Model) EmbedSpeech(samples []float32, speech []bool) ([]float32, float64, error) {
	w := m.pool.Get().(*work)
	defer m.pool.Put(w)
	w.logmel, w.energy = m.fe.LogMel(w.logmel, w.energy, samples)
	if len(w.energy) == 0 {
		return nil, 0, ErrTooShort
	}
	mask := speech
	if countTrue(mask, len(w.energy)) < m.minSpeech {
		w.mask = features.EnergyVAD(w.mask, w.energy)
		mask = w.mask
	}
	out := make([]float32, Dim)
	n := m.embedLogMel(w, out, w.logmel, mask)
	return out, float64(n) * features.Hop / features.SampleRate, nil
}

func countTrue(mask []bool, n int) int {
	k := 0
	for i := 0; i < n && i < len(mask); i++ {
		if mask[i] {
			k++
		}
	}
	return k
}

// embedLogMel runs the model from log-mel frames ([frames][nmels]) and a
// speech mask to the embedding out ([Dim]). It returns the number of frames
// used.
func (m *Model) embedLogMel(w *work, out, logmel []float32, mask []bool) int {
	nmels := m.fe.Config().NumMels
	nf := len(logmel) / nmels
	useAll := countTrue(mask, nf) < m.minSpeech
	n := nf
	if !useAll {
		n = countTrue(mask, nf)
	}
	if m.kind == "mfccstats" {
		var use []bool
		if !useAll {
			use = w.use[:0]
			for t := 0; t < nf; t++ {
				use = append(use, t < len(mask) && mask[t])
			}
			w.use = use
		}
		m.stats.embed(&w.stats, out, logmel, nmels, use)
		normalize(out)
		return n
	}
	// frames: [n][nmels] selected log-mel rows, then mean-normalised
	w.frames = grow(w.frames, n*nmels)
	k := 0
	for t := 0; t < nf; t++ {
		if !useAll && (t >= len(mask) || !mask[t]) {
			continue
		}
		copy(w.frames[k*nmels:(k+1)*nmels], logmel[t*nmels:(t+1)*nmels])
		k++
	}
	features.CMVN(w.frames, nmels, nil, false)
	m.net.forward(&w.net, out, w.frames, nmels)
	normalize(out)
	return n
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

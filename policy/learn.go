package policy

import "math"

// Learning is the adaptive-template policy: only an accept with high voice
// confidence, high liveness and (when challenged) a passed phrase may move
// the template, by a bounded weight, and never further than MaxDrift from
// the enrolled one. An impostor near the threshold is never "high", so no
// sequence of near-misses can pull a template towards another voice.
type Learning struct {
	// Rate is the weight of one accepted probe in the update, 0..1.
	Rate float64
	// MinDriftCosine is the least cosine similarity the adapted template
	// keeps with the enrolled one; an update that would go further is
	// refused.
	MinDriftCosine float64
	// MatureAfter is how many adaptations make a template fully mature
	// (learning_progress 1 together with enrollment speech).
	MatureAfter int
}

// DefaultLearning returns the shipped learning policy.
func DefaultLearning() Learning {
	return Learning{Rate: 0.1, MinDriftCosine: 0.95, MatureAfter: 20}
}

// MayLearn reports whether decision d may update the template.
func (l Learning) MayLearn(d Decision, challenged bool) bool {
	if d.Decision != Accept || d.Signals.Voice != High || d.Signals.Liveness != High {
		return false
	}
	return !challenged || d.Signals.Phrase == High
}

// Bar is the voice score an accept that MayLearn allows must also reach to
// adapt the template: halfway from the high tier (high) up to the user's
// genuine level, the lowest score an enrollment sample reached against the
// template of the others (0 when unknown). A template moves only for probes
// that sound like the user did at enrollment, so an impostor accepted now
// and then above the high tier cannot pull it towards their voice.
func (l Learning) Bar(high, genuine float64) float64 {
	return high + 0.5*max(0, genuine-high)
}

// Update returns the adapted template, unit length, or nil when the update
// would drift further than allowed from enrolled. All vectors are L2-unit.
func (l Learning) Update(current, enrolled, probe []float32) []float32 {
	next := make([]float32, len(current))
	var norm float64
	for i := range next {
		v := (1-l.Rate)*float64(current[i]) + l.Rate*float64(probe[i])
		next[i] = float32(v)
		norm += v * v
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		return nil
	}
	var cos float64
	for i := range next {
		next[i] = float32(float64(next[i]) / norm)
		cos += float64(next[i]) * float64(enrolled[i])
	}
	if cos < l.MinDriftCosine {
		return nil
	}
	return next
}

// Progress is the template's maturity, 0..1: half from enrollment speech
// against its requirement (twice the requirement counts as full), half
// from accepted adaptations.
func (l Learning) Progress(speechSeconds, requiredSpeech float64, adaptations int) float64 {
	enroll := 0.0
	if requiredSpeech > 0 {
		enroll = math.Min(1, speechSeconds/(2*requiredSpeech))
	}
	adapt := 0.0
	if l.MatureAfter > 0 {
		adapt = math.Min(1, float64(adaptations)/float64(l.MatureAfter))
	}
	return math.Round((0.5*enroll+0.5*adapt)*1000) / 1000
}

package speaker

import (
	"math"
)

// Template is an enrolled voiceprint.
type Template struct {
	Vector        []float32 // [Dim], L2-normalised
	Samples       int       // recordings it was built from
	SpeechSeconds float64   // sum of the weights given to Enroll
}

// Enroll builds a template from embeddings of several recordings: the mean
// of the (normalised) embeddings weighted by weights (typically each
// recording's net speech seconds), renormalised to unit length. A nil weights
// slice, or non-positive weights throughout, weighs every embedding equally;
// a single non-positive weight drops that embedding. Embeddings of the wrong
// length are skipped. An empty input gives a zero Template.
func (m *Model) Enroll(embs [][]float32, weights []float64) Template {
	equal := true
	for _, w := range weights {
		if w > 0 {
			equal = false
		}
	}
	acc := make([]float64, Dim)
	t := Template{}
	for i, e := range embs {
		if len(e) != Dim {
			continue
		}
		w := 1.0
		if !equal && i < len(weights) {
			w = weights[i]
		}
		if w <= 0 {
			continue
		}
		var n float64
		for _, v := range e {
			n += float64(v) * float64(v)
		}
		if n == 0 {
			continue
		}
		n = 1 / math.Sqrt(n)
		for j, v := range e {
			acc[j] += w * n * float64(v)
		}
		t.Samples++
		if i < len(weights) && weights[i] > 0 {
			t.SpeechSeconds += weights[i]
		}
	}
	if t.Samples == 0 {
		return Template{}
	}
	t.Vector = make([]float32, Dim)
	for j, v := range acc {
		t.Vector[j] = float32(v)
	}
	normalize(t.Vector)
	return t
}

// Score is the comparison of a probe embedding with a template.
type Score struct {
	Raw        float64 // cosine similarity, -1..1
	Normalized float64 // adaptive s-norm of Raw against the model's cohort (and the deployment's, see Cohort)
	Confidence float64 // calibrated probability-like confidence that it is the same speaker, 0..1
	Tier       string  // "high", "medium" or "low" at the default operating point
	// Rival is how far the probe's best normalised score against another
	// user of the deployment's cohort exceeded the claim's, before Normalized
	// was lowered by RivalWeight times it; 0 when no other user scored higher.
	Rival float64
}

// Tiers.
const (
	TierLow    = "low"
	TierMedium = "medium"
	TierHigh   = "high"
)

// Score compares probe with template t (both [Dim]); tiers use the default
// operating point (DefaultTargetFAR). Use Calibrate for another one.
func (m *Model) Score(t, probe []float32) Score {
	return m.Calibrate(DefaultTargetFAR).Score(m, t, probe)
}

// Calibration is an operating point of the model.
type Calibration struct {
	TargetFAR float64 // false-accept rate the threshold is chosen for
	Threshold float64 // accept when Score.Normalized >= Threshold
	// High is the stricter threshold, chosen for TargetFAR/10, above which
	// the tier is "high"; between Threshold and High it is "medium".
	High float64
}

// Calibrate returns the operating point for targetFAR (clamped to
// [1e-4, 0.5]).
func (m *Model) Calibrate(targetFAR float64) Calibration {
	targetFAR = min(max(targetFAR, 1e-4), 0.5)
	return Calibration{TargetFAR: targetFAR, Threshold: m.Threshold(targetFAR), High: m.Threshold(targetFAR / 10)}
}

// Score compares probe with template t at this operating point, normalised
// against the model's cohort alone.
func (c Calibration) Score(m *Model, t, probe []float32) Score {
	return c.ScoreIn(m, t, probe, nil, "")
}

// ScoreIn is Score with the deployment's own cohort domain (nil: none)
// joining the model's in the normalisation and its other users checked as
// rivals (see Cohort); claimed is the user whose template t is, whose own
// vectors in domain are left out.
func (c Calibration) ScoreIn(m *Model, t, probe []float32, domain *Cohort, claimed string) Score {
	var s Score
	if len(t) != Dim || len(probe) != Dim {
		s.Tier = TierLow
		s.Normalized = math.Inf(-1)
		return s
	}
	nt, np := m.norms(t), m.norms(probe)
	s.Raw = m.sim(t, nt, probe, np)
	mt, st := m.cohortStats(t, nt, domain, claimed)
	mp, sp := m.cohortStats(probe, np, domain, claimed)
	s.Normalized = 0.5 * ((s.Raw-mt)/st + (s.Raw-mp)/sp)
	if r := domain.rival(m, probe, np, claimed, mp, sp); r > s.Normalized {
		s.Rival = r - s.Normalized
		s.Normalized -= RivalWeight * s.Rival
	}
	s.Confidence = 1 / (1 + math.Exp(-(m.calA*s.Normalized + m.calB)))
	switch {
	case s.Normalized >= c.High:
		s.Tier = TierHigh
	case s.Normalized >= c.Threshold:
		s.Tier = TierMedium
	default:
		s.Tier = TierLow
	}
	return s
}

// Threshold returns the operating threshold on Score.Normalized whose
// false-accept rate on the model's train-pool nontarget trials is targetFAR:
// the (1-targetFAR) quantile of their normalised scores, linearly
// interpolated.
func (m *Model) Threshold(targetFAR float64) float64 {
	return quantile(m.nonQuant, min(max(1-targetFAR, 0), 1))
}

// MinTargetFAR is the lowest target false-accept rate the model's
// calibration resolves: one step of its table of nontarget-score
// quantiles (4,001 quantiles: 0.00025). Threshold for a lower rate
// interpolates between the table's last quantile and the largest
// calibration score, which is no quantile of anything, so a target under
// it is not a promise the model can keep.
func (m *Model) MinTargetFAR() float64 { return 1 / float64(len(m.nonQuant)-1) }

// cohortStats returns the mean and standard deviation of the topK highest
// scores (Model.sim) of e, with norms ne, against the model's cohort and
// domain's vectors not owned by exclude (adaptive s-norm).
func (m *Model) cohortStats(e []float32, ne vnorm, domain *Cohort, exclude string) (mean, std float64) {
	if ne.inv == 0 {
		return 0, 1e-6 // a zero vector scores 0 against everything
	}
	k, d := len(m.cohortNorm), m.cohortDim
	scores := make([]float64, 0, k+domain.Len())
	for i := 0; i < k; i++ {
		scores = append(scores, m.sim(e, ne, m.cohort[i*d:(i+1)*d], m.cohortNorm[i]))
	}
	for i := 0; i < domain.Len(); i++ {
		if domain.owners[i] != exclude {
			scores = append(scores, m.sim(e, ne, domain.vecs[i*Dim:(i+1)*Dim], domain.norms[i]))
		}
	}
	return meanStd(largest(scores, m.topK))
}

// meanStd returns the mean and the population standard deviation (plus
// 1e-6, so that it divides safely) of an s-norm's top scores.
func meanStd(top []float64) (mean, std float64) {
	for _, v := range top {
		mean += v
	}
	mean /= float64(len(top))
	for _, v := range top {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std/float64(len(top))) + 1e-6
}

// largest moves the k largest of x (0 < k <= len(x)) to its end, in no
// particular order, and returns them: quickselect, O(len(x)) on average
// where sorting the whole cohort's scores was half of a claim's scoring.
func largest(x []float64, k int) []float64 {
	lo, hi, want := 0, len(x)-1, len(x)-k // x[want:] must end up the k largest
	for lo < hi {
		// Median of three as the pivot, then Hoare partition.
		mid := lo + (hi-lo)/2
		if x[mid] < x[lo] {
			x[mid], x[lo] = x[lo], x[mid]
		}
		if x[hi] < x[lo] {
			x[hi], x[lo] = x[lo], x[hi]
		}
		if x[hi] < x[mid] {
			x[hi], x[mid] = x[mid], x[hi]
		}
		p := x[mid]
		i, j := lo, hi
		for i <= j {
			for x[i] < p {
				i++
			}
			for x[j] > p {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i++
				j--
			}
		}
		switch {
		case want <= j:
			hi = j
		case want >= i:
			lo = i
		default:
			return x[want:]
		}
	}
	return x[want:]
}

var negInf = math.Inf(-1)

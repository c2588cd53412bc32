package speaker

import "math"

// SNorm is a template's adaptive s-norm statistics against the model's
// cohort and one deployment cohort, with its owner's vectors left out: the
// half of a score's normalisation that depends on the template alone, so
// that identification can keep it beside the template instead of
// recomputing it for every probe (see ProbeScorer).
type SNorm struct {
	mean, std float64
	norms     vnorm
	domain    *Cohort // the cohort the statistics were computed against
}

// For reports whether s was computed against domain.
func (s SNorm) For(domain *Cohort) bool { return s.std != 0 && s.domain == domain }

// TemplateSNorm returns t's s-norm statistics against the model's cohort and
// domain without owner's vectors; t is owner's template.
func (m *Model) TemplateSNorm(t []float32, domain *Cohort, owner string) SNorm {
	if len(t) != Dim {
		return SNorm{}
	}
	n := m.norms(t)
	mean, std := m.cohortStats(t, n, domain, owner)
	return SNorm{mean: mean, std: std, norms: n, domain: domain}
}

// ProbeScorer scores one probe against many templates, each as
// Calibration.ScoreIn would with the same domain: the probe's similarities
// to the cohorts are computed once (batched, see batch.go), and each claim
// only leaves its owner's vectors out of the top-K selection when one of
// them is among the top K. It is not safe for concurrent use.
type ProbeScorer struct {
	c      Calibration
	m      *Model
	probe  []float32
	np     vnorm
	domain *Cohort
	model  []float64 // [K] probe similarities to the model's cohort
	dom    []float64 // [domain.Len()] probe similarities to the domain's vectors
	buf    []float64

	mean, std float64 // statistics with every vector
	kth       float64 // the K-th largest similarity
}

// NewProbeScorer prepares probe ([Dim]) for scoring against templates at
// this operating point, normalised with domain (nil: none).
func (c Calibration) NewProbeScorer(m *Model, probe []float32, domain *Cohort) *ProbeScorer {
	ps := &ProbeScorer{c: c, m: m, probe: probe, domain: domain}
	if len(probe) != Dim {
		return ps
	}
	ps.np = m.norms(probe)
	if ps.np.inv == 0 {
		return ps
	}
	model, dom := m.cohortSims([][]float32{probe}, []vnorm{ps.np}, domain)
	ps.model, ps.dom = model[0], dom[0]
	ps.buf = make([]float64, 0, len(ps.model)+len(ps.dom))
	ps.mean, ps.std = m.topStats(ps.model, ps.dom, domain, "\x00", ps.buf)
	top := largest(append(ps.buf[:0], append(ps.model, ps.dom...)...), m.topK)
	ps.kth = top[0]
	for _, v := range top {
		ps.kth = min(ps.kth, v)
	}
	return ps
}

// Score compares the probe with template t of user claimed, whose s-norm
// statistics st were computed against the scorer's domain
// (Model.TemplateSNorm or TemplateSNorms); a stale st is recomputed.
func (ps *ProbeScorer) Score(t []float32, st SNorm, claimed string) Score {
	var s Score
	if len(t) != Dim || len(ps.probe) != Dim {
		s.Tier = TierLow
		s.Normalized = math.Inf(-1)
		return s
	}
	m := ps.m
	if !st.For(ps.domain) {
		st = m.TemplateSNorm(t, ps.domain, claimed)
	}
	s.Raw = m.sim(t, st.norms, ps.probe, ps.np)
	mp, sp := ps.probeStats(claimed)
	s.Normalized = 0.5 * ((s.Raw-st.mean)/st.std + (s.Raw-mp)/sp)
	if r := ps.domain.rival(m, ps.probe, ps.np, claimed, mp, sp); r > s.Normalized {
		s.Rival = r - s.Normalized
		s.Normalized -= RivalWeight * s.Rival
	}
	s.Confidence = 1 / (1 + math.Exp(-(m.calA*s.Normalized + m.calB)))
	switch {
	case s.Normalized >= ps.c.High:
		s.Tier = TierHigh
	case s.Normalized >= ps.c.Threshold:
		s.Tier = TierMedium
	default:
		s.Tier = TierLow
	}
	return s
}

// probeStats is Model.cohortStats of the probe without claimed's vectors:
// the statistics with every vector unless one of claimed's is among the
// top K.
func (ps *ProbeScorer) probeStats(claimed string) (mean, std float64) {
	if ps.np.inv == 0 {
		return 0, 1e-6
	}
	for i, v := range ps.dom {
		if v >= ps.kth && ps.domain.owners[i] == claimed {
			return ps.m.topStats(ps.model, ps.dom, ps.domain, claimed, ps.buf)
		}
	}
	return ps.mean, ps.std
}

// OpenSetThreshold returns the threshold on Score.Normalized at which a
// probe of someone not in a gallery of n templates is identified as one of
// them (a false-positive identification) with probability fpir, from the
// model's train-pool nontarget scores: each comparison may false-accept at
// rate f = 1-(1-fpir)^(1/n), which is fpir/n for small rates, the union
// bound, so that correlated comparisons keep at most fpir. Below the 1e-3
// quantile the train-pool scores are too few to read f directly; the tail
// is extrapolated exponentially from its 1e-2 to 1e-3 decade (normalised
// nontarget scores fall off about that way: 3.34 at 1e-2, 4.89 at 1e-3, 5.8
// near 2.5e-4 for the shipped model).
func (m *Model) OpenSetThreshold(fpir float64, n int) float64 {
	fpir = min(max(fpir, 1e-6), 0.5)
	n = max(n, 1)
	f := -math.Expm1(math.Log1p(-fpir) / float64(n))
	if f >= 1e-3 {
		return m.Threshold(f)
	}
	t2, t3 := m.Threshold(1e-2), m.Threshold(1e-3)
	return t3 + (t3-t2)*math.Log10(1e-3/f)
}

// Bands describes how Model compares two vectors (see Model.sim), for
// searches that approximate it on compact copies of the vectors: when both
// have the upper band the similarity is the cosine of whole vectors;
// otherwise it is the cosine of [:Split] with [:LowEnd] weighted by LowScale
// and [LowEnd:Split] by HighScale. Split 0 means always the cosine.
type Bands struct {
	LowEnd, Split       int
	LowScale, HighScale float32
}

// Bands returns the model's comparison bands.
func (m *Model) Bands() Bands {
	return Bands{LowEnd: m.lowEnd, Split: m.split, LowScale: m.lowScale, HighScale: m.highScale}
}

// HasUpper reports whether v ([Dim]) has the upper band.
func (m *Model) HasUpper(v []float32) bool { return m.norms(v).upper }

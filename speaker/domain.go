package speaker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Domain calibration: one global threshold cannot keep its false-accept
// rate in every deployment. After adaptive s-norm against the tenant's own
// cohort, outsiders still score lower in some domains (read audiobook
// speech, the training data's own) and higher in others (acted emotional
// speech), so the global threshold accepted 0 % of LibriSpeech outsiders
// and 1.5 % of RAVDESS ones at a 1 % target (docs/ACCURACY.md).
//
// A tenant's enrollments already tell how its domain sits. Each enrolled
// user's samples are scored as claims of every other user while their own
// voice is taken out of the tenant (no rival, not in the normalisation),
// exactly as the service scores an outsider: these pseudo-outsider scores
// come from enrollment data alone. A linear rule learned on simulated
// training tenants (train/speaker/domain_cal.py: in-domain folds and
// leave-one-corpus-out tenants, enrolled on whole recordings or on short
// prompts, none of them from a dev set) maps their
// upper quantiles to the tenant's outsider threshold, shrunk toward the
// global one by n/(n+shrink) for n pseudo-outsider scores. The difference is
// the cohort's Shift, added to every threshold of the operating point.

// MaxDomainShift bounds a tenant's shift either way. The simulated training
// tenants the rule was fitted on needed -2.1 to +1.3, the dev sets -2.0 to
// +0.6; the bound stops a tenant whose users enroll themselves from being
// moved much further by many look-alike or unlike accounts (the shift rests
// on the cohort, the tenant's newest samples).
const MaxDomainShift = 2.5

// domainRule is the model's rule, from its "domain_calibration" metadata.
type domainRule struct {
	// Coef holds the intercept and then one weight per entry of Quantiles.
	Coef      []float64 `json:"coef"`
	Quantiles []float64 `json:"quantiles"`
	// Offset moves the prediction so that the simulated tenants' mean
	// false-accept rate equals the target.
	Offset float64 `json:"offset"`
	// Shrink is the number of pseudo-outsider scores at which the rule
	// gets half its weight against the global threshold.
	Shrink float64 `json:"shrink"`
	// Reference is the global threshold the rule was learned against (the
	// model's threshold at TargetFAR).
	Reference float64 `json:"reference_threshold"`
	TargetFAR float64 `json:"target_far"`
	// MaxUsers bounds the users whose samples are scored (the work grows
	// with their square); later ones still count as rivals.
	MaxUsers int `json:"max_users"`
}

func parseDomainRule(s string) (*domainRule, error) {
	if s == "" {
		return nil, nil
	}
	var r domainRule
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("speaker: metadata domain_calibration: %v", err)
	}
	if len(r.Coef) != len(r.Quantiles)+1 || r.Shrink < 0 || r.MaxUsers < 2 {
		return nil, fmt.Errorf("speaker: metadata domain_calibration: %d coefficients for %d quantiles, shrink %v, max_users %d",
			len(r.Coef), len(r.Quantiles), r.Shrink, r.MaxUsers)
	}
	for _, q := range r.Quantiles {
		if !(q >= 0 && q <= 1) {
			return nil, fmt.Errorf("speaker: metadata domain_calibration: quantile %v outside [0, 1]", q)
		}
	}
	return &r, nil
}

// Shift is how far this tenant's thresholds sit above (or below) the
// model's global ones (0 for a nil cohort, a model without the rule, or a
// tenant of fewer than two users).
func (c *Cohort) Shift() float64 {
	if c == nil {
		return 0
	}
	return c.shift
}

// PseudoOutsiders is the number of pseudo-outsider scores the cohort's
// Shift rests on.
func (c *Cohort) PseudoOutsiders() int {
	if c == nil {
		return 0
	}
	return c.pseudo
}

// In returns the operating point moved by domain's Shift.
func (c Calibration) In(domain *Cohort) Calibration {
	d := domain.Shift()
	c.Threshold += d
	c.High += d
	return c
}

// domainShift computes c's pseudo-outsider scores and the rule's shift.
func (m *Model) domainShift(c *Cohort) (shift float64, n int) {
	r := m.domain
	if r == nil || len(c.rivalOwner) < 2 {
		return 0, 0
	}
	scores := m.pseudoOutsiderScores(c, r.MaxUsers)
	if len(scores) == 0 {
		return 0, 0
	}
	slices.Sort(scores)
	pred := r.Coef[0] + r.Offset
	for i, q := range r.Quantiles {
		pred += r.Coef[i+1] * quantile(scores, q)
	}
	n = len(scores)
	w := float64(n) / (float64(n) + r.Shrink)
	return min(max(w*(pred-r.Reference), -MaxDomainShift), MaxDomainShift), n
}

// pseudoOutsiderScores scores each sample of the first maxUsers owners as a
// claim of every other of them, with the sample's owner out of the tenant:
// the claimed template is the owner's mean vector (the cohort keeps no
// speech weights), and the normalisation and the rival rule are those of
// Calibration.ScoreIn with both the claimed user and the sample's owner
// left out.
func (m *Model) pseudoOutsiderScores(c *Cohort, maxUsers int) []float64 {
	owners := c.rivalOwner // one per owner, in order of first appearance
	kept := min(len(owners), maxUsers)
	ownerIdx := make(map[string]int, len(owners))
	for i, o := range owners {
		ownerIdx[o] = i
	}
	// Rows: every owner's mean vector, then every sample of a kept owner.
	var rows [][]float32
	var norms []vnorm
	for i := range owners {
		rows, norms = append(rows, c.rivals[i*Dim:(i+1)*Dim]), append(norms, c.rivalNorm[i])
	}
	var samples []int // cohort index of each sample row
	for j, o := range c.owners {
		if ownerIdx[o] < kept {
			samples = append(samples, j)
			rows, norms = append(rows, c.vecs[j*Dim:(j+1)*Dim]), append(norms, c.norms[j])
		}
	}
	model, dom := m.cohortSims(rows, norms, c)
	// Per row, the model cohort's topK largest (only they can reach a top
	// K) and the domain's scores, each sorted descending, so that a top K
	// with two owners left out is one merge of two sorted lists.
	type scored struct {
		v     float64
		owner int
	}
	k := m.topK
	modelTop := make([][]float64, len(rows))
	domSorted := make([][]scored, len(rows))
	for i := range rows {
		top := largest(model[i], min(k, len(model[i])))
		slices.SortFunc(top, func(a, b float64) int { return cmp.Compare(b, a) })
		modelTop[i] = top
		d := make([]scored, len(dom[i]))
		for j, v := range dom[i] {
			d[j] = scored{v, ownerIdx[c.owners[j]]}
		}
		slices.SortFunc(d, func(a, b scored) int { return cmp.Compare(b.v, a.v) })
		domSorted[i] = d
	}
	top := make([]float64, 0, k)
	stats := func(row, ex1, ex2 int) (mean, std float64) {
		mt, ds := modelTop[row], domSorted[row]
		top = top[:0]
		a, b := 0, 0
		for len(top) < k {
			for b < len(ds) && (ds[b].owner == ex1 || ds[b].owner == ex2) {
				b++
			}
			var v float64
			if a < len(mt) && (b >= len(ds) || mt[a] >= ds[b].v) {
				v = mt[a]
				a++
			} else if b < len(ds) {
				v = ds[b].v
				b++
			} else {
				break
			}
			top = append(top, v)
		}
		return meanStd(top)
	}
	// Each owner's template statistics with one pseudo-outsider v left out
	// as well: [owner][v].
	nOwn := len(owners)
	tm := make([]float64, nOwn*kept)
	ts := make([]float64, nOwn*kept)
	for u := range nOwn {
		for v := range kept {
			if u != v {
				tm[u*kept+v], ts[u*kept+v] = stats(u, u, v)
			}
		}
	}
	var out []float64
	for si, j := range samples {
		row := nOwn + si
		v := ownerIdx[c.owners[j]]
		for u := range kept {
			if u == v {
				continue
			}
			pm, ps := stats(row, u, v)
			raw := dom[u][j]
			s := 0.5 * ((raw-tm[u*kept+v])/ts[u*kept+v] + (raw-pm)/ps)
			best := negInf
			for o := range nOwn {
				if o == u || o == v {
					continue
				}
				ro := dom[o][j]
				// The rival's own statistics leave v out too, when v is
				// a kept owner (always here).
				om, os := tm[o*kept+v], ts[o*kept+v]
				best = max(best, 0.5*((ro-om)/os+(ro-pm)/ps))
			}
			if best > s {
				s -= RivalWeight * (best - s)
			}
			out = append(out, s)
		}
	}
	return out
}

// quantile is numpy's default (linear) quantile of sorted x.
func quantile(x []float64, q float64) float64 {
	p := q * float64(len(x)-1)
	i := int(math.Floor(p))
	if i >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[i] + (p-float64(i))*(x[i+1]-x[i])
}

package eval

import (
	"math"
	"sort"
)

// Scores are the detection scores of one experiment, higher meaning "more
// likely target". Target holds scores of same-speaker trials, Nontarget those
// of different-speaker trials.
type Scores struct {
	Target    []float64
	Nontarget []float64
}

// Rates returns the false-accept rate (nontarget scores >= threshold) and the
// false-reject rate (target scores < threshold). An empty class gives rate 0.
func (s Scores) Rates(threshold float64) (far, frr float64) {
	for _, v := range s.Nontarget {
		if v >= threshold {
			far++
		}
	}
	for _, v := range s.Target {
		if v < threshold {
			frr++
		}
	}
	if n := len(s.Nontarget); n > 0 {
		far /= float64(n)
	}
	if n := len(s.Target); n > 0 {
		frr /= float64(n)
	}
	return far, frr
}

// Point is one operating point of a detector.
type Point struct {
	Threshold float64 // accept when score >= Threshold
	FAR, FRR  float64
}

// DET returns the operating points of the standard threshold sweep, ordered
// by increasing threshold: the first accepts everything (FAR 1, FRR 0), then
// one point per distinct score placed just above it, the last rejecting
// everything (FAR 0, FRR 1 when there are targets). FAR never increases and
// FRR never decreases along the slice.
func (s Scores) DET() []Point {
	type sc struct {
		v   float64
		tar bool
	}
	all := make([]sc, 0, len(s.Target)+len(s.Nontarget))
	for _, v := range s.Target {
		all = append(all, sc{v, true})
	}
	for _, v := range s.Nontarget {
		all = append(all, sc{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	nt, nn := float64(len(s.Target)), float64(len(s.Nontarget))
	rate := func(k, n float64) float64 {
		if n == 0 {
			return 0
		}
		return k / n
	}
	pts := make([]Point, 0, len(all)+1)
	first := math.Inf(-1)
	if len(all) > 0 {
		first = all[0].v
	}
	pts = append(pts, Point{Threshold: first, FAR: rate(nn, nn), FRR: 0})
	var miss, fa float64 = 0, nn // targets below, nontargets at or above
	for i := 0; i < len(all); {
		v := all[i].v
		for ; i < len(all) && all[i].v == v; i++ {
			if all[i].tar {
				miss++
			} else {
				fa--
			}
		}
		next := math.Inf(1)
		if i < len(all) {
			next = all[i].v
		}
		pts = append(pts, Point{Threshold: next, FAR: rate(fa, nn), FRR: rate(miss, nt)})
	}
	return pts
}

// AtFAR returns the operating point of the DET sweep with the lowest
// threshold whose measured FAR is at most maxFAR: the most accepting
// threshold that keeps the false accepts counted on these nontargets within
// the budget, so its FRR is the lowest any threshold reaches at that budget
// (the "FRR at FAR 1 %" of biometric reports, measured rather than taken
// from the calibration's promise).
//
// The thresholds are the scores themselves (accept when score >= Threshold),
// so tied scores are accepted or rejected together: a nontarget tied with
// targets cannot be rejected without them. Edges:
//   - no nontargets: every point has FAR 0, so it is the first point, which
//     accepts everything (FRR 0; Threshold the lowest score, -Inf without
//     any score);
//   - a nontarget at the very top (above or tied with every target) when
//     the budget allows no false accept: only rejecting everything qualifies,
//     the last point with Threshold +Inf and FRR 1 (0 without targets);
//   - maxFAR below 0 (or NaN): no point qualifies and it returns that same
//     reject-everything point, the strictest there is.
func (s Scores) AtFAR(maxFAR float64) Point {
	pts := s.DET()
	for _, p := range pts { // FAR never increases along the sweep
		if p.FAR <= maxFAR {
			return p
		}
	}
	return pts[len(pts)-1]
}

// EER returns the equal error rate and the threshold where it is reached.
//
// It walks the DET sweep to the first operating point where FRR >= FAR and
// interpolates linearly between it and the previous point, i.e. it takes the
// crossing of the FAR and FRR step curves joined by straight segments. With
// no targets or no nontargets it returns (0, NaN).
func (s Scores) EER() (eer, threshold float64) {
	if len(s.Target) == 0 || len(s.Nontarget) == 0 {
		return 0, math.NaN()
	}
	pts := s.DET()
	for i := 1; i < len(pts); i++ {
		p := pts[i]
		if p.FRR < p.FAR {
			continue
		}
		q := pts[i-1] // q.FRR < q.FAR
		// point on segment q->p where FRR == FAR
		dq := q.FAR - q.FRR
		dp := p.FRR - p.FAR
		a := dq / (dq + dp)
		eer = q.FAR + a*(p.FAR-q.FAR)
		threshold = p.Threshold
		if !math.IsInf(q.Threshold, 0) && !math.IsInf(p.Threshold, 0) {
			threshold = q.Threshold + a*(p.Threshold-q.Threshold)
		}
		return eer, threshold
	}
	return 0, pts[len(pts)-1].Threshold
}

// MinDCF returns the minimum over thresholds of the normalised detection
// cost C = (Cmiss*Pmiss*pTarget + Cfa*Pfa*(1-pTarget)) / min(Cmiss*pTarget,
// Cfa*(1-pTarget)), with Cmiss = Cfa = 1, and the threshold reaching it.
// The value 1 is what a system that always accepts or always rejects gets.
func (s Scores) MinDCF(pTarget float64) (dcf, threshold float64) {
	if len(s.Target) == 0 || len(s.Nontarget) == 0 {
		return 0, math.NaN()
	}
	norm := math.Min(pTarget, 1-pTarget)
	dcf = math.Inf(1)
	for _, p := range s.DET() {
		c := (p.FRR*pTarget + p.FAR*(1-pTarget)) / norm
		if c < dcf {
			dcf, threshold = c, p.Threshold
		}
	}
	return dcf, threshold
}

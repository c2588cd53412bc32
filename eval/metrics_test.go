package eval

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEERMatchesHandComputedCases(t *testing.T) {
	tests := []struct {
		name    string
		s       Scores
		eer     float64
		thr     float64
		checkTh bool
	}{
		{"perfect separation", Scores{Target: []float64{3, 4}, Nontarget: []float64{1, 2}}, 0, 0, false},
		{"complete overlap", Scores{Target: []float64{1}, Nontarget: []float64{1}}, 0.5, 0, false},
		{"reversed", Scores{Target: []float64{1, 2}, Nontarget: []float64{3, 4}}, 1, 0, false},
		// sorted: n0.1 t0.2 n0.3 t0.4 n0.5 t0.6 -> at thr 0.3: FRR 1/3 FAR 2/3;
		// thr 0.4: FRR 1/3, FAR 1/3 -> crossing exactly 1/3.
		{"interleaved", Scores{Target: []float64{0.2, 0.4, 0.6}, Nontarget: []float64{0.1, 0.3, 0.5}}, 1.0 / 3, 0.4, true},
		// 4 targets {1,2,3,4}, 4 nontargets {0,0.5,1.5,2.5}: thr 1.5 -> FRR 1/4, FAR 2/4;
		// thr 2 -> FRR 1/4, FAR 1/4 -> EER 1/4
		{"one error each side", Scores{Target: []float64{1, 2, 3, 4}, Nontarget: []float64{0, 0.5, 1.5, 2.5}}, 0.25, 2, true},
		// FRR jumps past FAR between points: targets {1}, nontargets {0, 2}.
		// sweep: thr 0 (1,0)... thr 1: FAR 1/2, FRR 0; thr 2: FAR 1/2, FRR 1
		// crossing on segment (FAR .5, FRR 0)->(FAR .5, FRR 1): a = .5/(.5+.5) -> EER .5
		{"interpolated jump", Scores{Target: []float64{1}, Nontarget: []float64{0, 2}}, 0.5, 1.5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eer, thr := tc.s.EER()
			if !near(eer, tc.eer) {
				t.Errorf("EER = %v, want %v", eer, tc.eer)
			}
			if tc.checkTh && !near(thr, tc.thr) {
				t.Errorf("threshold = %v, want %v", thr, tc.thr)
			}
		})
	}
}

func TestEERWithoutBothClassesIsZero(t *testing.T) {
	if e, _ := (Scores{Target: []float64{1}}).EER(); e != 0 {
		t.Errorf("EER = %v", e)
	}
}

func TestRatesCountAcceptAtOrAboveThreshold(t *testing.T) {
	s := Scores{Target: []float64{0.1, 0.5, 0.9, 1.0}, Nontarget: []float64{0.0, 0.2, 0.5, 0.7, 0.95}}
	tests := []struct{ thr, far, frr float64 }{
		{-1, 1, 0},
		{0.5, 3.0 / 5, 1.0 / 4},
		{0.96, 0, 3.0 / 4},
		{2, 0, 1},
	}
	for _, tc := range tests {
		far, frr := s.Rates(tc.thr)
		if !near(far, tc.far) || !near(frr, tc.frr) {
			t.Errorf("Rates(%v) = %v, %v; want %v, %v", tc.thr, far, frr, tc.far, tc.frr)
		}
	}
}

func TestMinDCFMatchesHandComputedCases(t *testing.T) {
	tests := []struct {
		name string
		s    Scores
		p    float64
		want float64
	}{
		{"perfect", Scores{Target: []float64{2}, Nontarget: []float64{1}}, 0.01, 0},
		// reject all: Pmiss=1 -> cost 0.01/0.01 = 1; accept all: Pfa=1 -> .99/.01 = 99.
		// thr between: targets {1,3} nontargets {2}: thr 2.5 -> Pmiss .5, Pfa 0 -> .5
		{"one miss is cheaper", Scores{Target: []float64{1, 3}, Nontarget: []float64{2}}, 0.01, 0.5},
		// p=0.5: norm .5; targets {1}, nontargets {2, 0}: accept all: Pfa 1 -> (0.5*1)/.5 = 1;
		// thr 1: Pfa .5, Pmiss 0 -> .5; thr 2: Pmiss 1, Pfa .5 -> 1.5; reject all: 1
		{"balanced prior", Scores{Target: []float64{1}, Nontarget: []float64{2, 0}}, 0.5, 0.5},
		{"all overlap", Scores{Target: []float64{1}, Nontarget: []float64{1}}, 0.01, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := tc.s.MinDCF(tc.p); !near(got, tc.want) {
				t.Errorf("MinDCF = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDETIsMonotoneAndSpansCorners(t *testing.T) {
	s := Scores{Target: []float64{0.3, 0.8, 0.8, 1.2}, Nontarget: []float64{-1, 0.3, 0.5}}
	pts := s.DET()
	if first := pts[0]; first.FAR != 1 || first.FRR != 0 {
		t.Errorf("first point %+v, want FAR 1 FRR 0", first)
	}
	if last := pts[len(pts)-1]; last.FAR != 0 || last.FRR != 1 {
		t.Errorf("last point %+v, want FAR 0 FRR 1", last)
	}
	// distinct scores: -1, .3, .5, .8, 1.2 -> 6 points
	if len(pts) != 6 {
		t.Errorf("got %d points, want 6", len(pts))
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].FAR > pts[i-1].FAR || pts[i].FRR < pts[i-1].FRR || pts[i].Threshold < pts[i-1].Threshold {
			t.Errorf("point %d %+v not monotone after %+v", i, pts[i], pts[i-1])
		}
	}
	// every point's rates equal Rates at its threshold
	for _, p := range pts[1:] {
		far, frr := s.Rates(p.Threshold)
		if !near(far, p.FAR) || !near(frr, p.FRR) {
			t.Errorf("point %+v disagrees with Rates: %v %v", p, far, frr)
		}
	}
}

func TestAtFARPicksLowestThresholdWithinTheBudget(t *testing.T) {
	inf := math.Inf(1)
	// 10 nontargets 0..9 and 4 targets: FAR steps by 0.1 per nontarget left below.
	ten := Scores{Target: []float64{5.5, 8.5, 9.5, 10}, Nontarget: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	tests := []struct {
		name   string
		s      Scores
		maxFAR float64
		want   Point
	}{
		// FAR 0.1 (only nontarget 9 accepted) from threshold 8.5 up: the
		// lowest, 8.5, keeps target 8.5 and loses only 5.5.
		{"budget of one false accept", ten, 0.1, Point{Threshold: 8.5, FAR: 0.1, FRR: 0.25}},
		// A budget between two steps stops at the step below it.
		{"budget between steps", ten, 0.25, Point{Threshold: 8, FAR: 0.2, FRR: 0.25}},
		// 1 % of 10 nontargets allows none: reject nontarget 9, keep 9.5 and 10.
		{"budget below one trial", ten, 0.01, Point{Threshold: 9.5, FAR: 0, FRR: 0.5}},
		{"budget of everything", ten, 1, Point{Threshold: 0, FAR: 1, FRR: 0}},
		{"perfect separation", Scores{Target: []float64{3, 4}, Nontarget: []float64{1, 2}}, 0.001, Point{Threshold: 3, FAR: 0, FRR: 0}},
		// A nontarget tied with the top target: the tie cannot be split, so
		// only rejecting everything reaches FAR 0.
		{"tie at the top", Scores{Target: []float64{1, 2}, Nontarget: []float64{0, 2}}, 0.01, Point{Threshold: inf, FAR: 0, FRR: 1}},
		{"nontargets above every target", Scores{Target: []float64{1, 2}, Nontarget: []float64{3, 4}}, 0.01, Point{Threshold: inf, FAR: 0, FRR: 1}},
		{"nontargets above every target, loose budget", Scores{Target: []float64{1, 2}, Nontarget: []float64{3, 4}}, 0.5, Point{Threshold: 4, FAR: 0.5, FRR: 1}},
		{"no nontargets accepts everything", Scores{Target: []float64{1, 2}}, 0.01, Point{Threshold: 1, FAR: 0, FRR: 0}},
		{"no targets", Scores{Nontarget: []float64{1, 2}}, 0.01, Point{Threshold: inf, FAR: 0, FRR: 0}},
		{"no scores", Scores{}, 0.01, Point{Threshold: math.Inf(-1), FAR: 0, FRR: 0}},
		{"negative budget rejects everything", ten, -1, Point{Threshold: inf, FAR: 0, FRR: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.AtFAR(tc.maxFAR)
			if got.Threshold != tc.want.Threshold || !near(got.FAR, tc.want.FAR) || !near(got.FRR, tc.want.FRR) {
				t.Errorf("AtFAR(%v) = %+v, want %+v", tc.maxFAR, got, tc.want)
			}
			if !math.IsInf(got.Threshold, 0) {
				if far, frr := tc.s.Rates(got.Threshold); !near(far, got.FAR) || !near(frr, got.FRR) {
					t.Errorf("Rates(%v) = %v, %v, disagreeing with %+v", got.Threshold, far, frr, got)
				}
			}
		})
	}
}

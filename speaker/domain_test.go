package speaker

import (
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"voxgate/internal/testaudio"

	"voxgate/internal/shared"
)

// speakerVectors returns users×per embeddings with a speaker structure (a
// mean per user plus noise), owners in the order a store would list them.
func speakerVectors(users, per int, seed uint64) (owners []string, embs [][]float32) {
	rng := rand.New(rand.NewPCG(seed, 3))
	means := make([][]float32, users)
	for u := range means {
		means[u] = make([]float32, Dim)
		for i := range means[u] {
			means[u][i] = float32(rng.NormFloat64())
		}
	}
	for s := range per {
		for u := range users {
			v := make([]float32, Dim)
			for i := range v {
				v[i] = means[u][i] + 1.5*float32(rng.NormFloat64())
				if i >= 69 && (u+s)%3 == 0 {
					v[i] = 0 // some samples without the upper band
				}
			}
			owners, embs = append(owners, fmt.Sprint("u", u)), append(embs, v)
		}
	}
	return owners, embs
}

// TestPseudoOutsidersAreScoredAsOutsiders checks the batched pseudo-outsider
// scores against their definition: each sample claims every other user
// through Calibration.ScoreIn in a tenant its owner is not enrolled in,
// against that user's mean vector.
func TestPseudoOutsidersAreScoredAsOutsiders(t *testing.T) {
	m := model(t)
	owners, embs := speakerVectors(6, 3, 1)
	c := m.NewCohort(owners, embs)
	got := m.pseudoOutsiderScores(c, 64)
	cal := m.Calibrate(DefaultTargetFAR)
	users := c.rivalOwner
	var want []float64
	for j, e := range embs {
		v := owners[j]
		var ro []string
		var re [][]float32
		for i, o := range owners {
			if o != v {
				ro, re = append(ro, o), append(re, embs[i])
			}
		}
		rest := m.NewCohort(ro, re)
		for ui, u := range users {
			if u == v {
				continue
			}
			want = append(want, cal.ScoreIn(m, c.rivals[ui*Dim:(ui+1)*Dim], e, rest, u).Normalized)
		}
	}
	if len(got) != len(want) || len(want) != 18*5 {
		t.Fatalf("%d scores, want %d (18 samples x 5 other users)", len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-3 {
			t.Fatalf("score %d: batched %v, ScoreIn %v", i, got[i], want[i])
		}
	}
}

func TestDomainShiftFollowsTheModelsRule(t *testing.T) {
	m := model(t)
	r := m.domain
	if r == nil {
		t.Fatal("the shipped model has no domain_calibration rule")
	}
	if got := m.Threshold(r.TargetFAR); math.Abs(got-r.Reference) > 1e-3 {
		t.Fatalf("rule learned against threshold %v, model's is %v", r.Reference, got)
	}
	owners, embs := speakerVectors(8, 2, 2)
	c := m.NewCohort(owners, embs)
	s := m.pseudoOutsiderScores(c, r.MaxUsers)
	slices.Sort(s)
	pred := r.Coef[0] + r.Offset
	for i, q := range r.Quantiles {
		pred += r.Coef[i+1] * quantile(s, q)
	}
	n := float64(len(s))
	want := min(max(n/(n+r.Shrink)*(pred-r.Reference), -MaxDomainShift), MaxDomainShift)
	if math.Abs(c.Shift()-want) > 1e-9 || c.PseudoOutsiders() != len(s) {
		t.Fatalf("shift %v from %d scores, want %v from %d", c.Shift(), c.PseudoOutsiders(), want, len(s))
	}
	cal := m.Calibrate(DefaultTargetFAR)
	if in := cal.In(c); in.Threshold != cal.Threshold+c.Shift() || in.High != cal.High+c.Shift() || in.TargetFAR != cal.TargetFAR {
		t.Fatalf("In moved %+v to %+v with shift %v", cal, in, c.Shift())
	}
	for name, c := range map[string]*Cohort{"nil cohort": nil, "one user": m.NewCohort([]string{"a", "a"}, embs[:2])} {
		if c.Shift() != 0 || cal.In(c) != cal {
			t.Errorf("%s: shift %v", name, c.Shift())
		}
	}
}

func TestQuantileIsNumpysLinear(t *testing.T) {
	x := []float64{1, 2, 4, 8}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {1, 8}, {0.5, 3}, {0.9, 6.8}, {0.95, 7.4}} {
		if got := quantile(x, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

// TestDomainShiftReadsTheTenantsDomain enrolls two dev sets' users as two
// tenants: LibriSpeech read speech, the training data's own domain, where
// outsiders score far below the global threshold, and RAVDESS acted
// emotional speech, where they score above it. The research replica of the
// rule (train/speaker/domain_cal.py STEP=fit2) moves the thresholds by about
// -2.2 and +0.6.
func TestDomainShiftReadsTheTenantsDomain(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes real audio")
	}
	m := model(t)
	sets := filepath.Join(shared.Dir(t), "voice-data", "sets")
	shift := func(set string) float64 {
		f, err := os.Open(filepath.Join(sets, set, "enroll.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var owners []string
		var embs [][]float32
		for _, r := range rows[1:] {
			e, err := m.Embed(testaudio.Decode(t, filepath.Join(sets, set, r[1])), nil)
			if err != nil {
				t.Fatal(err)
			}
			owners, embs = append(owners, r[0]), append(embs, e)
		}
		c := m.NewCohort(owners, embs)
		t.Logf("%s: %d users, %d pseudo-outsider scores, shift %.3f", set, len(c.rivalOwner), c.PseudoOutsiders(), c.Shift())
		return c.Shift()
	}
	if s := shift("librispeech"); s > -1 {
		t.Errorf("librispeech tenant: shift %.3f, want well below 0", s)
	}
	if s := shift("ravdess"); s < 0.2 {
		t.Errorf("ravdess tenant: shift %.3f, want above 0", s)
	}
}

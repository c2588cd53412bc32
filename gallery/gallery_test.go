package gallery

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"voxgate/speaker"
)

func model(tb testing.TB) *speaker.Model {
	tb.Helper()
	m, err := speaker.Load()
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// voice returns a random vector; without upper, its upper band is zero
// (a telephone recording's embedding).
func voice(rng *rand.Rand, upper bool) []float32 {
	v := make([]float32, dim)
	for i := range v {
		if upper || i < 69 {
			v[i] = float32(rng.NormFloat64())
		}
	}
	return v
}

// near returns v plus noise: another recording of the same voice.
func near(rng *rand.Rand, v []float32, noise float64) []float32 {
	w := make([]float32, len(v))
	for i, x := range v {
		if x != 0 {
			w[i] = x + float32(noise*rng.NormFloat64())
		}
	}
	return w
}

func TestCoarseSimilarityFollowsTheModels(t *testing.T) {
	m := model(t)
	rng := rand.New(rand.NewPCG(1, 2))
	x := New(m)
	c := m.Calibrate(speaker.DefaultTargetFAR)
	for _, tc := range []struct{ tmplUpper, probeUpper bool }{{true, true}, {true, false}, {false, true}, {false, false}} {
		t.Run(fmt.Sprintf("template_upper=%v/probe_upper=%v", tc.tmplUpper, tc.probeUpper), func(t *testing.T) {
			x.Clear()
			tm := voice(rng, tc.tmplUpper)
			x.Put("u", tm)
			for i := 0; i < 50; i++ {
				p := near(rng, tm, 0.3+float64(i)/20)
				if !tc.probeUpper {
					for j := 69; j < dim; j++ {
						p[j] = 0
					}
				}
				h := x.coarse(p, 1, nil)
				want := c.Score(m, tm, p).Raw
				if len(h) != 1 || math.Abs(float64(h[0].sim)-want) > 0.01 {
					t.Fatalf("coarse %v, exact %v", h, want)
				}
			}
		})
	}
}

func TestSearchFindsWhatScoringEveryTemplateFinds(t *testing.T) {
	m := model(t)
	rng := rand.New(rand.NewPCG(3, 4))
	c := m.Calibrate(speaker.DefaultTargetFAR)
	x := New(m)
	tmpls := map[string][]float32{}
	var owners []string
	var embs [][]float32
	for i := 0; i < 600; i++ {
		u := fmt.Sprintf("user%04d", i)
		tmpls[u] = voice(rng, i%5 != 0)
		x.Put(u, tmpls[u])
		if i < 100 {
			owners = append(owners, u)
			embs = append(embs, near(rng, tmpls[u], 0.5))
		}
	}
	domain := m.NewCohort(owners, embs)
	for i := 0; i < 8; i++ {
		u := fmt.Sprintf("user%04d", rng.IntN(600))
		probe := near(rng, tmpls[u], 1.0)
		got := x.Search(probe, 5, nil, c, domain)
		bestUser, best := "", math.Inf(-1)
		for v, tm := range tmpls {
			if s := c.ScoreIn(m, tm, probe, domain, v).Normalized; s > best {
				bestUser, best = v, s
			}
		}
		if len(got) != 5 || got[0].UserID != bestUser || math.Abs(got[0].Score.Normalized-best) > 1e-4 || got[0].Score.Normalized < got[1].Score.Normalized {
			t.Fatalf("probe of %s: search %+v, every template: %s at %v", u, got[:1], bestUser, best)
		}
	}
}

func TestRemovedTemplatesLeaveTheNextSearch(t *testing.T) {
	m := model(t)
	rng := rand.New(rand.NewPCG(5, 6))
	c := m.Calibrate(speaker.DefaultTargetFAR)
	x := New(m)
	a, b, d := voice(rng, true), voice(rng, true), voice(rng, true)
	x.Put("a", a)
	x.Put("b", b)
	x.Put("d", d)
	probe := near(rng, b, 0.5)
	if got := x.Search(probe, 1, nil, c, nil); got[0].UserID != "b" {
		t.Fatalf("before removal: %+v", got)
	}
	x.Remove("b")
	if x.Has("b") || x.Len() != 2 {
		t.Fatalf("b still in the index (%d templates)", x.Len())
	}
	for _, r := range x.Search(probe, 5, nil, c, nil) {
		if r.UserID == "b" {
			t.Fatalf("removed template found: %+v", r)
		}
	}
	// The row moved into b's place is still found as itself.
	if got := x.Search(near(rng, d, 0.5), 1, nil, c, nil); got[0].UserID != "d" {
		t.Fatalf("after the move: %+v", got)
	}
	// Replacing a template replaces it.
	x.Put("a", b)
	if got := x.Search(probe, 1, nil, c, nil); got[0].UserID != "a" {
		t.Fatalf("after replacing a's template with b's voice: %+v", got)
	}
	// Searching among a group sees only its members.
	if got := x.Search(probe, 5, []string{"d", "nobody"}, c, nil); len(got) != 1 || got[0].UserID != "d" {
		t.Fatalf("among d: %+v", got)
	}
}

func benchGallery(b *testing.B, n int) {
	m := model(b)
	rng := rand.New(rand.NewPCG(8, 9))
	x := New(m)
	for i := 0; i < n; i++ {
		x.Put(fmt.Sprint(i), voice(rng, true))
	}
	c := m.Calibrate(speaker.DefaultTargetFAR)
	probe := voice(rng, true)
	b.ResetTimer()
	for b.Loop() {
		x.Search(probe, 5, nil, c, nil)
	}
}

func BenchmarkSearch1k(b *testing.B)   { benchGallery(b, 1000) }
func BenchmarkSearch10k(b *testing.B)  { benchGallery(b, 10_000) }
func BenchmarkSearch100k(b *testing.B) { benchGallery(b, 100_000) }

func BenchmarkBlockDots(b *testing.B) {
	blk := make([]byte, dim*lanes)
	var v [dim]uint64
	for i := range blk {
		blk[i] = byte(1 + i%127)
	}
	for i := range v {
		v[i] = uint64(1 + (i*7)%127)
	}
	var s uint32
	for b.Loop() {
		d := blockDots(blk, &v, dim)
		s += d[0] + d[7]
	}
	_ = s
}

func TestBlockDotsAgreeWithPlainSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	blk := make([]byte, dim*lanes)
	var v [dim]uint64
	for i := range blk {
		blk[i] = byte(1 + rng.IntN(127))
	}
	blk[0], blk[7] = 127, 127 // the largest products too
	for i := range v {
		v[i] = uint64(1 + rng.IntN(127))
	}
	v[0] = 127
	for _, n := range []int{dim, 69, 3, 0} {
		got := blockDots(blk, &v, n)
		for k := 0; k < lanes; k++ {
			var want uint32
			for d := 0; d < n; d++ {
				want += uint32(blk[d*lanes+k]) * uint32(v[d])
			}
			if got[k] != want {
				t.Fatalf("n %d row %d: %d, want %d", n, k, got[k], want)
			}
		}
	}
	// The largest codes everywhere: no lane may overflow.
	for i := range blk {
		blk[i] = 127
	}
	for i := range v {
		v[i] = 127
	}
	if got := blockDots(blk, &v, dim); got[3] != dim*127*127 {
		t.Fatalf("all 127: %d, want %d", got[3], dim*127*127)
	}
}

func TestRowsSurviveRemovalsAcrossBlocks(t *testing.T) {
	m := model(t)
	rng := rand.New(rand.NewPCG(12, 13))
	c := m.Calibrate(speaker.DefaultTargetFAR)
	x := New(m)
	tmpls := map[string][]float32{}
	for i := 0; i < 53; i++ {
		u := fmt.Sprint("u", i)
		tmpls[u] = voice(rng, i%7 != 0)
		x.Put(u, tmpls[u])
	}
	for i := 0; i < 53; i += 3 {
		u := fmt.Sprint("u", i)
		x.Remove(u)
		delete(tmpls, u)
	}
	probe := voice(rng, true)
	if x.Len() != len(tmpls) {
		t.Fatalf("%d rows, want %d", x.Len(), len(tmpls))
	}
	for _, h := range x.coarse(probe, x.Len(), nil) {
		u := x.users[h.row]
		want := c.Score(m, tmpls[u], probe).Raw
		if math.Abs(float64(h.sim)-want) > 0.01 {
			t.Fatalf("%s: coarse %v, exact %v", u, h.sim, want)
		}
	}
}

func TestSearchesRunBesideChanges(t *testing.T) {
	m := model(t)
	c := m.Calibrate(speaker.DefaultTargetFAR)
	x := New(m)
	rng := rand.New(rand.NewPCG(14, 15))
	var vs [][]float32
	for i := 0; i < 64; i++ {
		vs = append(vs, voice(rng, true))
		x.Put(fmt.Sprint("u", i), vs[i])
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			u := fmt.Sprint("u", i%64)
			if i%2 == 0 {
				x.Remove(u)
			} else {
				x.Put(u, vs[i%64])
			}
		}
	}()
	for i := 0; i < 20; i++ {
		x.Search(vs[i], 3, nil, c, nil)
		x.Search(vs[i], 3, []string{"u1", "u2"}, c, nil)
	}
	<-done
}

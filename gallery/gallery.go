// Package gallery is the in-memory index of one tenant's voiceprints for
// identification (1:N): who, among everyone enrolled, is speaking.
//
// A search is exhaustive in two stages. The coarse stage compares the probe
// with every template on int8 copies (256 bytes a voice, one int32 dot
// product a row, Model.sim's bands kept: see speaker.Bands) and keeps the
// best few; the exact stage rescores those with the float32 templates
// exactly as verification scores a claim (speaker.ProbeScorer), so that an
// identification score and threshold mean what a verification's do. The
// int8 rounding moves a cosine by about 1e-3, far less than the gap between
// the candidates kept and the best (Search keeps at least 32 for the exact
// stage).
//
// Memory per voice: 256 B of int8 codes, 1,024 B of float32 template, 16 B
// of row scalars, the cached s-norm statistics (48 B) and the user id with
// its map entry (about 60 B plus the id): about 1.4 KiB.
//
// An Index is safe for concurrent use: searches share it, changes take it
// alone.
package gallery

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"

	"voxgate/speaker"
)

const dim = speaker.Dim

// Index holds templates ([speaker.Dim]float32, the model's) by user id.
// Build it with New.
type Index struct {
	m     *speaker.Model
	bands speaker.Bands

	mu    sync.RWMutex
	users []string       // [n]
	pos   map[string]int // user -> row
	codes []int8         // [n][dim] templates quantised, each to its own scale
	full  []float32      // [n] scale/|t|: the code dot times this and the probe's gives the cosine
	low   []float32      // [n] scale/|t[:split]|w: the same for the banded similarity
	upper []bool         // [n] the template has the upper band
	tmpl  [][]float32    // [n] the exact templates

	snMu  sync.Mutex
	snorm []speaker.SNorm // [n] cached statistics for the exact stage
}

// New returns an empty index for templates of model m.
func New(m *speaker.Model) *Index {
	return &Index{m: m, bands: m.Bands(), pos: map[string]int{}}
}

// Len returns the number of templates.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.users)
}

// Has reports whether user has a template in the index.
func (x *Index) Has(user string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.pos[user]
	return ok
}

// Put adds or replaces user's template t ([speaker.Dim]; other lengths
// are ignored). The index keeps t: the caller must not change it.
func (x *Index) Put(user string, t []float32) {
	if len(t) != dim {
		return
	}
	var code [dim]int8
	full, low := x.quantise(t, &code)
	up := x.m.HasUpper(t)
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.pos[user]
	if !ok {
		r = len(x.users)
		x.pos[user] = r
		x.users = append(x.users, user)
		x.codes = append(x.codes, code[:]...)
		x.full = append(x.full, full)
		x.low = append(x.low, low)
		x.upper = append(x.upper, up)
		x.tmpl = append(x.tmpl, t)
		x.snMu.Lock()
		x.snorm = append(x.snorm, speaker.SNorm{})
		x.snMu.Unlock()
		return
	}
	copy(x.codes[r*dim:], code[:])
	x.full[r], x.low[r], x.upper[r], x.tmpl[r] = full, low, up, t
	x.snMu.Lock()
	x.snorm[r] = speaker.SNorm{}
	x.snMu.Unlock()
}

// Remove deletes user's template, if any; the next search no longer sees
// it.
func (x *Index) Remove(user string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.pos[user]
	if !ok {
		return
	}
	last := len(x.users) - 1
	if r != last { // move the last row into the hole
		moved := x.users[last]
		x.users[r] = moved
		x.pos[moved] = r
		copy(x.codes[r*dim:(r+1)*dim], x.codes[last*dim:])
		x.full[r], x.low[r], x.upper[r], x.tmpl[r] = x.full[last], x.low[last], x.upper[last], x.tmpl[last]
	}
	delete(x.pos, user)
	x.users = x.users[:last]
	x.codes = x.codes[:last*dim]
	x.full, x.low, x.upper = x.full[:last], x.low[:last], x.upper[:last]
	x.tmpl[last] = nil
	x.tmpl = x.tmpl[:last]
	x.snMu.Lock()
	x.snorm[r] = x.snorm[last]
	x.snorm = x.snorm[:last]
	x.snMu.Unlock()
}

// Clear removes every template.
func (x *Index) Clear() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.users, x.codes, x.full, x.low, x.upper, x.tmpl = nil, nil, nil, nil, nil, nil
	x.pos = map[string]int{}
	x.snMu.Lock()
	x.snorm = nil
	x.snMu.Unlock()
}

// quantise writes v's int8 code (v scaled so that its largest entry is
// ±127) and returns the factors that turn a code dot product into the
// cosine of whole vectors and into the banded similarity (see
// speaker.Bands): code·code' × full × full' and the weighted banded code
// sum × low × low'.
func (x *Index) quantise(v []float32, code *[dim]int8) (full, low float32) {
	var peak float32
	for _, f := range v {
		peak = max(peak, float32(math.Abs(float64(f))))
	}
	if peak == 0 {
		return 0, 0
	}
	scale := peak / 127
	var n, nl float64
	b := x.bands
	for i, f := range v {
		code[i] = int8(math.Round(float64(f / scale)))
		n += float64(f) * float64(f)
		switch {
		case b.Split == 0:
		case i < b.LowEnd:
			nl += float64(b.LowScale) * float64(f) * float64(f)
		case i < b.Split:
			nl += float64(b.HighScale) * float64(f) * float64(f)
		}
	}
	full = float32(float64(scale) / math.Sqrt(n))
	if nl > 0 {
		low = float32(float64(scale) / math.Sqrt(nl))
	}
	return full, low
}

// Candidate is one search result: a user and the exact score of the probe
// against their template.
type Candidate struct {
	UserID string
	Score  speaker.Score
}

// Search compares probe ([speaker.Dim], the model's embedding) with every
// template, or only those of among when among is not nil, and returns the
// best top candidates by exact score (Calibration.ScoreIn with domain),
// best first. Users of among without a template are skipped.
func (x *Index) Search(probe []float32, top int, among []string, c speaker.Calibration, domain *speaker.Cohort) []Candidate {
	if len(probe) != dim || top <= 0 {
		return nil
	}
	keep := max(2*top, exactMin)
	x.mu.RLock()
	defer x.mu.RUnlock()
	rows := x.coarse(probe, keep, among)
	if len(rows) == 0 {
		return nil
	}
	// The candidates' s-norm statistics: cached per domain, the missing
	// ones computed in one batch.
	sn := make([]speaker.SNorm, len(rows))
	var miss []int
	x.snMu.Lock()
	for i, h := range rows {
		sn[i] = x.snorm[h.row]
		if !sn[i].For(domain) {
			miss = append(miss, i)
		}
	}
	x.snMu.Unlock()
	if len(miss) > 0 {
		ts := make([][]float32, len(miss))
		owners := make([]string, len(miss))
		for j, i := range miss {
			ts[j], owners[j] = x.tmpl[rows[i].row], x.users[rows[i].row]
		}
		fresh := x.m.TemplateSNorms(ts, domain, owners)
		x.snMu.Lock()
		for j, i := range miss {
			sn[i] = fresh[j]
			x.snorm[rows[i].row] = fresh[j]
		}
		x.snMu.Unlock()
	}
	ps := c.NewProbeScorer(x.m, probe, domain)
	out := make([]Candidate, len(rows))
	for i, h := range rows {
		r := int(h.row)
		out[i] = Candidate{UserID: x.users[r], Score: ps.Score(x.tmpl[r], sn[i], x.users[r])}
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if c := cmp.Compare(b.Score.Normalized, a.Score.Normalized); c != 0 {
			return c
		}
		return cmp.Compare(a.UserID, b.UserID)
	})
	return out[:min(top, len(out))]
}

// exactMin is the fewest coarse candidates the exact stage rescores (twice
// the asked top when that is more): the exact score also normalises each
// template by its own cohort statistics, which can reorder candidates whose
// cosines are close.
const exactMin = 16

// hit is a coarse-stage result.
type hit struct {
	sim float32
	row int32
}

// parallelRows is the gallery size from which the coarse stage splits the
// rows among the CPUs.
const parallelRows = 16384

// coarse returns the rows of the keep best approximate similarities, in
// no particular order. Callers hold x.mu.
func (x *Index) coarse(probe []float32, keep int, among []string) []hit {
	var pf, pl [dim]int8
	fullP, lowP := x.quantise(probe, &pf)
	b := x.bands
	// The banded probe: its bands weighted as in Model.sim, then quantised
	// again, so that one code dot product over [:Split] gives the weighted sum.
	if b.Split > 0 {
		w := make([]float32, dim)
		for i := 0; i < b.Split; i++ {
			s := b.LowScale
			if i >= b.LowEnd {
				s = b.HighScale
			}
			w[i] = s * probe[i]
		}
		q, _ := x.quantise(w, &pl) // q = scale_w/|w|
		var nw float64
		for _, f := range w {
			nw += float64(f) * float64(f)
		}
		lowP = x.lowProbeFactor(probe, q, nw)
	}
	probeUpper := x.m.HasUpper(probe)
	var pf32 [dim]int32
	for i, v := range pf {
		pf32[i] = int32(v)
	}
	score := func(r int) float32 {
		row := (*[dim]int8)(x.codes[r*dim : (r+1)*dim])
		if b.Split == 0 || (probeUpper && x.upper[r]) {
			return float32(dot(row, &pf32)) * x.full[r] * fullP
		}
		return float32(dotPrefix(row[:b.Split], pl[:b.Split])) * x.low[r] * lowP
	}
	if among != nil {
		best := newTopK(keep)
		for _, u := range among {
			if r, ok := x.pos[u]; ok {
				best.add(score(r), r)
			}
		}
		return best.h
	}
	// Four rows at a time share the probe's loads when all four compare
	// whole vectors (the common case: wideband probe and templates).
	scan := func(best *topK, lo, hi int) {
		r := lo
		if b.Split == 0 || probeUpper {
			for ; r+4 <= hi; r += 4 {
				if b.Split != 0 && !(x.upper[r] && x.upper[r+1] && x.upper[r+2] && x.upper[r+3]) {
					for q := r; q < r+4; q++ {
						best.add(score(q), q)
					}
					continue
				}
				c := x.codes[r*dim : (r+4)*dim]
				d0, d1, d2, d3 := dot4((*[dim]int8)(c[0:dim]), (*[dim]int8)(c[dim:2*dim]), (*[dim]int8)(c[2*dim:3*dim]), (*[dim]int8)(c[3*dim:4*dim]), &pf32)
				best.add(float32(d0)*x.full[r]*fullP, r)
				best.add(float32(d1)*x.full[r+1]*fullP, r+1)
				best.add(float32(d2)*x.full[r+2]*fullP, r+2)
				best.add(float32(d3)*x.full[r+3]*fullP, r+3)
			}
		}
		for ; r < hi; r++ {
			best.add(score(r), r)
		}
	}
	n := len(x.users)
	workers := 1
	if n >= parallelRows {
		workers = min(runtime.GOMAXPROCS(0), n/(parallelRows/2))
	}
	parts := make([]*topK, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			best := newTopK(keep)
			scan(best, lo, hi)
			parts[w] = best
		}()
	}
	wg.Wait()
	all := parts[0]
	for _, p := range parts[1:] {
		for _, h := range p.h {
			all.add(h.sim, int(h.row))
		}
	}
	return all.h
}

// lowProbeFactor returns the factor that turns code(row)·code(w) into the
// banded similarity, for w the probe with its bands weighted: code(w) =
// w/scale_w, so code(row)·code(w) × scale_t × scale_w = Σ t_i w_i, and the
// banded similarity divides that by |t|_w |p|_w, where |p|_w² = Σ p_i w_i.
// q is scale_w/|w| as quantise returned it, nw = |w|².
func (x *Index) lowProbeFactor(probe []float32, q float32, nw float64) float32 {
	scaleW := float64(q) * math.Sqrt(nw)
	var pw float64
	b := x.bands
	for i := 0; i < b.Split; i++ {
		s := b.LowScale
		if i >= b.LowEnd {
			s = b.HighScale
		}
		pw += float64(s) * float64(probe[i]) * float64(probe[i])
	}
	if pw == 0 {
		return 0
	}
	return float32(scaleW / math.Sqrt(pw))
}

// topK keeps the k best hits seen, unordered, with the worst's index.
type topK struct {
	h     []hit
	k     int
	worst int
}

func newTopK(k int) *topK { return &topK{h: make([]hit, 0, k), k: k} }

func (t *topK) add(sim float32, row int) {
	if len(t.h) < t.k {
		t.h = append(t.h, hit{sim, int32(row)})
		if len(t.h) == 1 || sim < t.h[t.worst].sim {
			t.worst = len(t.h) - 1
		}
		return
	}
	if sim <= t.h[t.worst].sim {
		return
	}
	t.h[t.worst] = hit{sim, int32(row)}
	t.worst = 0
	for i, h := range t.h {
		if h.sim < t.h[t.worst].sim {
			t.worst = i
		}
	}
}

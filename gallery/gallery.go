// Package gallery is the in-memory index of one tenant's voiceprints for
// identification (1:N): who, among everyone enrolled, is speaking.
//
// A search is exhaustive in two stages. The coarse stage compares the probe
// with every template on 7-bit copies (one byte an entry, 256 a voice) in
// Model.sim's bands (see speaker.Bands), eight templates at a time with SWAR
// arithmetic (dot.go), and keeps the best few; the exact stage rescores
// those with the float32 templates as verification scores a claim
// (speaker.ProbeScorer), so that an identification score and threshold mean
// what a verification's do. The 7-bit rounding moves a cosine by a few
// thousandths, less than the gap between the best voice and the 16th
// (Search re-scores at least 16, twice the asked top when that is more).
//
// Memory per voice: 256 B of codes, 1,024 B of float32 template, 18 B of
// row scalars, the cached s-norm statistics (48 B) and the user id with its
// map entry (about 60 B plus the id): about 1.4 KiB.
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
	// codes holds the templates quantised to 7 bits, each to its own
	// scale and offset by 64 (bytes 1..127), in blocks of 8 rows: block b,
	// entry d of row 8b+k is codes[(b*dim+d)*8+k].
	codes   []byte
	sumFull []int32     // [n] the row's codes summed over every entry
	sumLow  []int32     // [n] and over [:Split]
	full    []float32   // [n] scale/|t|: the code dot times this and the probe's gives the cosine
	low     []float32   // [n] scale/|t[:split]|w: the same for the banded similarity
	upper   []bool      // [n] the template has the upper band
	tmpl    [][]float32 // [n] the exact templates

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

// setCode writes row r's codes into its block.
func (x *Index) setCode(r int, code *[dim]byte) {
	base := (r / lanes) * dim * lanes
	k := r % lanes
	for d, u := range code {
		x.codes[base+d*lanes+k] = u
	}
}

// code reads row r's codes back.
func (x *Index) code(r int) (c [dim]byte) {
	base := (r / lanes) * dim * lanes
	k := r % lanes
	for d := range c {
		c[d] = x.codes[base+d*lanes+k]
	}
	return c
}

// sums returns the sums of code over every entry and over [:Split].
func (x *Index) sums(code *[dim]byte) (all, low int32) {
	for d, u := range code {
		all += int32(u)
		if d < x.bands.Split {
			low += int32(u)
		}
	}
	return all, low
}

// Put adds or replaces user's template t ([speaker.Dim]; other lengths
// are ignored). The index keeps t: the caller must not change it.
func (x *Index) Put(user string, t []float32) {
	if len(t) != dim {
		return
	}
	var code [dim]byte
	full, low := x.quantise(t, &code)
	sa, sl := x.sums(&code)
	up := x.m.HasUpper(t)
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.pos[user]
	if !ok {
		r = len(x.users)
		x.pos[user] = r
		x.users = append(x.users, user)
		if r%lanes == 0 {
			x.codes = append(x.codes, make([]byte, dim*lanes)...)
		}
		x.sumFull, x.sumLow = append(x.sumFull, 0), append(x.sumLow, 0)
		x.full, x.low, x.upper = append(x.full, 0), append(x.low, 0), append(x.upper, false)
		x.tmpl = append(x.tmpl, nil)
		x.snMu.Lock()
		x.snorm = append(x.snorm, speaker.SNorm{})
		x.snMu.Unlock()
	}
	x.setCode(r, &code)
	x.sumFull[r], x.sumLow[r] = sa, sl
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
		c := x.code(last)
		x.setCode(r, &c)
		x.sumFull[r], x.sumLow[r] = x.sumFull[last], x.sumLow[last]
		x.full[r], x.low[r], x.upper[r], x.tmpl[r] = x.full[last], x.low[last], x.upper[last], x.tmpl[last]
	}
	var zero [dim]byte
	x.setCode(last, &zero)
	delete(x.pos, user)
	x.users = x.users[:last]
	x.codes = x.codes[:(last+lanes-1)/lanes*dim*lanes]
	x.sumFull, x.sumLow = x.sumFull[:last], x.sumLow[:last]
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
	x.users, x.codes, x.sumFull, x.sumLow, x.full, x.low, x.upper, x.tmpl = nil, nil, nil, nil, nil, nil, nil, nil
	x.pos = map[string]int{}
	x.snMu.Lock()
	x.snorm = nil
	x.snMu.Unlock()
}

// quantise writes v's 7-bit code (v scaled so that its largest entry is
// ±63, offset by 64) and returns the factors that turn a signed code dot
// product into the cosine of whole vectors and into the banded similarity
// (see speaker.Bands): code·code' × full × full' and the weighted banded
// code sum × low × low'.
func (x *Index) quantise(v []float32, code *[dim]byte) (full, low float32) {
	var peak float32
	for _, f := range v {
		peak = max(peak, float32(math.Abs(float64(f))))
	}
	if peak == 0 {
		for i := range code {
			code[i] = offset
		}
		return 0, 0
	}
	scale := peak / maxCode
	var n, nl float64
	b := x.bands
	for i, f := range v {
		code[i] = byte(int(math.Round(float64(f/scale))) + offset)
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

// probeCodes is a probe prepared for the coarse stage: its codes for whole
// vectors (f) and for the banded similarity (l, the probe with its bands
// weighted), as uint64 for the SWAR kernel, with their sums and factors.
type probeCodes struct {
	f, l           [dim]uint64
	sumF, sumL     int32
	fullP, lowP    float32
	upper, hasBand bool
}

func (x *Index) prepare(probe []float32) *probeCodes {
	p := &probeCodes{upper: x.m.HasUpper(probe), hasBand: x.bands.Split > 0}
	var c [dim]byte
	p.fullP, _ = x.quantise(probe, &c)
	for i, u := range c {
		p.f[i] = uint64(u)
		p.sumF += int32(u)
	}
	b := x.bands
	if b.Split > 0 {
		w := make([]float32, dim)
		var pw float64
		for i := 0; i < b.Split; i++ {
			s := b.LowScale
			if i >= b.LowEnd {
				s = b.HighScale
			}
			w[i] = s * probe[i]
			pw += float64(s) * float64(probe[i]) * float64(probe[i])
		}
		q, _ := x.quantise(w, &c) // q = scale_w/|w|
		var nw float64
		for _, f := range w {
			nw += float64(f) * float64(f)
		}
		for i := 0; i < b.Split; i++ {
			p.l[i] = uint64(c[i])
			p.sumL += int32(c[i])
		}
		// code(row)·code(w) × scale_t × scale_w = Σ t_i w_i; the banded
		// similarity divides that by |t|_w |p|_w, |p|_w² = Σ p_i w_i.
		if pw > 0 {
			p.lowP = float32(float64(q) * math.Sqrt(nw) / math.Sqrt(pw))
		}
	}
	return p
}

// signed turns a dot product of offset codes over n entries into the dot
// product of the signed codes: Σ(u-64)(v-64) = Σuv - 64Σu - 64Σv + n·64².
func signed(uv uint32, sumU, sumV int32, n int) float32 {
	return float32(int64(uv) - offset*int64(sumU) - offset*int64(sumV) + int64(n)*offset*offset)
}

// scanBlocks scores rows [lo, hi) (lo a multiple of lanes) into best.
func (x *Index) scanBlocks(p *probeCodes, best *topK, lo, hi int) {
	b := x.bands
	for r0 := lo; r0 < hi; r0 += lanes {
		blk := x.codes[(r0/lanes)*dim*lanes : (r0/lanes+1)*dim*lanes]
		n := min(lanes, hi-r0)
		var fullD, lowD [lanes]uint32
		needFull, needLow := false, false
		for k := 0; k < n; k++ {
			if !p.hasBand || (p.upper && x.upper[r0+k]) {
				needFull = true
			} else {
				needLow = true
			}
		}
		if needFull {
			fullD = blockDots(blk, &p.f, dim)
		}
		if needLow {
			lowD = blockDots(blk, &p.l, b.Split)
		}
		for k := 0; k < n; k++ {
			r := r0 + k
			if !p.hasBand || (p.upper && x.upper[r]) {
				best.add(signed(fullD[k], x.sumFull[r], p.sumF, dim)*x.full[r]*p.fullP, r)
			} else {
				best.add(signed(lowD[k], x.sumLow[r], p.sumL, b.Split)*x.low[r]*p.lowP, r)
			}
		}
	}
}

// scoreRow is the coarse similarity of one row (searches among a group).
func (x *Index) scoreRow(p *probeCodes, r int) float32 {
	c := x.code(r)
	if !p.hasBand || (p.upper && x.upper[r]) {
		var uv uint32
		for d, u := range c {
			uv += uint32(u) * uint32(p.f[d])
		}
		return signed(uv, x.sumFull[r], p.sumF, dim) * x.full[r] * p.fullP
	}
	var uv uint32
	for d := 0; d < x.bands.Split; d++ {
		uv += uint32(c[d]) * uint32(p.l[d])
	}
	return signed(uv, x.sumLow[r], p.sumL, x.bands.Split) * x.low[r] * p.lowP
}

// coarse returns the rows of the keep best approximate similarities, in
// no particular order. Callers hold x.mu.
func (x *Index) coarse(probe []float32, keep int, among []string) []hit {
	p := x.prepare(probe)
	if among != nil {
		best := newTopK(keep)
		for _, u := range among {
			if r, ok := x.pos[u]; ok {
				best.add(x.scoreRow(p, r), r)
			}
		}
		return best.h
	}
	n := len(x.users)
	workers := 1
	if n >= parallelRows {
		workers = min(runtime.GOMAXPROCS(0), n/(parallelRows/2))
	}
	blocks := (n + lanes - 1) / lanes
	parts := make([]*topK, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := blocks*w/workers*lanes, min(n, blocks*(w+1)/workers*lanes)
		wg.Add(1)
		go func() {
			defer wg.Done()
			best := newTopK(keep)
			x.scanBlocks(p, best, lo, hi)
			parts[w] = best
		}()
	}
	wg.Wait()
	all := parts[0]
	for _, q := range parts[1:] {
		for _, h := range q.h {
			all.add(h.sim, int(h.row))
		}
	}
	return all.h
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

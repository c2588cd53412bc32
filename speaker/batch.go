package speaker

import "voxgate/tensor"

// Batched cohort statistics for identification: the similarities of many
// vectors to the model's cohort (and a deployment cohort) as two matrix
// products each, one for the whole-vector cosine and one for the banded
// similarity (Model.sim picks per pair), on the SIMD GEMM kernel. They equal
// Model.sim's loop of dot products up to float32 summation order (about
// 1e-6 in a normalised score); identification ranks and thresholds on them,
// verification keeps its own loop.

// packedCohort returns the model's cohort packed for tensor.GemmPacked,
// built on first use: [K][cohortDim] used transposed.
func (m *Model) packedCohort() *tensor.Packed {
	m.packOnce.Do(func() {
		m.packed = tensor.Pack(true, m.cohortDim, len(m.cohortNorm), 1, m.cohort, m.cohortDim)
	})
	return m.packed
}

// banded returns v ([Dim]) with its bands weighted as Model.sim weighs them
// when one side lacks the upper band, and the upper band zeroed.
func (m *Model) banded(v []float32) []float32 {
	w := make([]float32, Dim)
	if m.split == 0 {
		return w
	}
	for i := 0; i < m.split; i++ {
		if i < m.lowEnd {
			w[i] = m.lowScale * v[i]
		} else {
			w[i] = m.highScale * v[i]
		}
	}
	return w
}

// cohortSims returns the similarities of vs (each [Dim], with norms ns) to
// the model's cohort, [len(vs)][K], and to domain's vectors, [len(vs)][D].
func (m *Model) cohortSims(vs [][]float32, ns []vnorm, domain *Cohort) (model, dom [][]float64) {
	n, k := len(vs), len(m.cohortNorm)
	full := make([]float32, n*Dim)
	low := make([]float32, n*Dim)
	for i, v := range vs {
		copy(full[i*Dim:], v)
		copy(low[i*Dim:], m.banded(v))
	}
	pk := m.packedCohort()
	ld := pk.PaddedN()
	cf := make([]float32, n*ld)
	cl := make([]float32, n*ld)
	tensor.GemmPacked(n, full, Dim, pk, cf, ld, false)
	tensor.GemmPacked(n, low, Dim, pk, cl, ld, false)
	pair := func(f, l float32, a, b vnorm) float64 {
		if m.split == 0 || (a.upper && b.upper) {
			return float64(f * a.inv * b.inv)
		}
		return float64(l * a.invLow * b.invLow)
	}
	model = make([][]float64, n)
	for i := range vs {
		row := make([]float64, k)
		for j := range row {
			row[j] = pair(cf[i*ld+j], cl[i*ld+j], ns[i], m.cohortNorm[j])
		}
		model[i] = row
	}
	dom = make([][]float64, n)
	d := domain.Len()
	if d == 0 {
		return model, dom
	}
	df := make([]float32, n*d)
	dl := make([]float32, n*d)
	tensor.Gemm(true, n, d, Dim, 1, full, Dim, domain.vecs, Dim, 0, df, d)
	tensor.Gemm(true, n, d, Dim, 1, low, Dim, domain.vecs, Dim, 0, dl, d)
	for i := range vs {
		row := make([]float64, d)
		for j := range row {
			row[j] = pair(df[i*d+j], dl[i*d+j], ns[i], domain.norms[j])
		}
		dom[i] = row
	}
	return model, dom
}

// topStats returns the mean and standard deviation of the topK largest of
// model's and dom's scores, leaving out dom's entries owned by exclude;
// buf is scratch.
func (m *Model) topStats(model, dom []float64, domain *Cohort, exclude string, buf []float64) (mean, std float64) {
	x := append(buf[:0], model...)
	for j, v := range dom {
		if domain.owners[j] != exclude {
			x = append(x, v)
		}
	}
	return meanStd(largest(x, m.topK))
}

// TemplateSNorms is TemplateSNorm for many templates at once, ts[i] owned by
// owners[i], with batched similarities (see above). Templates of the wrong
// length get the zero SNorm.
func (m *Model) TemplateSNorms(ts [][]float32, domain *Cohort, owners []string) []SNorm {
	out := make([]SNorm, len(ts))
	var vs [][]float32
	var ns []vnorm
	var at []int
	for i, t := range ts {
		if len(t) != Dim {
			continue
		}
		n := m.norms(t)
		if n.inv == 0 {
			out[i] = SNorm{mean: 0, std: 1e-6, norms: n, domain: domain}
			continue
		}
		vs, ns, at = append(vs, t), append(ns, n), append(at, i)
	}
	if len(vs) == 0 {
		return out
	}
	model, dom := m.cohortSims(vs, ns, domain)
	buf := make([]float64, 0, len(m.cohortNorm)+domain.Len())
	for b, i := range at {
		mean, std := m.topStats(model[b], dom[b], domain, owners[i], buf)
		out[i] = SNorm{mean: mean, std: std, norms: ns[b], domain: domain}
	}
	return out
}

package antispoof

import (
	"math"
	"sort"

	"voxgate/tensor"
)

// The graph half of AASIST works on small node sets (at most 29 nodes of at
// most 64 features), so its layers are plain loops over row-major
// [nodes][features] slices; only the linear projections use tensor.Gemm.

// linear is a PyTorch nn.Linear: y = x·Wᵀ + b, W [out][in].
type linear struct {
	in, out int
	w, b    []float32
}

func (l linear) apply(x []float32, n int) []float32 {
	y := make([]float32, n*l.out)
	for i := range n {
		copy(y[i*l.out:(i+1)*l.out], l.b)
	}
	tensor.Gemm(true, n, l.out, l.in, 1, x, l.in, l.w, l.in, 1, y, l.out)
	return y
}

// batchNorm1d is an eval-mode BatchNorm over the feature axis, folded to
// y = x*scale + shift.
type batchNorm1d struct{ scale, shift []float32 }

func (bn batchNorm1d) seluInPlace(x []float32) {
	d := len(bn.scale)
	for i := range x {
		c := i % d
		x[i] = tensor.SELU(x[i]*bn.scale[c] + bn.shift[c])
	}
}

// pairwiseAttention returns tanh(proj(x_i ⊙ x_j)) for all node pairs:
// [n][n][proj.out].
func pairwiseAttention(x []float32, n, d int, proj linear) []float32 {
	p := make([]float32, n*n*d)
	for i := range n {
		xi := x[i*d : (i+1)*d]
		for j := range n {
			xj := x[j*d : (j+1)*d]
			pij := p[(i*n+j)*d : (i*n+j+1)*d]
			for k := range pij {
				pij[k] = xi[k] * xj[k]
			}
		}
	}
	a := proj.apply(p, n*n)
	for i, v := range a {
		a[i] = tensor.Tanh(v)
	}
	return a
}

// softmaxRows normalises each row of the n×n map in place, after dividing by
// the temperature.
func softmaxRows(a []float32, n int, temp float64) {
	for i := range n {
		row := a[i*n : (i+1)*n]
		softmax(row, temp)
	}
}

func softmax(v []float32, temp float64) {
	mx := math.Inf(-1)
	for j := range v {
		v[j] = float32(float64(v[j]) / temp)
		mx = max(mx, float64(v[j]))
	}
	var s float64
	for j, x := range v {
		e := math.Exp(float64(x) - mx)
		v[j] = float32(e)
		s += e
	}
	for j := range v {
		v[j] = float32(float64(v[j]) / s)
	}
}

// matmulSquare returns att·x for att [n][n] and x [n][d].
func matmulSquare(att, x []float32, n, d int) []float32 {
	y := make([]float32, n*d)
	tensor.Gemm(false, n, d, n, 1, att, n, x, d, 0, y, d)
	return y
}

func addInPlace(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// gatLayer is AASIST's GraphAttentionLayer: attention weights from the
// element-wise products of node pairs, then
//
//	y = SELU(BN(proj_with_att(softmax(att)·x) + proj_without_att(x))).
type gatLayer struct {
	attProj        linear
	attWeight      []float32 // [out]
	withAtt, noAtt linear
	bn             batchNorm1d
	temp           float64
}

func (g *gatLayer) forward(x []float32, n int) []float32 {
	d := g.attProj.in
	a := pairwiseAttention(x, n, d, g.attProj)
	att := make([]float32, n*n)
	for ij := range att {
		att[ij] = tensor.Dot(a[ij*g.attProj.out:(ij+1)*g.attProj.out], g.attWeight)
	}
	softmaxRows(att, n, g.temp)
	y := g.withAtt.apply(matmulSquare(att, x, n, d), n)
	addInPlace(y, g.noAtt.apply(x, n))
	g.bn.seluInPlace(y)
	return y
}

// htrgLayer is the heterogeneous stacking graph attention layer (HS-GAL): two
// node types, each projected by its own linear map, joined into one graph
// whose attention uses a separate weight vector per pair of types, plus a
// master node that attends to every node.
type htrgLayer struct {
	projType1, projType2 linear
	attProj, attProjM    linear
	w11, w22, w12, wM    []float32
	withAtt, noAtt       linear
	withAttM, noAttM     linear
	bn                   batchNorm1d
	temp                 float64
}

// forward takes n1 nodes of type 1, n2 of type 2 and the master node
// ([1][in]) and returns the updated nodes of each type and master.
func (h *htrgLayer) forward(x1 []float32, n1 int, x2 []float32, n2 int, master []float32) (y1, y2, m []float32) {
	d := h.projType1.in
	n := n1 + n2
	x := append(h.projType1.apply(x1, n1), h.projType2.apply(x2, n2)...)

	// Node attention: [n][n] with the weight vector chosen by node types.
	dOut := h.attProj.out
	a := pairwiseAttention(x, n, d, h.attProj)
	att := make([]float32, n*n)
	for i := range n {
		for j := range n {
			w := h.w12
			switch {
			case i < n1 && j < n1:
				w = h.w11
			case i >= n1 && j >= n1:
				w = h.w22
			}
			att[i*n+j] = tensor.Dot(a[(i*n+j)*dOut:(i*n+j+1)*dOut], w)
		}
	}
	softmaxRows(att, n, h.temp)

	// Master attention over all nodes, computed from the projected nodes
	// before they are updated.
	xm := make([]float32, n*d)
	for i := range n {
		for k := range d {
			xm[i*d+k] = x[i*d+k] * master[k]
		}
	}
	am := h.attProjM.apply(xm, n)
	attM := make([]float32, n)
	for i := range n {
		row := am[i*h.attProjM.out : (i+1)*h.attProjM.out]
		for k, v := range row {
			row[k] = tensor.Tanh(v)
		}
		attM[i] = tensor.Dot(row, h.wM)
	}
	softmax(attM, h.temp)
	pooled := make([]float32, d)
	for i := range n {
		for k := range d {
			pooled[k] += attM[i] * x[i*d+k]
		}
	}
	m = h.withAttM.apply(pooled, 1)
	addInPlace(m, h.noAttM.apply(master, 1))

	y := h.withAtt.apply(matmulSquare(att, x, n, d), n)
	addInPlace(y, h.noAtt.apply(x, n))
	h.bn.seluInPlace(y)
	o := h.withAtt.out
	return y[:n1*o], y[n1*o:], m
}

// graphPool keeps the top fraction of nodes by a learned score: scores are
// sigmoid(proj(x)), nodes are scaled by their score, and the k highest
// scoring ones are returned in descending score order, as torch.topk does.
type graphPool struct {
	ratio float64
	proj  linear // [1][d]
}

func (p *graphPool) forward(x []float32, n int) ([]float32, int) {
	d := p.proj.in
	s := p.proj.apply(x, n)
	for i, v := range s {
		s[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	k := max(int(float64(n)*p.ratio), 1)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]] > s[idx[b]] })
	y := make([]float32, k*d)
	for r, i := range idx[:k] {
		for c := range d {
			y[r*d+c] = x[i*d+c] * s[i]
		}
	}
	return y, k
}

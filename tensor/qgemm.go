package tensor

import "math"

// The INT8 path: on CPUs with AVX-512 VNNI, VPDPBUSD multiplies 64 pairs of
// unsigned and signed bytes and adds them into sixteen int32 lanes in one
// instruction, four times the multiply-adds of an FP32 FMA. Weights are
// quantised once per output column (symmetric, scale = max|w|/127);
// activations per product call (symmetric, scale = max|a|/127, stored as
// a/scale+128 so that they are unsigned). The +128 is taken back exactly by
// a per-column correction, -128·Σw, added to the int32 sums before they
// become floats: C[i][j] = (Σ_k qa[i][k]·qw[k][j] - 128·Σ_k qw[k][j]) ·
// scaleA·scaleW[j].

// QPacked is a packed B matrix in INT8 for GemmQ: ceil(N/16) panels, each
// KP/4 groups of 16 columns × 4 consecutive k values, so that one 64-byte
// load meets one broadcast 4-byte group of an A row.
type QPacked struct {
	K, N int
	// KP is K rounded up to a multiple of 4; the extra rows are zero.
	KP   int
	Data []int8 // [panels][KP/4][16][4]
	// Corr is -128·Σ_k of each column's quantised weights; Scale is each
	// column's weight scale. Both have PaddedN entries (zero past N).
	Corr  []int32
	Scale []float32
}

// Panels is the number of 16-column panels.
func (q *QPacked) Panels() int { return (q.N + Panel - 1) / Panel }

// PaddedN is N rounded up to whole panels: the row length GemmQ writes.
func (q *QPacked) PaddedN() int { return q.Panels() * Panel }

// Quantize returns p's INT8 form, each column with its own scale.
func Quantize(p *Packed) *QPacked {
	k, np := p.K, p.Panels()
	q := &QPacked{K: k, N: p.N, KP: (k + 3) &^ 3}
	q.Data = make([]int8, np*q.KP*Panel)
	q.Corr = make([]int32, np*Panel)
	q.Scale = make([]float32, np*Panel)
	for pn := range np {
		src := p.Data[pn*k*Panel : (pn+1)*k*Panel] // [k][16]
		dst := q.Data[pn*q.KP*Panel : (pn+1)*q.KP*Panel]
		for j := range Panel {
			var m float32
			for kk := range k {
				m = max(m, abs32(src[kk*Panel+j]))
			}
			s := m / 127
			if s == 0 {
				s = 1
			}
			q.Scale[pn*Panel+j] = s
			var sum int32
			for kk := range k {
				v := int8(math.Round(float64(src[kk*Panel+j] / s)))
				dst[(kk/4)*Panel*4+j*4+kk%4] = v
				sum += int32(v)
			}
			q.Corr[pn*Panel+j] = -128 * sum
		}
	}
	return q
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// QuantizeActivations stores src in dst (same length) as unsigned bytes,
// src/scale+128 rounded, with the symmetric scale max|src|/127, which it
// returns (1 for an all-zero src). Zero maps to 128 exactly, so zero
// padding stays zero through the product.
func QuantizeActivations(dst []uint8, src []float32) float32 {
	dst = dst[:len(src)]
	s := maxAbs(src) / 127
	if s == 0 || math.IsInf(float64(s), 0) {
		s = 1
	}
	quantU8(dst, src, 1/s)
	return s
}

func maxAbsGo(x []float32) float32 {
	var m float32
	for _, v := range x {
		if a := abs32(v); a > m { // NaN never is
			m = a
		}
	}
	return m
}

func quantU8Go(dst []uint8, src []float32, inv float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		r := v*inv + 128.5 // truncation rounds half up
		if !(r >= 1) {     // also NaN
			r = 1
		} else if r > 255 {
			r = 255
		}
		dst[i] = uint8(r)
	}
}

// UseQ reports whether GemmQ runs on VNNI here; elsewhere it is a slow
// portable reference, and callers should keep their FP32 products.
func UseQ() bool { return useVNNI }

// GemmQ computes C = A·B (or C += A·B when accumulate) like GemmPacked, for
// A quantised by QuantizeActivations with scale aScale (m rows, row stride
// lda bytes; rows may overlap) and B quantised by Quantize. A row is read
// over KP bytes: when K is not a multiple of 4, the bytes past K meet zero
// weights but must lie inside a. C has row stride ldc and every row is
// written over PaddedN columns.
func GemmQ(m int, a []uint8, lda int, aScale float32, b *QPacked, c []float32, ldc int, accumulate bool) {
	if m <= 0 || b.N == 0 {
		return
	}
	np := b.Panels()
	var buf [256]float32
	var scale []float32
	if n := np * Panel; n <= len(buf) {
		scale = buf[:n]
	} else {
		scale = make([]float32, n)
	}
	for j := range scale {
		scale[j] = aScale * b.Scale[j]
	}
	kp := b.KP
	i := 0
	if useVNNI && np >= 2 && kp > 0 {
		for ; i+2*Rows <= m; i += 2 * Rows {
			ai := a[i*lda:]
			ci := c[i*ldc:]
			p := 0
			for ; p+1 < np; p += 2 {
				kern12x32VNNI(kp, ai, lda, b.Data[p*kp*Panel:(p+1)*kp*Panel], b.Data[(p+1)*kp*Panel:(p+2)*kp*Panel],
					ci[p*Panel:], ldc, accumulate, b.Corr[p*Panel:(p+2)*Panel], scale[p*Panel:(p+2)*Panel])
			}
			for ; p < np; p++ {
				qgemmGo(2*Rows, ai, lda, b, p, scale, ci, ldc, accumulate)
			}
		}
	}
	for ; i < m; i += Rows {
		rows := min(Rows, m-i)
		for p := range np {
			qgemmGo(rows, a[i*lda:], lda, b, p, scale, c[i*ldc:], ldc, accumulate)
		}
	}
}

// qgemmGo is the portable reference of one panel for rows rows.
func qgemmGo(rows int, a []uint8, lda int, b *QPacked, p int, scale []float32, c []float32, ldc int, acc bool) {
	kp := b.KP
	panel := b.Data[p*kp*Panel : (p+1)*kp*Panel]
	for r := range rows {
		ar := a[r*lda : r*lda+kp]
		var sums [Panel]int32
		for g := 0; g < kp/4; g++ {
			a0, a1, a2, a3 := int32(ar[4*g]), int32(ar[4*g+1]), int32(ar[4*g+2]), int32(ar[4*g+3])
			w := panel[g*Panel*4 : (g+1)*Panel*4]
			for j := range Panel {
				sums[j] += a0*int32(w[4*j]) + a1*int32(w[4*j+1]) + a2*int32(w[4*j+2]) + a3*int32(w[4*j+3])
			}
		}
		cr := c[r*ldc+p*Panel : r*ldc+p*Panel+Panel]
		for j := range Panel {
			v := float32(sums[j]+b.Corr[p*Panel+j]) * scale[p*Panel+j]
			if acc {
				cr[j] += v
			} else {
				cr[j] = v
			}
		}
	}
}

package tensor

// Panel is the column width of a packed B matrix and of the micro-kernel's
// output tile; Rows is the tile height.
const (
	Panel = 16
	Rows  = 6
)

// Packed is a k×n matrix B laid out for the micro-kernel: ceil(n/16) panels,
// each k rows of 16 contiguous floats, the columns past n zero. Pack a weight
// matrix once at load time and multiply by it many times with GemmPacked.
type Packed struct {
	K, N int
	Data []float32 // [ceil(N/16)][K][16]
}

// Panels is the number of 16-column panels.
func (p *Packed) Panels() int { return (p.N + Panel - 1) / Panel }

// PaddedN is N rounded up to whole panels: the row length GemmPacked writes.
func (p *Packed) PaddedN() int { return p.Panels() * Panel }

// Pack lays out B (k×n, row stride ldb) for GemmPacked, scaled by alpha.
// With transB, B is given as n×k (a PyTorch Linear or Conv weight) and used
// transposed.
func Pack(transB bool, k, n int, alpha float32, b []float32, ldb int) *Packed {
	p := &Packed{K: k, N: n}
	p.Data = make([]float32, p.Panels()*k*Panel)
	for j0 := 0; j0 < n; j0 += Panel {
		dst := p.Data[(j0/Panel)*k*Panel:]
		w := min(Panel, n-j0)
		for kk := 0; kk < k; kk++ {
			row := dst[kk*Panel : kk*Panel+Panel]
			for j := 0; j < w; j++ {
				if transB {
					row[j] = alpha * b[(j0+j)*ldb+kk]
				} else {
					row[j] = alpha * b[kk*ldb+j0+j]
				}
			}
		}
	}
	return p
}

// GemmPacked computes C = A·B (or C += A·B when accumulate) for the m×k
// matrix A with row stride lda and a packed B. Rows of A may overlap
// (lda < k): that is how a convolution reads its input without an im2col
// copy. C has row stride ldc and every row is written over PaddedN columns;
// the columns from N to PaddedN receive A times the zero padding, so C must
// have room for them (ldc >= PaddedN).
func GemmPacked(m int, a []float32, lda int, b *Packed, c []float32, ldc int, accumulate bool) {
	k := b.K
	if m <= 0 || b.N == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+b.PaddedN()])
			}
		}
		return
	}
	np := b.Panels()
	i := 0
	if useAVX512 && np >= 2 {
		// 12×32 tiles over panel pairs; an odd last panel in 6×16 tiles.
		for ; i+2*Rows <= m; i += 2 * Rows {
			ai := a[i*lda:]
			ci := c[i*ldc:]
			p := 0
			for ; p+1 < np; p += 2 {
				kern12x32(k, ai, lda, b.Data[p*k*Panel:(p+1)*k*Panel], b.Data[(p+1)*k*Panel:(p+2)*k*Panel], ci[p*Panel:], ldc, accumulate)
			}
			if p < np {
				bp := b.Data[p*k*Panel : (p+1)*k*Panel]
				kern6x16(k, ai, lda, bp, ci[p*Panel:], ldc, accumulate)
				kern6x16(k, ai[Rows*lda:], lda, bp, ci[Rows*ldc+p*Panel:], ldc, accumulate)
			}
		}
	}
	for ; i+Rows <= m; i += Rows {
		ai := a[i*lda:]
		ci := c[i*ldc:]
		p := 0
		for ; p+1 < np; p += 2 {
			if !kern6x32(k, ai, lda, b.Data[p*k*Panel:(p+1)*k*Panel], b.Data[(p+1)*k*Panel:(p+2)*k*Panel], ci[p*Panel:], ldc, accumulate) {
				break
			}
		}
		for ; p < np; p++ {
			kern6x16(k, ai, lda, b.Data[p*k*Panel:(p+1)*k*Panel], ci[p*Panel:], ldc, accumulate)
		}
	}
	for ; i < m; i++ {
		ai := a[i*lda : i*lda+k]
		ci := c[i*ldc:]
		for p := 0; p < np; p++ {
			kern1x16(k, ai, b.Data[p*k*Panel:(p+1)*k*Panel], ci[p*Panel:p*Panel+Panel], accumulate)
		}
	}
}

// gemmPackedExact is GemmPacked for a C that has only N columns per row: the
// last, partial panel goes through a scratch tile.
func gemmPackedExact(m int, a []float32, lda int, b *Packed, c []float32, ldc int) {
	k, n := b.K, b.N
	full := n / Panel
	var tile [Rows * Panel]float32
	i := 0
	for ; i < m; i += Rows {
		rows := min(Rows, m-i)
		ai := a[i*lda:]
		ci := c[i*ldc:]
		p := 0
		if rows == Rows {
			for ; p+1 < full; p += 2 {
				if !kern6x32(k, ai, lda, b.Data[p*k*Panel:(p+1)*k*Panel], b.Data[(p+1)*k*Panel:(p+2)*k*Panel], ci[p*Panel:], ldc, true) {
					break
				}
			}
		}
		for ; p < full; p++ {
			bp := b.Data[p*k*Panel : (p+1)*k*Panel]
			if rows == Rows {
				kern6x16(k, ai, lda, bp, ci[p*Panel:], ldc, true)
				continue
			}
			for r := 0; r < rows; r++ {
				kern1x16(k, ai[r*lda:r*lda+k], bp, ci[r*ldc+p*Panel:r*ldc+p*Panel+Panel], true)
			}
		}
		if rem := n - full*Panel; rem > 0 {
			bp := b.Data[full*k*Panel : (full+1)*k*Panel]
			if rows == Rows {
				kern6x16(k, ai, lda, bp, tile[:], Panel, false)
			} else {
				for r := 0; r < rows; r++ {
					kern1x16(k, ai[r*lda:r*lda+k], bp, tile[r*Panel:r*Panel+Panel], false)
				}
			}
			for r := 0; r < rows; r++ {
				dst := ci[r*ldc+full*Panel : r*ldc+n]
				for j := range dst {
					dst[j] += tile[r*Panel+j]
				}
			}
		}
	}
}

// Gemm computes C = alpha*A·B + beta*C for row-major matrices:
// A is [m][k] with row stride lda, B is [k][n] with row stride ldb,
// C is [m][n] with row stride ldc. When transB is true, B is given as
// [n][k] (row stride ldb) and used transposed, which is the layout of
// PyTorch Linear weights.
//
// This is the single hot kernel of every model port; its signature is
// stable so that faster implementations can replace the body. Large
// products pack B (one allocation of k*n floats) and run the SIMD
// micro-kernel; small ones, and matrix-vector products, use plain loops.
func Gemm(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	if m >= Rows && n >= Panel/2 && m*n*k >= 1<<14 {
		gemmPackedExact(m, a, lda, Pack(transB, k, n, alpha, b, ldb), c, ldc)
		return
	}
	if transB {
		for i := 0; i < m; i++ {
			ai := a[i*lda : i*lda+k]
			ci := c[i*ldc : i*ldc+n]
			for j := 0; j < n; j++ {
				ci[j] += alpha * Dot(ai, b[j*ldb:j*ldb+k])
			}
		}
		return
	}
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		for p := 0; p < k; p++ {
			s := alpha * a[i*lda+p]
			if s == 0 {
				continue
			}
			bp := b[p*ldb : p*ldb+n]
			for j, v := range bp {
				ci[j] += s * v
			}
		}
	}
}

// Dot returns the inner product of two equally long vectors.
func Dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// kern6x16Go is the portable micro-kernel: C[0:6][0:16] (+)= A·panel.
func kern6x16Go(k int, a []float32, lda int, b, c []float32, ldc int, acc bool) {
	var t [Rows][Panel]float32
	for p := 0; p < k; p++ {
		bp := (*[Panel]float32)(b[p*Panel : p*Panel+Panel])
		for r := 0; r < Rows; r++ {
			s := a[r*lda+p]
			tr := &t[r]
			for j := range tr {
				tr[j] += s * bp[j]
			}
		}
	}
	for r := 0; r < Rows; r++ {
		cr := (*[Panel]float32)(c[r*ldc : r*ldc+Panel])
		if acc {
			for j := range cr {
				cr[j] += t[r][j]
			}
		} else {
			*cr = t[r]
		}
	}
}

// kern1x16Go is the portable one-row kernel.
func kern1x16Go(k int, a, b, c []float32, acc bool) {
	var t [Panel]float32
	for p := 0; p < k; p++ {
		bp := (*[Panel]float32)(b[p*Panel : p*Panel+Panel])
		s := a[p]
		for j := range t {
			t[j] += s * bp[j]
		}
	}
	cr := (*[Panel]float32)(c[:Panel])
	if acc {
		for j := range cr {
			cr[j] += t[j]
		}
	} else {
		*cr = t
	}
}

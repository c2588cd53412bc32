package tensor

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly micro-kernels; it is fixed at start-up by the
// CPU's features and never changes after.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAVX512 selects the two-panel ZMM kernel (x/sys/cpu also checks that the
// OS saves ZMM state).
var useAVX512 = useAVX2 && cpu.X86.HasAVX512F

//go:noescape
func kern6x32AVX512(k int, a *float32, lda int, b0, b1 *float32, c *float32, ldc int, acc bool)

// kern6x32 computes a 6×32 tile from two adjacent panels, or reports false
// when the CPU lacks AVX-512 so the caller falls back to 6×16 tiles.
func kern6x32(k int, a []float32, lda int, b0, b1, c []float32, ldc int, acc bool) bool {
	if !useAVX512 {
		return false
	}
	_ = a[5*lda+k-1]
	_ = b0[16*k-1]
	_ = b1[16*k-1]
	_ = c[5*ldc+31]
	kern6x32AVX512(k, &a[0], lda, &b0[0], &b1[0], &c[0], ldc, acc)
	return true
}

//go:noescape
func kern6x16AVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, acc bool)

//go:noescape
func kern1x16AVX2(k int, a *float32, b *float32, c *float32, acc bool)

// kern6x16 computes a 6×16 tile of C from six rows of A and a packed panel.
// a must hold 5*lda+k values, b 16*k, c 5*ldc+16.
func kern6x16(k int, a []float32, lda int, b, c []float32, ldc int, acc bool) {
	if !useAVX2 {
		kern6x16Go(k, a, lda, b, c, ldc, acc)
		return
	}
	_ = a[5*lda+k-1]
	_ = b[16*k-1]
	_ = c[5*ldc+15]
	kern6x16AVX2(k, &a[0], lda, &b[0], &c[0], ldc, acc)
}

// kern1x16 computes one row of a tile: c[0:16] (+)= a[0:k] · panel.
func kern1x16(k int, a, b, c []float32, acc bool) {
	if !useAVX2 {
		kern1x16Go(k, a, b, c, acc)
		return
	}
	_ = a[k-1]
	_ = b[16*k-1]
	_ = c[15]
	kern1x16AVX2(k, &a[0], &b[0], &c[0], acc)
}

//go:noescape
func seluShiftAVX2(x *float32, rows int, shift *float32, c int)

//go:noescape
func maxPool3BiasAVX2(dst, src, bias *float32, groups, c int)

//go:noescape
func seluShiftAVX512(x *float32, rows int, shift *float32, c int)

//go:noescape
func kern12x32AVX512(k int, a *float32, lda int, b0, b1 *float32, c *float32, ldc int, acc bool)

// kern12x32 computes a 12×32 tile from two adjacent panels, or reports
// false when the CPU lacks AVX-512.
func kern12x32(k int, a []float32, lda int, b0, b1, c []float32, ldc int, acc bool) bool {
	if !useAVX512 {
		return false
	}
	_ = a[11*lda+k-1]
	_ = b0[16*k-1]
	_ = b1[16*k-1]
	_ = c[11*ldc+31]
	kern12x32AVX512(k, &a[0], lda, &b0[0], &b1[0], &c[0], ldc, acc)
	return true
}

//go:build !amd64

package tensor

func kern6x16(k int, a []float32, lda int, b, c []float32, ldc int, acc bool) {
	kern6x16Go(k, a, lda, b, c, ldc, acc)
}

func kern1x16(k int, a, b, c []float32, acc bool) { kern1x16Go(k, a, b, c, acc) }

const useAVX2 = false

func seluShiftAVX2(x *float32, rows int, shift *float32, c int) { panic("unreachable") }

func kern6x32(k int, a []float32, lda int, b0, b1, c []float32, ldc int, acc bool) bool { return false }

func maxPool3BiasAVX2(dst, src, bias *float32, groups, c int) { panic("unreachable") }

const useAVX512 = false

func seluShiftAVX512(x *float32, rows int, shift *float32, c int) { panic("unreachable") }

func kern12x32(k int, a []float32, lda int, b0, b1, c []float32, ldc int, acc bool) bool {
	return false
}

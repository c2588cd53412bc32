//go:build !amd64

package tensor

func kern6x16(k int, a []float32, lda int, b, c []float32, ldc int, acc bool) {
	kern6x16Go(k, a, lda, b, c, ldc, acc)
}

func kern1x16(k int, a, b, c []float32, acc bool) { kern1x16Go(k, a, b, c, acc) }

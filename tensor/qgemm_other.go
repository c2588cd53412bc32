//go:build !amd64

package tensor

const useVNNI = false

func kern12x32VNNI(kp int, a []uint8, lda int, b0, b1 []int8, c []float32, ldc int, acc bool, corr []int32, scale []float32) {
	panic("unreachable")
}

func maxAbs(x []float32) float32 { return maxAbsGo(x) }

func quantU8(dst []uint8, src []float32, inv float32) { quantU8Go(dst, src, inv) }

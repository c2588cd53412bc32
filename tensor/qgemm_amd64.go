package tensor

import "golang.org/x/sys/cpu"

// useVNNI selects the INT8 micro-kernel (AVX-512 VNNI's VPDPBUSD).
var useVNNI = useAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI

//go:noescape
func kern12x32VNNIAsm(kp int, a *uint8, lda int, b0, b1 *int8, c *float32, ldc int, acc bool, corr *int32, scale *float32)

// kern12x32VNNI computes a 12×32 tile from two adjacent INT8 panels.
func kern12x32VNNI(kp int, a []uint8, lda int, b0, b1 []int8, c []float32, ldc int, acc bool, corr []int32, scale []float32) {
	_ = a[11*lda+kp-1]
	_ = b0[16*kp-1]
	_ = b1[16*kp-1]
	_ = c[11*ldc+31]
	_ = corr[31]
	_ = scale[31]
	kern12x32VNNIAsm(kp, &a[0], lda, &b0[0], &b1[0], &c[0], ldc, acc, &corr[0], &scale[0])
}

//go:noescape
func maxAbsAVX512(x *float32, n int) float32

//go:noescape
func quantU8AVX512(dst *uint8, src *float32, n int, inv float32)

// maxAbs returns max |x[i]| (NaNs skipped) and quantU8 stores
// clamp(x*inv+128.5, 1, 255) truncated: QuantizeActivations' two passes.
func maxAbs(x []float32) float32 {
	var m float32
	n := 0
	if useAVX512 {
		n = len(x) &^ 15
		if n > 0 {
			m = maxAbsAVX512(&x[0], n)
		}
	}
	for _, v := range x[n:] {
		if a := abs32(v); a > m {
			m = a
		}
	}
	return m
}

func quantU8(dst []uint8, src []float32, inv float32) {
	n := 0
	if useAVX512 {
		n = len(src) &^ 15
		if n > 0 {
			_ = dst[n-1]
			quantU8AVX512(&dst[0], &src[0], n, inv)
		}
	}
	quantU8Go(dst[n:], src[n:], inv)
}

#include "textflag.h"

// Constants for the SELU kernel, each broadcast from 4 bytes.
DATA seluC<>+0(SB)/4, $-87.0              // clamp: exp(x) underflows below
DATA seluC<>+4(SB)/4, $1.44269504088896341 // log2(e)
DATA seluC<>+8(SB)/4, $0.693359375         // ln2, high part
DATA seluC<>+12(SB)/4, $-2.12194440e-4     // ln2, low part
DATA seluC<>+16(SB)/4, $1.9875691500E-4    // Cephes expf polynomial
DATA seluC<>+20(SB)/4, $1.3981999507E-3
DATA seluC<>+24(SB)/4, $8.3334519073E-3
DATA seluC<>+28(SB)/4, $4.1665795894E-2
DATA seluC<>+32(SB)/4, $1.6666665459E-1
DATA seluC<>+36(SB)/4, $5.0000001201E-1
DATA seluC<>+40(SB)/4, $1.0
DATA seluC<>+44(SB)/4, $1.0507009873554804934193349852946            // scale
DATA seluC<>+48(SB)/4, $1.7580993408473768599402175208123            // scale*alpha
DATA seluC<>+52(SB)/4, $127
GLOBL seluC<>(SB), RODATA|NOPTR, $56

// func seluShiftAVX2(x *float32, rows int, shift *float32, c int)
//
// For each of rows rows of c floats (c a multiple of 8):
// x = SELU(x + shift), with expm1 from a range-reduced polynomial
// (2^k·(r + r²·p(r)) + (2^k - 1), no cancellation near zero).
TEXT ·seluShiftAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ rows+8(FP), CX
	MOVQ shift+16(FP), R8
	MOVQ c+24(FP), R9
	SHRQ $3, R9
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JE   done
	TESTQ R9, R9
	JE   done

row:
	MOVQ R8, SI
	MOVQ R9, DX

vec:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0              // x + shift
	VBROADCASTSS seluC<>+0(SB), Y1
	VMAXPS  Y1, Y0, Y1                // max(x, -87)
	VMINPS  Y15, Y1, Y1               // min(., 0)
	VBROADCASTSS seluC<>+4(SB), Y2
	VMULPS  Y2, Y1, Y2
	VROUNDPS $0, Y2, Y2               // k = round(x·log2 e)
	VBROADCASTSS seluC<>+8(SB), Y3
	VFNMADD231PS Y3, Y2, Y1           // r = x - k·ln2hi
	VBROADCASTSS seluC<>+12(SB), Y3
	VFNMADD231PS Y3, Y2, Y1           // r -= k·ln2lo
	VBROADCASTSS seluC<>+16(SB), Y4
	VBROADCASTSS seluC<>+20(SB), Y5
	VFMADD213PS Y5, Y1, Y4            // p = p·r + c
	VBROADCASTSS seluC<>+24(SB), Y5
	VFMADD213PS Y5, Y1, Y4
	VBROADCASTSS seluC<>+28(SB), Y5
	VFMADD213PS Y5, Y1, Y4
	VBROADCASTSS seluC<>+32(SB), Y5
	VFMADD213PS Y5, Y1, Y4
	VBROADCASTSS seluC<>+36(SB), Y5
	VFMADD213PS Y5, Y1, Y4
	VMULPS  Y1, Y1, Y5                // r²
	VFMADD213PS Y1, Y5, Y4            // q = p·r² + r = expm1(r)
	VCVTPS2DQ Y2, Y6
	VPBROADCASTD seluC<>+52(SB), Y7
	VPADDD  Y7, Y6, Y6
	VPSLLD  $23, Y6, Y6               // 2^k
	VBROADCASTSS seluC<>+40(SB), Y7
	VSUBPS  Y7, Y6, Y7                // 2^k - 1
	VFMADD213PS Y7, Y6, Y4            // expm1(x) = 2^k·q + 2^k - 1
	VBROADCASTSS seluC<>+48(SB), Y5
	VMULPS  Y5, Y4, Y4                // negative branch
	VBROADCASTSS seluC<>+44(SB), Y5
	VMULPS  Y5, Y0, Y5                // positive branch
	VCMPPS  $0x0e, Y15, Y0, Y6        // x > 0
	VBLENDVPS Y6, Y5, Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ DX
	JNE  vec
	DECQ CX
	JNE  row

done:
	VZEROUPPER
	RET

// func seluShiftAVX512(x *float32, rows int, shift *float32, c int)
//
// seluShiftAVX2 on 16 lanes, with every constant held in a register.
TEXT ·seluShiftAVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ rows+8(FP), CX
	MOVQ shift+16(FP), R8
	MOVQ c+24(FP), R9
	SHRQ $4, R9
	TESTQ CX, CX
	JE   done512
	TESTQ R9, R9
	JE   done512
	VPXORD       Z15, Z15, Z15
	VBROADCASTSS seluC<>+0(SB), Z16
	VBROADCASTSS seluC<>+4(SB), Z17
	VBROADCASTSS seluC<>+8(SB), Z18
	VBROADCASTSS seluC<>+12(SB), Z19
	VBROADCASTSS seluC<>+16(SB), Z20
	VBROADCASTSS seluC<>+20(SB), Z21
	VBROADCASTSS seluC<>+24(SB), Z22
	VBROADCASTSS seluC<>+28(SB), Z23
	VBROADCASTSS seluC<>+32(SB), Z24
	VBROADCASTSS seluC<>+36(SB), Z25
	VBROADCASTSS seluC<>+40(SB), Z26
	VBROADCASTSS seluC<>+44(SB), Z27
	VBROADCASTSS seluC<>+48(SB), Z28
	VPBROADCASTD seluC<>+52(SB), Z29

row512:
	MOVQ R8, SI
	MOVQ R9, DX

vec512:
	VMOVUPS (DI), Z0
	VADDPS  (SI), Z0, Z0
	VMAXPS  Z16, Z0, Z1
	VMINPS  Z15, Z1, Z1
	VMULPS  Z17, Z1, Z2
	VRNDSCALEPS $0, Z2, Z2
	VFNMADD231PS Z18, Z2, Z1
	VFNMADD231PS Z19, Z2, Z1
	VMOVAPS Z20, Z4
	VFMADD213PS Z21, Z1, Z4
	VFMADD213PS Z22, Z1, Z4
	VFMADD213PS Z23, Z1, Z4
	VFMADD213PS Z24, Z1, Z4
	VFMADD213PS Z25, Z1, Z4
	VMULPS  Z1, Z1, Z5
	VFMADD213PS Z1, Z5, Z4
	VCVTPS2DQ Z2, Z6
	VPADDD  Z29, Z6, Z6
	VPSLLD  $23, Z6, Z6
	VSUBPS  Z26, Z6, Z7
	VFMADD213PS Z7, Z6, Z4
	VMULPS  Z28, Z4, Z4
	VMULPS  Z27, Z0, Z5
	VCMPPS  $0x0e, Z15, Z0, K1
	VBLENDMPS Z5, Z4, K1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ DX
	JNE  vec512
	DECQ CX
	JNE  row512

done512:
	VZEROUPPER
	RET

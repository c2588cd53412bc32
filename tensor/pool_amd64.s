#include "textflag.h"

// func maxPool3BiasAVX2(dst, src, bias *float32, groups, c int)
//
// dst[g][:] = max(src[3g][:], src[3g+1][:], src[3g+2][:]) + bias[:] for rows
// of c floats (c a multiple of 8).
TEXT ·maxPool3BiasAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), R8
	MOVQ groups+24(FP), CX
	MOVQ c+32(FP), R9
	MOVQ R9, R10
	SHLQ $2, R10             // row bytes
	SHRQ $3, R9              // vectors per row
	TESTQ CX, CX
	JE   done
	TESTQ R9, R9
	JE   done

group:
	MOVQ R8, BX
	MOVQ R9, DX
	MOVQ SI, AX

vec:
	VMOVUPS (AX), Y0
	VMAXPS  (AX)(R10*1), Y0, Y0
	VMAXPS  (AX)(R10*2), Y0, Y0
	VADDPS  (BX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ DX
	JNE  vec
	LEAQ (SI)(R10*2), SI
	ADDQ R10, SI             // next three rows
	DECQ CX
	JNE  group

done:
	VZEROUPPER
	RET

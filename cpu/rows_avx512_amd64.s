//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 kernels of rows.go: pairDot and axpy over many rows in one call.

// func dotRowsAVX512(out, k *float32, stride, rows, blocks int, q *float32)
// Each row as f32AVX512 computes it: the 16 canonical lanes, products and
// sums rounded one at a time, reduced by reduce16's tree.
TEXT ·dotRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ k+8(FP), R9
	MOVQ stride+16(FP), R8
	MOVQ rows+24(FP), BX
	MOVQ q+40(FP), DX
	TESTQ BX, BX
	JZ dotrowsdone

dotrowsrow:
	MOVQ R9, R10
	MOVQ DX, R11
	MOVQ blocks+32(FP), CX
	VPXORD Z16, Z16, Z16

dotrowsblock:
	VMOVUPS (R10), Z0
	VMOVUPS 64(R10), Z1
	VMULPS (R11), Z0, Z0
	VMULPS 64(R11), Z1, Z1
	VADDPS Z1, Z0, Z0
	VADDPS Z0, Z16, Z16
	ADDQ $128, R10
	ADDQ $128, R11
	DECQ CX
	JNZ dotrowsblock

	VEXTRACTF64X4 $1, Z16, Y1
	VADDPS Y1, Y16, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VPSHUFD $1, X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ R8, R9
	DECQ BX
	JNZ dotrowsrow

dotrowsdone:
	VZEROUPPER
	RET

// func axpyRowsAVX512(o, v *float32, stride, rows, n int, w *float32)
// o += w[p]·v_p for each row p in order, each element's product and sum
// rounded one at a time, as axpy: 128 elements at a time held in Z0-Z7
// over all the rows, then 16 at a time in Z0.
TEXT ·axpyRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ v+8(FP), R9
	MOVQ stride+16(FP), R8
	MOVQ n+32(FP), CX

axpyrows128:
	CMPQ CX, $128
	JLT axpyrows16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS 256(DI), Z4
	VMOVUPS 320(DI), Z5
	VMOVUPS 384(DI), Z6
	VMOVUPS 448(DI), Z7
	MOVQ R9, R10
	MOVQ w+40(FP), R11
	MOVQ rows+24(FP), BX

axpyrows128row:
	VBROADCASTSS (R11), Z8
	VMULPS (R10), Z8, Z9
	VADDPS Z9, Z0, Z0
	VMULPS 64(R10), Z8, Z9
	VADDPS Z9, Z1, Z1
	VMULPS 128(R10), Z8, Z9
	VADDPS Z9, Z2, Z2
	VMULPS 192(R10), Z8, Z9
	VADDPS Z9, Z3, Z3
	VMULPS 256(R10), Z8, Z9
	VADDPS Z9, Z4, Z4
	VMULPS 320(R10), Z8, Z9
	VADDPS Z9, Z5, Z5
	VMULPS 384(R10), Z8, Z9
	VADDPS Z9, Z6, Z6
	VMULPS 448(R10), Z8, Z9
	VADDPS Z9, Z7, Z7
	ADDQ R8, R10
	ADDQ $4, R11
	DECQ BX
	JNZ axpyrows128row

	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ $512, DI
	ADDQ $512, R9
	SUBQ $128, CX
	JMP axpyrows128

axpyrows16:
	TESTQ CX, CX
	JZ axpyrowsdone
	VMOVUPS (DI), Z0
	MOVQ R9, R10
	MOVQ w+40(FP), R11
	MOVQ rows+24(FP), BX

axpyrows16row:
	VBROADCASTSS (R11), Z8
	VMULPS (R10), Z8, Z9
	VADDPS Z9, Z0, Z0
	ADDQ R8, R10
	ADDQ $4, R11
	DECQ BX
	JNZ axpyrows16row

	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, R9
	SUBQ $16, CX
	JMP axpyrows16

axpyrowsdone:
	VZEROUPPER
	RET

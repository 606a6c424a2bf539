//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 kernels: the AVX-512 ones with the 16 canonical lanes in two Y
// registers, lanes 0-7 and 8-15. They compute the same bits.

DATA k15<>+0(SB)/4, $15
GLOBL k15<>(SB), RODATA|NOPTR, $4

// REDUCE8(ya, yb, rx, ry, tx): rx = reduce16 of lanes ya (0-7), yb (8-15).
#define REDUCE8(ya, yb, rx, ry, tx) \
	VADDPS yb, ya, ry \
	VEXTRACTF128 $1, ry, tx \
	VADDPS tx, rx, rx \
	VMOVHLPS rx, rx, tx \
	VADDPS tx, rx, rx \
	VPSHUFD $1, rx, tx \
	VADDSS tx, rx, rx

// PAIRS2(a, b, xa, xb, acc): acc += a·x[xa] + b·x[xb], x at R11.
#define PAIRS2(a, b, xa, xb, acc) \
	VMULPS xa(R11), a, a \
	VMULPS xb(R11), b, b \
	VADDPS b, a, a \
	VADDPS a, acc, acc

// func f32AVX2(out *float32, w *byte, rows, blocks int, x *float32)
// blocks are of 32 floats.
TEXT ·f32AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	TESTQ R9, R9
	JZ f322done

f322row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

f322block:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS 64(R10), Y2
	VMOVUPS 96(R10), Y3
	PAIRS2(Y0, Y2, 0, 64, Y12)
	PAIRS2(Y1, Y3, 32, 96, Y13)
	ADDQ $128, R10
	ADDQ $128, R11
	DECQ CX
	JNZ f322block

	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ f322row

f322done:
	VZEROUPPER
	RET

// TILE2_TOKEN(x, a0, a1): acc a0/a1 += the row in Y0-Y3 against token x.
#define TILE2_TOKEN(x, a0, a1) \
	VMULPS (x), Y0, Y4 \
	VMULPS 64(x), Y2, Y5 \
	VADDPS Y5, Y4, Y4 \
	VADDPS Y4, a0, a0 \
	VMULPS 32(x), Y1, Y6 \
	VMULPS 96(x), Y3, Y7 \
	VADDPS Y7, Y6, Y6 \
	VADDPS Y6, a1, a1

// func gemm1x4AVX2(out *float32, ostride int, w, x *float32, cols int)
// out[t·ostride] = pairDot(w, x row t) for t < 4; x rows cols floats
// apart, cols a multiple of 32.
TEXT ·gemm1x4AVX2(SB), NOSPLIT, $0-40
	MOVQ cols+32(FP), CX
	MOVQ w+16(FP), R8
	MOVQ x+24(FP), AX
	LEAQ (AX)(CX*4), BX
	LEAQ (BX)(CX*4), SI
	LEAQ (SI)(CX*4), DI
	SHRQ $5, CX
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ tile2store

tile2loop:
	VMOVUPS (R8), Y0
	VMOVUPS 32(R8), Y1
	VMOVUPS 64(R8), Y2
	VMOVUPS 96(R8), Y3
	TILE2_TOKEN(AX, Y8, Y9)
	TILE2_TOKEN(BX, Y10, Y11)
	TILE2_TOKEN(SI, Y12, Y13)
	TILE2_TOKEN(DI, Y14, Y15)
	ADDQ $128, R8
	ADDQ $128, AX
	ADDQ $128, BX
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ tile2loop

tile2store:
	MOVQ out+0(FP), DX
	MOVQ ostride+8(FP), CX
	SHLQ $2, CX
	REDUCE8(Y8, Y9, X0, Y0, X1)
	VMOVSS X0, (DX)
	ADDQ CX, DX
	REDUCE8(Y10, Y11, X0, Y0, X1)
	VMOVSS X0, (DX)
	ADDQ CX, DX
	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DX)
	ADDQ CX, DX
	REDUCE8(Y14, Y15, X0, Y0, X1)
	VMOVSS X0, (DX)
	VZEROUPPER
	RET

// func axpyAVX2(y, x *float32, a float32, n int)
// y[i] = y[i] + a·x[i] for n a multiple of 8, rounding the product.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS a+16(FP), Y1
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ axpy2done

axpy2loop:
	VMULPS (SI), Y1, Y0
	VADDPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ axpy2loop

axpy2done:
	VZEROUPPER
	RET

// HALF2(off, y): y = the f16 at off(R10), broadcast as float32.
#define HALF2(off, y) \
	MOVWLZX off(R10), AX \
	VMOVD AX, X14 \
	VCVTPH2PS X14, X14 \
	VBROADCASTSS X14, y

// FOUR2: the 32 weights in Y0 (elements 0-7), Y1 (8-15), Y2 (16-23) and
// Y3 (24-31) against x, into Y12 (lanes 0-7) and Y13 (8-15).
#define FOUR2 \
	PAIRS2(Y0, Y2, 0, 64, Y12) \
	PAIRS2(Y1, Y3, 32, 96, Y13)

#define Q8_0_2 \
	HALF2(0, Y4) \
	VPMOVSXBD 2(R10), Y0 \
	VPMOVSXBD 10(R10), Y1 \
	VPMOVSXBD 18(R10), Y2 \
	VPMOVSXBD 26(R10), Y3 \
	VCVTDQ2PS Y0, Y0 \
	VCVTDQ2PS Y1, Y1 \
	VCVTDQ2PS Y2, Y2 \
	VCVTDQ2PS Y3, Y3 \
	VMULPS Y4, Y0, Y0 \
	VMULPS Y4, Y1, Y1 \
	VMULPS Y4, Y2, Y2 \
	VMULPS Y4, Y3, Y3 \
	FOUR2

#define Q4_0_2 \
	HALF2(0, Y4) \
	VPMOVZXBD 2(R10), Y0 \
	VPMOVZXBD 10(R10), Y1 \
	VPSRLD $4, Y0, Y2 \
	VPSRLD $4, Y1, Y3 \
	VPAND Y15, Y0, Y0 \
	VPAND Y15, Y1, Y1 \
	VPSUBD Y8, Y0, Y0 \
	VPSUBD Y8, Y1, Y1 \
	VPSUBD Y8, Y2, Y2 \
	VPSUBD Y8, Y3, Y3 \
	VCVTDQ2PS Y0, Y0 \
	VCVTDQ2PS Y1, Y1 \
	VCVTDQ2PS Y2, Y2 \
	VCVTDQ2PS Y3, Y3 \
	VMULPS Y4, Y0, Y0 \
	VMULPS Y4, Y1, Y1 \
	VMULPS Y4, Y2, Y2 \
	VMULPS Y4, Y3, Y3 \
	FOUR2

#define F16_2 \
	VCVTPH2PS (R10), Y0 \
	VCVTPH2PS 16(R10), Y1 \
	VCVTPH2PS 32(R10), Y2 \
	VCVTPH2PS 48(R10), Y3 \
	FOUR2

#define BF16_2 \
	VPMOVZXWD (R10), Y0 \
	VPMOVZXWD 16(R10), Y1 \
	VPMOVZXWD 32(R10), Y2 \
	VPMOVZXWD 48(R10), Y3 \
	VPSLLD $16, Y0, Y0 \
	VPSLLD $16, Y1, Y1 \
	VPSLLD $16, Y2, Y2 \
	VPSLLD $16, Y3, Y3 \
	FOUR2

// func q8_0AVX2(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·q8_0AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	VPBROADCASTD k15<>(SB), Y15
	MOVL $8, AX
	VMOVD AX, X8
	VPBROADCASTD X8, Y8
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

block:
	Q8_0_2
	ADDQ $34, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// func q4_0AVX2(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·q4_0AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	VPBROADCASTD k15<>(SB), Y15
	MOVL $8, AX
	VMOVD AX, X8
	VPBROADCASTD X8, Y8
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

block:
	Q4_0_2
	ADDQ $18, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// func f16AVX2(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·f16AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	VPBROADCASTD k15<>(SB), Y15
	MOVL $8, AX
	VMOVD AX, X8
	VPBROADCASTD X8, Y8
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

block:
	F16_2
	ADDQ $64, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// func bf16AVX2(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·bf16AVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	VPBROADCASTD k15<>(SB), Y15
	MOVL $8, AX
	VMOVD AX, X8
	VPBROADCASTD X8, Y8
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

block:
	BF16_2
	ADDQ $64, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 kernels: the AVX-512 ones with the 16 canonical lanes in two Y
// registers, lanes 0-7 and 8-15. They compute the same bits.

DATA k3f<>+0(SB)/8, $0x3f3f3f3f3f3f3f3f
DATA k3f<>+8(SB)/8, $0x3f3f3f3f3f3f3f3f
GLOBL k3f<>(SB), RODATA|NOPTR, $16
DATA k0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA k0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL k0f<>(SB), RODATA|NOPTR, $16
DATA k03<>+0(SB)/8, $0x0303030303030303
DATA k03<>+8(SB)/8, $0x0303030303030303
GLOBL k03<>(SB), RODATA|NOPTR, $16
DATA kshift<>+0(SB)/8, $0x0000000400000000
DATA kshift<>+8(SB)/8, $0
GLOBL kshift<>(SB), RODATA|NOPTR, $16
DATA k15<>+0(SB)/4, $15
GLOBL k15<>(SB), RODATA|NOPTR, $4
DATA k48<>+0(SB)/4, $0x30
GLOBL k48<>(SB), RODATA|NOPTR, $4
DATA k32<>+0(SB)/4, $32
GLOBL k32<>(SB), RODATA|NOPTR, $4

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

// Q4K2_W(y, ds, dm): y = float(y)·ds − dm.
#define Q4K2_W(y, ds, dm) \
	VCVTDQ2PS y, y \
	VMULPS ds, y, y \
	VSUBPS dm, y, y

// Q4K2_CHUNK: sub-blocks ja (low nibbles) and jb (high nibbles) of the 32
// bytes at qs(R10), 64 values of x from xo(R11); acc in Y12/Y13.
#define Q4K2_CHUNK(qs, xo, ja, jb) \
	VBROADCASTSS (4*ja)(SP), Y8 \
	VBROADCASTSS (32+4*ja)(SP), Y9 \
	VBROADCASTSS (4*jb)(SP), Y10 \
	VBROADCASTSS (32+4*jb)(SP), Y11 \
	VPMOVZXBD qs(R10), Y0 \
	VPMOVZXBD qs+8(R10), Y1 \
	VPMOVZXBD qs+16(R10), Y2 \
	VPMOVZXBD qs+24(R10), Y3 \
	VPAND Y15, Y0, Y4 \
	VPAND Y15, Y1, Y5 \
	VPAND Y15, Y2, Y6 \
	VPAND Y15, Y3, Y7 \
	Q4K2_W(Y4, Y8, Y9) \
	Q4K2_W(Y5, Y8, Y9) \
	Q4K2_W(Y6, Y8, Y9) \
	Q4K2_W(Y7, Y8, Y9) \
	PAIRS2(Y4, Y6, xo, xo+64, Y12) \
	PAIRS2(Y5, Y7, xo+32, xo+96, Y13) \
	VPSRLD $4, Y0, Y0 \
	VPSRLD $4, Y1, Y1 \
	VPSRLD $4, Y2, Y2 \
	VPSRLD $4, Y3, Y3 \
	Q4K2_W(Y0, Y10, Y11) \
	Q4K2_W(Y1, Y10, Y11) \
	Q4K2_W(Y2, Y10, Y11) \
	Q4K2_W(Y3, Y10, Y11) \
	PAIRS2(Y0, Y2, xo+128, xo+192, Y12) \
	PAIRS2(Y1, Y3, xo+160, xo+224, Y13)

// func q4kAVX2(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·q4kAVX2(SB), NOSPLIT, $64-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	VPBROADCASTD k15<>(SB), Y15
	TESTQ R9, R9
	JZ q4k2done

q4k2row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

q4k2block:
	// d·scale_j at 0(SP), dmin·min_j at 32(SP), as in the AVX-512 kernel.
	VMOVDQU 4(R10), X0
	VPAND k3f<>(SB), X0, X1
	VPSHUFD $0xAA, X0, X2
	VPSRLVD kshift<>(SB), X2, X2
	VPAND k0f<>(SB), X2, X2
	VPSRLD $6, X0, X3
	VPAND k03<>(SB), X3, X3
	VPSLLD $4, X3, X3
	VPOR X3, X2, X2
	VPUNPCKLDQ X2, X1, X1
	VPMOVZXBD X1, Y2
	VPSRLDQ $8, X1, X1
	VPMOVZXBD X1, Y3
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	MOVL (R10), AX
	VMOVD AX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Y5
	VMULPS Y5, Y2, Y2
	VPSHUFD $0x55, X4, X4
	VBROADCASTSS X4, Y5
	VMULPS Y5, Y3, Y3
	VMOVUPS Y2, 0(SP)
	VMOVUPS Y3, 32(SP)

	Q4K2_CHUNK(16, 0, 0, 1)
	Q4K2_CHUNK(48, 256, 2, 3)
	Q4K2_CHUNK(80, 512, 4, 5)
	Q4K2_CHUNK(112, 768, 6, 7)

	ADDQ $144, R10
	ADDQ $1024, R11
	DECQ CX
	JNZ q4k2block

	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ q4k2row

q4k2done:
	VZEROUPPER
	RET

// Q6K2_Q(y, hy, LOW, HIGH): y = ql bytes made a 6-bit q with the qh bits
// in hy: LOW selects the nibble, HIGH places the two qh bits at bit 4.
#define Q6K2_LO VPAND Y15
#define Q6K2_W(y, sc) \
	VPSUBD Y8, y, y \
	VCVTDQ2PS y, y \
	VBROADCASTSS sc(SP), Y14 \
	VMULPS Y14, y, y

// Q6K2_BLOCK: block k of 32 of half h: ql bytes at ql (sub-block 2k) and
// ql+16 (2k+1), their qh bytes at qh and qh+16; NIB(y) keeps the block's
// nibble, HB(y) moves its qh bits to bits 4-5; x at xo, scales at sc.
#define Q6K2_BLOCK(ql, qh, xo, sc, NIB, HB) \
	VPMOVZXBD ql(R10), Y0 \
	VPMOVZXBD ql+8(R10), Y1 \
	VPMOVZXBD ql+16(R10), Y2 \
	VPMOVZXBD ql+24(R10), Y3 \
	VPMOVZXBD qh(R10), Y4 \
	VPMOVZXBD qh+8(R10), Y5 \
	VPMOVZXBD qh+16(R10), Y6 \
	VPMOVZXBD qh+24(R10), Y7 \
	NIB(Y0) \
	NIB(Y1) \
	NIB(Y2) \
	NIB(Y3) \
	HB(Y4) \
	HB(Y5) \
	HB(Y6) \
	HB(Y7) \
	VPOR Y4, Y0, Y0 \
	VPOR Y5, Y1, Y1 \
	VPOR Y6, Y2, Y2 \
	VPOR Y7, Y3, Y3 \
	Q6K2_W(Y0, sc) \
	Q6K2_W(Y1, sc) \
	Q6K2_W(Y2, sc+4) \
	Q6K2_W(Y3, sc+4) \
	PAIRS2(Y0, Y2, xo, xo+64, Y12) \
	PAIRS2(Y1, Y3, xo+32, xo+96, Y13)

#define NIBLO(y) VPAND Y15, y, y
#define NIBHI(y) VPSRLD $4, y, y
#define HB0(y) VPSLLD $4, y, y; VPAND Y9, y, y
#define HB1(y) VPSLLD $2, y, y; VPAND Y9, y, y
#define HB2(y) VPAND Y9, y, y
#define HB3(y) VPSRLD $2, y, y; VPAND Y9, y, y

#define Q6K2_HALF(ql, qh, xo, sc) \
	Q6K2_BLOCK(ql, qh, xo, sc, NIBLO, HB0) \
	Q6K2_BLOCK(ql+32, qh, xo+128, sc+8, NIBLO, HB1) \
	Q6K2_BLOCK(ql, qh, xo+256, sc+16, NIBHI, HB2) \
	Q6K2_BLOCK(ql+32, qh, xo+384, sc+24, NIBHI, HB3)

// func q6kAVX2(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·q6kAVX2(SB), NOSPLIT, $64-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	VPBROADCASTD k15<>(SB), Y15
	VPBROADCASTD k48<>(SB), Y9
	VPBROADCASTD k32<>(SB), Y8
	TESTQ R9, R9
	JZ q6k2done

q6k2row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

q6k2block:
	MOVWLZX 208(R10), AX
	VMOVD AX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Y4
	VPMOVSXBD 192(R10), Y5
	VPMOVSXBD 200(R10), Y6
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VMULPS Y4, Y5, Y5
	VMULPS Y4, Y6, Y6
	VMOVUPS Y5, 0(SP)
	VMOVUPS Y6, 32(SP)

	Q6K2_HALF(0, 128, 0, 0)
	Q6K2_HALF(64, 160, 512, 32)

	ADDQ $210, R10
	ADDQ $1024, R11
	DECQ CX
	JNZ q6k2block

	REDUCE8(Y12, Y13, X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ q6k2row

q6k2done:
	VZEROUPPER
	RET

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

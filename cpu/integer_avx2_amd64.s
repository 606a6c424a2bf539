//go:build amd64 && !noasm

#include "textflag.h"
#include "k4scales_amd64.h"
#include "prefetch_amd64.h"

// AVX2 integer kernels: those of integer_avx512_amd64.s with Y registers
// and VPMADDWD + VPADDD for VPDPWSSD. A super-block's weights, scale·q as
// words, are decoded once into the frame and multiplied with every input
// of the tile from there. Lane k of the definition is dword k of the first
// 16 words' products plus dword k of the next 16's, added in float64.
//
// Frame: 0 limb stride, 8 scale stride, 16 sums stride, 24 acc stride,
// 32 rows left, 40 blocks left, 48 scale words, 64 d, 72 dmin, 80 the
// mins as float64 lanes (Q4_K) or the scale words (Q6_K), 144 the 256
// weights.

#define STRIDES2 \
	MOVQ cols+80(FP), AX \
	SHLQ $1, AX \
	MOVQ AX, 0(SP) \
	MOVQ cols+80(FP), AX \
	SHRQ $8, AX \
	SHLQ $3, AX \
	MOVQ AX, 8(SP) \
	SHLQ $3, AX \
	MOVQ AX, 16(SP) \
	MOVQ rows+24(FP), AX \
	SHLQ $6, AX \
	MOVQ AX, 24(SP) \
	MOVQ rows+24(FP), AX \
	MOVQ AX, 32(SP) \
	MOVQ acc+0(FP), DI \
	MOVQ w+8(FP), R9

#define ROWSTART2 \
	MOVQ R9, R10 \
	MOVQ hi+48(FP), R11 \
	MOVQ lo+56(FP), R12 \
	MOVQ scale+64(FP), R13 \
	MOVQ sums+72(FP), R14 \
	MOVQ blocks+32(FP), AX \
	MOVQ AX, 40(SP)

#define TOKENS2 \
	MOVQ R11, AX \
	MOVQ R12, BX \
	MOVQ R13, CX \
	MOVQ R14, DX \
	MOVQ DI, SI \
	MOVQ tokens+40(FP), R8

#define NEXTTOKEN2 \
	ADDQ 0(SP), AX \
	ADDQ 0(SP), BX \
	ADDQ 8(SP), CX \
	ADDQ 16(SP), DX \
	ADDQ 24(SP), SI \
	DECQ R8

#define NEXTBLOCK2(size) \
	ADDQ $size, R10 \
	ADDQ $512, R11 \
	ADDQ $512, R12 \
	ADDQ $8, R13 \
	ADDQ $64, R14 \
	DECQ 40(SP)

#define NEXTROW2 \
	ADDQ $64, DI \
	ADDQ stride+16(FP), R9 \
	DECQ 32(SP)

// SUB2(o): sub-block words o..o+31 of the input (AX hi, BX lo) against
// the weights at 144+o·2... o is the byte offset of the sub-block.
#define SUB2(o) \
	VMOVDQU o(AX), Y0 \
	VPMADDWD 144+o(SP), Y0, Y0 \
	VPADDD Y0, Y8, Y8 \
	VMOVDQU o+32(AX), Y1 \
	VPMADDWD 176+o(SP), Y1, Y1 \
	VPADDD Y1, Y9, Y9 \
	VMOVDQU o(BX), Y2 \
	VPMADDWD 144+o(SP), Y2, Y2 \
	VPADDD Y2, Y10, Y10 \
	VMOVDQU o+32(BX), Y3 \
	VPMADDWD 176+o(SP), Y3, Y3 \
	VPADDD Y3, Y11, Y11

// DOTS2: the input's lane sums: H in Y8 (first 16 words), Y9 (next 16),
// L in Y10, Y11.
#define DOTS2 \
	VPXOR Y8, Y8, Y8 \
	VPXOR Y9, Y9, Y9 \
	VPXOR Y10, Y10, Y10 \
	VPXOR Y11, Y11, Y11 \
	SUB2(0) \
	SUB2(64) \
	SUB2(128) \
	SUB2(192) \
	SUB2(256) \
	SUB2(320) \
	SUB2(384) \
	SUB2(448)

// SLANES: S = H·2^15 + L in float64, lanes 0-3 in Y0, 4-7 in Y1. Needs
// Y12 = 2^15.
#define SLANES \
	VCVTDQ2PD X8, Y0 \
	VEXTRACTI128 $1, Y8, X1 \
	VCVTDQ2PD X1, Y1 \
	VCVTDQ2PD X9, Y2 \
	VEXTRACTI128 $1, Y9, X3 \
	VCVTDQ2PD X3, Y3 \
	VADDPD Y2, Y0, Y0 \
	VADDPD Y3, Y1, Y1 \
	VCVTDQ2PD X10, Y4 \
	VEXTRACTI128 $1, Y10, X5 \
	VCVTDQ2PD X5, Y5 \
	VCVTDQ2PD X11, Y6 \
	VEXTRACTI128 $1, Y11, X7 \
	VCVTDQ2PD X7, Y7 \
	VADDPD Y6, Y4, Y4 \
	VADDPD Y7, Y5, Y5 \
	VFMADD213PD Y4, Y12, Y0 \
	VFMADD213PD Y5, Y12, Y1

// ACCUMULATE: acc = t·s + acc for t in Y0, Y1.
#define ACCUMULATE \
	VBROADCASTSD (CX), Y15 \
	VFMADD213PD (SI), Y15, Y0 \
	VFMADD213PD 32(SI), Y15, Y1 \
	VMOVUPD Y0, (SI) \
	VMOVUPD Y1, 32(SI)

#define TWO15 \
	MOVQ $0x40E0000000000000, AX \
	VMOVQ AX, X12 \
	VPBROADCASTQ X12, Y12

// K42_NIBBLES(qs): the nibbles of the 32 bytes at qs(R10) as words:
// sub-block 2k's (the low ones) in Y3, Y4 and 2k+1's (the high ones) in
// Y5, Y6. Needs Y13 = 0x000f words.
#define K42_NIBBLES(qs) \
	VPMOVZXBW qs(R10), Y1 \
	VPMOVZXBW qs+16(R10), Y2 \
	VPAND Y13, Y1, Y3 \
	VPAND Y13, Y2, Y4 \
	VPSRLW $4, Y1, Y5 \
	VPSRLW $4, Y2, Y6

// K42_SCALE(w0, w1, s0, s1): K42_NIBBLES' values times their scale
// words at s0(SP) (Y3, Y4) and s1(SP) (Y5, Y6), stored at w0(SP) and
// w1(SP).
#define K42_SCALE(w0, w1, s0, s1) \
	VPBROADCASTW s0(SP), Y7 \
	VPMULLW Y7, Y3, Y3 \
	VPMULLW Y7, Y4, Y4 \
	VPBROADCASTW s1(SP), Y7 \
	VPMULLW Y7, Y5, Y5 \
	VPMULLW Y7, Y6, Y6 \
	VMOVDQU Y3, w0(SP) \
	VMOVDQU Y4, w0+32(SP) \
	VMOVDQU Y5, w1(SP) \
	VMOVDQU Y6, w1+32(SP)

// Q4K2_SUBS(qs, w0, w1, s0, s1): sub-blocks 2k (low nibbles) and 2k+1
// (high) of the 32 bytes at qs(R10) to weights in the frame.
#define Q4K2_SUBS(qs, w0, w1, s0, s1) \
	K42_NIBBLES(qs) \
	K42_SCALE(w0, w1, s0, s1)

// Q4K2_WEIGHTS: a Q4_K super-block's weights to the frame.
#define Q4K2_WEIGHTS \
	Q4K2_SUBS(16, 144, 208, 48, 50) \
	Q4K2_SUBS(48, 272, 336, 52, 54) \
	Q4K2_SUBS(80, 400, 464, 56, 58) \
	Q4K2_SUBS(112, 528, 592, 60, 62)

// K4_2_INTEGER(weights, size): the body of the Q4_K and Q5_K kernels,
// whose super-blocks of size bytes go to the frame's weights by weights
// (Q4K2_WEIGHTS, Q5K2_WEIGHTS); per input, t = d·S − u with u =
// dmin·(min·ΣX).
#define K4_2_INTEGER(weights, size) \
	STRIDES2 \
	TWO15 \
row: \
	ROWSTART2 \
block: \
	PREFETCHQ4K(1) \
	K4SCALEBYTES \
	VMOVQ CX, X0 \
	VPMOVZXBW X0, X0 \
	VMOVDQU X0, 48(SP) \
	VMOVQ DX, X0 \
	VPMOVZXBD X0, Y0 \
	VCVTDQ2PD X0, Y1 \
	VEXTRACTI128 $1, Y0, X2 \
	VCVTDQ2PD X2, Y2 \
	VMOVUPD Y1, 80(SP) \
	VMOVUPD Y2, 112(SP) \
	MOVL (R10), AX \
	VMOVD AX, X0 \
	VCVTPH2PS X0, X0 \
	VCVTPS2PD X0, X0 \
	VMOVUPD X0, 64(SP) \
	MOVL $0x000f000f, AX \
	VMOVD AX, X13 \
	VPBROADCASTD X13, Y13 \
	weights \
	VBROADCASTSD 64(SP), Y14 \
	VBROADCASTSD 72(SP), Y13 \
	TOKENS2 \
token: \
	DOTS2 \
	SLANES \
	VMOVUPD 80(SP), Y6 \
	VMULPD (DX), Y6, Y6 \
	VMULPD Y13, Y6, Y6 \
	VFMSUB213PD Y6, Y14, Y0 \
	VMOVUPD 112(SP), Y7 \
	VMULPD 32(DX), Y7, Y7 \
	VMULPD Y13, Y7, Y7 \
	VFMSUB213PD Y7, Y14, Y1 \
	ACCUMULATE \
	NEXTTOKEN2 \
	JNZ token \
	NEXTBLOCK2(size) \
	JNZ block \
	NEXTROW2 \
	JNZ row \
	VZEROUPPER \
	RET

// func q4kIntegerAVX2(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int)
TEXT ·q4kIntegerAVX2(SB), NOSPLIT, $656-88
	K4_2_INTEGER(Q4K2_WEIGHTS, 144)

// Q5K2_BITS(op, n, wa, wb): adds to the nibbles of one Q5_K sub-block,
// values 0-15 in wa and 16-31 in wb, their fifth bits: the qh words in
// Y8 (values 0-15) and Y9 (16-31) shifted by op $n to bit 4, masked by
// Y10 = 0x0010 words. Uses Y11.
#define Q5K2_BITS(op, n, wa, wb) \
	op $n, Y8, Y11 \
	VPAND Y10, Y11, Y11 \
	VPOR Y11, wa, wa \
	op $n, Y9, Y11 \
	VPAND Y10, Y11, Y11 \
	VPOR Y11, wb, wb

// Q5K2_SUBS(qs, w0, w1, s0, s1, op0, n0, op1, n1): Q4K2_SUBS for the
// Q5_K sub-blocks 2k and 2k+1, their fifth bits added by Q5K2_BITS
// (op0 $n0 for the first, op1 $n1 for the second).
#define Q5K2_SUBS(qs, w0, w1, s0, s1, op0, n0, op1, n1) \
	K42_NIBBLES(qs) \
	Q5K2_BITS(op0, n0, Y3, Y4) \
	Q5K2_BITS(op1, n1, Y5, Y6) \
	K42_SCALE(w0, w1, s0, s1)

// Q5K2_WEIGHTS: a Q5_K super-block's weights to the frame, its fifth
// bits' words in Y8 and Y9.
#define Q5K2_WEIGHTS \
	VPMOVZXBW 16(R10), Y8 \
	VPMOVZXBW 32(R10), Y9 \
	MOVL $0x00100010, AX \
	VMOVD AX, X10 \
	VPBROADCASTD X10, Y10 \
	Q5K2_SUBS(48, 144, 208, 48, 50, VPSLLW, 4, VPSLLW, 3) \
	Q5K2_SUBS(80, 272, 336, 52, 54, VPSLLW, 2, VPSLLW, 1) \
	Q5K2_SUBS(112, 400, 464, 56, 58, VPSRLW, 0, VPSRLW, 1) \
	Q5K2_SUBS(144, 528, 592, 60, 62, VPSRLW, 2, VPSRLW, 3)

// func q5kIntegerAVX2(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int)
TEXT ·q5kIntegerAVX2(SB), NOSPLIT, $656-88
	K4_2_INTEGER(Q5K2_WEIGHTS, 176)

// Q6K2_W(e, sc, w): the 16 values q in e to (q − 32)·scale, the scale
// word at sc(SP), stored at w(SP). Needs Y14 = 32 words.
#define Q6K2_W(e, sc, w) \
	VPSUBW Y14, e, e \
	VPBROADCASTW sc(SP), Y15 \
	VPMULLW Y15, e, e \
	VMOVDQU e, w(SP)

// Q6K2_HALF(ql, qh, w, sc): half of a Q6_K super-block (ql at ql(R10),
// qh at qh(R10)) to the weights at w(SP), its scale words from sc(SP).
// Needs Y9 = 0x000f, Y10 = 3, Y11 = 0x000c, Y13 = 0x0030 words.
#define Q6K2_HALF(ql, qh, w, sc) \
	VPMOVZXBW ql(R10), Y0 \
	VPMOVZXBW ql+16(R10), Y1 \
	VPMOVZXBW ql+32(R10), Y2 \
	VPMOVZXBW ql+48(R10), Y3 \
	VPMOVZXBW qh(R10), Y4 \
	VPMOVZXBW qh+16(R10), Y5 \
	VPAND Y9, Y0, Y6 \
	VPAND Y10, Y4, Y7 \
	VPSLLW $4, Y7, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc, w) \
	VPAND Y9, Y1, Y6 \
	VPAND Y10, Y5, Y7 \
	VPSLLW $4, Y7, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc+2, w+32) \
	VPAND Y9, Y2, Y6 \
	VPAND Y11, Y4, Y7 \
	VPSLLW $2, Y7, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc+4, w+64) \
	VPAND Y9, Y3, Y6 \
	VPAND Y11, Y5, Y7 \
	VPSLLW $2, Y7, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc+6, w+96) \
	VPSRLW $4, Y0, Y6 \
	VPAND Y13, Y4, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc+8, w+128) \
	VPSRLW $4, Y1, Y6 \
	VPAND Y13, Y5, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc+10, w+160) \
	VPSRLW $4, Y2, Y6 \
	VPSRLW $2, Y4, Y7 \
	VPAND Y13, Y7, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc+12, w+192) \
	VPSRLW $4, Y3, Y6 \
	VPSRLW $2, Y5, Y7 \
	VPAND Y13, Y7, Y7 \
	VPOR Y7, Y6, Y6 \
	Q6K2_W(Y6, sc+14, w+224)

#define BROADCASTW(v, r) \
	MOVL $v, AX \
	VMOVD AX, X15 \
	VPBROADCASTD X15, r

// func q6kIntegerAVX2(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int)
TEXT ·q6kIntegerAVX2(SB), NOSPLIT, $656-88
	STRIDES2
	TWO15

q6k2row:
	ROWSTART2

q6k2block:
	PREFETCHQ6K(1)
	VPMOVSXBW 192(R10), Y0
	VMOVDQU Y0, 80(SP)
	BROADCASTW(0x000f000f, Y9)
	BROADCASTW(0x00030003, Y10)
	BROADCASTW(0x000c000c, Y11)
	BROADCASTW(0x00300030, Y13)
	BROADCASTW(0x00200020, Y14)
	Q6K2_HALF(0, 128, 144, 80)
	Q6K2_HALF(64, 160, 400, 96)
	MOVWLZX 208(R10), AX
	VMOVD AX, X0
	VCVTPH2PS X0, X0
	VCVTSS2SD X0, X0, X0
	VBROADCASTSD X0, Y14
	TOKENS2

q6k2token:
	DOTS2
	SLANES
	VMULPD Y14, Y0, Y0
	VMULPD Y14, Y1, Y1
	ACCUMULATE
	NEXTTOKEN2
	JNZ q6k2token

	NEXTBLOCK2(210)
	JNZ q6k2block
	NEXTROW2
	JNZ q6k2row
	VZEROUPPER
	RET

// LIMBS8(off): the 8 inputs at off(SI), times 2^e in float64 (Y12), to X
// rounded to even; their limbs stored at off/2 of R10 (H) and R11 (L) and
// added to Y6 (H) and Y7 (L).
#define LIMBS8(off) \
	VCVTPS2PD off(SI), Y0 \
	VCVTPS2PD off+16(SI), Y1 \
	VMULPD Y12, Y0, Y0 \
	VMULPD Y12, Y1, Y1 \
	VCVTPD2DQY Y0, X0 \
	VCVTPD2DQY Y1, X1 \
	VINSERTI128 $1, X1, Y0, Y0 \
	VPSLLD $17, Y0, Y2 \
	VPSRAD $17, Y2, Y2 \
	VPSUBD Y2, Y0, Y3 \
	VPSRAD $15, Y3, Y3 \
	VPADDD Y3, Y6, Y6 \
	VPADDD Y2, Y7, Y7 \
	VEXTRACTI128 $1, Y3, X4 \
	VPACKSSDW X4, X3, X4 \
	VMOVDQU X4, off/2(R10) \
	VEXTRACTI128 $1, Y2, X4 \
	VPACKSSDW X4, X2, X4 \
	VMOVDQU X4, off/2(R11)

// HSUM8(y, x, t): x's low dword = the sum of y's 8 int32 lanes.
#define HSUM8(y, x, t) \
	VEXTRACTI128 $1, y, t \
	VPADDD t, x, x \
	VPSHUFD $0x4E, x, t \
	VPADDD t, x, x \
	VPSHUFD $0xB1, x, t \
	VPADDD t, x, x

// func quantizeAVX2(x *float32, blocks int, hi, lo *int16, scale, sums *float64)
// quantizeAVX512 in AVX2: x·2^e exactly in float64, rounded by
// VCVTPD2DQ (ties to even).
TEXT ·quantizeAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), R9
	MOVQ hi+16(FP), R10
	MOVQ lo+24(FP), R11
	MOVQ scale+32(FP), R12
	MOVQ sums+40(FP), R13
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	MOVQ $0x40E0000000000000, AX
	VMOVQ AX, X14

q2block:
	TESTQ R9, R9
	JZ q2done
	VPAND (SI), Y15, Y0
	VPAND 32(SI), Y15, Y1
	VPAND 64(SI), Y15, Y2
	VPAND 96(SI), Y15, Y3
	MOVQ $8, CX
	MOVQ SI, R8

q2max:
	ADDQ $128, R8
	DECQ CX
	JZ q2maxdone
	VPAND (R8), Y15, Y4
	VPMAXUD Y4, Y0, Y0
	VPAND 32(R8), Y15, Y4
	VPMAXUD Y4, Y1, Y1
	VPAND 64(R8), Y15, Y4
	VPMAXUD Y4, Y2, Y2
	VPAND 96(R8), Y15, Y4
	VPMAXUD Y4, Y3, Y3
	JMP q2max

q2maxdone:
	VPMAXUD Y1, Y0, Y0
	VPMAXUD Y3, Y2, Y2
	VPMAXUD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPMAXUD X1, X0, X0
	VMOVD X0, AX

	XORL BX, BX
	MOVQ $0x7ff8000000000000, DX
	CMPL AX, $0x7f800000
	JAE q2scaled
	XORL DX, DX
	TESTL AX, AX
	JZ q2scaled
	MOVL AX, CX
	SHRL $23, CX
	JNZ q2normal
	BSRL AX, CX
	SUBL $148, CX
	JMP q2exponent

q2normal:
	SUBL $126, CX

q2exponent:
	MOVL $29, BX
	SUBL CX, BX
	MOVL $1023, DX
	SUBL BX, DX
	SHLQ $52, DX

q2scaled:
	MOVQ DX, (R12)
	// 2^e in Y12: biased exponent 1023 + e.
	MOVL $1023, AX
	ADDL BX, AX
	SHLQ $52, AX
	VMOVQ AX, X12
	VPBROADCASTQ X12, Y12
	MOVQ $8, CX

q2run:
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	LIMBS8(0)
	LIMBS8(32)
	LIMBS8(64)
	LIMBS8(96)
	HSUM8(Y6, X6, X8)
	HSUM8(Y7, X7, X8)
	VCVTDQ2PD X6, X6
	VCVTDQ2PD X7, X7
	VFMADD231SD X14, X6, X7
	VMOVSD X7, (R13)
	ADDQ $128, SI
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $8, R13
	DECQ CX
	JNZ q2run

	ADDQ $8, R12
	DECQ R9
	JMP q2block

q2done:
	VZEROUPPER
	RET

// func reduceLanesAVX2(out *float32, acc *float64, rows int)
// out[r] = reduceLanes(acc[8r:8r+8]) for r < rows.
TEXT ·reduceLanesAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ rows+16(FP), CX
	TESTQ CX, CX
	JZ r2done

r2row:
	VMOVUPD (SI), Y0
	VADDPD 32(SI), Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VPERMILPD $1, X0, X1
	VADDSD X1, X0, X0
	VCVTSD2SS X0, X0, X0
	VMOVSS X0, (DI)
	ADDQ $64, SI
	ADDQ $4, DI
	DECQ CX
	JNZ r2row

r2done:
	VZEROUPPER
	RET

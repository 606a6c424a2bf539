//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 integer kernels (VNNI): the K formats against inputs quantized
// to two 16-bit limbs (integer.go). A super-block's weights are decoded
// once into eight registers of 32 words, w = scale·q, and multiplied with
// every input of the batch by VPDPWSSD in exact int32 lanes; each lane's
// sum goes to float64 exactly and is scaled as the definition says.

// q6kScalePairs: VPERMW indices [0 ×16, 1 ×16], the scales of the first
// 32 values of a Q6_K super-block; adding 2 to each word moves to the next 32.
DATA q6kScalePairs<>+0(SB)/8, $0x0000000000000000
DATA q6kScalePairs<>+8(SB)/8, $0x0000000000000000
DATA q6kScalePairs<>+16(SB)/8, $0x0000000000000000
DATA q6kScalePairs<>+24(SB)/8, $0x0000000000000000
DATA q6kScalePairs<>+32(SB)/8, $0x0001000100010001
DATA q6kScalePairs<>+40(SB)/8, $0x0001000100010001
DATA q6kScalePairs<>+48(SB)/8, $0x0001000100010001
DATA q6kScalePairs<>+56(SB)/8, $0x0001000100010001
GLOBL q6kScalePairs<>(SB), RODATA|NOPTR, $64

// Arguments of both kernels:
// func kernel(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int)
// acc is tokens × rows × 8 lanes; w the rows' first super-block, stride
// bytes apart; hi, lo, scale and sums the first input's, at its first
// super-block, with cols inputs a row.

// STRIDES stores the inputs' strides at 0(SP) (limbs, bytes), 8(SP)
// (scales), 16(SP) (sums) and 24(SP) (acc), and the rows left at 32(SP);
// 40(SP) counts a row's blocks, 48(SP) holds a super-block's scales.
#define STRIDES \
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
	MOVQ w+8(FP), R9 \
	MOVQ $0x40E0000000000000, AX \
	VPBROADCASTQ AX, Z29

// ROWSTART points R10 at the row's first super-block, R11-R14 at the
// inputs', and counts its blocks at 40(SP).
#define ROWSTART \
	MOVQ R9, R10 \
	MOVQ hi+48(FP), R11 \
	MOVQ lo+56(FP), R12 \
	MOVQ scale+64(FP), R13 \
	MOVQ sums+72(FP), R14 \
	MOVQ blocks+32(FP), AX \
	MOVQ AX, 40(SP)

// DOTS: the limbs' lane sums of the input at AX (hi) and BX (lo) against
// the weights in Z0-Z7, in Z10 (H) and Z11 (L).
#define DOTS \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPDPWSSD (AX), Z0, Z10 \
	VPDPWSSD (BX), Z0, Z11 \
	VPDPWSSD 64(AX), Z1, Z10 \
	VPDPWSSD 64(BX), Z1, Z11 \
	VPDPWSSD 128(AX), Z2, Z10 \
	VPDPWSSD 128(BX), Z2, Z11 \
	VPDPWSSD 192(AX), Z3, Z10 \
	VPDPWSSD 192(BX), Z3, Z11 \
	VPDPWSSD 256(AX), Z4, Z10 \
	VPDPWSSD 256(BX), Z4, Z11 \
	VPDPWSSD 320(AX), Z5, Z10 \
	VPDPWSSD 320(BX), Z5, Z11 \
	VPDPWSSD 384(AX), Z6, Z10 \
	VPDPWSSD 384(BX), Z6, Z11 \
	VPDPWSSD 448(AX), Z7, Z10 \
	VPDPWSSD 448(BX), Z7, Z11

// NEXTTOKEN moves AX, BX, CX, DX and SI to the next input, counting R8.
#define NEXTTOKEN \
	ADDQ 0(SP), AX \
	ADDQ 0(SP), BX \
	ADDQ 8(SP), CX \
	ADDQ 16(SP), DX \
	ADDQ 24(SP), SI \
	DECQ R8

// TOKENS starts the inputs' loop at the super-block: AX, BX hi and lo,
// CX the scale, DX the sums, SI the acc lanes, R8 the count.
#define TOKENS \
	MOVQ R11, AX \
	MOVQ R12, BX \
	MOVQ R13, CX \
	MOVQ R14, DX \
	MOVQ DI, SI \
	MOVQ tokens+40(FP), R8

// NEXTBLOCK moves to the next super-block of size bytes.
#define NEXTBLOCK(size) \
	ADDQ $size, R10 \
	ADDQ $512, R11 \
	ADDQ $512, R12 \
	ADDQ $8, R13 \
	ADDQ $64, R14 \
	DECQ 40(SP)

// NEXTROW moves to the next row; ZF set when none is left.
#define NEXTROW \
	ADDQ $64, DI \
	ADDQ stride+16(FP), R9 \
	DECQ 32(SP)

TEXT ·q4kIntegerAVX512(SB), NOSPLIT, $64-88
	STRIDES
	MOVL $0x000f000f, AX
	VPBROADCASTD AX, Z31

q4krow:
	ROWSTART

q4kblock:
	// The 6-bit scales (CX) and mins (DX) of the 8 sub-blocks, a byte each.
	MOVL 4(R10), AX
	MOVL 8(R10), BX
	MOVL 12(R10), CX
	MOVL CX, DX
	SHRL $4, DX
	ANDL $0x0f0f0f0f, DX
	MOVL BX, SI
	SHRL $6, SI
	ANDL $0x03030303, SI
	SHLL $4, SI
	ORL SI, DX
	MOVL BX, R8
	ANDL $0x3f3f3f3f, R8
	ANDL $0x0f0f0f0f, CX
	MOVL AX, SI
	SHRL $6, SI
	ANDL $0x03030303, SI
	SHLL $4, SI
	ORL SI, CX
	ANDL $0x3f3f3f3f, AX
	SHLQ $32, CX
	ORQ AX, CX
	SHLQ $32, DX
	ORQ R8, DX
	VMOVQ CX, X12
	VPMOVZXBW X12, X12
	VMOVDQU X12, 48(SP)
	// Z8: the mins as float64 lanes; Z9, Z15: d and dmin.
	VMOVQ DX, X8
	VPMOVZXBD X8, Y8
	VCVTDQ2PD Y8, Z8
	MOVL (R10), AX
	VMOVD AX, X9
	VCVTPH2PS X9, X9
	VCVTPS2PD X9, X9
	VPERMILPD $1, X9, X15
	VBROADCASTSD X9, Z9
	VBROADCASTSD X15, Z15

	// Z0-Z7: the weights of sub-blocks 0-7, scale·nibble.
	VPMOVZXBW 16(R10), Z0
	VPSRLW $4, Z0, Z1
	VPANDD Z31, Z0, Z0
	VPMOVZXBW 48(R10), Z2
	VPSRLW $4, Z2, Z3
	VPANDD Z31, Z2, Z2
	VPMOVZXBW 80(R10), Z4
	VPSRLW $4, Z4, Z5
	VPANDD Z31, Z4, Z4
	VPMOVZXBW 112(R10), Z6
	VPSRLW $4, Z6, Z7
	VPANDD Z31, Z6, Z6
	VPBROADCASTW 48(SP), Z12
	VPMULLW Z12, Z0, Z0
	VPBROADCASTW 50(SP), Z12
	VPMULLW Z12, Z1, Z1
	VPBROADCASTW 52(SP), Z12
	VPMULLW Z12, Z2, Z2
	VPBROADCASTW 54(SP), Z12
	VPMULLW Z12, Z3, Z3
	VPBROADCASTW 56(SP), Z12
	VPMULLW Z12, Z4, Z4
	VPBROADCASTW 58(SP), Z12
	VPMULLW Z12, Z5, Z5
	VPBROADCASTW 60(SP), Z12
	VPMULLW Z12, Z6, Z6
	VPBROADCASTW 62(SP), Z12
	VPMULLW Z12, Z7, Z7
	TOKENS

q4ktoken:
	DOTS
	// Lanes k and k+8 in int32 (below 2^30 for Q4_K), then S = H·2^15 + L
	// exactly in float64.
	VEXTRACTI64X4 $1, Z10, Y12
	VPADDD Y12, Y10, Y10
	VEXTRACTI64X4 $1, Z11, Y13
	VPADDD Y13, Y11, Y11
	VCVTDQ2PD Y10, Z10
	VCVTDQ2PD Y11, Z11
	VFMADD213PD Z11, Z29, Z10
	// u = dmin·(min·ΣX), t = d·S − u, acc = t·s + acc.
	VMULPD (DX), Z8, Z14
	VMULPD Z15, Z14, Z14
	VFMSUB213PD Z14, Z9, Z10
	VBROADCASTSD (CX), Z12
	VFMADD213PD (SI), Z12, Z10
	VMOVUPD Z10, (SI)
	NEXTTOKEN
	JNZ q4ktoken

	NEXTBLOCK(144)
	JNZ q4kblock
	NEXTROW
	JNZ q4krow
	VZEROUPPER
	RET

// Q6K_SCALE(e): the 32 values q in e to weights (q − 32)·scale, the scale
// of each 16 taken by VPERMW from the scale words in Z20 with the running
// index Z21, which moves on to the next 32.
#define Q6K_SCALE(e) \
	VPSUBW Z26, e, e \
	VPERMW Z20, Z21, Z22 \
	VPADDW Z25, Z21, Z21 \
	VPMULLW Z22, e, e

TEXT ·q6kIntegerAVX512(SB), NOSPLIT, $64-88
	STRIDES
	MOVL $0x000f000f, AX
	VPBROADCASTD AX, Z31
	MOVL $0x00300030, AX
	VPBROADCASTD AX, Z30
	MOVL $0x00030003, AX
	VPBROADCASTD AX, Z28
	MOVL $0x000c000c, AX
	VPBROADCASTD AX, Z27
	MOVL $0x00200020, AX
	VPBROADCASTD AX, Z26
	MOVL $0x00020002, AX
	VPBROADCASTD AX, Z25
	VMOVDQU64 q6kScalePairs<>(SB), Z24

q6krow:
	ROWSTART

q6kblock:
	VPMOVSXBW 192(R10), Y20
	VMOVDQA64 Z24, Z21
	MOVWLZX 208(R10), AX
	VMOVD AX, X9
	VCVTPH2PS X9, X9
	VCVTSS2SD X9, X9, X9
	VBROADCASTSD X9, Z9

	// Half 0: A, B the words of ql, Q those of qh.
	VPMOVZXBW (R10), Z16
	VPMOVZXBW 32(R10), Z17
	VPMOVZXBW 128(R10), Z18
	VPANDD Z31, Z16, Z0
	VPANDD Z28, Z18, Z19
	VPSLLW $4, Z19, Z19
	VPORD Z19, Z0, Z0
	VPANDD Z31, Z17, Z1
	VPANDD Z27, Z18, Z19
	VPSLLW $2, Z19, Z19
	VPORD Z19, Z1, Z1
	VPSRLW $4, Z16, Z2
	VPANDD Z30, Z18, Z19
	VPORD Z19, Z2, Z2
	VPSRLW $4, Z17, Z3
	VPSRLW $2, Z18, Z19
	VPANDD Z30, Z19, Z19
	VPORD Z19, Z3, Z3
	// Half 1.
	VPMOVZXBW 64(R10), Z16
	VPMOVZXBW 96(R10), Z17
	VPMOVZXBW 160(R10), Z18
	VPANDD Z31, Z16, Z4
	VPANDD Z28, Z18, Z19
	VPSLLW $4, Z19, Z19
	VPORD Z19, Z4, Z4
	VPANDD Z31, Z17, Z5
	VPANDD Z27, Z18, Z19
	VPSLLW $2, Z19, Z19
	VPORD Z19, Z5, Z5
	VPSRLW $4, Z16, Z6
	VPANDD Z30, Z18, Z19
	VPORD Z19, Z6, Z6
	VPSRLW $4, Z17, Z7
	VPSRLW $2, Z18, Z19
	VPANDD Z30, Z19, Z19
	VPORD Z19, Z7, Z7
	Q6K_SCALE(Z0)
	Q6K_SCALE(Z1)
	Q6K_SCALE(Z2)
	Q6K_SCALE(Z3)
	Q6K_SCALE(Z4)
	Q6K_SCALE(Z5)
	Q6K_SCALE(Z6)
	Q6K_SCALE(Z7)
	TOKENS

q6ktoken:
	DOTS
	// Lanes k and k+8 in float64 (each below 2^30, their sum may not fit
	// int32), then S = H·2^15 + L; t = d·S, acc = t·s + acc.
	VEXTRACTI64X4 $1, Z10, Y12
	VCVTDQ2PD Y10, Z10
	VCVTDQ2PD Y12, Z12
	VADDPD Z12, Z10, Z10
	VEXTRACTI64X4 $1, Z11, Y13
	VCVTDQ2PD Y11, Z11
	VCVTDQ2PD Y13, Z13
	VADDPD Z13, Z11, Z11
	VFMADD213PD Z11, Z29, Z10
	VMULPD Z9, Z10, Z10
	VBROADCASTSD (CX), Z12
	VFMADD213PD (SI), Z12, Z10
	VMOVUPD Z10, (SI)
	NEXTTOKEN
	JNZ q6ktoken

	NEXTBLOCK(210)
	JNZ q6kblock
	NEXTROW
	JNZ q6krow
	VZEROUPPER
	RET

// HSUM(z, y, x, ty, tx): x's low dword = the sum of z's 16 int32 lanes.
#define HSUM(z, y, x, ty, tx) \
	VEXTRACTI64X4 $1, z, ty \
	VPADDD ty, y, y \
	VEXTRACTI128 $1, y, tx \
	VPADDD tx, x, x \
	VPSHUFD $0x4E, x, tx \
	VPADDD tx, x, x \
	VPSHUFD $0xB1, x, tx \
	VPADDD tx, x, x

// LIMBS16(off): the 16 inputs at off(SI) to X in Z2, then L (Z3) and H
// (Z4), stored at off/2 of R10 and R11.
#define LIMBS16(off) \
	VMOVUPS off(SI), Z2 \
	VSCALEFPS Z1, Z2, Z2 \
	VCVTPS2DQ Z2, Z2 \
	VPSLLD $17, Z2, Z3 \
	VPSRAD $17, Z3, Z3 \
	VPSUBD Z3, Z2, Z4 \
	VPSRAD $15, Z4, Z4 \
	VPMOVDW Z4, off/2(R10) \
	VPMOVDW Z3, off/2(R11)

// func quantizeAVX512(x *float32, blocks int, hi, lo *int16, scale, sums *float64)
// The quantization of integer.go but for clearing non-finite
// super-blocks, which the caller does after: each super-block's largest
// magnitude from the bits, its exponent e, X = round(x·2^e) by VSCALEFPS
// and VCVTPS2DQ (ties to even), the limbs by arithmetic shifts, and the
// sums over 32 from the limbs' sums.
TEXT ·quantizeAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), R9
	MOVQ hi+16(FP), R10
	MOVQ lo+24(FP), R11
	MOVQ scale+32(FP), R12
	MOVQ sums+40(FP), R13
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31
	MOVQ $0x40E0000000000000, AX
	VMOVQ AX, X30

qblock:
	TESTQ R9, R9
	JZ qdone
	// The largest magnitude's bits, in AX.
	VPANDD (SI), Z31, Z0
	VPANDD 64(SI), Z31, Z1
	VPANDD 128(SI), Z31, Z2
	VPANDD 192(SI), Z31, Z3
	MOVQ $4, CX
	MOVQ SI, R8

qmax:
	ADDQ $256, R8
	DECQ CX
	JZ qmaxdone
	VPANDD (R8), Z31, Z4
	VPMAXUD Z4, Z0, Z0
	VPANDD 64(R8), Z31, Z4
	VPMAXUD Z4, Z1, Z1
	VPANDD 128(R8), Z31, Z4
	VPMAXUD Z4, Z2, Z2
	VPANDD 192(R8), Z31, Z4
	VPMAXUD Z4, Z3, Z3
	JMP qmax

qmaxdone:
	VPMAXUD Z1, Z0, Z0
	VPMAXUD Z3, Z2, Z2
	VPMAXUD Z2, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPMAXUD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPMAXUD X1, X0, X0
	VMOVD X0, AX

	// e = 29 − k for m < 2^k: k = E − 126 for a normal m of biased
	// exponent E, bitlen(bits) − 149 for a subnormal one. Zero blocks
	// scale by 0 and non-finite ones by NaN, with e = 0.
	XORL BX, BX
	MOVQ $0x7ff8000000000000, DX
	CMPL AX, $0x7f800000
	JAE qscaled
	XORL DX, DX
	TESTL AX, AX
	JZ qscaled
	MOVL AX, CX
	SHRL $23, CX
	JNZ qnormal
	BSRL AX, CX
	SUBL $148, CX
	JMP qexponent

qnormal:
	SUBL $126, CX

qexponent:
	MOVL $29, BX
	SUBL CX, BX
	// 2^−e: biased exponent 1023 − e.
	MOVL $1023, DX
	SUBL BX, DX
	SHLQ $52, DX

qscaled:
	MOVQ DX, (R12)
	VCVTSI2SSL BX, X1, X1
	VBROADCASTSS X1, Z1
	MOVQ $8, CX

qrun:
	// 32 inputs: their limbs, and ΣX = ΣH·2^15 + ΣL.
	LIMBS16(0)
	VMOVDQA64 Z3, Z5
	VMOVDQA64 Z4, Z6
	LIMBS16(64)
	VPADDD Z3, Z5, Z5
	VPADDD Z4, Z6, Z6
	HSUM(Z5, Y5, X5, Y7, X7)
	HSUM(Z6, Y6, X6, Y7, X7)
	VCVTDQ2PD X5, X5
	VCVTDQ2PD X6, X6
	VFMADD231SD X30, X6, X5
	VMOVSD X5, (R13)
	ADDQ $128, SI
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $8, R13
	DECQ CX
	JNZ qrun

	ADDQ $8, R12
	DECQ R9
	JMP qblock

qdone:
	VZEROUPPER
	RET

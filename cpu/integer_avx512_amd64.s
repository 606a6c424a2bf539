//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 integer kernels (VNNI): the K formats against an input
// quantized to three signed bytes per element (integer.go). Weights stay
// bytes; VPMADDUBSW multiplies them with each limb and VPDPWSSD applies
// the sub-block scales, in exact int32 lanes; each super-block's sums
// are gathered exactly in float64 and scaled as the definition says.

// q4kScaleIndex: the VPERMW indices that spread the 8 sub-block scales of
// a Q4_K super-block over the words of its four 64-byte runs of nibbles:
// (0, 2), (1, 3), (4, 6), (5, 7), 16 words each.
DATA q4kScaleIndex<>+0(SB)/8, $0x0000000000000000
DATA q4kScaleIndex<>+8(SB)/8, $0x0000000000000000
DATA q4kScaleIndex<>+16(SB)/8, $0x0000000000000000
DATA q4kScaleIndex<>+24(SB)/8, $0x0000000000000000
DATA q4kScaleIndex<>+32(SB)/8, $0x0002000200020002
DATA q4kScaleIndex<>+40(SB)/8, $0x0002000200020002
DATA q4kScaleIndex<>+48(SB)/8, $0x0002000200020002
DATA q4kScaleIndex<>+56(SB)/8, $0x0002000200020002
DATA q4kScaleIndex<>+64(SB)/8, $0x0001000100010001
DATA q4kScaleIndex<>+72(SB)/8, $0x0001000100010001
DATA q4kScaleIndex<>+80(SB)/8, $0x0001000100010001
DATA q4kScaleIndex<>+88(SB)/8, $0x0001000100010001
DATA q4kScaleIndex<>+96(SB)/8, $0x0003000300030003
DATA q4kScaleIndex<>+104(SB)/8, $0x0003000300030003
DATA q4kScaleIndex<>+112(SB)/8, $0x0003000300030003
DATA q4kScaleIndex<>+120(SB)/8, $0x0003000300030003
DATA q4kScaleIndex<>+128(SB)/8, $0x0004000400040004
DATA q4kScaleIndex<>+136(SB)/8, $0x0004000400040004
DATA q4kScaleIndex<>+144(SB)/8, $0x0004000400040004
DATA q4kScaleIndex<>+152(SB)/8, $0x0004000400040004
DATA q4kScaleIndex<>+160(SB)/8, $0x0006000600060006
DATA q4kScaleIndex<>+168(SB)/8, $0x0006000600060006
DATA q4kScaleIndex<>+176(SB)/8, $0x0006000600060006
DATA q4kScaleIndex<>+184(SB)/8, $0x0006000600060006
DATA q4kScaleIndex<>+192(SB)/8, $0x0005000500050005
DATA q4kScaleIndex<>+200(SB)/8, $0x0005000500050005
DATA q4kScaleIndex<>+208(SB)/8, $0x0005000500050005
DATA q4kScaleIndex<>+216(SB)/8, $0x0005000500050005
DATA q4kScaleIndex<>+224(SB)/8, $0x0007000700070007
DATA q4kScaleIndex<>+232(SB)/8, $0x0007000700070007
DATA q4kScaleIndex<>+240(SB)/8, $0x0007000700070007
DATA q4kScaleIndex<>+248(SB)/8, $0x0007000700070007
GLOBL q4kScaleIndex<>(SB), RODATA|NOPTR, $256

// q6kScaleIndex: the same for Q6_K's 16 scales of 16 elements: word w of
// run k takes scale 4k + w/8.
DATA q6kScaleIndex<>+0(SB)/8, $0x0000000000000000
DATA q6kScaleIndex<>+8(SB)/8, $0x0000000000000000
DATA q6kScaleIndex<>+16(SB)/8, $0x0001000100010001
DATA q6kScaleIndex<>+24(SB)/8, $0x0001000100010001
DATA q6kScaleIndex<>+32(SB)/8, $0x0002000200020002
DATA q6kScaleIndex<>+40(SB)/8, $0x0002000200020002
DATA q6kScaleIndex<>+48(SB)/8, $0x0003000300030003
DATA q6kScaleIndex<>+56(SB)/8, $0x0003000300030003
DATA q6kScaleIndex<>+64(SB)/8, $0x0004000400040004
DATA q6kScaleIndex<>+72(SB)/8, $0x0004000400040004
DATA q6kScaleIndex<>+80(SB)/8, $0x0005000500050005
DATA q6kScaleIndex<>+88(SB)/8, $0x0005000500050005
DATA q6kScaleIndex<>+96(SB)/8, $0x0006000600060006
DATA q6kScaleIndex<>+104(SB)/8, $0x0006000600060006
DATA q6kScaleIndex<>+112(SB)/8, $0x0007000700070007
DATA q6kScaleIndex<>+120(SB)/8, $0x0007000700070007
DATA q6kScaleIndex<>+128(SB)/8, $0x0008000800080008
DATA q6kScaleIndex<>+136(SB)/8, $0x0008000800080008
DATA q6kScaleIndex<>+144(SB)/8, $0x0009000900090009
DATA q6kScaleIndex<>+152(SB)/8, $0x0009000900090009
DATA q6kScaleIndex<>+160(SB)/8, $0x000a000a000a000a
DATA q6kScaleIndex<>+168(SB)/8, $0x000a000a000a000a
DATA q6kScaleIndex<>+176(SB)/8, $0x000b000b000b000b
DATA q6kScaleIndex<>+184(SB)/8, $0x000b000b000b000b
DATA q6kScaleIndex<>+192(SB)/8, $0x000c000c000c000c
DATA q6kScaleIndex<>+200(SB)/8, $0x000c000c000c000c
DATA q6kScaleIndex<>+208(SB)/8, $0x000d000d000d000d
DATA q6kScaleIndex<>+216(SB)/8, $0x000d000d000d000d
DATA q6kScaleIndex<>+224(SB)/8, $0x000e000e000e000e
DATA q6kScaleIndex<>+232(SB)/8, $0x000e000e000e000e
DATA q6kScaleIndex<>+240(SB)/8, $0x000f000f000f000f
DATA q6kScaleIndex<>+248(SB)/8, $0x000f000f000f000f
GLOBL q6kScaleIndex<>(SB), RODATA|NOPTR, $256

// q6kShifts: the word shifts that bring a Q6_K super-block's high bits
// to bits 4-5: left by 4 then 2 for the low nibbles' runs, right by 0
// then 2 for the high ones'.
DATA q6kShifts<>+0(SB)/8, $0x0004000400040004
DATA q6kShifts<>+8(SB)/8, $0x0004000400040004
DATA q6kShifts<>+16(SB)/8, $0x0004000400040004
DATA q6kShifts<>+24(SB)/8, $0x0004000400040004
DATA q6kShifts<>+32(SB)/8, $0x0002000200020002
DATA q6kShifts<>+40(SB)/8, $0x0002000200020002
DATA q6kShifts<>+48(SB)/8, $0x0002000200020002
DATA q6kShifts<>+56(SB)/8, $0x0002000200020002
DATA q6kShifts<>+64(SB)/8, $0x0000000000000000
DATA q6kShifts<>+72(SB)/8, $0x0000000000000000
DATA q6kShifts<>+80(SB)/8, $0x0000000000000000
DATA q6kShifts<>+88(SB)/8, $0x0000000000000000
DATA q6kShifts<>+96(SB)/8, $0x0002000200020002
DATA q6kShifts<>+104(SB)/8, $0x0002000200020002
DATA q6kShifts<>+112(SB)/8, $0x0002000200020002
DATA q6kShifts<>+120(SB)/8, $0x0002000200020002
GLOBL q6kShifts<>(SB), RODATA|NOPTR, $128

// IGROUP(q, s, o): the 64 weight bytes in q against the four limbs of
// the input's 64 positions from o(R11), each pair sum times the scale
// words in s, added to Z10 to Z13.
#define IGROUP(q, s, o) \
	VPMADDUBSW o(R11), q, Z6 \
	VPMADDUBSW o+256(R11), q, Z7 \
	VPMADDUBSW o+512(R11), q, Z8 \
	VPMADDUBSW o+768(R11), q, Z14 \
	VPDPWSSD Z6, s, Z10 \
	VPDPWSSD Z7, s, Z11 \
	VPDPWSSD Z8, s, Z12 \
	VPDPWSSD Z14, s, Z13

// LIMBS leaves in Z10 the 8 float64 lanes of ((a·256 + b)·256 + c)·256
// + d, from the 16 int32 lanes of the limbs' sums in Z10 to Z13: exact,
// as every partial sum is an integer below 2^53. Needs Z29 = 256.
#define LIMBS \
	VEXTRACTI64X4 $1, Z10, Y6 \
	VPADDD Y6, Y10, Y10 \
	VEXTRACTI64X4 $1, Z11, Y7 \
	VPADDD Y7, Y11, Y11 \
	VEXTRACTI64X4 $1, Z12, Y8 \
	VPADDD Y8, Y12, Y12 \
	VEXTRACTI64X4 $1, Z13, Y14 \
	VPADDD Y14, Y13, Y13 \
	VCVTDQ2PD Y10, Z10 \
	VCVTDQ2PD Y11, Z11 \
	VCVTDQ2PD Y12, Z12 \
	VCVTDQ2PD Y13, Z13 \
	VFMADD213PD Z11, Z29, Z10 \
	VFMADD213PD Z12, Z29, Z10 \
	VFMADD213PD Z13, Z29, Z10

#define FLOATCONSTS \
	MOVQ $0x4070000000000000, AX \
	VPBROADCASTQ AX, Z29

// func q4kIntegerAVX512(acc *float64, w *byte, stride, rows, blocks int, limbs *int8, scale *float64, sums unsafe.Pointer)
TEXT ·q4kIntegerAVX512(SB), NOSPLIT, $8-64
	MOVQ acc+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+24(FP), R9
	// 0(SP): from the end of a row's blocks to the next row.
	MOVQ blocks+32(FP), AX
	IMULQ $144, AX
	MOVQ stride+16(FP), BX
	SUBQ AX, BX
	MOVQ BX, 0(SP)
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
	VMOVDQU64 q4kScaleIndex<>+0(SB), Z24
	VMOVDQU64 q4kScaleIndex<>+64(SB), Z25
	VMOVDQU64 q4kScaleIndex<>+128(SB), Z26
	VMOVDQU64 q4kScaleIndex<>+192(SB), Z27
	FLOATCONSTS

q4krow:
	TESTQ R9, R9
	JZ q4kdone
	MOVQ limbs+40(FP), R11
	MOVQ scale+48(FP), R12
	MOVQ sums+56(FP), R13
	MOVQ blocks+32(FP), R14
	VMOVSD (DI), X9

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

	// Scale words for the four runs of nibbles.
	VMOVQ CX, X0
	VPMOVZXBW X0, X0
	VPERMW Z0, Z24, Z20
	VPERMW Z0, Z25, Z21
	VPERMW Z0, Z26, Z22
	VPERMW Z0, Z27, Z23

	// M's lanes: min_j times the input's sum over sub-block j.
	VMOVQ DX, X1
	VPMOVZXBD X1, Y1
	VCVTDQ2PD Y1, Z1
	VMULPD (R13), Z1, Z1

	VMOVDQU64 16(R10), Z2
	VPSRLW $4, Z2, Z3
	VPANDD Z31, Z2, Z2
	VPANDD Z31, Z3, Z3
	VMOVDQU64 80(R10), Z4
	VPSRLW $4, Z4, Z5
	VPANDD Z31, Z4, Z4
	VPANDD Z31, Z5, Z5
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	IGROUP(Z2, Z20, 0)
	IGROUP(Z3, Z21, 64)
	IGROUP(Z4, Z22, 128)
	IGROUP(Z5, Z23, 192)
	LIMBS

	// [S, M], then t = d·S − dmin·M, acc += t·s.
	VEXTRACTF64X4 $1, Z10, Y6
	VADDPD Y6, Y10, Y10
	VEXTRACTF64X4 $1, Z1, Y7
	VADDPD Y7, Y1, Y1
	VHADDPD Y1, Y10, Y10
	VEXTRACTF128 $1, Y10, X6
	VADDPD X6, X10, X10
	MOVL (R10), AX
	VMOVD AX, X7
	VCVTPH2PS X7, X7
	VCVTPS2PD X7, X7
	VMULPD X7, X10, X10
	VPERMILPD $1, X10, X7
	VSUBSD X7, X10, X10
	VMULSD (R12), X10, X10
	VADDSD X10, X9, X9

	ADDQ $144, R10
	ADDQ $1024, R11
	ADDQ $8, R12
	ADDQ $64, R13
	DECQ R14
	JNZ q4kblock

	VMOVSD X9, (DI)
	ADDQ $8, DI
	ADDQ 0(SP), R10
	DECQ R9
	JMP q4krow

q4kdone:
	VZEROUPPER
	RET

// func q6kIntegerAVX512(acc *float64, w *byte, stride, rows, blocks int, limbs *int8, scale *float64, sums unsafe.Pointer)
TEXT ·q6kIntegerAVX512(SB), NOSPLIT, $8-64
	MOVQ acc+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+24(FP), R9
	// 0(SP): from the end of a row's blocks to the next row.
	MOVQ blocks+32(FP), AX
	IMULQ $210, AX
	MOVQ stride+16(FP), BX
	SUBQ AX, BX
	MOVQ BX, 0(SP)
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
	MOVL $0x30303030, AX
	VPBROADCASTD AX, Z30
	VMOVDQU64 q6kScaleIndex<>+0(SB), Z24
	VMOVDQU64 q6kScaleIndex<>+64(SB), Z25
	VMOVDQU64 q6kScaleIndex<>+128(SB), Z26
	VMOVDQU64 q6kScaleIndex<>+192(SB), Z27
	VMOVDQU64 q6kShifts<>+0(SB), Z18
	VMOVDQU64 q6kShifts<>+64(SB), Z19
	FLOATCONSTS

q6krow:
	TESTQ R9, R9
	JZ q6kdone
	MOVQ limbs+40(FP), R11
	MOVQ scale+48(FP), R12
	MOVQ sums+56(FP), R13
	MOVQ blocks+32(FP), R14
	VMOVSD (DI), X9

q6kblock:
	// Scale words for the four runs, and −32·scale against the input's
	// limb sums over each sub-block of 16: the −32 of every value.
	VPMOVSXBW 192(R10), Y0
	VPERMW Z0, Z24, Z20
	VPERMW Z0, Z25, Z21
	VPERMW Z0, Z26, Z22
	VPERMW Z0, Z27, Z23
	VPSLLW $5, Y0, Y1
	VPXOR Y2, Y2, Y2
	VPSUBW Y1, Y2, Y1
	VPMADDWD (R13), Z1, Z10
	VPMADDWD 32(R13), Z1, Z11
	VPMADDWD 64(R13), Z1, Z12
	VPMADDWD 96(R13), Z1, Z13

	// Half 0: values 0-63 (low nibbles) and 64-127 (high nibbles).
	VMOVDQU64 (R10), Z2
	VPSRLW $4, Z2, Z3
	VPANDD Z31, Z2, Z2
	VPANDD Z31, Z3, Z3
	VBROADCASTI64X4 128(R10), Z4
	VPSLLVW Z18, Z4, Z5
	VPANDD Z30, Z5, Z5
	VPORD Z5, Z2, Z2
	VPSRLVW Z19, Z4, Z5
	VPANDD Z30, Z5, Z5
	VPORD Z5, Z3, Z3
	IGROUP(Z2, Z20, 0)
	IGROUP(Z3, Z21, 64)

	// Half 1.
	VMOVDQU64 64(R10), Z2
	VPSRLW $4, Z2, Z3
	VPANDD Z31, Z2, Z2
	VPANDD Z31, Z3, Z3
	VBROADCASTI64X4 160(R10), Z4
	VPSLLVW Z18, Z4, Z5
	VPANDD Z30, Z5, Z5
	VPORD Z5, Z2, Z2
	VPSRLVW Z19, Z4, Z5
	VPANDD Z30, Z5, Z5
	VPORD Z5, Z3, Z3
	IGROUP(Z2, Z22, 128)
	IGROUP(Z3, Z23, 192)
	LIMBS

	VEXTRACTF64X4 $1, Z10, Y6
	VADDPD Y6, Y10, Y10
	VEXTRACTF128 $1, Y10, X6
	VADDPD X6, X10, X10
	VPERMILPD $1, X10, X6
	VADDSD X6, X10, X10
	MOVWLZX 208(R10), AX
	VMOVD AX, X7
	VCVTPH2PS X7, X7
	VCVTSS2SD X7, X7, X7
	VMULSD X7, X10, X10
	VMULSD (R12), X10, X10
	VADDSD X10, X9, X9

	ADDQ $210, R10
	ADDQ $1024, R11
	ADDQ $8, R12
	ADDQ $128, R13
	DECQ R14
	JNZ q6kblock

	VMOVSD X9, (DI)
	ADDQ $8, DI
	ADDQ 0(SP), R10
	DECQ R9
	JMP q6krow

q6kdone:
	VZEROUPPER
	RET

// func quantizeAVX512(x *float32, blocks int, limbs *int8, scale *float64, sums16 *int16, positions *int64)
// The quantization of integer.go, but for the sums over 32 and the
// clearing of non-finite super-blocks, which quantize does after: each
// super-block's largest magnitude from the bits, its exponent e, X =
// round(x·2^e) by VSCALEFPS and VCVTPS2DQ (ties to even), limbs by
// arithmetic shifts, and each limb's sums over 16 by VPSADBW.
TEXT ·quantizeAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), R9
	MOVQ limbs+16(FP), DI
	MOVQ scale+24(FP), R12
	MOVQ sums16+32(FP), R13
	MOVQ positions+40(FP), R14
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31
	MOVL $0x80808080, AX
	VPBROADCASTD AX, X30
	VPXORD X29, X29, X29

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

	// e = 30 − k for m < 2^k: k = E − 126 for a normal m of biased
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
	MOVL $30, BX
	SUBL CX, BX
	// 2^−e: biased exponent 1023 − e.
	MOVL $1023, DX
	SUBL BX, DX
	SHLQ $52, DX

qscaled:
	MOVQ DX, (R12)
	VCVTSI2SSL BX, X1, X1
	VBROADCASTSS X1, Z1

	XORQ CX, CX

qchunk:
	VMOVUPS (SI), Z2
	VSCALEFPS Z1, Z2, Z2
	VCVTPS2DQ Z2, Z2
	// Digits d (Z3), c (Z4), b (Z7), then a = the rest (Z2): each the
	// sign-extended low byte, taken off before the shift.
	VPSLLD $24, Z2, Z3
	VPSRAD $24, Z3, Z3
	VPSUBD Z3, Z2, Z2
	VPSRAD $8, Z2, Z2
	VPSLLD $24, Z2, Z4
	VPSRAD $24, Z4, Z4
	VPSUBD Z4, Z2, Z2
	VPSRAD $8, Z2, Z2
	VPSLLD $24, Z2, Z7
	VPSRAD $24, Z7, Z7
	VPSUBD Z7, Z2, Z2
	VPSRAD $8, Z2, Z2
	MOVQ (R14)(CX*8), R8
	ADDQ DI, R8
	// Each limb: store its bytes, sum them biased by 128.
	VPMOVDB Z2, X5
	VMOVDQU X5, 0(R8)
	VPXORD X30, X5, X5
	VPSADBW X29, X5, X5
	VPSHUFD $0x4E, X5, X6
	VPADDQ X6, X5, X5
	VMOVD X5, AX
	SUBL $2048, AX
	MOVW AX, (R13)(CX*2)
	VPMOVDB Z7, X5
	VMOVDQU X5, 256(R8)
	VPXORD X30, X5, X5
	VPSADBW X29, X5, X5
	VPSHUFD $0x4E, X5, X6
	VPADDQ X6, X5, X5
	VMOVD X5, AX
	SUBL $2048, AX
	MOVW AX, 32(R13)(CX*2)
	VPMOVDB Z4, X5
	VMOVDQU X5, 512(R8)
	VPXORD X30, X5, X5
	VPSADBW X29, X5, X5
	VPSHUFD $0x4E, X5, X6
	VPADDQ X6, X5, X5
	VMOVD X5, AX
	SUBL $2048, AX
	MOVW AX, 64(R13)(CX*2)
	VPMOVDB Z3, X5
	VMOVDQU X5, 768(R8)
	VPXORD X30, X5, X5
	VPSADBW X29, X5, X5
	VPSHUFD $0x4E, X5, X6
	VPADDQ X6, X5, X5
	VMOVD X5, AX
	SUBL $2048, AX
	MOVW AX, 96(R13)(CX*2)
	ADDQ $64, SI
	INCQ CX
	CMPQ CX, $16
	JLT qchunk

	ADDQ $1024, DI
	ADDQ $8, R12
	ADDQ $128, R13
	DECQ R9
	JMP qblock

qdone:
	VZEROUPPER
	RET

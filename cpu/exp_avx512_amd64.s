//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 kernels of exp.go's exponential, eight float64 lanes at a time:
// the same steps as exp64, each a correctly rounded IEEE operation, so the
// same bits.

// expConsts: 1/k! for k = 13 down to 0 (exp.go's expTaylor), then log2 e,
// ln2Hi, ln2Lo, expLow and expHigh.
DATA expConsts<>+0(SB)/8, $0x3de6124613a86d09
DATA expConsts<>+8(SB)/8, $0x3e21eed8eff8d898
DATA expConsts<>+16(SB)/8, $0x3e5ae64567f544e4
DATA expConsts<>+24(SB)/8, $0x3e927e4fb7789f5c
DATA expConsts<>+32(SB)/8, $0x3ec71de3a556c734
DATA expConsts<>+40(SB)/8, $0x3efa01a01a01a01a
DATA expConsts<>+48(SB)/8, $0x3f2a01a01a01a01a
DATA expConsts<>+56(SB)/8, $0x3f56c16c16c16c17
DATA expConsts<>+64(SB)/8, $0x3f81111111111111
DATA expConsts<>+72(SB)/8, $0x3fa5555555555555
DATA expConsts<>+80(SB)/8, $0x3fc5555555555555
DATA expConsts<>+88(SB)/8, $0x3fe0000000000000
DATA expConsts<>+96(SB)/8, $0x3ff0000000000000
DATA expConsts<>+104(SB)/8, $0x3ff0000000000000
DATA expConsts<>+112(SB)/8, $0x3ff71547652b82fe
DATA expConsts<>+120(SB)/8, $0x3fe62e42fefa39ef
DATA expConsts<>+128(SB)/8, $0x3c7abc9e3b39803f
DATA expConsts<>+136(SB)/8, $0xc085e00000000000
DATA expConsts<>+144(SB)/8, $0x4069000000000000
GLOBL expConsts<>(SB), RODATA|NOPTR, $152

// EXPCONSTS loads the constants: the coefficients in Z16-Z29 (Z29 = 1),
// log2 e in Z30, ln2Hi in Z31, ln2Lo in Z8, expLow in Z9, expHigh in Z10,
// +Inf in Z11 and the sign bit in Z12.
#define EXPCONSTS \
	VBROADCASTSD expConsts<>+0(SB), Z16 \
	VBROADCASTSD expConsts<>+8(SB), Z17 \
	VBROADCASTSD expConsts<>+16(SB), Z18 \
	VBROADCASTSD expConsts<>+24(SB), Z19 \
	VBROADCASTSD expConsts<>+32(SB), Z20 \
	VBROADCASTSD expConsts<>+40(SB), Z21 \
	VBROADCASTSD expConsts<>+48(SB), Z22 \
	VBROADCASTSD expConsts<>+56(SB), Z23 \
	VBROADCASTSD expConsts<>+64(SB), Z24 \
	VBROADCASTSD expConsts<>+72(SB), Z25 \
	VBROADCASTSD expConsts<>+80(SB), Z26 \
	VBROADCASTSD expConsts<>+88(SB), Z27 \
	VBROADCASTSD expConsts<>+96(SB), Z28 \
	VBROADCASTSD expConsts<>+104(SB), Z29 \
	VBROADCASTSD expConsts<>+112(SB), Z30 \
	VBROADCASTSD expConsts<>+120(SB), Z31 \
	VBROADCASTSD expConsts<>+128(SB), Z8 \
	VBROADCASTSD expConsts<>+136(SB), Z9 \
	VBROADCASTSD expConsts<>+144(SB), Z10 \
	MOVQ $0x7ff0000000000000, AX \
	VPBROADCASTQ AX, Z11 \
	MOVQ $0x8000000000000000, AX \
	VPBROADCASTQ AX, Z12

// EXP(y, e): e = exp64 of the lanes of y (exp.go), through Z3, Z4, K1, K2.
#define EXP(y, e) \
	VMULPD Z30, y, Z3 \
	VRNDSCALEPD $0, Z3, Z3 \
	VMOVAPD y, Z4 \
	VFNMADD231PD Z31, Z3, Z4 \
	VFNMADD231PD Z8, Z3, Z4 \
	VMOVAPD Z16, e \
	VFMADD213PD Z17, Z4, e \
	VFMADD213PD Z18, Z4, e \
	VFMADD213PD Z19, Z4, e \
	VFMADD213PD Z20, Z4, e \
	VFMADD213PD Z21, Z4, e \
	VFMADD213PD Z22, Z4, e \
	VFMADD213PD Z23, Z4, e \
	VFMADD213PD Z24, Z4, e \
	VFMADD213PD Z25, Z4, e \
	VFMADD213PD Z26, Z4, e \
	VFMADD213PD Z27, Z4, e \
	VFMADD213PD Z28, Z4, e \
	VFMADD213PD Z29, Z4, e \
	VSCALEFPD Z3, e, e \
	VCMPPD $0x11, Z9, y, K1 \
	VPXORQ e, e, K1, e \
	VCMPPD $0x1e, Z10, y, K2 \
	VMOVAPD Z11, K2, e

// func siluMulAVX512(out, gate, up *float32, n int)
// out[i] = silu(gate[i])·up[i] for i < n, a multiple of 8, as siluMul.
TEXT ·siluMulAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), DX
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JZ silumuldone
	EXPCONSTS

silumulloop:
	VCVTPS2PD (SI), Z0
	VXORPD Z12, Z0, Z1
	EXP(Z1, Z2)
	VADDPD Z29, Z2, Z2
	VDIVPD Z2, Z0, Z0
	VCVTPD2PS Z0, Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ silumulloop

silumuldone:
	VZEROUPPER
	RET

// func softmaxExpAVX512(scores *float32, n int, best float32, sum *float64)
// For n, a multiple of 8, scores: each s to float32(exp64(s − best)), the
// exponentials added to *sum one at a time in order, as softmaxExp does.
TEXT ·softmaxExpAVX512(SB), NOSPLIT, $0-32
	MOVQ scores+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ sum+24(FP), DX
	VMOVSD (DX), X7
	TESTQ CX, CX
	JZ softmaxdone
	EXPCONSTS
	VBROADCASTSS best+16(FP), Y6

softmaxloop:
	VMOVUPS (SI), Y0
	VSUBPS Y6, Y0, Y0
	VCVTPS2PD Y0, Z1
	EXP(Z1, Z2)
	VCVTPD2PS Z2, Y0
	VMOVUPS Y0, (SI)
	// The sum, lane by lane in order.
	VADDSD X2, X7, X7
	VPERMILPD $1, X2, X0
	VADDSD X0, X7, X7
	VEXTRACTF64X2 $1, Z2, X0
	VADDSD X0, X7, X7
	VPERMILPD $1, X0, X0
	VADDSD X0, X7, X7
	VEXTRACTF64X2 $2, Z2, X0
	VADDSD X0, X7, X7
	VPERMILPD $1, X0, X0
	VADDSD X0, X7, X7
	VEXTRACTF64X2 $3, Z2, X0
	VADDSD X0, X7, X7
	VPERMILPD $1, X0, X0
	VADDSD X0, X7, X7
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ softmaxloop

softmaxdone:
	VMOVSD X7, (DX)
	VZEROUPPER
	RET

//go:build amd64 && !noasm

#include "textflag.h"
#include "k4scales_amd64.h"
#include "prefetch_amd64.h"

// AVX-512 integer kernels (VNNI): the K formats against inputs quantized
// to two 16-bit limbs (integer.go). A super-block's weights are decoded
// once into eight registers of 32 words, w = scale·q, and multiplied with
// every input of the batch by VPDPWSSD in exact int32 lanes; each lane's
// sum goes to float64 exactly and is scaled as the definition says.

// q6kScaleWords: VPSHUFB controls, 64 bytes for each m < 4, that fill
// 128-bit lanes 0-1 with scale word 2m and lanes 2-3 with word 2m+1 of a
// lane holding eight scale words: the scales of the 32 weights of a
// register, 16 for each of its two sub-blocks.
DATA q6kScaleWords<>+0(SB)/8, $0x0100010001000100
DATA q6kScaleWords<>+8(SB)/8, $0x0100010001000100
DATA q6kScaleWords<>+16(SB)/8, $0x0100010001000100
DATA q6kScaleWords<>+24(SB)/8, $0x0100010001000100
DATA q6kScaleWords<>+32(SB)/8, $0x0302030203020302
DATA q6kScaleWords<>+40(SB)/8, $0x0302030203020302
DATA q6kScaleWords<>+48(SB)/8, $0x0302030203020302
DATA q6kScaleWords<>+56(SB)/8, $0x0302030203020302
DATA q6kScaleWords<>+64(SB)/8, $0x0504050405040504
DATA q6kScaleWords<>+72(SB)/8, $0x0504050405040504
DATA q6kScaleWords<>+80(SB)/8, $0x0504050405040504
DATA q6kScaleWords<>+88(SB)/8, $0x0504050405040504
DATA q6kScaleWords<>+96(SB)/8, $0x0706070607060706
DATA q6kScaleWords<>+104(SB)/8, $0x0706070607060706
DATA q6kScaleWords<>+112(SB)/8, $0x0706070607060706
DATA q6kScaleWords<>+120(SB)/8, $0x0706070607060706
DATA q6kScaleWords<>+128(SB)/8, $0x0908090809080908
DATA q6kScaleWords<>+136(SB)/8, $0x0908090809080908
DATA q6kScaleWords<>+144(SB)/8, $0x0908090809080908
DATA q6kScaleWords<>+152(SB)/8, $0x0908090809080908
DATA q6kScaleWords<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kScaleWords<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kScaleWords<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kScaleWords<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kScaleWords<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kScaleWords<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kScaleWords<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kScaleWords<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kScaleWords<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6kScaleWords<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6kScaleWords<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6kScaleWords<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q6kScaleWords<>(SB), RODATA|NOPTR, $256

// q5kBit4: 0x0010 in every word.
DATA q5kBit4<>+0(SB)/8, $0x0010001000100010
DATA q5kBit4<>+8(SB)/8, $0x0010001000100010
DATA q5kBit4<>+16(SB)/8, $0x0010001000100010
DATA q5kBit4<>+24(SB)/8, $0x0010001000100010
DATA q5kBit4<>+32(SB)/8, $0x0010001000100010
DATA q5kBit4<>+40(SB)/8, $0x0010001000100010
DATA q5kBit4<>+48(SB)/8, $0x0010001000100010
DATA q5kBit4<>+56(SB)/8, $0x0010001000100010
GLOBL q5kBit4<>(SB), RODATA|NOPTR, $64

// Arguments of the kernels:
// func kernel(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int, fresh bool)
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
	MOVQ w+8(FP), R9

// ROWSTART points R10 at the row's first super-block, R11-R14 at the
// inputs', and counts its blocks at 40(SP). K1 is the mask acc is read
// under: none of it when fresh (acc holds nothing yet: its sums start
// from +0, as from a cleared acc), all of it after the first block
// (NEXTBLOCK).
#define ROWSTART \
	MOVQ R9, R10 \
	MOVQ hi+48(FP), R11 \
	MOVQ lo+56(FP), R12 \
	MOVQ scale+64(FP), R13 \
	MOVQ sums+72(FP), R14 \
	MOVQ blocks+32(FP), AX \
	MOVQ AX, 40(SP) \
	MOVBLZX fresh+88(FP), AX \
	DECL AX \
	KMOVB AX, K1

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
	KXNORB K1, K1, K1 \
	DECQ 40(SP)

// NEXTROW moves to the next row; ZF set when none is left.
#define NEXTROW \
	ADDQ $64, DI \
	ADDQ stride+16(FP), R9 \
	DECQ 32(SP)

// NEXTPAIR moves past a pair of rows.
#define NEXTPAIR \
	ADDQ $128, DI \
	ADDQ stride+16(FP), R9 \
	ADDQ stride+16(FP), R9 \
	SUBQ $2, 32(SP)

// K4_HEAD(zm, xm, ym, zd, xd, yd, zdmin, sc, rows): prefetches ahead
// (prefetch_amd64.h), then takes from the Q4_K or Q5_K super-block at R10
// its scale words (to sc(SP)), dmin·min as float64 lanes (zm), and d and
// dmin broadcast (zd, zdmin). Uses AX, BX, CX, DX, SI, R8 and X12.
#define K4_HEAD(zm, xm, ym, zd, xd, yd, zdmin, sc, rows) \
	PREFETCHQ4K(rows) \
	K4SCALEBYTES \
	VMOVQ CX, X12 \
	VPMOVZXBW X12, X12 \
	VMOVDQU X12, sc(SP) \
	VMOVQ DX, xm \
	VPMOVZXBD xm, ym \
	VCVTDQ2PD ym, zm \
	VPBROADCASTD (R10), xd \
	VCVTPH2PS xd, yd \
	VCVTPS2PD yd, zd \
	VUNPCKHPD zd, zd, zdmin \
	VUNPCKLPD zd, zd, zd \
	VMULPD zdmin, zm, zm

// K4_NIBBLES(qs, w0, ..., w7): the nibbles of the 128 bytes at qs(R10) as
// words, sub-block 2k's from the low nibbles of bytes 32k-32k+31 (w0, w2,
// ...), 2k+1's from the high ones (w1, w3, ...). Needs Z31 = 0x000f words.
#define K4_NIBBLES(qs, w0, w1, w2, w3, w4, w5, w6, w7) \
	VPMOVZXBW qs(R10), w0 \
	VPSRLW $4, w0, w1 \
	VPANDD Z31, w0, w0 \
	VPMOVZXBW qs+32(R10), w2 \
	VPSRLW $4, w2, w3 \
	VPANDD Z31, w2, w2 \
	VPMOVZXBW qs+64(R10), w4 \
	VPSRLW $4, w4, w5 \
	VPANDD Z31, w4, w4 \
	VPMOVZXBW qs+96(R10), w6 \
	VPSRLW $4, w6, w7 \
	VPANDD Z31, w6, w6

// K4_SCALE(w0, ..., w7, sc): each sub-block's values times its scale word
// at sc(SP). Uses Z12.
#define K4_SCALE(w0, w1, w2, w3, w4, w5, w6, w7, sc) \
	VPBROADCASTW sc(SP), Z12 \
	VPMULLW Z12, w0, w0 \
	VPBROADCASTW sc+2(SP), Z12 \
	VPMULLW Z12, w1, w1 \
	VPBROADCASTW sc+4(SP), Z12 \
	VPMULLW Z12, w2, w2 \
	VPBROADCASTW sc+6(SP), Z12 \
	VPMULLW Z12, w3, w3 \
	VPBROADCASTW sc+8(SP), Z12 \
	VPMULLW Z12, w4, w4 \
	VPBROADCASTW sc+10(SP), Z12 \
	VPMULLW Z12, w5, w5 \
	VPBROADCASTW sc+12(SP), Z12 \
	VPMULLW Z12, w6, w6 \
	VPBROADCASTW sc+14(SP), Z12 \
	VPMULLW Z12, w7, w7

// Q4K_DECODE(w0, ..., w7, zm, ..., zdmin, sc, rows): the Q4_K super-block
// at R10 decoded: weights scale·nibble of sub-blocks 0-7 (w0-w7), and
// K4_HEAD's.
#define Q4K_DECODE(w0, w1, w2, w3, w4, w5, w6, w7, zm, xm, ym, zd, xd, yd, zdmin, sc, rows) \
	K4_HEAD(zm, xm, ym, zd, xd, yd, zdmin, sc, rows) \
	K4_NIBBLES(16, w0, w1, w2, w3, w4, w5, w6, w7) \
	K4_SCALE(w0, w1, w2, w3, w4, w5, w6, w7, sc)

// Q5K_HIGH(w0, ..., w7): adds to the nibbles of sub-block j (wj) its
// fifth bits, bit j of each of the 32 bytes of qh at 16(R10), as 16.
// VPTERNLOGD $0xf8 is w | (h & 0x10). Uses Z24, Z25.
#define Q5K_HIGH(w0, w1, w2, w3, w4, w5, w6, w7) \
	VPMOVZXBW 16(R10), Z24 \
	VPSLLW $4, Z24, Z25 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z25, w0 \
	VPSLLW $3, Z24, Z25 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z25, w1 \
	VPSLLW $2, Z24, Z25 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z25, w2 \
	VPSLLW $1, Z24, Z25 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z25, w3 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z24, w4 \
	VPSRLW $1, Z24, Z25 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z25, w5 \
	VPSRLW $2, Z24, Z25 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z25, w6 \
	VPSRLW $3, Z24, Z25 \
	VPTERNLOGD $0xf8, q5kBit4<>(SB), Z25, w7

// Q5K_DECODE(...): Q4K_DECODE for a Q5_K super-block (176 bytes: d, dmin
// and scales as Q4_K's, then 32 bytes of fifth bits and the 128 of
// nibbles): weights scale·(nibble + 16·bit).
#define Q5K_DECODE(w0, w1, w2, w3, w4, w5, w6, w7, zm, xm, ym, zd, xd, yd, zdmin, sc, rows) \
	K4_HEAD(zm, xm, ym, zd, xd, yd, zdmin, sc, rows) \
	K4_NIBBLES(48, w0, w1, w2, w3, w4, w5, w6, w7) \
	Q5K_HIGH(w0, w1, w2, w3, w4, w5, w6, w7) \
	K4_SCALE(w0, w1, w2, w3, w4, w5, w6, w7, sc)

// K4_S(h, l, yh, yl, th, tl): S = H·2^15 + L as float64 lanes in h, from
// the limbs' int32 lanes h, l: lanes k and k+8 added in int32 (below 2^30
// for Q4_K and Q5_K), S in int64 (exact, below 2^46) and converted once.
// Uses th, tl.
#define K4_S(h, l, yh, yl, th, tl) \
	VEXTRACTI64X4 $1, h, th \
	VPADDD th, yh, yh \
	VEXTRACTI64X4 $1, l, tl \
	VPADDD tl, yl, yl \
	VPMOVSXDQ yh, h \
	VPMOVSXDQ yl, l \
	VPSLLQ $15, h, h \
	VPADDQ l, h, h \
	VCVTQQ2PD h, h

// Q4K_LANES(h, l, yh, yl, th, tl, zm, zd, acc): S (K4_S), then u =
// (dmin·min)·ΣX, t = d·S − u, and acc = t·s + acc, s broadcast in Z30.
// dmin·min is exact (11 bits by 6), so u is the exact product rounded
// once, as dmin·(min·ΣX) is. acc is read under mask K1
// (ROWSTART). Leaves acc's lanes in h.
#define Q4K_LANES(h, l, yh, yl, th, tl, zm, zd, acc) \
	K4_S(h, l, yh, yl, th, tl) \
	VMULPD (DX), zm, Z14 \
	VFMSUB213PD Z14, zd, h \
	VMOVUPD.Z acc, K1, Z14 \
	VFMADD213PD Z14, Z30, h \
	VMOVUPD h, acc

// PAIRDOT(wa, wb, o): the sub-block at o of the input at AX (hi), BX (lo)
// against its weights in rows A (wa) and B (wb), into Z10, Z11 (A) and
// Z12, Z13 (B).
#define PAIRDOT(wa, wb, o) \
	VMOVDQU64 o(AX), Z24 \
	VMOVDQU64 o(BX), Z25 \
	VPDPWSSD Z24, wa, Z10 \
	VPDPWSSD Z25, wa, Z11 \
	VPDPWSSD Z24, wb, Z12 \
	VPDPWSSD Z25, wb, Z13

// K4_INTEGER(decode, size): the body of the Q4_K and Q5_K kernels, whose
// super-blocks of size bytes decode by decode (Q4K_DECODE, Q5K_DECODE).
// Rows go two at a time, their weights in Z0-Z7 and Z16-Z23, so that each
// input's limbs are loaded once for both; a last odd row goes alone. One
// input (tokens = 1) goes to label one: Q4K_ONE for Q4_K, pair (the next
// instruction) for Q5_K.
#define K4_INTEGER(decode, size, one) \
	STRIDES \
	MOVL $0x000f000f, AX \
	VPBROADCASTD AX, Z31 \
	CMPQ tokens+40(FP), $1 \
	JEQ one \
pair: \
	CMPQ 32(SP), $2 \
	JLT row \
	ROWSTART \
pairblock: \
	decode(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, X8, Y8, Z9, X9, Y9, Z15, 48, 2) \
	ADDQ stride+16(FP), R10 \
	decode(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z28, X28, Y28, Z26, X26, Y26, Z27, 64, 2) \
	SUBQ stride+16(FP), R10 \
	TOKENS \
pairtoken: \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	PAIRDOT(Z0, Z16, 0) \
	PAIRDOT(Z1, Z17, 64) \
	PAIRDOT(Z2, Z18, 128) \
	PAIRDOT(Z3, Z19, 192) \
	PAIRDOT(Z4, Z20, 256) \
	PAIRDOT(Z5, Z21, 320) \
	PAIRDOT(Z6, Z22, 384) \
	PAIRDOT(Z7, Z23, 448) \
	VBROADCASTSD (CX), Z30 \
	Q4K_LANES(Z10, Z11, Y10, Y11, Y24, Y25, Z8, Z9, (SI)) \
	Q4K_LANES(Z12, Z13, Y12, Y13, Y24, Y25, Z28, Z26, 64(SI)) \
	NEXTTOKEN \
	JNZ pairtoken \
	NEXTBLOCK(size) \
	JNZ pairblock \
	NEXTPAIR \
	JMP pair \
row: \
	CMPQ 32(SP), $0 \
	JEQ done \
	ROWSTART \
block: \
	decode(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, X8, Y8, Z9, X9, Y9, Z15, 48, 1) \
	TOKENS \
token: \
	DOTS \
	VBROADCASTSD (CX), Z30 \
	Q4K_LANES(Z10, Z11, Y10, Y11, Y12, Y13, Z8, Z9, (SI)) \
	NEXTTOKEN \
	JNZ token \
	NEXTBLOCK(size) \
	JNZ block \
	NEXTROW \
	JNZ row \
done: \
	VZEROUPPER \
	RET

// A decode's one input (tokens = 1) takes the Q4_K rows in pairs by
// Q4K_ONE: each sub-block's weights go to the products as they are
// decoded, the lanes' sums stay in registers for the whole row, and the
// scales are broadcast from memory by the instructions that use them.
// The terms and their order are K4_INTEGER's.

// K4_HEAD1(zm, xm, ym, sc, dd, rows): prefetches ahead, then takes from
// the Q4_K super-block at R10 its scale words (to sc(SP)), d and dmin as
// float64 (to dd(SP) and dd+8(SP)) and dmin·min as float64 lanes (zm).
// Uses AX, BX, CX, DX, SI, R8 and X12.
#define K4_HEAD1(zm, xm, ym, sc, dd, rows) \
	PREFETCHQ4K(rows) \
	K4SCALEBYTES \
	VMOVQ CX, X12 \
	VPMOVZXBW X12, X12 \
	VMOVDQU X12, sc(SP) \
	VMOVQ DX, xm \
	VPMOVZXBD xm, ym \
	VCVTDQ2PD ym, zm \
	VMOVD (R10), X12 \
	VCVTPH2PS X12, X12 \
	VCVTPS2PD X12, X12 \
	VMOVUPD X12, dd(SP) \
	VMULPD.BCST dd+8(SP), zm, zm

// ONE_SUBS(op, q, o, sa, sb): sub-blocks 2k and 2k+1 (nibbles at q(R10),
// limbs at o(R11), o(R12) and o+64) of rows A (R10) and B (R10+AX),
// their scale words at sa(SP) and sb(SP): the limbs' lane sums of row A
// in Z10 (H) and Z11 (L), of row B in Z18 and Z19, sub-block 2k's by op
// (VPMADDWD, which starts them, for k = 0; VPDPWSSD after).
#define ONE_SUBS(op, q, o, sa, sb) \
	VPMOVZXBW q(R10), Z0 \
	VPSRLW $4, Z0, Z1 \
	VPANDD Z31, Z0, Z0 \
	VPMOVZXBW q(R10)(AX*1), Z2 \
	VPSRLW $4, Z2, Z3 \
	VPANDD Z31, Z2, Z2 \
	VPBROADCASTW sa(SP), Z4 \
	VPMULLW Z4, Z0, Z0 \
	VPBROADCASTW sa+2(SP), Z5 \
	VPMULLW Z5, Z1, Z1 \
	VPBROADCASTW sb(SP), Z6 \
	VPMULLW Z6, Z2, Z2 \
	VPBROADCASTW sb+2(SP), Z7 \
	VPMULLW Z7, Z3, Z3 \
	VMOVDQU64 o(R11), Z24 \
	VMOVDQU64 o(R12), Z25 \
	VMOVDQU64 o+64(R11), Z26 \
	VMOVDQU64 o+64(R12), Z27 \
	op Z24, Z0, Z10 \
	op Z25, Z0, Z11 \
	op Z24, Z2, Z18 \
	op Z25, Z2, Z19 \
	VPDPWSSD Z26, Z1, Z10 \
	VPDPWSSD Z27, Z1, Z11 \
	VPDPWSSD Z26, Z3, Z18 \
	VPDPWSSD Z27, Z3, Z19

// ONE_LANES(h, l, yh, yl, zm, zd, acc): Q4K_LANES for the super-block
// before the one R13 and R14 point at: d broadcast in zd, s from
// -8(R13), the sums of X from -64(R14), and acc a register.
#define ONE_LANES(h, l, yh, yl, zm, zd, acc) \
	K4_S(h, l, yh, yl, Y24, Y25) \
	VMULPD -64(R14), zm, Z14 \
	VFMSUB231PD zd, h, Z14 \
	VFMADD231PD.BCST -8(R13), Z14, acc

// ONE_HEADS: K4_HEAD1 of the super-block at R10 of rows A and B: their
// scale words at 48(SP) and 64(SP), d at 80(SP) and 96(SP), dmin·min in
// Z8 and Z9; leaves the stride in AX.
#define ONE_HEADS \
	K4_HEAD1(Z8, X8, Y8, 48, 80, 2) \
	ADDQ stride+16(FP), R10 \
	K4_HEAD1(Z9, X9, Y9, 64, 96, 2) \
	SUBQ stride+16(FP), R10 \
	MOVQ stride+16(FP), AX

// ONE_DOTS: the limbs' lane sums of the super-block at R10 of rows A and
// B (ONE_SUBS), in Z10, Z11 (A) and Z18, Z19 (B).
#define ONE_DOTS \
	ONE_SUBS(VPMADDWD, 16, 0, 48, 64) \
	ONE_SUBS(VPDPWSSD, 48, 128, 52, 68) \
	ONE_SUBS(VPDPWSSD, 80, 256, 56, 72) \
	ONE_SUBS(VPDPWSSD, 112, 384, 60, 76)

// ONE_KEEP keeps a super-block's sums and terms for ONE_LANES while the
// next one's are computed: the limbs' sums in Z20-Z23, dmin·min in Z13
// (A) and Z15 (B), d broadcast in Z28 (A) and Z30 (B).
#define ONE_KEEP \
	VMOVDQA64 Z10, Z20 \
	VMOVDQA64 Z11, Z21 \
	VMOVDQA64 Z18, Z22 \
	VMOVDQA64 Z19, Z23 \
	VMOVAPD Z8, Z13 \
	VMOVAPD Z9, Z15 \
	VBROADCASTSD 80(SP), Z28 \
	VBROADCASTSD 96(SP), Z30

// Q4K_ONE: K4_INTEGER's pairs of rows for one input, their lanes' sums
// in Z16 (row A) and Z17 (row B), read from acc unless fresh (ROWSTART's
// and NEXTBLOCK's mask K1 goes unused); a last odd row goes to
// K4_INTEGER's. The loop is software-pipelined: super-block i's products
// (ONE_DOTS) are computed while block i−1's lanes (ONE_LANES, from
// ONE_KEEP's copies) are scaled, so that neither waits on the other's
// chain of dependent instructions; the first block is peeled off
// (onefirst) and the last one's lanes scaled after the loop (onelast).
// Every term and its order of addition are as before, so the bits are.
#define Q4K_ONE \
one: \
	CMPQ 32(SP), $2 \
	JLT row \
	ROWSTART \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	CMPB fresh+88(FP), $0 \
	JNE onefirst \
	VMOVUPD (DI), Z16 \
	VMOVUPD 64(DI), Z17 \
onefirst: \
	ONE_HEADS \
	ONE_DOTS \
	ONE_KEEP \
	NEXTBLOCK(144) \
	JZ onelast \
oneblock: \
	ONE_HEADS \
	ONE_DOTS \
	ONE_LANES(Z20, Z21, Y20, Y21, Z13, Z28, Z16) \
	ONE_LANES(Z22, Z23, Y22, Y23, Z15, Z30, Z17) \
	ONE_KEEP \
	NEXTBLOCK(144) \
	JNZ oneblock \
onelast: \
	ONE_LANES(Z20, Z21, Y20, Y21, Z13, Z28, Z16) \
	ONE_LANES(Z22, Z23, Y22, Y23, Z15, Z30, Z17) \
	VMOVUPD Z16, (DI) \
	VMOVUPD Z17, 64(DI) \
	NEXTPAIR \
	JMP one

TEXT ·q4kIntegerAVX512(SB), NOSPLIT, $112-89
	K4_INTEGER(Q4K_DECODE, 144, one)
	Q4K_ONE

TEXT ·q5kIntegerAVX512(SB), NOSPLIT, $80-89
	K4_INTEGER(Q5K_DECODE, 176, pair)

// Q6K_SCALE(e, m, table): the 32 values in e, each (q − 32)·2^10 (see
// Q6K_HALF), to weights (q − 32)·scale: VPSHUFB takes their scales, times
// 2^6, from the words of table by control m (q6kScaleWords), and VPMULHW
// keeps the high word of the products, (q − 32)·scale·2^16 exactly.
#define Q6K_SCALE(e, m, table) \
	VPSHUFB q6kScaleWords<>+m(SB), table, Z15 \
	VPMULHW Z15, e, e

// Q6K_HALF(ql, qh, e0, e1, e2, e3): values 0-31, 32-63, 64-95 and 96-127
// of a half, each as (q − 32)·2^10: its six bits at bits 10-15 of a word,
// four from ql (or ql+32) and two from qh, whose high bit of each pair is
// flipped first (XOR 0xAA, in Z30), so that the field read as a signed
// 6-bit number is q − 32. VPTERNLOGD $0xD8 takes bits 14-15 (Z31) from
// qh and the others from ql.
#define Q6K_HALF(ql, qh, e0, e1, e2, e3) \
	VPMOVZXBW ql(R10), Z10 \
	VPMOVZXBW ql+32(R10), Z11 \
	VPMOVZXBW qh(R10), Z12 \
	VPXORD Z30, Z12, Z12 \
	VPSLLW $10, Z10, e0 \
	VPSLLW $14, Z12, Z13 \
	VPTERNLOGD $0xD8, Z31, Z13, e0 \
	VPSLLW $10, Z11, e1 \
	VPSLLW $12, Z12, Z13 \
	VPTERNLOGD $0xD8, Z31, Z13, e1 \
	VPSRLW $4, Z10, e2 \
	VPSLLW $10, e2, e2 \
	VPSLLW $10, Z12, Z13 \
	VPTERNLOGD $0xD8, Z31, Z13, e2 \
	VPSRLW $4, Z11, e3 \
	VPSLLW $10, e3, e3 \
	VPSLLW $8, Z12, Z13 \
	VPTERNLOGD $0xD8, Z31, Z13, e3

// Q6K_DECODE(w0, ..., w7, zd, xd): prefetches ahead
// (prefetch_amd64.h), then decodes the Q6_K super-block at R10 into its
// weights (w0-w7, 32 values each) and d broadcast (zd). Its scales, times
// 2^6, go to Z24 (sub-blocks 0-7) and Z14 (8-15), eight words in every
// 128-bit lane. Uses Z10-Z15, Z24.
#define Q6K_DECODE(w0, w1, w2, w3, w4, w5, w6, w7, zd, xd, rows) \
	PREFETCHQ6K(rows) \
	VPMOVSXBW 192(R10), Y14 \
	VPSLLW $6, Y14, Y14 \
	VSHUFI64X2 $0x00, Z14, Z14, Z24 \
	VSHUFI64X2 $0x55, Z14, Z14, Z14 \
	MOVWLZX 208(R10), AX \
	VMOVD AX, xd \
	VCVTPH2PS xd, xd \
	VCVTSS2SD xd, xd, xd \
	VBROADCASTSD xd, zd \
	Q6K_HALF(0, 128, w0, w1, w2, w3) \
	Q6K_HALF(64, 160, w4, w5, w6, w7) \
	Q6K_SCALE(w0, 0, Z24) \
	Q6K_SCALE(w1, 64, Z24) \
	Q6K_SCALE(w2, 128, Z24) \
	Q6K_SCALE(w3, 192, Z24) \
	Q6K_SCALE(w4, 0, Z14) \
	Q6K_SCALE(w5, 64, Z14) \
	Q6K_SCALE(w6, 128, Z14) \
	Q6K_SCALE(w7, 192, Z14)

// Q6_S(h, l, yh, yl, yt, zt): S = H·2^15 + L as float64 lanes in h, from
// the limbs' int32 lanes h, l: lanes k and k+8 added in int64 (each below
// 2^30, their sum may not fit int32), S in int64 (exact) and converted
// once. Uses zt (yt its low half).
#define Q6_S(h, l, yh, yl, yt, zt) \
	VEXTRACTI64X4 $1, h, yt \
	VPMOVSXDQ yh, h \
	VPMOVSXDQ yt, zt \
	VPADDQ zt, h, h \
	VEXTRACTI64X4 $1, l, yt \
	VPMOVSXDQ yl, l \
	VPMOVSXDQ yt, zt \
	VPADDQ zt, l, l \
	VPSLLQ $15, h, h \
	VPADDQ l, h, h \
	VCVTQQ2PD h, h

// Q6K_LANES(h, l, yh, yl, zd, acc): S (Q6_S), t = d·S, and acc = t·s +
// acc, s broadcast in Z14; acc is read under mask K1 (ROWSTART).
#define Q6K_LANES(h, l, yh, yl, zd, acc) \
	Q6_S(h, l, yh, yl, Y24, Z24) \
	VMULPD zd, h, h \
	VMOVUPD.Z acc, K1, Z24 \
	VFMADD213PD Z24, Z14, h \
	VMOVUPD h, acc

// PAIRDOT6: PAIRDOT with Z24 and Z15 for the limbs.
#define PAIRDOT6(wa, wb, o) \
	VMOVDQU64 o(AX), Z24 \
	VMOVDQU64 o(BX), Z15 \
	VPDPWSSD Z24, wa, Z10 \
	VPDPWSSD Z15, wa, Z11 \
	VPDPWSSD Z24, wb, Z12 \
	VPDPWSSD Z15, wb, Z13

// Q6K_HEAD1(t0, t1, dd, rows): Q6K_DECODE's head for Q6K_ONE: prefetches
// ahead, puts the scales of the Q6_K super-block at R10, times 2^6, in t0
// (sub-blocks 0-7) and t1 (8-15), eight words in every 128-bit lane, and
// d as float64 at dd(SP). Uses AX, BX and Z12.
#define Q6K_HEAD1(t0, t1, dd, rows) \
	PREFETCHQ6K(rows) \
	VPMOVSXBW 192(R10), Y12 \
	VPSLLW $6, Y12, Y12 \
	VSHUFI64X2 $0x00, Z12, Z12, t0 \
	VSHUFI64X2 $0x55, Z12, Z12, t1 \
	MOVWLZX 208(R10), BX \
	VMOVD BX, X12 \
	VCVTPH2PS X12, X12 \
	VCVTSS2SD X12, X12, X12 \
	VMOVSD X12, dd(SP)

// ONE6_DOTS(op, o, wa, wb): the sub-blocks at o of the input's limbs
// (R11, R12) against rows A (wa) and B (wb), into Z16, Z17 (A's H, L)
// and Z18, Z19 (B's) by op: VPMADDWD, which starts them, for o = 0,
// VPDPWSSD after.
#define ONE6_DOTS(op, o, wa, wb) \
	VMOVDQU64 o(R11), Z24 \
	VMOVDQU64 o(R12), Z25 \
	op Z24, wa, Z16 \
	op Z25, wa, Z17 \
	op Z24, wb, Z18 \
	op Z25, wb, Z19

// ONE6_HALF(ql, qh, ta, tb, o): half of the super-blocks of rows A (R10)
// and B (R10+AX), its values' bits at ql and qh as Q6K_HALF takes them,
// their scale tables in ta and tb, against the limbs from o; the first
// half starts the sums (op0 VPMADDWD).
#define ONE6_HALF(ql, qh, ta, tb, o, op0) \
	Q6K_HALF(ql, qh, Z0, Z1, Z2, Z3) \
	ADDQ AX, R10 \
	Q6K_HALF(ql, qh, Z4, Z5, Z6, Z7) \
	SUBQ AX, R10 \
	Q6K_SCALE(Z0, 0, ta) \
	Q6K_SCALE(Z1, 64, ta) \
	Q6K_SCALE(Z2, 128, ta) \
	Q6K_SCALE(Z3, 192, ta) \
	Q6K_SCALE(Z4, 0, tb) \
	Q6K_SCALE(Z5, 64, tb) \
	Q6K_SCALE(Z6, 128, tb) \
	Q6K_SCALE(Z7, 192, tb) \
	ONE6_DOTS(op0, o, Z0, Z4) \
	ONE6_DOTS(VPDPWSSD, o+64, Z1, Z5) \
	ONE6_DOTS(VPDPWSSD, o+128, Z2, Z6) \
	ONE6_DOTS(VPDPWSSD, o+192, Z3, Z7)

// ONE6_LANES(h, l, yh, yl, dd, acc): Q6K_LANES for the super-block
// before the one R13 points at: d broadcast from dd(SP), s from -8(R13),
// and acc a register. Uses Z28.
#define ONE6_LANES(h, l, yh, yl, dd, acc) \
	Q6_S(h, l, yh, yl, Y28, Z28) \
	VMULPD.BCST dd(SP), h, h \
	VFMADD231PD.BCST -8(R13), h, acc

// ONE6_HEADS: Q6K_HEAD1 of the super-block at R10 of rows A and B: their
// scale tables in Z20, Z21 (A) and Z22, Z23 (B), d at 64(SP) and 72(SP);
// leaves the stride in AX.
#define ONE6_HEADS \
	Q6K_HEAD1(Z20, Z21, 64, 2) \
	ADDQ stride+16(FP), R10 \
	Q6K_HEAD1(Z22, Z23, 72, 2) \
	SUBQ stride+16(FP), R10 \
	MOVQ stride+16(FP), AX

// ONE6_KEEP keeps a super-block's sums and d for ONE6_LANES while the
// next one's are computed: the limbs' sums in Z8, Z9 (A) and Z14, Z29
// (B), d at 48(SP) (A) and 56(SP) (B). Uses BX.
#define ONE6_KEEP \
	VMOVDQA64 Z16, Z8 \
	VMOVDQA64 Z17, Z9 \
	VMOVDQA64 Z18, Z14 \
	VMOVDQA64 Z19, Z29 \
	MOVQ 64(SP), BX \
	MOVQ BX, 48(SP) \
	MOVQ 72(SP), BX \
	MOVQ BX, 56(SP)

// A decode's one input (tokens = 1) takes the Q6_K rows in pairs at
// q6kone, as Q4K_ONE does the Q4_K ones: a half super-block's weights at
// a time, the lanes' sums of rows A and B in Z26 and Z27.
TEXT ·q6kIntegerAVX512(SB), NOSPLIT, $96-89
	STRIDES
	MOVL $0xc000c000, AX
	VPBROADCASTD AX, Z31
	MOVL $0x00aa00aa, AX
	VPBROADCASTD AX, Z30
	CMPQ tokens+40(FP), $1
	JEQ q6kone

q6kpair:
	CMPQ 32(SP), $2
	JLT q6krow
	ROWSTART

q6kpairblock:
	Q6K_DECODE(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z9, X9, 2)
	ADDQ stride+16(FP), R10
	Q6K_DECODE(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z8, X8, 2)
	SUBQ stride+16(FP), R10
	TOKENS

q6kpairtoken:
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	PAIRDOT6(Z0, Z16, 0)
	PAIRDOT6(Z1, Z17, 64)
	PAIRDOT6(Z2, Z18, 128)
	PAIRDOT6(Z3, Z19, 192)
	PAIRDOT6(Z4, Z20, 256)
	PAIRDOT6(Z5, Z21, 320)
	PAIRDOT6(Z6, Z22, 384)
	PAIRDOT6(Z7, Z23, 448)
	VBROADCASTSD (CX), Z14
	Q6K_LANES(Z10, Z11, Y10, Y11, Z9, (SI))
	Q6K_LANES(Z12, Z13, Y12, Y13, Z8, 64(SI))
	NEXTTOKEN
	JNZ q6kpairtoken

	NEXTBLOCK(210)
	JNZ q6kpairblock
	NEXTPAIR
	JMP q6kpair

q6krow:
	CMPQ 32(SP), $0
	JEQ q6kdone
	ROWSTART

q6kblock:
	Q6K_DECODE(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z9, X9, 1)
	TOKENS

q6ktoken:
	DOTS
	VBROADCASTSD (CX), Z14
	Q6K_LANES(Z10, Z11, Y10, Y11, Z9, (SI))
	NEXTTOKEN
	JNZ q6ktoken

	NEXTBLOCK(210)
	JNZ q6kblock
	NEXTROW
	JNZ q6krow

q6kdone:
	VZEROUPPER
	RET

q6kone:
	CMPQ 32(SP), $2
	JLT q6krow
	ROWSTART
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	CMPB fresh+88(FP), $0
	JNE q6konefirst
	VMOVUPD (DI), Z26
	VMOVUPD 64(DI), Z27

q6konefirst:
	ONE6_HEADS
	ONE6_HALF(0, 128, Z20, Z22, 0, VPMADDWD)
	ONE6_HALF(64, 160, Z21, Z23, 256, VPDPWSSD)
	ONE6_KEEP
	NEXTBLOCK(210)
	JZ q6konelast

q6koneblock:
	ONE6_HEADS
	ONE6_HALF(0, 128, Z20, Z22, 0, VPMADDWD)
	ONE6_LANES(Z8, Z9, Y8, Y9, 48, Z26)
	ONE6_LANES(Z14, Z29, Y14, Y29, 56, Z27)
	ONE6_HALF(64, 160, Z21, Z23, 256, VPDPWSSD)
	ONE6_KEEP
	NEXTBLOCK(210)
	JNZ q6koneblock

q6konelast:
	ONE6_LANES(Z8, Z9, Y8, Y9, 48, Z26)
	ONE6_LANES(Z14, Z29, Y14, Y29, 56, Z27)
	VMOVUPD Z26, (DI)
	VMOVUPD Z27, 64(DI)
	NEXTPAIR
	JMP q6kone

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

// PAIRHALVES(a, b, s, t): s = [a0+a4, a1+a5, a2+a6, a3+a7, b0+b4, ...,
// b3+b7] for the lanes of rows a and b. Uses t.
#define PAIRHALVES(a, b, s, t) \
	VSHUFF64X2 $0x44, b, a, s \
	VSHUFF64X2 $0xEE, b, a, t \
	VADDPD t, s, s

// QUADS(p, q, s, t): for PAIRHALVES' p (rows a, b) and q (rows c, d),
// s = [(a0+a4)+(a2+a6), (a1+a5)+(a3+a7), the same of b, c and d]. Uses t.
#define QUADS(p, q, s, t) \
	VSHUFF64X2 $0x88, q, p, s \
	VSHUFF64X2 $0xDD, q, p, t \
	VADDPD t, s, s

// func reduceLanesAVX512(out *float32, acc *float64, rows int)
// out[r] = reduceLanes(acc[8r:8r+8]) for r < rows: eight rows at a time
// (each row's sums in reduceLanes' order, by shuffles across the eight),
// then one at a time.
TEXT ·reduceLanesAVX512(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ rows+16(FP), CX

reight:
	CMPQ CX, $8
	JLT rone
	VMOVUPD (SI), Z0
	VMOVUPD 64(SI), Z1
	VMOVUPD 128(SI), Z2
	VMOVUPD 192(SI), Z3
	VMOVUPD 256(SI), Z4
	VMOVUPD 320(SI), Z5
	VMOVUPD 384(SI), Z6
	VMOVUPD 448(SI), Z7
	// Rows 0, 2, 4, 6 go to Z12 and 1, 3, 5, 7 to Z13, one a 128-bit
	// lane, so that interleaving their halves puts the rows in order.
	PAIRHALVES(Z0, Z2, Z8, Z14)
	PAIRHALVES(Z4, Z6, Z9, Z15)
	PAIRHALVES(Z1, Z3, Z10, Z14)
	PAIRHALVES(Z5, Z7, Z11, Z15)
	QUADS(Z8, Z9, Z12, Z14)
	QUADS(Z10, Z11, Z13, Z15)
	VUNPCKLPD Z13, Z12, Z8
	VUNPCKHPD Z13, Z12, Z9
	VADDPD Z9, Z8, Z8
	VCVTPD2PS Z8, Y8
	VMOVUPS Y8, (DI)
	ADDQ $512, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP reight

rone:
	TESTQ CX, CX
	JZ rdone
	VMOVUPD (SI), Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VPERMILPD $1, X0, X1
	VADDSD X1, X0, X0
	VCVTSD2SS X0, X0, X0
	VMOVSS X0, (DI)
	ADDQ $64, SI
	ADDQ $4, DI
	DECQ CX
	JMP rone

rdone:
	VZEROUPPER
	RET

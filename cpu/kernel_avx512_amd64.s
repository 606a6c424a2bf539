//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 kernels: the 16 canonical lanes in one Z register, weights
// decoded in registers to exactly the values Dequantize gives, products and
// sums rounded one at a time (no fused multiply-add), the lanes reduced by
// the tree of reduce16. They compute the bits of pairDot over the
// dequantized row (kernel.go).

DATA iota16<>+0(SB)/4, $0.0
DATA iota16<>+4(SB)/4, $1.0
DATA iota16<>+8(SB)/4, $2.0
DATA iota16<>+12(SB)/4, $3.0
DATA iota16<>+16(SB)/4, $4.0
DATA iota16<>+20(SB)/4, $5.0
DATA iota16<>+24(SB)/4, $6.0
DATA iota16<>+28(SB)/4, $7.0
DATA iota16<>+32(SB)/4, $8.0
DATA iota16<>+36(SB)/4, $9.0
DATA iota16<>+40(SB)/4, $10.0
DATA iota16<>+44(SB)/4, $11.0
DATA iota16<>+48(SB)/4, $12.0
DATA iota16<>+52(SB)/4, $13.0
DATA iota16<>+56(SB)/4, $14.0
DATA iota16<>+60(SB)/4, $15.0
GLOBL iota16<>(SB), RODATA|NOPTR, $64

// REDUCE16(z, y, rx, ry, tx, ty) leaves in rx the lanes of z (whose low
// half is y) summed as reduce16 does; ry is rx's Y register, tx and ty a
// scratch register's.
#define REDUCE16(z, y, rx, ry, tx, ty) \
	VEXTRACTF64X4 $1, z, ty \
	VADDPS ty, y, ry \
	VEXTRACTF128 $1, ry, tx \
	VADDPS tx, rx, rx \
	VMOVHLPS rx, rx, tx \
	VADDPS tx, rx, rx \
	VPSHUFD $1, rx, tx \
	VADDSS tx, rx, rx

// PAIRS(w0, w1, xo, acc): acc += w0·x[0:16] + w1·x[16:32], x at xo(R11).
#define PAIRS(w0, w1, xo, acc) \
	VMULPS xo(R11), w0, w0 \
	VMULPS xo+64(R11), w1, w1 \
	VADDPS w1, w0, w0 \
	VADDPS w0, acc, acc

// Q4K_CHUNK(base, qs, xo, sc, acc, t0..t3, ta, tb, tm): sub-blocks 2i (low
// nibbles) and 2i+1 (high nibbles) of the 32 bytes at qs(base), against 64
// values of x from xo(R11); the sub-blocks' d·scale and dmin·min at
// sc(SP) and sc+32(SP). Each nibble is looked up in a table of the 16
// values it stands for, t[v] = (d·scale)·v − dmin·min (one rounding, as
// dequantizeQ4K: the product is exact), built with Z30 = 0, 1, …, 15.
#define Q4K_CHUNK(base, qs, xo, sc, acc, t0, t1, t2, t3, ta, tb, tm) \
	VBROADCASTSS sc(SP), ta \
	VBROADCASTSS sc+32(SP), tm \
	VFMSUB213PS tm, Z30, ta \
	VBROADCASTSS sc+4(SP), tb \
	VBROADCASTSS sc+36(SP), tm \
	VFMSUB213PS tm, Z30, tb \
	VPMOVZXBD qs(base), t0 \
	VPMOVZXBD qs+16(base), t1 \
	VPSRLD $4, t0, t2 \
	VPSRLD $4, t1, t3 \
	VPERMPS ta, t0, t0 \
	VPERMPS ta, t1, t1 \
	VPERMPS tb, t2, t2 \
	VPERMPS tb, t3, t3 \
	PAIRS(t0, t1, xo, acc) \
	PAIRS(t2, t3, xo+128, acc)

// K4SCALES(base, sc): d·scale_j at sc(SP) and dmin·min_j at sc+32(SP)
// for j < 8, from the Q4_K/Q5_K super-block at base. Needs X25-X28 as set
// by K4CONSTS; uses X0-X4.
#define K4SCALES(base, sc) \
	VMOVDQU 4(base), X0 \
	VPANDD X28, X0, X1 \
	VPSHUFD $0xAA, X0, X2 \
	VPSRLVD X27, X2, X2 \
	VPANDD X26, X2, X2 \
	VPSRLD $6, X0, X3 \
	VPANDD X25, X3, X3 \
	VPSLLD $4, X3, X3 \
	VPORD X3, X2, X2 \
	VPUNPCKLDQ X2, X1, X1 \
	VPMOVZXBD X1, Z1 \
	VCVTDQ2PS Z1, Z1 \
	MOVL (base), AX \
	VMOVD AX, X2 \
	VCVTPH2PS X2, X2 \
	VBROADCASTSS X2, Z3 \
	VPSHUFD $0x55, X2, X4 \
	VBROADCASTSS X4, Y4 \
	VINSERTF64X4 $1, Y4, Z3, Z3 \
	VMULPS Z3, Z1, Z1 \
	VMOVUPS Z1, sc(SP)

#define K4CONSTS \
	MOVL $0x3f3f3f3f, AX \
	VPBROADCASTD AX, X28 \
	MOVL $0x0f0f0f0f, AX \
	VPBROADCASTD AX, X26 \
	MOVL $0x03030303, AX \
	VPBROADCASTD AX, X25 \
	MOVL $4, AX \
	VMOVD AX, X27 \
	VPSLLDQ $4, X27, X27 \
	VMOVUPS iota16<>(SB), Z30

// Q6K_W(q, sc): q = (q − 32)·(d·scale) at sc(SP), in floats.
#define Q6K_W(q, sc) \
	VPSUBD Z29, q, q \
	VCVTDQ2PS q, q \
	VBROADCASTSS sc(SP), Z15 \
	VMULPS Z15, q, q

// Q6K_HALF: the 128 values of one half of the super-block at R10: 64
// bytes of ql at ql, 32 of qh at qh, x from xo, scales from sc(SP).
// Block k of 32 (k < 4) is sub-blocks 2k and 2k+1 of the half.
#define Q6K_HALF(ql, qh, xo, sc) \
	VPMOVZXBD ql(R10), Z0 \
	VPMOVZXBD ql+16(R10), Z1 \
	VPMOVZXBD ql+32(R10), Z2 \
	VPMOVZXBD ql+48(R10), Z3 \
	VPMOVZXBD qh(R10), Z4 \
	VPMOVZXBD qh+16(R10), Z5 \
	VPSLLD $4, Z4, Z6 \
	VPSLLD $4, Z5, Z7 \
	VPANDD Z28, Z6, Z6 \
	VPANDD Z28, Z7, Z7 \
	VPANDD Z31, Z0, Z8 \
	VPANDD Z31, Z1, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc) \
	Q6K_W(Z9, sc+4) \
	PAIRS(Z8, Z9, xo, Z16) \
	VPSLLD $2, Z4, Z6 \
	VPSLLD $2, Z5, Z7 \
	VPANDD Z28, Z6, Z6 \
	VPANDD Z28, Z7, Z7 \
	VPANDD Z31, Z2, Z8 \
	VPANDD Z31, Z3, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc+8) \
	Q6K_W(Z9, sc+12) \
	PAIRS(Z8, Z9, xo+128, Z16) \
	VPANDD Z28, Z4, Z6 \
	VPANDD Z28, Z5, Z7 \
	VPSRLD $4, Z0, Z8 \
	VPSRLD $4, Z1, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc+16) \
	Q6K_W(Z9, sc+20) \
	PAIRS(Z8, Z9, xo+256, Z16) \
	VPSRLD $2, Z4, Z6 \
	VPSRLD $2, Z5, Z7 \
	VPANDD Z28, Z6, Z6 \
	VPANDD Z28, Z7, Z7 \
	VPSRLD $4, Z2, Z8 \
	VPSRLD $4, Z3, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc+24) \
	Q6K_W(Z9, sc+28) \
	PAIRS(Z8, Z9, xo+384, Z16)

// func f32AVX512(out *float32, w *byte, rows, blocks int, x *float32)
// blocks are of 32 floats.
TEXT ·f32AVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	TESTQ R9, R9
	JZ f32done

f32row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VPXORD Z16, Z16, Z16

f32block:
	VMOVUPS (R10), Z0
	VMOVUPS 64(R10), Z1
	PAIRS(Z0, Z1, 0, Z16)
	ADDQ $128, R10
	ADDQ $128, R11
	DECQ CX
	JNZ f32block

	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ f32row

f32done:
	VZEROUPPER
	RET

// GEMM_PAIRS(w0, w1, acc): acc += w0·Z8 + w1·Z9, through Z10, Z11.
#define GEMM_PAIRS(w0, w1, acc) \
	VMULPS Z8, w0, Z10 \
	VMULPS Z9, w1, Z11 \
	VADDPS Z11, Z10, Z10 \
	VADDPS Z10, acc, acc

// GEMM_TOKEN(x, a0, a1, a2, a3): the four rows against token x.
#define GEMM_TOKEN(x, a0, a1, a2, a3) \
	VMOVUPS (x), Z8 \
	VMOVUPS 64(x), Z9 \
	GEMM_PAIRS(Z0, Z1, a0) \
	GEMM_PAIRS(Z2, Z3, a1) \
	GEMM_PAIRS(Z4, Z5, a2) \
	GEMM_PAIRS(Z6, Z7, a3)

// ACC16(op, base): op (VMOVUPS) each of the 16 accumulators Z16-Z31
// from or to base, 64 bytes apart (a register first to store).
#define ACC_LOAD(base) \
	VMOVUPS 0(base), Z16 \
	VMOVUPS 64(base), Z17 \
	VMOVUPS 128(base), Z18 \
	VMOVUPS 192(base), Z19 \
	VMOVUPS 256(base), Z20 \
	VMOVUPS 320(base), Z21 \
	VMOVUPS 384(base), Z22 \
	VMOVUPS 448(base), Z23 \
	VMOVUPS 512(base), Z24 \
	VMOVUPS 576(base), Z25 \
	VMOVUPS 640(base), Z26 \
	VMOVUPS 704(base), Z27 \
	VMOVUPS 768(base), Z28 \
	VMOVUPS 832(base), Z29 \
	VMOVUPS 896(base), Z30 \
	VMOVUPS 960(base), Z31

#define ACC_STORE(base) \
	VMOVUPS Z16, 0(base) \
	VMOVUPS Z17, 64(base) \
	VMOVUPS Z18, 128(base) \
	VMOVUPS Z19, 192(base) \
	VMOVUPS Z20, 256(base) \
	VMOVUPS Z21, 320(base) \
	VMOVUPS Z22, 384(base) \
	VMOVUPS Z23, 448(base) \
	VMOVUPS Z24, 512(base) \
	VMOVUPS Z25, 576(base) \
	VMOVUPS Z26, 640(base) \
	VMOVUPS Z27, 704(base) \
	VMOVUPS Z28, 768(base) \
	VMOVUPS Z29, 832(base) \
	VMOVUPS Z30, 896(base) \
	VMOVUPS Z31, 960(base)

// func gemm4x4AVX512(acc *float32, w, x *float32, stride, k int)
// For rows r < 4 of w and t < 4 of x (stride floats apart), adds blocks
// [0, k/32) of their pairDot to the 16 lanes at acc[(4t+r)·16:], in the
// order pairDot adds them: a product can be cut into slices of k and the
// lanes carried between them.
TEXT ·gemm4x4AVX512(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DX
	MOVQ stride+24(FP), CX
	MOVQ w+8(FP), R8
	LEAQ (R8)(CX*4), R9
	LEAQ (R9)(CX*4), R10
	LEAQ (R10)(CX*4), R11
	MOVQ x+16(FP), AX
	LEAQ (AX)(CX*4), BX
	LEAQ (BX)(CX*4), SI
	LEAQ (SI)(CX*4), DI
	MOVQ k+32(FP), CX
	SHRQ $5, CX
	ACC_LOAD(DX)
	TESTQ CX, CX
	JZ gemmstore

gemmloop:
	VMOVUPS (R8), Z0
	VMOVUPS 64(R8), Z1
	VMOVUPS (R9), Z2
	VMOVUPS 64(R9), Z3
	VMOVUPS (R10), Z4
	VMOVUPS 64(R10), Z5
	VMOVUPS (R11), Z6
	VMOVUPS 64(R11), Z7
	GEMM_TOKEN(AX, Z16, Z17, Z18, Z19)
	GEMM_TOKEN(BX, Z20, Z21, Z22, Z23)
	GEMM_TOKEN(SI, Z24, Z25, Z26, Z27)
	GEMM_TOKEN(DI, Z28, Z29, Z30, Z31)
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $128, R10
	ADDQ $128, R11
	ADDQ $128, AX
	ADDQ $128, BX
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ gemmloop

gemmstore:
	ACC_STORE(DX)
	VZEROUPPER
	RET

// func reduceAVX512(out *float32, acc *float32, n int)
// out[i] = reduce16 of the 16 lanes at acc[16i:], for i < n.
TEXT ·reduceAVX512(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ acc+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JZ reducedone

reduceloop:
	VMOVUPS (SI), Z16
	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $64, SI
	ADDQ $4, DI
	DECQ CX
	JNZ reduceloop

reducedone:
	VZEROUPPER
	RET

// func axpyAVX512(y, x *float32, a float32, n int)
// y[i] = y[i] + a·x[i] for n a multiple of 16, rounding the product.
TEXT ·axpyAVX512(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS a+16(FP), Z1
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ axpydone

axpyloop:
	VMULPS (SI), Z1, Z0
	VADDPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ axpyloop

axpydone:
	VZEROUPPER
	RET

// HALF512(off, z): z = the f16 at off(R10), broadcast as float32.
#define HALF512(off, z) \
	MOVWLZX off(R10), AX \
	VMOVD AX, X15 \
	VCVTPH2PS X15, X15 \
	VBROADCASTSS X15, z

// Q8_0: d·q for 32 int8 q.
#define Q8_0_512 \
	HALF512(0, Z2) \
	VPMOVSXBD 2(R10), Z0 \
	VPMOVSXBD 18(R10), Z1 \
	VCVTDQ2PS Z0, Z0 \
	VCVTDQ2PS Z1, Z1 \
	VMULPS Z2, Z0, Z0 \
	VMULPS Z2, Z1, Z1 \
	PAIRS(Z0, Z1, 0, Z16)

// Q4_0: d·(q−8), element j the low nibble of byte j, j+16 its high one.
#define Q4_0_512 \
	HALF512(0, Z2) \
	VPMOVZXBD 2(R10), Z0 \
	VPSRLD $4, Z0, Z1 \
	VPANDD Z31, Z0, Z0 \
	VPSUBD Z30, Z0, Z0 \
	VPSUBD Z30, Z1, Z1 \
	VCVTDQ2PS Z0, Z0 \
	VCVTDQ2PS Z1, Z1 \
	VMULPS Z2, Z0, Z0 \
	VMULPS Z2, Z1, Z1 \
	PAIRS(Z0, Z1, 0, Z16)

#define F16_512 \
	VCVTPH2PS (R10), Z0 \
	VCVTPH2PS 32(R10), Z1 \
	PAIRS(Z0, Z1, 0, Z16)

#define BF16_512 \
	VPMOVZXWD (R10), Z0 \
	VPMOVZXWD 32(R10), Z1 \
	VPSLLD $16, Z0, Z0 \
	VPSLLD $16, Z1, Z1 \
	PAIRS(Z0, Z1, 0, Z16)

// func q8_0AVX512(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·q8_0AVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VPXORD Z16, Z16, Z16

block:
	Q8_0_512
	ADDQ $34, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// func q4_0AVX512(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·q4_0AVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	MOVL $15, AX
	VPBROADCASTD AX, Z31
	MOVL $8, AX
	VPBROADCASTD AX, Z30
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VPXORD Z16, Z16, Z16

block:
	Q4_0_512
	ADDQ $18, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// func f16AVX512(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·f16AVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VPXORD Z16, Z16, Z16

block:
	F16_512
	ADDQ $64, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// func bf16AVX512(out *float32, w *byte, rows, blocks int, x *float32)
TEXT ·bf16AVX512(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VPXORD Z16, Z16, Z16

block:
	BF16_512
	ADDQ $64, R10
	ADDQ $128, R11
	DECQ CX
	JNZ block

	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// func q5kAVX512(out *float32, w *byte, rows, blocks int, x *float32)
// Q5_K: Q4_K with a fifth bit of element l of sub-block j in bit j of
// qh[l] (the 32 bytes at 16 of the block); w = (d·scale)·q − dmin·min in
// one rounding (the product is exact), as dequantizeQ5K computes it.
TEXT ·q5kAVX512(SB), NOSPLIT, $64-40
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ rows+16(FP), R9
	MOVQ x+32(FP), DX
	K4CONSTS
	MOVL $15, AX
	VPBROADCASTD AX, Z31
	MOVL $16, AX
	VPBROADCASTD AX, Z29
	TESTQ R9, R9
	JZ done

row:
	MOVQ DX, R11
	MOVQ blocks+24(FP), CX
	VPXORD Z16, Z16, Z16

block:
	K4SCALES(R10, 0)
	VPMOVZXBD 16(R10), Z20
	VPMOVZXBD 32(R10), Z21
	// sub-blocks 0 and 1
	VPMOVZXBD 48(R10), Z0
	VPMOVZXBD 64(R10), Z1
	VPSRLD $4, Z0, Z2
	VPSRLD $4, Z1, Z3
	VPANDD Z31, Z0, Z0
	VPANDD Z31, Z1, Z1
	VPSLLD $4, Z20, Z4
	VPSLLD $4, Z21, Z5
	VPSLLD $3, Z20, Z6
	VPSLLD $3, Z21, Z7
	VPANDD Z29, Z4, Z4
	VPANDD Z29, Z5, Z5
	VPANDD Z29, Z6, Z6
	VPANDD Z29, Z7, Z7
	VPORD Z4, Z0, Z0
	VPORD Z5, Z1, Z1
	VPORD Z6, Z2, Z2
	VPORD Z7, Z3, Z3
	VCVTDQ2PS Z0, Z0
	VCVTDQ2PS Z1, Z1
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS 0(SP), Z8
	VBROADCASTSS 32(SP), Z9
	VBROADCASTSS 4(SP), Z10
	VBROADCASTSS 36(SP), Z11
	VFMSUB213PS Z9, Z8, Z0
	VFMSUB213PS Z9, Z8, Z1
	VFMSUB213PS Z11, Z10, Z2
	VFMSUB213PS Z11, Z10, Z3
	PAIRS(Z0, Z1, 0, Z16)
	PAIRS(Z2, Z3, 128, Z16)
	// sub-blocks 2 and 3
	VPMOVZXBD 80(R10), Z0
	VPMOVZXBD 96(R10), Z1
	VPSRLD $4, Z0, Z2
	VPSRLD $4, Z1, Z3
	VPANDD Z31, Z0, Z0
	VPANDD Z31, Z1, Z1
	VPSLLD $2, Z20, Z4
	VPSLLD $2, Z21, Z5
	VPSLLD $1, Z20, Z6
	VPSLLD $1, Z21, Z7
	VPANDD Z29, Z4, Z4
	VPANDD Z29, Z5, Z5
	VPANDD Z29, Z6, Z6
	VPANDD Z29, Z7, Z7
	VPORD Z4, Z0, Z0
	VPORD Z5, Z1, Z1
	VPORD Z6, Z2, Z2
	VPORD Z7, Z3, Z3
	VCVTDQ2PS Z0, Z0
	VCVTDQ2PS Z1, Z1
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS 8(SP), Z8
	VBROADCASTSS 40(SP), Z9
	VBROADCASTSS 12(SP), Z10
	VBROADCASTSS 44(SP), Z11
	VFMSUB213PS Z9, Z8, Z0
	VFMSUB213PS Z9, Z8, Z1
	VFMSUB213PS Z11, Z10, Z2
	VFMSUB213PS Z11, Z10, Z3
	PAIRS(Z0, Z1, 256, Z16)
	PAIRS(Z2, Z3, 384, Z16)
	// sub-blocks 4 and 5
	VPMOVZXBD 112(R10), Z0
	VPMOVZXBD 128(R10), Z1
	VPSRLD $4, Z0, Z2
	VPSRLD $4, Z1, Z3
	VPANDD Z31, Z0, Z0
	VPANDD Z31, Z1, Z1
	VMOVDQU32 Z20, Z4
	VMOVDQU32 Z21, Z5
	VPSRLD $1, Z20, Z6
	VPSRLD $1, Z21, Z7
	VPANDD Z29, Z4, Z4
	VPANDD Z29, Z5, Z5
	VPANDD Z29, Z6, Z6
	VPANDD Z29, Z7, Z7
	VPORD Z4, Z0, Z0
	VPORD Z5, Z1, Z1
	VPORD Z6, Z2, Z2
	VPORD Z7, Z3, Z3
	VCVTDQ2PS Z0, Z0
	VCVTDQ2PS Z1, Z1
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS 16(SP), Z8
	VBROADCASTSS 48(SP), Z9
	VBROADCASTSS 20(SP), Z10
	VBROADCASTSS 52(SP), Z11
	VFMSUB213PS Z9, Z8, Z0
	VFMSUB213PS Z9, Z8, Z1
	VFMSUB213PS Z11, Z10, Z2
	VFMSUB213PS Z11, Z10, Z3
	PAIRS(Z0, Z1, 512, Z16)
	PAIRS(Z2, Z3, 640, Z16)
	// sub-blocks 6 and 7
	VPMOVZXBD 144(R10), Z0
	VPMOVZXBD 160(R10), Z1
	VPSRLD $4, Z0, Z2
	VPSRLD $4, Z1, Z3
	VPANDD Z31, Z0, Z0
	VPANDD Z31, Z1, Z1
	VPSRLD $2, Z20, Z4
	VPSRLD $2, Z21, Z5
	VPSRLD $3, Z20, Z6
	VPSRLD $3, Z21, Z7
	VPANDD Z29, Z4, Z4
	VPANDD Z29, Z5, Z5
	VPANDD Z29, Z6, Z6
	VPANDD Z29, Z7, Z7
	VPORD Z4, Z0, Z0
	VPORD Z5, Z1, Z1
	VPORD Z6, Z2, Z2
	VPORD Z7, Z3, Z3
	VCVTDQ2PS Z0, Z0
	VCVTDQ2PS Z1, Z1
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS Z3, Z3
	VBROADCASTSS 24(SP), Z8
	VBROADCASTSS 56(SP), Z9
	VBROADCASTSS 28(SP), Z10
	VBROADCASTSS 60(SP), Z11
	VFMSUB213PS Z9, Z8, Z0
	VFMSUB213PS Z9, Z8, Z1
	VFMSUB213PS Z11, Z10, Z2
	VFMSUB213PS Z11, Z10, Z3
	PAIRS(Z0, Z1, 768, Z16)
	PAIRS(Z2, Z3, 896, Z16)
	ADDQ $176, R10
	ADDQ $1024, R11
	DECQ CX
	JNZ block

	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R9
	JNZ row

done:
	VZEROUPPER
	RET

// Q4K_DQ_CHUNK: as Q4K_CHUNK, storing the 64 weights at xo(R11) instead.
#define Q4K_DQ_CHUNK(qs, xo, sc) \
	VBROADCASTSS sc(SP), Z8 \
	VBROADCASTSS sc+32(SP), Z10 \
	VFMSUB213PS Z10, Z30, Z8 \
	VBROADCASTSS sc+4(SP), Z9 \
	VBROADCASTSS sc+36(SP), Z10 \
	VFMSUB213PS Z10, Z30, Z9 \
	VPMOVZXBD qs(R10), Z0 \
	VPMOVZXBD qs+16(R10), Z1 \
	VPSRLD $4, Z0, Z2 \
	VPSRLD $4, Z1, Z3 \
	VPERMPS Z8, Z0, Z0 \
	VPERMPS Z8, Z1, Z1 \
	VPERMPS Z9, Z2, Z2 \
	VPERMPS Z9, Z3, Z3 \
	VMOVUPS Z0, xo(R11) \
	VMOVUPS Z1, xo+64(R11) \
	VMOVUPS Z2, xo+128(R11) \
	VMOVUPS Z3, xo+192(R11)

// Q6K_DQ_HALF: as Q6K_HALF, storing the 128 weights at xo(R11).
#define Q6K_DQ_HALF(ql, qh, xo, sc) \
	VPMOVZXBD ql(R10), Z0 \
	VPMOVZXBD ql+16(R10), Z1 \
	VPMOVZXBD ql+32(R10), Z2 \
	VPMOVZXBD ql+48(R10), Z3 \
	VPMOVZXBD qh(R10), Z4 \
	VPMOVZXBD qh+16(R10), Z5 \
	VPSLLD $4, Z4, Z6 \
	VPSLLD $4, Z5, Z7 \
	VPANDD Z28, Z6, Z6 \
	VPANDD Z28, Z7, Z7 \
	VPANDD Z31, Z0, Z8 \
	VPANDD Z31, Z1, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc) \
	Q6K_W(Z9, sc+4) \
	VMOVUPS Z8, xo(R11) \
	VMOVUPS Z9, xo+64(R11) \
	VPSLLD $2, Z4, Z6 \
	VPSLLD $2, Z5, Z7 \
	VPANDD Z28, Z6, Z6 \
	VPANDD Z28, Z7, Z7 \
	VPANDD Z31, Z2, Z8 \
	VPANDD Z31, Z3, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc+8) \
	Q6K_W(Z9, sc+12) \
	VMOVUPS Z8, xo+128(R11) \
	VMOVUPS Z9, xo+192(R11) \
	VPANDD Z28, Z4, Z6 \
	VPANDD Z28, Z5, Z7 \
	VPSRLD $4, Z0, Z8 \
	VPSRLD $4, Z1, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc+16) \
	Q6K_W(Z9, sc+20) \
	VMOVUPS Z8, xo+256(R11) \
	VMOVUPS Z9, xo+320(R11) \
	VPSRLD $2, Z4, Z6 \
	VPSRLD $2, Z5, Z7 \
	VPANDD Z28, Z6, Z6 \
	VPANDD Z28, Z7, Z7 \
	VPSRLD $4, Z2, Z8 \
	VPSRLD $4, Z3, Z9 \
	VPORD Z6, Z8, Z8 \
	VPORD Z7, Z9, Z9 \
	Q6K_W(Z8, sc+24) \
	Q6K_W(Z9, sc+28) \
	VMOVUPS Z8, xo+384(R11) \
	VMOVUPS Z9, xo+448(R11)


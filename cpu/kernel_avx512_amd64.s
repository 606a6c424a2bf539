//go:build amd64 && !noasm

#include "textflag.h"

// AVX-512 kernels: the 16 canonical lanes in one Z register, weights
// decoded in registers to exactly the values Dequantize gives, products and
// sums rounded one at a time (no fused multiply-add), the lanes reduced by
// the tree of reduce16. They compute the bits of pairDot over the
// dequantized row (kernel.go).

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

// func dotRowsAVX512(out, k *float32, stride, rows, blocks int, q *float32)
// pairDot of q with each row, the rows stride bytes apart (rows.go); the
// F32 kernel, f32AVX512, is its rows laid end to end.
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
	PAIRS(Z0, Z1, 0, Z16)
	ADDQ $128, R10
	ADDQ $128, R11
	DECQ CX
	JNZ dotrowsblock

	REDUCE16(Z16, Y16, X0, Y0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ R8, R9
	DECQ BX
	JNZ dotrowsrow

dotrowsdone:
	VZEROUPPER
	RET

// func axpyRowsAVX512(o, v *float32, stride, rows, n int, w *float32)
// o += w[p]·v_p for each row p in order (rows.go), each element's product
// and sum rounded one at a time, as axpyAVX512: 128 elements at a time held in Z0-Z7
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

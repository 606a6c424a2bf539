//go:build amd64 && !noasm

package cpu

// dotRowsAVX512 sets out[p] = pairDot(q, the blocks·32 floats at k +
// p·stride bytes) for p < rows.
//
//go:noescape
func dotRowsAVX512(out, k *float32, stride, rows, blocks int, q *float32)

// axpyRowsAVX512 adds w[p]·(the n floats at v + p·stride bytes) to o, for
// p < rows in order, n a multiple of 16.
//
//go:noescape
func axpyRowsAVX512(o, v *float32, stride, rows, n int, w *float32)

// dotRowss returns the row products of variant v.
func dotRowss(v kernelVariant) func(out, k []float32, stride int, q []float32) {
	generic := dotRowsOf(dots(v))
	if v != variantAVX512 || !hasAVX512 {
		return generic
	}
	return func(out, k []float32, stride int, q []float32) {
		if len(q)%32 != 0 || len(q) == 0 || len(out) == 0 {
			generic(out, k, stride, q)
			return
		}
		_ = k[(len(out)-1)*stride+len(q)-1]
		dotRowsAVX512(&out[0], &k[0], 4*stride, len(out), len(q)/32, &q[0])
	}
}

// axpyRowss returns the row sums of variant v.
func axpyRowss(v kernelVariant) func(o, vs []float32, stride int, w []float32) {
	generic := axpyRowsOf(axpys(v))
	if v != variantAVX512 || !hasAVX512 {
		return generic
	}
	return func(o, vs []float32, stride int, w []float32) {
		if len(o)%16 != 0 || len(o) == 0 || len(w) == 0 {
			generic(o, vs, stride, w)
			return
		}
		_ = vs[(len(w)-1)*stride+len(o)-1]
		axpyRowsAVX512(&o[0], &vs[0], 4*stride, len(w), len(o), &w[0])
	}
}

package cpu

// Attention's products over many cached positions at once: the rows of a
// head's keys or values lie stride floats apart in the cache. Each
// computes the same bits as one dot or axpy a row, so that batching the
// positions into one call changes nothing.

// dotRowsOf returns, for a variant's pairDot, out[p] = dot(q, k[p·stride:])
// for p < len(out).
func dotRowsOf(dot func(w, x []float32) float32) func(out, k []float32, stride int, q []float32) {
	return func(out, k []float32, stride int, q []float32) {
		for p := range out {
			out[p] = dot(q, k[p*stride:p*stride+len(q)])
		}
	}
}

// axpyRowsOf returns, for a variant's axpy, the sum into o of w[p]·v[p·stride:]
// for p < len(w), in order of p.
func axpyRowsOf(axpy func(y, x []float32, a float32)) func(o, v []float32, stride int, w []float32) {
	return func(o, v []float32, stride int, w []float32) {
		for p, a := range w {
			axpy(o, v[p*stride:p*stride+len(o)], a)
		}
	}
}

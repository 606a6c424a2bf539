package engine

import "fmt"

// A ReleasableWeight is a Weight whose memory can be freed at once (the
// CPU backend's own copy, a device buffer), rather than when the garbage
// collector, or the backend's Close, gets to it.
type ReleasableWeight interface {
	Weight
	// Release frees the weight's memory; the weight must not be used
	// after, and queued operations that use it must have been read.
	Release()
}

// Close releases the fragment's activations and the weights it loaded
// (those a backend can release at once; the others once unreachable).
// Its sessions must have been closed, and nothing may compute on it
// after. Closing twice does nothing.
func (f *Fragment) Close() {
	seen := map[Weight]bool{} // a tied head is the embedding
	release := func(w Weight) {
		if r, ok := w.(ReleasableWeight); ok && !seen[w] {
			seen[w] = true
			r.Release()
		}
	}
	release(f.embed)
	for _, l := range f.layers {
		for _, w := range []Weight{l.attnNorm, l.q, l.k, l.v, l.output, l.ffnNorm, l.gate, l.up, l.down} {
			release(w)
		}
	}
	release(f.norm)
	release(f.head)
	f.embed, f.norm, f.head, f.layers = nil, nil, nil, nil
	for _, t := range []*Tensor{&f.x, &f.xb, &f.q, &f.k, &f.v, &f.att, &f.gate, &f.up, &f.logits, &f.sq, &f.sk, &f.sv, &f.satt} {
		if *t != nil {
			(*t).Release()
			*t = nil
		}
	}
	f.bytes, f.closed = 0, true
}

// errFragmentClosed is the error of a use of a closed fragment.
var errFragmentClosed = fmt.Errorf("engine: the fragment is closed: %w", ErrClosed)

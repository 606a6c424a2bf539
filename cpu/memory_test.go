package cpu

import (
	"testing"

	"strata/gguf"
)

// TestCopiedWeights: by default a weight is copied (into huge pages when
// it is at least one, onto the Go heap when smaller), so that changing the
// bytes it was loaded from changes nothing; with Options.Mmap it computes
// from those bytes as they are. Both give the same bits.
func TestCopiedWeights(t *testing.T) {
	rng := newRNG(t)
	copied, mapped := New(Options{Threads: 2}), New(Options{Threads: 2, Mmap: true})
	defer copied.Close()
	defer mapped.Close()
	if copied.CopiesWeights() != ownMemory || mapped.CopiesWeights() {
		t.Fatalf("CopiesWeights: %v by default and %v with Mmap, want %v and false", copied.CopiesWeights(), mapped.CopiesWeights(), ownMemory)
	}
	// 4096 × 1024 Q4_K is 2.25 MiB, past a huge page; 64 rows are not.
	for _, rows := range []int{4096, 64} {
		const cols, n = 1024, 3
		w, data := weightOf(t, copied, gguf.Q4_K, rows, cols, rng)
		m, err := mapped.LoadWeight(&gguf.TensorInfo{Name: "w", Type: gguf.Q4_K, Dims: []uint64{cols, uint64(rows)}}, data)
		if err != nil {
			t.Fatal(err)
		}
		if big := len(data) >= hugePage; big != (rows == 4096) {
			t.Fatalf("%d rows are %d bytes: the test wants one weight past a huge page and one within", rows, len(data))
		}
		x, xv := randomTensor(t, copied, n, cols, rng)
		xm, _ := mapped.NewTensor(n, cols)
		mapped.Write(xm, xv)
		product := func(b *Backend, w any, x any) []float32 {
			out, _ := b.NewTensor(n, rows)
			defer out.Release()
			b.MatMul(out, w.(*weight), x.(*tensor), n)
			got := make([]float32, n*rows)
			if err := b.Read(got, out, 0, n); err != nil {
				t.Fatal(err)
			}
			return got
		}
		before, viaMap := product(copied, w, x), product(mapped, m, xm)
		for i := range before {
			if before[i] != viaMap[i] {
				t.Fatalf("%d rows: output %d is %v from the copy and %v from the mapping", rows, i, before[i], viaMap[i])
			}
		}
		for i := range data {
			data[i] = 0 // every scale 0: the mapped weight now gives zeros
		}
		after, zeros := product(copied, w, x), product(mapped, m, xm)
		for i := range after {
			if ownMemory && after[i] != before[i] {
				t.Fatalf("%d rows: output %d changed from %v to %v when the source bytes did: the weight was not copied", rows, i, before[i], after[i])
			}
			if zeros[i] != 0 {
				t.Fatalf("%d rows: output %d of the mapped weight is %v after zeroing its bytes: it holds a copy", rows, i, zeros[i])
			}
		}
		own := w.(*weight).own
		if want := ownMemory && rows == 4096; (own != nil) != want {
			t.Fatalf("%d rows: in memory outside the Go heap: %v, want %v", rows, own != nil, want)
		}
		w.(*weight).Release()
		if own != nil && !own.freed.Load() {
			t.Fatalf("%d rows: Release left the copy mapped", rows)
		}
	}
}

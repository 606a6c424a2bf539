package cpu

import "sync/atomic"

// hugePage is the size of a transparent huge page on x86-64 and arm64
// with 4 KiB base pages: weights at least this large are copied into
// huge pages of the backend's own (ownCopy), where the system has them.
const hugePage = 2 << 20

// A mapping is memory a weight's copy lives in, outside the Go heap.
type mapping struct {
	bytes []byte
	freed atomic.Bool
}

// free unmaps the memory, once: a weight's Release, or the cleanup that
// runs once the weight is unreachable, whichever comes first.
func (m *mapping) free() {
	if m.freed.CompareAndSwap(false, true) {
		unmap(m.bytes)
	}
}

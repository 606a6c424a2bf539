package cpu

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// ownMemory reports whether weights can be copied into huge pages of the
// backend's own here.
const ownMemory = true

// ownCopy returns a copy of data, in an anonymous mapping aligned to huge
// pages and advised to be backed by them, so that a pass over a large
// matrix walks a few hundred TLB entries instead of one per 4 KiB page.
// One goroutine copies: on a virtual machine whose host backs memory at
// its first touch, two faulting at once took three times as long as one.
// The mapping is unmapped once owner is
// unreachable, or at owner's Release. Tensors smaller than a huge page are copied onto the Go
// heap: a huge page each would waste more than they weigh.
func ownCopy(owner *weight, data []byte) ([]byte, error) {
	if len(data) < hugePage {
		return append([]byte(nil), data...), nil
	}
	size := (len(data) + hugePage - 1) &^ (hugePage - 1)
	m, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("%d bytes of memory for its copy: %w", len(data), err)
	}
	at := uintptr(unsafe.Pointer(&m[0]))
	off := int((at+hugePage-1)&^(hugePage-1) - at)
	own := m[off : off+size]
	// Only whole huge pages are advised: the tail past the last one stays
	// in 4 KiB pages, so that a weight takes its size and not up to 2 MiB
	// more (a 7B model has 224 such tails). Where transparent huge pages
	// are off, the advice fails and the copy lives in 4 KiB pages: slower,
	// never wrong.
	_ = syscall.Madvise(own[:len(data)&^(hugePage-1)], syscall.MADV_HUGEPAGE)
	copy(own, data)
	cleanup := runtime.AddCleanup(owner, func(m []byte) { _ = syscall.Munmap(m) }, m)
	owner.unmap = func() {
		cleanup.Stop()
		_ = syscall.Munmap(m)
	}
	return own[:len(data):len(data)], nil
}

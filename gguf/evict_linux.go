package gguf

import (
	"os"
	"syscall"
	"unsafe"
)

// dropPages tells the kernel that this process no longer needs the pages
// of the file mapping that lie wholly inside b. They leave the process's
// resident set but stay in the page cache; reading b again faults them
// back in, so the contents never change.
func dropPages(b []byte) {
	if len(b) == 0 {
		return
	}
	page := uintptr(os.Getpagesize())
	from := uintptr(unsafe.Pointer(&b[0]))
	start := (from + page - 1) &^ (page - 1)
	end := (from + uintptr(len(b))) &^ (page - 1)
	if end <= start {
		return
	}
	inner := b[start-from : end-from]
	// MADV_DONTNEED on a shared file mapping drops the mappings of its
	// pages, never their data; an error only means they stay resident.
	_ = syscall.Madvise(inner, syscall.MADV_DONTNEED)
}

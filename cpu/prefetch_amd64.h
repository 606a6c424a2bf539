// The integer kernels prefetch the weights 4.5 KiB ahead of the
// super-block at R10 that they decode: a memory-mapped model's small pages
// stop the hardware's prefetch at each page, and a decode reads its rows
// in order (segmentBlocks), so this is about a microsecond of reading
// ahead. Four super-blocks ahead, a Q4_K product of one input read 6 GB/s
// from DRAM on one core; this distance, 10. Each covers every cache line
// of its super-block.

// PREFETCHQ4K: 32 Q4_K super-blocks (144 bytes) ahead.
#define PREFETCHQ4K \
	PREFETCHT0 4608(R10) \
	PREFETCHT0 4672(R10) \
	PREFETCHT0 4736(R10)

// PREFETCHQ6K: 22 Q6_K super-blocks (210 bytes) ahead.
#define PREFETCHQ6K \
	PREFETCHT0 4620(R10) \
	PREFETCHT0 4684(R10) \
	PREFETCHT0 4748(R10) \
	PREFETCHT0 4812(R10)

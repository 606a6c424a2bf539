// The integer kernels prefetch the weights rows ahead: at the super-block
// at R10 of the row that is read rows later, the same offset (rows = 2
// where two rows are decoded together, 1 where one is). Rows and their
// segments are read in order (segmentBlocks), so that is what is read
// next, whatever the rows' length: a fixed distance in bytes (4.5 KiB
// before) prefetched the row being read, or the next one in a pair, once
// a row was longer than half the distance (ffn_down's 14336 columns). A
// memory-mapped model's small pages stop the hardware's prefetch at each
// page, so this is what keeps a decode's reads ahead. Uses AX; each
// covers every cache line of its super-block. PREFETCHT1 fills L2, not
// L1: a decode's input limbs of a 14336-column row (56 KiB) already
// outgrow L1, and weights prefetched into it evicted them (7B MatVec
// streamed from DRAM on 2 threads, Q4_K and Q6_K: 17.9 -> 20.0 GB/s,
// geomean of 5 alternating runs).

// PREFETCHQ4K(rows): a Q4_K super-block (144 bytes), rows rows ahead.
#define PREFETCHQ4K(rows) \
	MOVQ stride+16(FP), AX \
	PREFETCHT1 (R10)(AX*rows) \
	PREFETCHT1 64(R10)(AX*rows) \
	PREFETCHT1 128(R10)(AX*rows)

// PREFETCHQ6K(rows): a Q6_K super-block (210 bytes), rows rows ahead.
#define PREFETCHQ6K(rows) \
	MOVQ stride+16(FP), AX \
	PREFETCHT1 (R10)(AX*rows) \
	PREFETCHT1 64(R10)(AX*rows) \
	PREFETCHT1 128(R10)(AX*rows) \
	PREFETCHT1 192(R10)(AX*rows)

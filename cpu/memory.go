package cpu

// hugePage is the size of a transparent huge page on x86-64 and arm64
// with 4 KiB base pages: weights at least this large are copied into
// huge pages of the backend's own (ownCopy), where the system has them.
const hugePage = 2 << 20

package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MemoryEnv, when set, is the memory strata plans for instead of the
// machine's: STRATA_MEMORY=16G.
const MemoryEnv = "STRATA_MEMORY"

// unknownMemory is the bound on the memory sizes imply where the
// machine's memory cannot be read.
const unknownMemory = 1 << 40

// MachineMemory is the memory a process of this machine can use, and
// where that figure comes from: $STRATA_MEMORY, else the machine's RAM
// or its cgroup's limit when lower, else 1 TiB.
func MachineMemory() (int64, string) {
	if n, err := ParseSize(os.Getenv(MemoryEnv)); err == nil && n > 0 {
		return n, MemoryEnv
	}
	if n, source := physicalMemory(); n > 0 {
		return n, source
	}
	return unknownMemory, "the bound strata sets where it cannot read the machine's memory"
}

// ParseSize reads a size: bytes, or a number with K, M, G or T (binary
// units, optionally followed by iB or B).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRight(s, "KMGTiBkmgtb")
	unit := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s[len(num):]), "B"), "I")
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("unit %q", s[len(num):])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*float64(uint64(1)<<sh) >= 1<<62 {
		return 0, fmt.Errorf("size %q", s)
	}
	return int64(v * float64(uint64(1)<<sh)), nil
}

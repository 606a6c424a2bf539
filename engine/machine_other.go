//go:build !linux

package engine

// physicalMemory is unknown off Linux.
func physicalMemory() (int64, string) { return 0, "" }

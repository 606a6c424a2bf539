//go:build !linux

package main

// physicalMemory is unknown off Linux.
func physicalMemory() (int64, string) { return 0, "" }

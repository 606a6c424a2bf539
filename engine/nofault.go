//go:build !faults

package engine

// injectFault is a no-op: faults exist only in test binaries built with
// -tags faults (see fault.go).
func (f *Fragment) injectFault(int, Stage, int) {}

//go:build !faults

package engine

import "time"

// Faults exist only in test binaries built with -tags faults (see
// fault.go); here each hook is a no-op.

func (f *Fragment) injectFault(int, Stage, int) {}

func slowStart() time.Time { return time.Time{} }

func slowDown(time.Time) {}

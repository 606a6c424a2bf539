//go:build cgo

package gpu

import "strata/engine"

// ForceGPURows makes b's matrix products share each row among threads
// as on a GPU (rowThreads by row length), whatever the device type.
func ForceGPURows(b engine.Backend) { b.(*Backend).gpuRows = true }

//go:build faults

package engine

// SetSlowdown sets the faults build's slowdown for a test of the package's
// users, and returns what restores the fault before.
func SetSlowdown(x float64) (restore func()) {
	saved := fault
	fault = &faultSpec{slowdown: x}
	return func() { fault = saved }
}

//go:build !faults

package engine

import (
	"testing"
	"time"
)

// TestNoSlowdown: outside the faults build, the slowdown hooks do
// nothing: no clock read, no sleep.
func TestNoSlowdown(t *testing.T) {
	if !slowStart().IsZero() {
		t.Error("slowStart reads the clock")
	}
	began := time.Now()
	slowDown(began.Add(-time.Second))
	if took := time.Since(began); took > 100*time.Millisecond {
		t.Errorf("slowDown slept %v", took)
	}
}

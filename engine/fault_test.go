//go:build faults

package engine

import (
	"testing"
	"time"
)

// TestParseFault: STRATA_FAULT's settings, a bit flip's and a slowdown's,
// each alone or together; a slowdown alone flips nothing, and a bad
// setting is refused by name.
func TestParseFault(t *testing.T) {
	for _, c := range []struct {
		in   string
		want *faultSpec
	}{
		{"", nil},
		{"layer=2,stage=feed-forward", &faultSpec{flip: true, layer: 2, stage: AfterFeedForward, bit: 20}},
		{"layer=1,stage=attention,bit=3,index=7", &faultSpec{flip: true, layer: 1, stage: AfterAttention, bit: 3, index: 7}},
		{"slowdown=3", &faultSpec{bit: 20, slowdown: 3}},
		{"slowdown=1.5,layer=0,stage=attention", &faultSpec{flip: true, stage: AfterAttention, bit: 20, slowdown: 1.5}},
	} {
		got := parseFault(c.in)
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("parseFault(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"slowdown=0.5", "slowdown=x", "slowdown=+Inf", "slowdown=NaN", "bit=32", "speed=2"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("parseFault(%q) accepted it", bad)
				}
			}()
			parseFault(bad)
		}()
	}
}

// TestSlowDown: with slowdown F, a pass that computed for d sleeps at
// least (F − 1) d more; without one, it does not sleep.
func TestSlowDown(t *testing.T) {
	saved := fault
	defer func() { fault = saved }()
	const d = 20 * time.Millisecond
	for _, c := range []struct {
		spec  *faultSpec
		least time.Duration
	}{
		{nil, 0},
		{&faultSpec{flip: true}, 0},
		{&faultSpec{slowdown: 1}, 0},
		{&faultSpec{slowdown: 3}, 2 * d},
		{&faultSpec{slowdown: 1.5}, d / 2},
	} {
		fault = c.spec
		began := time.Now()
		slowDown(began.Add(-d))
		took := time.Since(began)
		if took < c.least || c.least == 0 && took > d {
			t.Errorf("slowdown %+v after %v of compute: slept %v, want %v", c.spec, d, took, c.least)
		}
	}
}

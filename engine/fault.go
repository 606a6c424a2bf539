//go:build faults

package engine

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// This file exists only in binaries built with -tags faults, for tests.
// STRATA_FAULT is a comma-separated list of settings:
//
//   - "layer=L,stage=attention|feed-forward[,bit=B][,index=I]" flips bit
//     B (default 20, in the mantissa) of value I (default 0) of every row
//     of that stage's hidden state, as a bad kernel, driver or memory
//     would (the tests of strata verify);
//   - "slowdown=F" (F ≥ 1) makes every forward pass take F times its
//     compute, by sleeping (F − 1) times it afterwards: a slower device,
//     which leaves the CPU to the others while it is slow (the tests of a
//     swarm of unequal peers). A peer's self-measurement runs forward
//     passes, so it measures the slowdown too.
//
// The shipped binary has none of it.

type faultSpec struct {
	flip              bool // a bit flip is asked for
	layer, bit, index int
	stage             Stage
	slowdown          float64 // 0: none
}

var fault = parseFault(os.Getenv("STRATA_FAULT"))

func parseFault(s string) *faultSpec {
	if s == "" {
		return nil
	}
	f := &faultSpec{bit: 20}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		x, xerr := strconv.ParseFloat(v, 64)
		switch {
		case k == "stage" && v == AfterAttention.String():
			f.stage, f.flip = AfterAttention, true
		case k == "stage" && v == AfterFeedForward.String():
			f.stage, f.flip = AfterFeedForward, true
		case k == "layer" && err == nil:
			f.layer, f.flip = n, true
		case k == "bit" && err == nil && n >= 0 && n < 32:
			f.bit, f.flip = n, true
		case k == "index" && err == nil && n >= 0:
			f.index, f.flip = n, true
		case k == "slowdown" && xerr == nil && x >= 1 && !math.IsInf(x, 1):
			f.slowdown = x
		default:
			panic(fmt.Sprintf("engine: STRATA_FAULT %q: bad %q", s, kv))
		}
	}
	return f
}

// injectFault flips the chosen bit of every row of x when the stage is
// the chosen one.
func (f *Fragment) injectFault(index int, stage Stage, m int) {
	if fault == nil || !fault.flip || f.Start+index != fault.layer || stage != fault.stage || fault.index >= f.Config.Embedding {
		return
	}
	e := f.Config.Embedding
	buf := make([]float32, m*e)
	if f.b.Read(buf, f.x, 0, m) != nil {
		return
	}
	for r := range m {
		i := r*e + fault.index
		buf[i] = math.Float32frombits(math.Float32bits(buf[i]) ^ 1<<fault.bit)
	}
	f.b.Write(f.x, buf)
}

// slowStart is when a forward pass began, for slowDown.
func slowStart() time.Time { return time.Now() }

// slowDown, at the end of a forward pass begun at began, sleeps until
// the pass has taken the slowdown's multiple of its compute.
func slowDown(began time.Time) {
	if fault == nil || fault.slowdown <= 1 {
		return
	}
	time.Sleep(time.Duration(float64(time.Since(began)) * (fault.slowdown - 1)))
}

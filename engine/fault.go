//go:build faults

package engine

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// This file exists only in binaries built with -tags faults, for the
// tests of strata verify: STRATA_FAULT="layer=L,stage=attention|feed-forward[,bit=B][,index=I]"
// flips bit B (default 20, in the mantissa) of value I (default 0) of
// every row of that stage's hidden state, as a bad kernel, driver or
// memory would. The shipped binary has none of it.

type faultSpec struct {
	layer, bit, index int
	stage             Stage
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
		switch {
		case k == "stage" && v == AfterAttention.String():
			f.stage = AfterAttention
		case k == "stage" && v == AfterFeedForward.String():
			f.stage = AfterFeedForward
		case k == "layer" && err == nil:
			f.layer = n
		case k == "bit" && err == nil && n >= 0 && n < 32:
			f.bit = n
		case k == "index" && err == nil && n >= 0:
			f.index = n
		default:
			panic(fmt.Sprintf("engine: STRATA_FAULT %q: bad %q", s, kv))
		}
	}
	return f
}

// injectFault flips the chosen bit of every row of x when the stage is
// the chosen one.
func (f *Fragment) injectFault(index int, stage Stage, m int) {
	if fault == nil || f.Start+index != fault.layer || stage != fault.stage || fault.index >= f.Config.Embedding {
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

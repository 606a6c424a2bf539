//go:build cgo

package gpu_test

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"

	"strata/shaders"
)

// TestCallsUnderGC compiles every matrix product's pipelines and runs
// them while the collector runs without pause. vulkan-go's wrappers let a
// finalizer free the C copy of a structure while a command still reads it,
// so that this test crashed inside vkCreateComputePipelines within a few
// pipelines; strata's own calls keep their structures until the command
// returns.
func TestCallsUnderGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer wg.Wait()
	defer close(stop)
	for _, profile := range []string{"", "subgroup=32", "subgroup=64,subgroup-ops=off"} {
		p := newPairProfile(t, profile)
		for _, typ := range shaders.Types {
			wa, wb := p.weights(typ, 33, 256)
			xa, xb, _ := p.tensors(3, 256)
			oa, ob, _ := p.tensors(3, 33)
			p.ref.MatMul(oa, wa, xa, 3)
			p.gpu.MatMul(ob, wb, xb, 3)
			p.compare(fmt.Sprintf("profile %q matmul %v", profile, typ), oa, ob, 3, 5e-6)
		}
	}
}

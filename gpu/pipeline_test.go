//go:build cgo

package gpu

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestPipelineRefuses checks that a pipeline with a binding count the
// descriptor sets cannot hold, or a shader module with no code, is an
// error rather than a call into the driver.
func TestPipelineRefuses(t *testing.T) {
	g, err := open(Options{Device: -1})
	if err != nil {
		if os.Getenv("CI") == "true" || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("open: %v", err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	defer g.Close()
	for _, n := range []int{0, maxBindings + 1} {
		if _, err := g.pipeline("add", n, 0); err == nil || !strings.Contains(err.Error(), "bindings") {
			t.Errorf("%d bindings: %v, want an error naming the bindings", n, err)
		}
	}
	if m, r := g.vkc.newShaderModule(g.dev, nil); m != nil || r == 0 {
		t.Errorf("empty shader module: %v, %v; want no module and an error", m, r)
	}
}

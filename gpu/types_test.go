package gpu_test

import (
	"testing"

	"strata/format"
	"strata/shaders"
)

// TestShaderTypesDecoded checks that package format decodes every type a
// shader reads: the backend dequantizes one-row weights (norms) with it.
func TestShaderTypesDecoded(t *testing.T) {
	for _, typ := range shaders.Types {
		if _, ok := format.Dequantizer(typ); !ok {
			t.Errorf("shaders read %v, which format does not decode", typ)
		}
	}
}

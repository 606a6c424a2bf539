package gpu_test

import (
	"slices"
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

// TestEveryTypeHasShaders checks that the shaders read every type package
// format decodes (the CPU computes): a model runs on both backends or on
// neither.
func TestEveryTypeHasShaders(t *testing.T) {
	for _, typ := range format.Types() {
		if !slices.Contains(shaders.Types, typ) {
			t.Errorf("format decodes %v, which no shader reads", typ)
		}
	}
}

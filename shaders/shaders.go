// Package shaders holds strata's GLSL compute shaders and their SPIR-V,
// compiled by `make shaders` (glslc) and embedded in the binary.
//
// Each Variant is one .spv: a .comp source compiled with some defines.
// spv.sum records, per variant, a hash of everything its SPIR-V comes
// from; a test fails when a source changed and the .spv was not rebuilt.
package shaders

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"strata/gguf"
)

//go:embed *.spv *.comp *.glsl spv.sum
var files embed.FS

// A Variant is a compiled shader.
type Variant struct {
	Name    string   // file name without .spv
	Source  string   // .comp file
	Defines []string // glslc -D arguments
}

// Types are the weight formats the typed shaders are compiled for (with
// TYPE_<name> defined; dequant.glsl decodes each), in the order of spv.sum.
var Types = []gguf.TensorType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q8_0,
	gguf.Q2_K, gguf.Q3_K, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K, gguf.IQ4_NL, gguf.IQ4_XS}

// Variants lists every shader strata runs.
func Variants() []Variant {
	var v []Variant
	for _, src := range []string{"matmul", "embed"} {
		for _, t := range Types {
			v = append(v, Variant{Name: src + "_" + strings.ToLower(t.String()), Source: src + ".comp", Defines: []string{"TYPE_" + t.String()}})
		}
	}
	// Matrix products whose reductions use subgroup shuffles, for devices
	// that have them (the plain ones are the fallback).
	for _, t := range Types {
		v = append(v, Variant{Name: "matmul_sg_" + strings.ToLower(t.String()), Source: "matmul.comp", Defines: []string{"TYPE_" + t.String(), "SUBGROUP"}})
	}
	for _, src := range []string{"rmsnorm", "rope", "kvstore", "attention", "swiglu", "add"} {
		v = append(v, Variant{Name: src, Source: src + ".comp"})
	}
	return v
}

// Flags are the glslc flags every variant is compiled with.
var Flags = []string{"-O", "--target-env=vulkan1.1"}

// SPIRV returns the compiled code of a variant.
func SPIRV(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shaders: no compiled shader %q: %w", name, err)
	}
	return b, nil
}

// Hash is a digest of what a variant's SPIR-V is compiled from: its
// source, every include, its defines and the flags. fsys holds the sources.
func Hash(fsys fs.FS, v Variant) (string, error) {
	h := sha256.New()
	names, err := fs.Glob(fsys, "*.glsl")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range append([]string{v.Source}, names...) {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "defines %q flags %q\n", v.Defines, Flags)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Sources is the embedded shader source tree.
func Sources() fs.FS { return files }

// Sums returns the hashes recorded in spv.sum.
func Sums(fsys fs.FS) (map[string]string, error) {
	b, err := fs.ReadFile(fsys, "spv.sum")
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		name, sum, ok := strings.Cut(line, " ")
		if ok {
			sums[name] = sum
		}
	}
	return sums, nil
}

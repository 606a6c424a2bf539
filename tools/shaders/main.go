// Command shaders compiles strata's GLSL compute shaders to SPIR-V with
// glslc and records their source hashes in spv.sum. Run it from the
// repository root (make shaders).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"strata/shaders"
)

func main() {
	dir := "shaders"
	src := os.DirFS(dir)
	var sums strings.Builder
	for _, v := range shaders.Variants() {
		args := append([]string{}, shaders.Flags...)
		for _, d := range v.Defines {
			args = append(args, "-D"+d)
		}
		args = append(args, filepath.Join(dir, v.Source), "-o", filepath.Join(dir, v.Name+".spv"))
		if out, err := exec.Command("glslc", args...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "shaders: glslc %s: %v\n%s", strings.Join(args, " "), err, out)
			os.Exit(1)
		}
		h, err := shaders.Hash(src, v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "shaders:", err)
			os.Exit(1)
		}
		fmt.Fprintf(&sums, "%s %s\n", v.Name, h)
	}
	if err := os.WriteFile(filepath.Join(dir, "spv.sum"), []byte(sums.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "shaders:", err)
		os.Exit(1)
	}
}

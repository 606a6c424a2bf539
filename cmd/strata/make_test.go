package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMakeWithoutVulkanHeaders: where the C compiler finds no
// vulkan/vulkan.h (-nostdinc hides every system header), make check
// builds CPU-only, says so once across its sub-makes, and runs the race
// detector on the packages that do not build the Vulkan backend.
func TestMakeWithoutVulkanHeaders(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	// A make of its own, not a sub-make of the one running the tests.
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "MAKELEVEL=") && !strings.HasPrefix(e, "MAKEFLAGS=") && !strings.HasPrefix(e, "MFLAGS=") {
			env = append(env, e)
		}
	}
	dryRun := func(args ...string) *exec.Cmd {
		cmd := exec.Command("make", append([]string{"-C", "../..", "-n"}, args...)...)
		cmd.Env = env
		return cmd
	}
	out, err := dryRun("check", "CC=gcc -nostdinc").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n check: %v: %s", err, out)
	}
	s := string(out)
	if n := strings.Count(s, "finds no vulkan/vulkan.h"); n != 1 || !strings.Contains(s, "building CPU-only, without Vulkan") {
		t.Errorf("said %d times: %s", n, s)
	}
	if !strings.Contains(s, "CGO_ENABLED=1 go test -race ./cpu ./engine ./swarm\n") {
		t.Errorf("the race detector: %s", s)
	}
	out, err = dryRun("check").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n check: %v: %s", err, out)
	}
	if strings.Contains(string(out), "CPU-only") && exec.Command("sh", "-c", "echo '#include <vulkan/vulkan.h>' | cc -E -x c - >/dev/null 2>&1").Run() == nil {
		t.Errorf("with the headers: %s", out)
	}
}

package main

import (
	"os/exec"
	"path"
	"strings"
	"testing"
)

// deps lists the packages pkg links, as go list -deps sees them on this
// build (cgo as the test runs).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestNoTestCodeInBinary checks that the shipped binary links no test
// support: neither package testing nor a strata package named test*
// (testmodel, say), which are for _test.go files only.
func TestNoTestCodeInBinary(t *testing.T) {
	for _, p := range deps(t, "strata/cmd/strata") {
		if p == "testing" || strings.HasPrefix(p, "testing/") ||
			strings.HasPrefix(p, "strata/") && strings.HasPrefix(path.Base(p), "test") {
			t.Errorf("the strata binary links %s", p)
		}
	}
}

// TestBackendsApart checks that the backends import each other in
// neither direction: what they share lives in packages of its own.
func TestBackendsApart(t *testing.T) {
	for pkg, not := range map[string]string{"strata/gpu": "strata/cpu", "strata/cpu": "strata/gpu"} {
		for _, p := range deps(t, pkg) {
			if p == not {
				t.Errorf("%s links %s", pkg, not)
			}
		}
	}
}

package main

// The CLI as llama.cpp users expect it, and the messages a new user
// meets, each through the real binary (issue 11).

import (
	"strings"
	"testing"
)

// stderrLines drops the log lines (level=...) of a stderr.
func stderrLines(errs string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(errs, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "level=") {
			lines = append(lines, l)
		}
	}
	return lines
}

// failsWith runs the binary and wants it to fail with one line of error
// holding want.
func failsWith(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errs, code := strata(t, args...)
	lines := stderrLines(errs)
	if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "strata: ") || !strings.Contains(lines[0], want) {
		t.Errorf("%v: exit %d, stdout %q, stderr %q: want one line with %q", args, code, out, errs, want)
	}
}

// TestInspectFileTypeName: inspect shows general.file_type by its name,
// Q4_K_M, beside the number, and in --json as file_type.
func TestInspectFileTypeName(t *testing.T) {
	out, errs, code := strata(t, "inspect", tinyModel)
	if code != 0 || !strings.Contains(out, "general.file_type") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "general.file_type") && !strings.HasSuffix(strings.TrimSpace(l), "Q4_K_M (15)") {
			t.Errorf("inspect shows %q, want Q4_K_M (15)", l)
		}
	}
	out, _, _ = strata(t, "inspect", "--json", tinyModel)
	if !strings.Contains(out, `"file_type": "Q4_K_M"`) {
		t.Errorf("inspect --json has no file_type Q4_K_M")
	}
}

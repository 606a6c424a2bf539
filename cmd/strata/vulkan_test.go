package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// haveVulkan reports whether `strata devices` finds a device; under
// CI=true a machine without one fails the test instead of skipping it.
func haveVulkan(t *testing.T) {
	t.Helper()
	if _, errs, code := strata(t, "devices"); code != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs a Vulkan device: %s", errs)
		}
		t.Skipf("no Vulkan device: %s", errs)
	}
}

// TestRunVulkan runs the reference prompts on the Vulkan backend through
// the CLI: exact greedy tokens, and the JSON names the backend and device.
func TestRunVulkan(t *testing.T) {
	haveVulkan(t)
	cases, _ := loadReference(t)
	for ci, c := range cases {
		out, errs, code := strata(t, "run", tinyModel, "-p", c.Prompt, "--temp", "0", "--ignore-eos", "-n", "32", "--json", "--backend", "vulkan")
		var r struct {
			Tokens  []int32 `json:"tokens"`
			Backend string  `json:"backend"`
			Device  string  `json:"device"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("case %d: exit %d: %q %q", ci, code, out, errs)
		}
		if r.Backend != "vulkan" || r.Device == "" || !slices.Equal(r.Tokens, c.GreedyTokens) {
			t.Errorf("case %d: backend %q device %q tokens %v, want %v", ci, r.Backend, r.Device, r.Tokens, c.GreedyTokens)
		}
	}
}

// noVulkan runs strata where the Vulkan loader finds no driver.
func noVulkan(t *testing.T, args ...string) (string, string, int) {
	cmd := exec.Command(strataBin, args...)
	cmd.Env = append(os.Environ(), "VK_ICD_FILENAMES="+filepath.Join(t.TempDir(), "none.json"),
		"VK_DRIVER_FILES="+filepath.Join(t.TempDir(), "none.json"))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// TestNoDevice: auto falls back to the CPU and says so in one line;
// --backend vulkan fails clearly; nothing crashes.
func TestNoDevice(t *testing.T) {
	out, errs, code := noVulkan(t, "run", tinyModel, "-p", "hi", "-n", "4", "--json")
	var r struct{ Backend string }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Backend != "cpu" {
		t.Fatalf("auto without a device: exit %d %q %q", code, out, errs)
	}
	if n := strings.Count(errs, "using the cpu backend"); n != 1 {
		t.Errorf("auto without a device should say once why it uses the cpu: %q", errs)
	}
	_, errs, code = noVulkan(t, "run", tinyModel, "-p", "hi", "--backend", "vulkan")
	if code == 0 || !strings.HasPrefix(errs, "strata: gpu: ") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("--backend vulkan without a device: exit %d %q", code, errs)
	}
	_, errs, code = noVulkan(t, "devices")
	if code == 0 || !strings.Contains(errs, "no Vulkan device") {
		t.Errorf("devices without a device: exit %d %q", code, errs)
	}
}

package engine_test

import (
	"testing"

	"strata/engine"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true}, {"512M", 512 << 20, true}, {"16G", 16 << 30, true}, {"1.5GiB", 3 << 29, true},
		{"2tb", 2 << 40, true}, {" 1K ", 1024, true}, {"lots", 0, false}, {"", 0, false}, {"-1G", 0, false}, {"9999999T", 0, false},
	} {
		got, err := engine.ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestMachineMemoryEnv(t *testing.T) {
	t.Setenv(engine.MemoryEnv, "3G")
	if n, source := engine.MachineMemory(); n != 3<<30 || source != engine.MemoryEnv {
		t.Errorf("MachineMemory with %s=3G: %d from %s", engine.MemoryEnv, n, source)
	}
	t.Setenv(engine.MemoryEnv, "")
	if n, source := engine.MachineMemory(); n <= 0 || source == engine.MemoryEnv {
		t.Errorf("MachineMemory: %d from %s", n, source)
	}
}

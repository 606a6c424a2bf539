package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rssFile is the process's resident file-backed memory, from
// /proc/self/status.
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("RssFile: %q", rest)
			}
			return kb << 10
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestEvict: evicting a tensor of a mapped file takes its pages out of
// the process's resident set and leaves its bytes as they were; on a file
// parsed from bytes it changes nothing (dropping the pages of anonymous
// memory would zero them).
func TestEvict(t *testing.T) {
	const size = 32 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	w := &Writer{}
	if err := w.AddTensor("big", F32, []uint64{size / 4}, data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	parsed, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	parsed.Evict(&parsed.Tensors[0])
	if !bytes.Equal(parsed.TensorData(&parsed.Tensors[0]), data) {
		t.Fatal("evicting a tensor of a parsed file changed its bytes")
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tensor := &f.Tensors[0]
	if !bytes.Equal(f.TensorData(tensor), data) { // reads every page
		t.Fatal("the mapped tensor differs from what was written")
	}
	before := rssFile(t)
	f.Evict(tensor)
	after := rssFile(t)
	if before-after < size*3/4 {
		t.Errorf("evicting %d MiB took %d KiB out of the resident set (%d → %d KiB), want at least 3/4 of it",
			size>>20, (before-after)>>10, before>>10, after>>10)
	}
	if !bytes.Equal(f.TensorData(tensor), data) {
		t.Fatal("the tensor's bytes changed after Evict")
	}
}

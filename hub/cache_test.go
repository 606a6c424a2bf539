package hub

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"strata/internal/hubtest"
)

// TestCacheFindRemove: models pulled at two commits are all found, each
// by its short name; removing one keeps what another links, and removing
// the last takes the repository's folder.
func TestCacheFindRemove(t *testing.T) {
	h, p := setup(t)
	q4, q8, shared := fakeModel(200000, 20), fakeModel(100000, 21), fakeModel(1000, 22)
	h.Publish("org/M-GGUF",
		hubtest.File{Path: "M-Q4_K_M.gguf", Data: q4, LFS: true},
		hubtest.File{Path: "M-Q8_0.gguf", Data: q8, LFS: true})
	if _, err := pull(t, p, "org/M-GGUF:Q4_K_M"); err != nil {
		t.Fatal(err)
	}
	// main moves on; the Q8_0 file is the same, and pulled there.
	second := h.Publish("org/M-GGUF",
		hubtest.File{Path: "M-Q8_0.gguf", Data: q8, LFS: true},
		hubtest.File{Path: "M-Q4_K_M.gguf", Data: shared, LFS: true})
	if _, err := pull(t, p, "org/M-GGUF:Q8_0"); err != nil {
		t.Fatal(err)
	}
	models, err := p.Cache.Models()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name+"@"+m.Commit[:7])
	}
	want := []string{"org/M-GGUF:Q4_K_M@", "org/M-GGUF:Q8_0@" + second[:7]}
	if len(models) != 2 || !strings.HasPrefix(names[0], want[0]) || names[1] != want[1] {
		t.Fatalf("models %v, want %v", names, want)
	}
	m, err := p.Cache.Find(Name{Repo: "org/M-GGUF", Tag: "q4_k_m"})
	if err != nil || m.Size() != int64(len(q4)) || len(m.Paths) != 1 {
		t.Fatalf("Find Q4_K_M: %+v %v", m, err)
	}
	if _, err := p.Cache.Find(Name{Repo: "org/M-GGUF", Tag: "Q6_K"}); !errors.Is(err, ErrNotCached) ||
		!strings.Contains(err.Error(), "org/M-GGUF:Q4_K_M, org/M-GGUF:Q8_0") {
		t.Errorf("Find Q6_K: %v", err)
	}
	if _, err := p.Cache.Find(Name{Repo: "org/other"}); !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "strata pull org/other") {
		t.Errorf("Find in a repository never pulled: %v", err)
	}

	r, err := p.Cache.Remove(Name{Repo: "org/M-GGUF", Tag: "Q4_K_M"})
	if err != nil || r.Links != 1 || r.Blobs != 1 || r.Freed != int64(len(q4)) || r.RepoGone {
		t.Fatalf("remove Q4_K_M: %+v %v", r, err)
	}
	if _, err := os.Stat(p.Cache.blobPath("org/M-GGUF", sum(q4))); !os.IsNotExist(err) {
		t.Errorf("the Q4_K_M blob is still there: %v", err)
	}
	if _, err := p.Cache.Find(Name{Repo: "org/M-GGUF", Tag: "Q8_0"}); err != nil {
		t.Errorf("Q8_0 after removing Q4_K_M: %v", err)
	}
	r, err = p.Cache.Remove(Name{Repo: "org/M-GGUF", Tag: "Q8_0"})
	if err != nil || r.Blobs != 1 || !r.RepoGone {
		t.Fatalf("remove Q8_0: %+v %v", r, err)
	}
	if _, err := os.Stat(p.Cache.RepoDir("org/M-GGUF")); !os.IsNotExist(err) {
		t.Errorf("the repository folder is still there: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(p.Cache.Dir, ".locks", "*")); len(left) > 0 {
		t.Errorf("locks left: %v", left)
	}
}

// TestCacheRemoveShared: a blob that two snapshots link goes only with the
// last link; a file beside the model (README) keeps the repository.
func TestCacheRemoveShared(t *testing.T) {
	h, p := setup(t)
	data := fakeModel(5000, 30)
	h.Publish("org/S", hubtest.File{Path: "S-Q4_K_M.gguf", Data: data, LFS: true})
	if _, err := pull(t, p, "org/S"); err != nil {
		t.Fatal(err)
	}
	second := h.Publish("org/S", hubtest.File{Path: "S-Q4_K_M.gguf", Data: data, LFS: true})
	if _, err := pull(t, p, "org/S"); err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(p.Cache.RepoDir("org/S"), "snapshots", second, "README.md")
	if err := os.WriteFile(readme, []byte("#"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := p.Cache.Remove(Name{Repo: "org/S"})
	if err != nil || r.Links != 2 || r.Blobs != 1 || r.RepoGone {
		t.Fatalf("remove: %+v %v", r, err)
	}
	if _, err := os.Stat(readme); err != nil {
		t.Errorf("the README went: %v", err)
	}
}

func TestRepoFolder(t *testing.T) {
	c := Cache{Dir: "/c"}
	if got := c.RepoDir("bartowski/Mistral-7B-Instruct-v0.3-GGUF"); got != "/c/models--bartowski--Mistral-7B-Instruct-v0.3-GGUF" {
		t.Errorf("RepoDir = %s", got)
	}
	for in, want := range map[string]string{
		"models--bartowski--Mistral-7B-Instruct-v0.3-GGUF": "bartowski/Mistral-7B-Instruct-v0.3-GGUF",
		"models--org--x":   "org/x",
		"datasets--org--x": "",
		"models--org":      "",
		".locks":           "",
	} {
		if got, ok := repoOf(in); got != want || ok != (want != "") {
			t.Errorf("repoOf(%q) = %q %v", in, got, ok)
		}
	}
}

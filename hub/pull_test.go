package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"strata/internal/hubtest"
)

// fakeModel is size random bytes (a hub moves bytes; it never reads them).
func fakeModel(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// setup starts a fake hub and a puller of it into a new cache.
func setup(t *testing.T) (*hubtest.Hub, *Puller) {
	t.Helper()
	h := hubtest.New()
	t.Cleanup(h.Close)
	p := &Puller{
		Client:      &Client{Endpoint: h.API.URL, Token: "hf_test"},
		Cache:       Cache{Dir: t.TempDir()},
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Connections: 4, MinPart: 64 << 10, Backoff: 10 * time.Millisecond, Stall: 5 * time.Second,
	}
	return h, p
}

func pull(t *testing.T, p *Puller, name string) (*Pulled, error) {
	t.Helper()
	n, err := ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	return p.Pull(context.Background(), n)
}

// checkLayout checks that repo's file is a relative link from the commit's
// snapshot to blobs/SHA256 holding data, and that refs/main is the commit.
func checkLayout(t *testing.T, c Cache, repo, commit, file string, data []byte) {
	t.Helper()
	dir := c.RepoDir(repo)
	link := filepath.Join(dir, "snapshots", commit, file)
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("snapshot link: %v", err)
	}
	want, _ := filepath.Rel(filepath.Dir(link), filepath.Join(dir, "blobs", sum(data)))
	if target != want {
		t.Errorf("%s -> %s, want %s", link, target, want)
	}
	if got, err := os.ReadFile(link); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the blob does not hold the file (%v)", err)
	}
	if ref, err := os.ReadFile(filepath.Join(dir, "refs", "main")); err != nil || string(ref) != commit {
		t.Errorf("refs/main = %q (%v), want %s", ref, err, commit)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "blobs", "*.incomplete*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestPullLayout(t *testing.T) {
	h, p := setup(t)
	data := fakeModel(1<<20+12345, 1)
	commit := h.Publish("org/M-GGUF",
		hubtest.File{Path: "README.md", Data: []byte("# M\n")},
		hubtest.File{Path: "M-Q4_K_M.gguf", Data: data, LFS: true},
		hubtest.File{Path: "M-Q8_0.gguf", Data: fakeModel(1000, 2), LFS: true})
	got, err := pull(t, p, "org/M-GGUF:Q4_K_M")
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, p.Cache, "org/M-GGUF", commit, "M-Q4_K_M.gguf", data)
	if got.Fetched != int64(len(data)) || h.Sent() != int64(len(data)) || got.Model.Name != "org/M-GGUF:Q4_K_M" {
		t.Errorf("fetched %d, the CDN sent %d, of %d; name %s", got.Fetched, h.Sent(), len(data), got.Model.Name)
	}
	ranges := 0
	for _, r := range h.Requests() {
		if r.Server == "cdn" {
			ranges++
			if r.Authorization != "" {
				t.Errorf("the CDN was sent %q", r.Authorization)
			}
		} else if r.Authorization != "Bearer hf_test" {
			t.Errorf("the hub was sent %q for %s", r.Authorization, r.Path)
		}
	}
	if ranges != 4 {
		t.Errorf("%d range requests, want 4", ranges)
	}
	// Again: nothing is fetched.
	h.ResetSent()
	again, err := pull(t, p, "org/M-GGUF:Q4_K_M")
	if err != nil || again.Fetched != 0 || again.Reused != int64(len(data)) || h.Sent() != 0 {
		t.Errorf("second pull: %+v %v, the CDN sent %d", again, err, h.Sent())
	}
}

// TestPullCut: the CDN drops a connection halfway; the range is asked
// again from where it broke, so no byte is sent twice.
func TestPullCut(t *testing.T) {
	h, p := setup(t)
	data := fakeModel(2<<20, 3)
	commit := h.Publish("org/M-GGUF", hubtest.File{Path: "M-Q4_K_M.gguf", Data: data, LFS: true})
	h.CutAfter(int64(len(data) / 2))
	got, err := pull(t, p, "org/M-GGUF")
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, p.Cache, "org/M-GGUF", commit, "M-Q4_K_M.gguf", data)
	if h.Sent() != int64(len(data)) || got.Fetched != int64(len(data)) {
		t.Errorf("the CDN sent %d bytes, %d fetched, for a file of %d", h.Sent(), got.Fetched, len(data))
	}
}

// TestPullResume: a pull cancelled halfway leaves prefixes on disk; the
// next one asks only for the rest.
func TestPullResume(t *testing.T) {
	h, p := setup(t)
	data := fakeModel(3<<20, 4)
	commit := h.Publish("org/M-GGUF", hubtest.File{Path: "M-Q4_K_M.gguf", Data: data, LFS: true})
	h.StallAfter(int64(len(data) / 2))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		n, _ := ParseName("org/M-GGUF")
		_, err := p.Pull(ctx, n)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.Sent() < int64(len(data)/2) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // what was sent reaches the files
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled pull: %v", err)
	}
	kept := onDisk(t, p.Cache.RepoDir("org/M-GGUF"))
	if kept == 0 || kept >= int64(len(data)) {
		t.Fatalf("%d bytes kept of %d", kept, len(data))
	}
	if !h.WaitIdle(10 * time.Second) {
		t.Fatal("the CDN still answers the cancelled pull")
	}
	h.Release()
	h.ResetSent()
	got, err := pull(t, p, "org/M-GGUF")
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, p.Cache, "org/M-GGUF", commit, "M-Q4_K_M.gguf", data)
	if h.Sent() != int64(len(data))-kept || got.Reused != kept {
		t.Errorf("resumed: the CDN sent %d, want %d - %d kept = %d; reused %d", h.Sent(), len(data), kept, int64(len(data))-kept, got.Reused)
	}
	t.Logf("kept %d of %d bytes; the resumed pull was sent %d", kept, len(data), h.Sent())
}

// onDisk is the size of the downloads under way in a repository folder.
func onDisk(t *testing.T, dir string) int64 {
	parts, _ := filepath.Glob(filepath.Join(dir, "blobs", "*.incomplete*"))
	var n int64
	for _, p := range parts {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// TestPullCorrupt: a byte flipped on the way is caught by the sha256; the
// model pulled before from an older commit stays as it was.
func TestPullCorrupt(t *testing.T) {
	h, p := setup(t)
	good := fakeModel(1<<20, 5)
	first := h.Publish("org/M-GGUF", hubtest.File{Path: "M-Q4_K_M.gguf", Data: good, LFS: true})
	if _, err := pull(t, p, "org/M-GGUF"); err != nil {
		t.Fatal(err)
	}
	newer := fakeModel(1<<20, 6)
	h.Publish("org/M-GGUF", hubtest.File{Path: "M-Q4_K_M.gguf", Data: newer, LFS: true})
	h.Corrupt(sum(newer), 777777)
	_, err := pull(t, p, "org/M-GGUF")
	var ce *ChecksumError
	if !errors.As(err, &ce) || !errors.Is(err, ErrChecksum) || ce.Want != sum(newer) || ce.File != "M-Q4_K_M.gguf" || ce.Got == ce.Want {
		t.Fatalf("pull of a corrupted file: %v", err)
	}
	bad := append([]byte(nil), newer...)
	bad[777777] ^= 0x40
	if ce.Got != sum(bad) {
		t.Errorf("got %s, the corrupted bytes hash to %s", ce.Got, sum(bad))
	}
	for _, want := range []string{"M-Q4_K_M.gguf", ce.Want, ce.Got, "sha256"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	checkLayout(t, p.Cache, "org/M-GGUF", first, "M-Q4_K_M.gguf", good)
	if _, err := os.Stat(p.Cache.blobPath("org/M-GGUF", sum(newer))); !os.IsNotExist(err) {
		t.Errorf("the corrupted file became a blob: %v", err)
	}
	m, err := p.Cache.Find(Name{Repo: "org/M-GGUF"})
	if err != nil || m.Commit != first {
		t.Errorf("Find after the failed pull: %+v %v", m, err)
	}
}

// TestPullSplit: every part of a split GGUF comes, and the name stands for
// all of them.
func TestPullSplit(t *testing.T) {
	h, p := setup(t)
	a, b, c := fakeModel(300000, 7), fakeModel(200000, 8), fakeModel(5, 9)
	commit := h.Publish("org/M-GGUF",
		hubtest.File{Path: "Q8_0/M-Q8_0-00001-of-00002.gguf", Data: a, LFS: true},
		hubtest.File{Path: "Q8_0/M-Q8_0-00002-of-00002.gguf", Data: b, LFS: true},
		hubtest.File{Path: "M-Q4_K_M.gguf", Data: c, LFS: true})
	got, err := pull(t, p, "org/M-GGUF:Q8_0")
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, p.Cache, "org/M-GGUF", commit, "Q8_0/M-Q8_0-00001-of-00002.gguf", a)
	checkLayout(t, p.Cache, "org/M-GGUF", commit, "Q8_0/M-Q8_0-00002-of-00002.gguf", b)
	if len(got.Model.Paths) != 2 || h.Sent() != int64(len(a)+len(b)) {
		t.Errorf("paths %v, the CDN sent %d", got.Model.Paths, h.Sent())
	}
	models, err := p.Cache.Models()
	if err != nil || len(models) != 1 || models[0].Name != "org/M-GGUF:Q8_0" || models[0].Size() != int64(len(a)+len(b)) {
		t.Errorf("Models: %+v %v", models, err)
	}
}

// TestPullOutsideLFS: a file outside LFS comes from the resolve URL itself
// and is checked by its git blob hash.
func TestPullOutsideLFS(t *testing.T) {
	h, p := setup(t)
	data := []byte("GGUF tiny, not in LFS")
	commit := h.Publish("org/small", hubtest.File{Path: "small.gguf", Data: data})
	if _, err := pull(t, p, "org/small"); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(p.Cache.RepoDir("org/small"), "snapshots", commit, "small.gguf")
	if got, err := os.ReadFile(link); err != nil || !bytes.Equal(got, data) {
		t.Errorf("%s: %q %v", link, got, err)
	}
	if target, _ := os.Readlink(link); !strings.HasPrefix(target, "../../blobs/") || len(filepath.Base(target)) != 40 {
		t.Errorf("%s -> %s, want a git blob hash", link, target)
	}
}

// TestPullExpired: a CDN URL that expired mid-download is asked for again.
func TestPullExpired(t *testing.T) {
	h, p := setup(t)
	data := fakeModel(1<<20, 10)
	commit := h.Publish("org/M-GGUF", hubtest.File{Path: "M-Q4_K_M.gguf", Data: data, LFS: true})
	h.CutAfter(100000)
	h.Expire() // every URL given out so far is refused from now on
	if _, err := pull(t, p, "org/M-GGUF"); err != nil {
		t.Fatal(err)
	}
	checkLayout(t, p.Cache, "org/M-GGUF", commit, "M-Q4_K_M.gguf", data)
}

// TestPullNoRanges: a server that ignores Range is read in one stream.
func TestPullNoRanges(t *testing.T) {
	h, p := setup(t)
	data := fakeModel(1<<20, 11)
	commit := h.Publish("org/M-GGUF", hubtest.File{Path: "M-Q4_K_M.gguf", Data: data, LFS: true})
	h.NoRanges(true)
	if _, err := pull(t, p, "org/M-GGUF"); err != nil {
		t.Fatal(err)
	}
	checkLayout(t, p.Cache, "org/M-GGUF", commit, "M-Q4_K_M.gguf", data)
}

func TestPullErrors(t *testing.T) {
	h, p := setup(t)
	h.Publish("org/M-GGUF", hubtest.File{Path: "M-Q8_0.gguf", Data: []byte("x"), LFS: true})
	h.Publish("org/gated", hubtest.File{Path: "g-Q4_K_M.gguf", Data: []byte("y"), LFS: true})
	h.Gate("org/gated", "hf_other")
	for _, c := range []struct {
		name string
		want error
		says string
	}{
		{"org/missing", ErrRepoNotFound, "HF_TOKEN"},
		{"org/gated", ErrGated, "accept its conditions"},
		{"org/M-GGUF:Q4_K_M", ErrNoMatch, "it has Q8_0"},
		{"org/M-GGUF:other.gguf", ErrNoMatch, "no model file other.gguf"},
	} {
		_, err := pull(t, p, c.name)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) || strings.Count(err.Error(), "hub:") != 1 {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.want, c.says)
		}
	}
	p.Client.Token = "hf_other"
	if _, err := pull(t, p, "org/gated"); err != nil {
		t.Errorf("the gated repository with its token: %v", err)
	}
}

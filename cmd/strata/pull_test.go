package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"strata/internal/hubtest"
)

// The repository and file the mistral-7b alias names, served by a fake Hub.
const (
	mistralRepo = "bartowski/Mistral-7B-Instruct-v0.3-GGUF"
	mistralFile = "Mistral-7B-Instruct-v0.3-Q4_K_M.gguf"
)

// fakeHub starts a Hub on loopback and the environment that points
// strata at it, with an empty cache.
func fakeHub(t *testing.T) (*hubtest.Hub, []string, string) {
	t.Helper()
	h := hubtest.New()
	t.Cleanup(h.Close)
	home := t.TempDir()
	cache := filepath.Join(home, "hub")
	return h, []string{"HF_ENDPOINT=" + h.API.URL, "HF_HOME=" + home, "HF_HUB_CACHE=" + cache, "HF_TOKEN=hf_test", "STRATA_MODELS_DIR="}, cache
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// publishTiny publishes the tiny model as mistral-7b's Q4_K_M file, beside
// a README and a Q8_0 file that a pull of Q4_K_M leaves alone.
func publishTiny(t *testing.T, h *hubtest.Hub) (data []byte, commit string) {
	t.Helper()
	data, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	commit = h.Publish(mistralRepo,
		hubtest.File{Path: ".gitattributes", Data: []byte("*.gguf filter=lfs diff=lfs merge=lfs -text\n")},
		hubtest.File{Path: "README.md", Data: []byte("# Mistral-7B-Instruct-v0.3-GGUF\n")},
		hubtest.File{Path: mistralFile, Data: data, LFS: true},
		hubtest.File{Path: "Mistral-7B-Instruct-v0.3-Q8_0.gguf", Data: []byte("another quantization"), LFS: true})
	return data, commit
}

// partial is the bytes of the downloads under way in a repository's blobs.
func partial(t *testing.T, repoDir string) int64 {
	parts, _ := filepath.Glob(filepath.Join(repoDir, "blobs", "*.incomplete*"))
	var n int64
	for _, p := range parts {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// checkCached checks the hub cache layout: snapshots/COMMIT/FILE a
// relative link to blobs/SHA256 holding data, refs/main the commit.
func checkCached(t *testing.T, repoDir, commit, file string, data []byte) string {
	t.Helper()
	link := filepath.Join(repoDir, "snapshots", commit, filepath.FromSlash(file))
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("snapshot link: %v", err)
	}
	want, _ := filepath.Rel(filepath.Dir(link), filepath.Join(repoDir, "blobs", sha(data)))
	if target != want {
		t.Errorf("%s -> %s, want %s", link, target, want)
	}
	if got, err := os.ReadFile(link); err != nil || !slices.Equal(got, data) {
		t.Errorf("%s does not hold the file (%v)", link, err)
	}
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err != nil || string(ref) != commit {
		t.Errorf("refs/main = %q (%v), want %s", ref, err, commit)
	}
	return link
}

type listRow struct {
	Name, Source, Architecture, Quantization, Path, Error string
	Parameters, Size, Context                             int64
	Files                                                 int
}

func listJSON(t *testing.T, env []string, args ...string) []listRow {
	t.Helper()
	out, errs, code := strataEnv(t, env, append([]string{"list", "--json"}, args...)...)
	var rows []listRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("list: exit %d: %s %s", code, out, errs)
	}
	return rows
}

// greedy runs 4 greedy tokens of model and returns them.
func greedy(t *testing.T, env []string, model string) []int32 {
	t.Helper()
	out, errs, code := strataEnv(t, env, "run", model, "-p", "Once upon a time", "-n", "4", "--temp", "0", "--ignore-eos", "--json", "--backend", "cpu")
	var r struct{ Tokens []int32 }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.Tokens) != 4 {
		t.Fatalf("run %s: exit %d: %s %s", model, code, out, errs)
	}
	return r.Tokens
}

// TestPullResumeListRun is the pull acceptance check through the binary
// against a fake Hub: a pull killed (SIGKILL) halfway is resumed by the
// next, which is sent only the bytes the first did not write; the file
// lands in the hub cache layout; list shows it; run takes its name.
func TestPullResumeListRun(t *testing.T) {
	h, env, cache := fakeHub(t)
	data, commit := publishTiny(t, h)
	repoDir := filepath.Join(cache, "models--bartowski--Mistral-7B-Instruct-v0.3-GGUF")
	size := int64(len(data))

	h.StallAfter(size / 2)
	cmd := exec.Command(strataBin, "pull", "mistral-7b")
	cmd.Env = append(os.Environ(), env...)
	var errs strings.Builder
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(30 * time.Second); h.Sent() < size/2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			cmd.Process.Kill()
			t.Fatalf("the first pull did not get halfway: %d of %d bytes sent: %s", h.Sent(), size, errs.String())
		}
	}
	// Let what was sent reach the files, then kill the pull.
	for prev := int64(-1); partial(t, repoDir) != prev; time.Sleep(200 * time.Millisecond) {
		prev = partial(t, repoDir)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	kept, sentFirst := partial(t, repoDir), h.Sent()
	parts, _ := filepath.Glob(filepath.Join(repoDir, "blobs", "*.incomplete*"))
	if kept <= 0 || kept >= size || len(parts) != 4 {
		t.Fatalf("after the kill: %d bytes in %d partial files, of %d", kept, len(parts), size)
	}
	if _, err := os.Stat(filepath.Join(repoDir, "refs", "main")); err == nil {
		t.Error("refs/main written before the file was whole")
	}
	if !h.WaitIdle(10 * time.Second) {
		t.Fatal("the CDN still answers the killed pull")
	}
	h.Release()
	h.ResetSent()

	out, serr, code := strataEnv(t, env, "pull", "mistral-7b")
	if code != 0 {
		t.Fatalf("second pull: exit %d: %s", code, serr)
	}
	link := checkCached(t, repoDir, commit, mistralFile, data)
	if strings.TrimSpace(out) != link {
		t.Errorf("pull printed %q, want %s", out, link)
	}
	if h.Sent() != size-kept {
		t.Errorf("the resumed pull was sent %d bytes; %d of %d were on disk, so %d were missing", h.Sent(), kept, size, size-kept)
	}
	t.Logf("killed after the CDN sent %d of %d bytes, %d of them written in %d ranges; the resumed pull was sent %d (= %d - %d)",
		sentFirst, size, kept, len(parts), h.Sent(), size, kept)
	for _, r := range h.Requests() {
		if r.Server == "cdn" && (r.Authorization != "" || r.Range == "") {
			t.Errorf("CDN request %s with Authorization %q, Range %q", r.Path, r.Authorization, r.Range)
		}
		if r.Server == "hub" && r.Authorization != "Bearer hf_test" {
			t.Errorf("hub request %s without the token: %q", r.Path, r.Authorization)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(repoDir, "blobs", "*")); len(left) != 1 {
		t.Errorf("blobs: %v, want the one file", left)
	}
	if !strings.Contains(serr, "msg=downloaded") || !strings.Contains(serr, "file="+mistralFile) {
		t.Errorf("no log line for the file: %s", serr)
	}

	rows := listJSON(t, env)
	want := listRow{Name: mistralRepo + ":Q4_K_M", Source: "hub", Architecture: "llama", Quantization: "Q4_K_M",
		Path: link, Size: size, Context: 4096, Files: 1, Parameters: rows[0].Parameters}
	if len(rows) != 1 || rows[0] != want || rows[0].Parameters < 8_000_000 {
		t.Fatalf("list: %+v, want %+v", rows, want)
	}
	table, _, _ := strataEnv(t, env, "list")
	for _, s := range []string{"NAME", "QUANT", mistralRepo + ":Q4_K_M", "Q4_K_M", "llama", "4096", link} {
		if !strings.Contains(table, s) {
			t.Errorf("list does not show %q:\n%s", s, table)
		}
	}

	base := greedy(t, nil, tinyModel)
	for _, name := range []string{mistralRepo + ":Q4_K_M", "mistral-7b", mistralRepo, mistralRepo + ":" + mistralFile} {
		if got := greedy(t, env, name); !slices.Equal(got, base) {
			t.Errorf("run %s: %v, the file itself gives %v", name, got, base)
		}
	}

	// chat and server take the name too.
	chat := exec.Command(strataBin, "chat", "mistral-7b", "--chat-template", "mistral-v3", "-n", "3", "--backend", "cpu")
	chat.Env = append(os.Environ(), env...)
	chat.Stdin = strings.NewReader("Hello\n/exit\n")
	if out, err := chat.CombinedOutput(); err != nil || !strings.Contains(string(out), "> ") {
		t.Errorf("chat mistral-7b: %v: %s", err, out)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v) // startServer's process inherits them
	}
	srv := startServer(t, "mistral-7b")
	resp, err := http.Get(srv.url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"Mistral-7B-Instruct-v0.3-Q4_K_M"`) {
		t.Errorf("server mistral-7b: /v1/models %d %s", resp.StatusCode, body)
	}
}

// TestPullCorrupt: a byte flipped on the way to a new commit's file is
// reported with both hashes; the model pulled before still runs.
func TestPullCorrupt(t *testing.T) {
	h, env, cache := fakeHub(t)
	data, commit := publishTiny(t, h)
	repoDir := filepath.Join(cache, "models--bartowski--Mistral-7B-Instruct-v0.3-GGUF")
	if _, errs, code := strataEnv(t, env, "pull", "mistral-7b"); code != 0 {
		t.Fatalf("pull: %s", errs)
	}
	newer := slices.Clone(data)
	newer[len(newer)-1] ^= 1
	h.Publish(mistralRepo, hubtest.File{Path: mistralFile, Data: newer, LFS: true})
	h.Corrupt(sha(newer), int64(len(newer)/3))
	bad := slices.Clone(newer)
	bad[len(bad)/3] ^= 0x40
	_, errs, code := strataEnv(t, env, "pull", "mistral-7b")
	if code != 1 || strings.Count(strings.TrimSpace(errs), "strata: ") != 1 {
		t.Fatalf("pull of a corrupted file: exit %d: %s", code, errs)
	}
	for _, s := range []string{mistralFile, "sha256 is " + sha(bad), "the hub lists " + sha(newer), "nothing in the cache changed"} {
		if !strings.Contains(errs, s) {
			t.Errorf("the error does not say %q: %s", s, errs)
		}
	}
	t.Logf("reported: %s", strings.TrimSpace(errs))
	checkCached(t, repoDir, commit, mistralFile, data)
	if _, err := os.Stat(filepath.Join(repoDir, "blobs", sha(newer))); !os.IsNotExist(err) {
		t.Errorf("the corrupted download became a blob (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(repoDir, "blobs", "*.incomplete*")); len(left) != 0 {
		t.Errorf("the corrupted download is left: %v", left)
	}
	greedy(t, env, "mistral-7b")
}

// TestPullSplit: a split GGUF comes whole; list shows it as one model of
// both parts; run says how to join it; rm takes it out of the cache.
func TestPullSplit(t *testing.T) {
	h, env, cache := fakeHub(t)
	parts, err := hubtest.SplitGGUF(tinyModel, 2)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"Q4_K_M/tiny-Q4_K_M-00001-of-00002.gguf", "Q4_K_M/tiny-Q4_K_M-00002-of-00002.gguf"}
	commit := h.Publish("org/Tiny-GGUF",
		hubtest.File{Path: files[0], Data: parts[0], LFS: true},
		hubtest.File{Path: files[1], Data: parts[1], LFS: true},
		hubtest.File{Path: "tiny-Q8_0.gguf", Data: []byte("not this one"), LFS: true})
	if _, errs, code := strataEnv(t, env, "pull", "org/Tiny-GGUF:q4_k_m"); code != 0 {
		t.Fatalf("pull: %s", errs)
	}
	repoDir := filepath.Join(cache, "models--org--Tiny-GGUF")
	link := checkCached(t, repoDir, commit, files[0], parts[0])
	checkCached(t, repoDir, commit, files[1], parts[1])
	if h.Sent() != int64(len(parts[0])+len(parts[1])) {
		t.Errorf("the CDN sent %d bytes for parts of %d and %d", h.Sent(), len(parts[0]), len(parts[1]))
	}
	single := listJSON(t, nil, "--models-dir", tinyDir)
	rows := listJSON(t, env)
	if len(rows) != 1 || rows[0].Name != "org/Tiny-GGUF:Q4_K_M" || rows[0].Files != 2 || rows[0].Path != link ||
		rows[0].Size != int64(len(parts[0])+len(parts[1])) || rows[0].Quantization != "Q4_K_M" || rows[0].Parameters != single[0].Parameters {
		t.Fatalf("list: %+v (the single file: %+v)", rows, single)
	}
	_, errs, code := strataEnv(t, env, "run", "org/Tiny-GGUF:Q4_K_M", "-p", "x", "-n", "1")
	if code != 1 || !strings.Contains(errs, "split into 2 files") || !strings.Contains(errs, "llama-gguf-split --merge") {
		t.Errorf("run of a split: exit %d: %s", code, errs)
	}
	out, errs, code := strataEnv(t, env, "rm", "org/Tiny-GGUF:Q4_K_M")
	if code != 0 || !strings.Contains(out, "removed org/Tiny-GGUF:Q4_K_M") {
		t.Fatalf("rm: exit %d: %s %s", code, out, errs)
	}
	if _, err := os.Stat(repoDir); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", repoDir, err)
	}
	if rows := listJSON(t, env); len(rows) != 0 {
		t.Errorf("list after rm: %+v", rows)
	}
}

// TestModelNames: names that are not in the cache, or not models, are
// refused in one line that says what to do.
func TestModelNames(t *testing.T) {
	h, env, _ := fakeHub(t)
	publishTiny(t, h)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "mistral-7b", "-p", "x"}, "not in the cache: " + mistralRepo + ":Q4_K_M"},
		{[]string{"chat", "mistral-7b"}, "run 'strata pull " + mistralRepo + ":Q4_K_M'"},
		{[]string{"run", "org/none:Q4_K_M", "-p", "x"}, "not in the cache"},
		{[]string{"pull", "org/none"}, "repository not found"},
		{[]string{"pull", mistralRepo + ":Q2_K"}, "has no quantization Q2_K; it has Q4_K_M, Q8_0"},
		{[]string{"pull", "nonsense"}, "not ORG/NAME[:TAG|:FILE] or one of the aliases magistral-small, mistral-7b"},
		{[]string{"rm", "org/none"}, "not in the cache"},
		{[]string{"run", "missing/model.gguf", "-p", "x"}, "no such file"},
	} {
		_, errs, code := strataEnv(t, env, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d: %s; want one line with %q", c.args, code, errs, c.want)
		}
	}
}

// TestListModelsDir: list shows the GGUF files and split manifests of
// --models-dir, with their metadata, and not a manifest's fragments.
func TestListModelsDir(t *testing.T) {
	_, env, _ := fakeHub(t)
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(mustAbs(t, tinyDir), "tiny-mistral-q4km.gguf"), filepath.Join(dir, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := strata(t, "split", tinyModel, "--parts", "2", "-o", filepath.Join(dir, "split")); code != 0 {
		t.Fatal(errs)
	}
	rows := listJSON(t, env, "--models-dir", dir)
	if len(rows) != 2 || rows[0].Name != "split" || rows[1].Name != "tiny.gguf" {
		t.Fatalf("list: %+v", rows)
	}
	for _, r := range rows {
		if r.Source != "dir" || r.Architecture != "llama" || r.Quantization != "Q4_K_M" || r.Context != 4096 || r.Error != "" {
			t.Errorf("row %+v", r)
		}
	}
	if rows[0].Files != 2 || rows[0].Parameters != rows[1].Parameters {
		t.Errorf("the split has %d files and %d parameters, the model %d", rows[0].Files, rows[0].Parameters, rows[1].Parameters)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

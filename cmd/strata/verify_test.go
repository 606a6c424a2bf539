package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"strata/gguf"
)

var (
	faultsOnce sync.Once
	faultsPath string
	faultsErr  error
)

// faultsBin builds strata with -tags faults: STRATA_FAULT then flips a
// bit of a chosen layer's output (engine/fault.go). The shipped binary
// has no such switch.
func faultsBin(t *testing.T) string {
	faultsOnce.Do(func() {
		faultsPath = filepath.Join(filepath.Dir(strataBin), "strata-faults")
		out, err := exec.Command("go", "build", "-tags", "faults", "-o", faultsPath, ".").CombinedOutput()
		if err != nil {
			faultsErr = &buildError{string(out)}
		}
	})
	if faultsErr != nil {
		t.Fatal(faultsErr)
	}
	return faultsPath
}

type buildError struct{ out string }

func (e *buildError) Error() string { return "building strata -tags faults: " + e.out }

// runVerify runs verify with --json and decodes the report.
func runVerify(t *testing.T, bin string, env []string, args ...string) (verifyReport, int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"verify", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	var r verifyReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("verify %v: %v: %s %s", args, err, out, stderr.String())
	}
	return r, cmd.ProcessState.ExitCode(), stderr.String()
}

// TestVerify: on the tiny model, verify through the CPU, Vulkan
// (lavapipe) and 3 peers finds every layer within the bar and passes.
func TestVerify(t *testing.T) {
	dir, swarm := swarmDir(t)
	var peers []string
	for i, name := range []string{"first", "middle", "last"} {
		peers = append(peers, startServe(t, dir, swarm, i, name).addr)
	}
	dump := t.TempDir()
	for _, c := range []struct {
		name   string
		args   []string
		checks int
	}{
		{"cpu", []string{tinyModel, "--backend", "cpu", "--dump", dump}, 8},
		{"vulkan", []string{tinyModel, "--backend", "vulkan"}, 8},
		{"peers", []string{filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm, "--peers", strings.Join(peers, ",")}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "vulkan" {
				haveVulkan(t)
			}
			r, code, stderr := runVerify(t, strataBin, nil, c.args...)
			if code != 0 || r.Verdict != "pass" || len(r.Checks) != c.checks || r.Logits.Positions != r.Tokens {
				t.Fatalf("exit %d, verdict %s, %d checks, %d of %d positions: %s", code, r.Verdict, len(r.Checks), r.Logits.Positions, r.Tokens, stderr)
			}
			worst := 0.0
			for _, ch := range r.Checks {
				worst = max(worst, ch.NMSE)
				if c.name == "peers" && ch.Peer == "" {
					t.Errorf("layer %d: no peer named", ch.Layer)
				}
			}
			t.Logf("%s: worst layer NMSE %.3g, logits %.3g, top-%d agreement %.0f%%; exact pass %.0f ms, %s %.0f ms",
				c.name, worst, r.Logits.NMSE, r.Logits.TopK, 100*r.Logits.Agreement, r.ExactMS, r.Path, r.EngineMS)
		})
	}
	// The dump holds every layer's states, computed and exact.
	files, _ := filepath.Glob(filepath.Join(dump, "*.f32"))
	if len(files) != 2*(8+1) {
		t.Errorf("the dump holds %d files, want %d", len(files), 2*(8+1))
	}
}

// TestVerifyFault: with one bit flipped in one layer's output (the
// faults build), verify names that layer and stage, and through peers
// that peer, and exits 1.
func TestVerifyFault(t *testing.T) {
	bin := faultsBin(t)
	for _, stage := range []string{"attention", "feed-forward"} {
		r, code, stderr := runVerify(t, bin, []string{"STRATA_FAULT=layer=2,stage=" + stage}, tinyModel, "--backend", "cpu")
		if code != 1 || r.Verdict != "fail" || r.Failure == nil || r.Failure.Layer != 2 || r.Failure.Stage != stage {
			t.Errorf("a fault in layer 2 %s: exit %d, verdict %s, failure %+v: %s", stage, code, r.Verdict, r.Failure, stderr)
			continue
		}
		t.Logf("layer 2 %s: named, NMSE %.3g", stage, r.Failure.NMSE)
	}
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	bad := startServeWith(t, bin, []string{"STRATA_FAULT=layer=1,stage=feed-forward"}, dir, swarm, 1, "middle")
	last := startServe(t, dir, swarm, 2, "last")
	r, code, stderr := runVerify(t, strataBin, nil, filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm,
		"--peers", strings.Join([]string{first.addr, bad.addr, last.addr}, ","))
	if code != 1 || r.Failure == nil || r.Failure.Layer != 2 || r.Failure.Peer != bad.addr || r.Failure.ID == "" {
		t.Fatalf("a faulty middle peer: exit %d, failure %+v: %s", code, r.Failure, stderr)
	}
	t.Logf("the faulty peer named: %s (%s), layer %d, NMSE %.3g", r.Failure.Peer, r.Failure.ID, r.Failure.Layer, r.Failure.NMSE)
}

// plant writes to dst the GGUF file at src with the bytes at off within
// tensor name's data replaced by b.
func plant(t *testing.T, src, dst, name string, off int, b []byte) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	prefix := bytes.Clone(f.TensorData(ti)[:256])
	f.Close()
	at := bytes.Index(raw, prefix)
	if at < 0 || bytes.Index(raw[at+1:], prefix) >= 0 {
		t.Fatalf("tensor %s not found once in %s", name, src)
	}
	copy(raw[at+off:], b)
	if err := os.WriteFile(dst, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyWeights: verify --weights finds a NaN scale planted in one
// block of a Q4_K tensor, and a fragment whose tensor bytes differ from
// the manifest's hash; the untouched files pass.
func TestVerifyWeights(t *testing.T) {
	if out, errs, code := strata(t, "verify", "--weights", tinyModel); code != 0 || !strings.Contains(out, "0 failed") {
		t.Fatalf("the tiny model: exit %d %s %s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "nan.gguf")
	plant(t, tinyModel, bad, "blk.0.attn_output.weight", 5*144, []byte{0x00, 0x7e}) // block 5's d: an f16 NaN
	out, errs, code := strata(t, "verify", "--weights", bad)
	if code != 1 || !strings.Contains(out, `tensor "blk.0.attn_output.weight": block 5 has scale d = NaN`) || !strings.Contains(out, "1 failed") {
		t.Errorf("a NaN scale: exit %d: %s %s", code, out, errs)
	}
	t.Logf("a NaN scale: %s", strings.TrimSpace(out))

	dir, _ := swarmDir(t)
	split := filepath.Join(dir, "split")
	if out, errs, code := strata(t, "verify", "--weights", filepath.Join(split, "manifest.json")); code != 0 {
		t.Fatalf("the split: exit %d %s %s", code, out, errs)
	}
	frags, _ := filepath.Glob(filepath.Join(split, "*.02-of-03.gguf"))
	if len(frags) != 1 {
		t.Fatalf("fragments %v", frags)
	}
	plant(t, frags[0], frags[0], "blk.1.ffn_down.weight", 1000, []byte{0x5a})
	out, errs, code = strata(t, "verify", "--weights", filepath.Join(split, "manifest.json"), "--json")
	var r weightsReport
	if code != 1 || json.Unmarshal([]byte(out), &r) != nil || r.Verdict != "fail" {
		t.Fatalf("an altered fragment: exit %d: %s %s", code, out, errs)
	}
	named := false
	for _, f := range r.Failures {
		if f.File == filepath.Base(frags[0]) && f.Tensor == "blk.1.ffn_down.weight" && strings.Contains(f.Error, "the manifest says") {
			named = true
		}
	}
	if !named {
		t.Errorf("the altered tensor is not named: %+v", r.Failures)
	}
	t.Logf("an altered fragment: %+v", r.Failures)
}

// TestVerifyRate: with --verify-rate 0.1, a middle peer that returns
// perturbed activations (the faults build) is caught at its first
// forward, which is always checked, against the fragment beside the
// manifest; it loses its layers to the replica before any token is drawn,
// and the tokens are those of an honest route. On the honest route,
// checking changes no token.
func TestVerifyRate(t *testing.T) {
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	honest := startServe(t, dir, swarm, 1, "honest")
	last := startServe(t, dir, swarm, 2, "last")
	bad := startServeWith(t, faultsBin(t), []string{"STRATA_FAULT=layer=2,stage=feed-forward,bit=26"}, dir, swarm, 1, "bad")
	run := func(peers []string, extra ...string) (peersResult, string) {
		t.Helper()
		args := append([]string{"--verbose", "run", filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm,
			"--peers", strings.Join(peers, ","), "-p", "Once upon a time", "-n", "64", "--temp", "0", "--ignore-eos", "--json"}, extra...)
		out, errs, code := strata(t, args...)
		var r peersResult
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("run %v: exit %d: %s", extra, code, errs)
		}
		return r, errs
	}
	want, _ := run([]string{first.addr, honest.addr, last.addr})
	perturbed, _ := run([]string{first.addr, bad.addr, last.addr})
	if slices.Equal(perturbed.Tokens, want.Tokens) {
		t.Fatal("the perturbed peer changes no token: the test would prove nothing")
	}
	checked, _ := run([]string{first.addr, honest.addr, last.addr}, "--verify-rate", "0.1")
	if !slices.Equal(checked.Tokens, want.Tokens) {
		t.Errorf("checking an honest route changed its tokens")
	}
	got, errs := run([]string{first.addr, bad.addr, honest.addr, last.addr}, "--verify-rate", "0.1")
	if !slices.Equal(got.Tokens, want.Tokens) {
		t.Errorf("with the perturbing peer caught: %v\nhonest: %v", got.Tokens, want.Tokens)
	}
	caught, firstToken := strings.Index(errs, "differs from its witness"), strings.Index(errs, "msg=token n=1 ")
	if got.Peers[1].Addr != honest.addr || got.Peers[1].Replaced != 1 || caught < 0 || caught > firstToken {
		t.Errorf("the middle hop %+v; caught at byte %d of the log, the first token at %d", got.Peers[1], caught, firstToken)
	}
	t.Logf("caught before the first token; hops checked %d, %d, %d times", got.Peers[0].Checked, got.Peers[1].Checked, got.Peers[2].Checked)
}

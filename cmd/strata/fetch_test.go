package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveFetching starts `strata serve` of fragment 1 in dir, fetching it
// from holder, and returns its stderr once it listens (or exits).
func serveFetching(t *testing.T, dir, swarm, holder string) (*peerProcess, string, error) {
	t.Helper()
	addrFile := filepath.Join(dir, "fetcher.addr")
	os.Remove(addrFile)
	cmd := exec.Command(strataBin, "serve", filepath.Join(dir, "split"), "--fragment", "1", "--listen", "127.0.0.1:0",
		"--addr-file", addrFile, "--swarm", swarm, "--backend", "cpu", "-t", "1", "--fetch-from", holder)
	var errs bytes.Buffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// One goroutine waits for the process; kill waits for it, never
	// calling Wait a second time (two Waits at once hang).
	p := &peerProcess{cmd: cmd, waited: make(chan struct{})}
	t.Cleanup(p.kill)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); close(p.waited) }()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(25 * time.Millisecond) {
		select {
		case err := <-exited:
			return p, errs.String(), fmt.Errorf("serve exited: %v", err)
		default:
		}
		if a, err := os.ReadFile(addrFile); err == nil && len(a) > 0 {
			p.addr = strings.TrimSpace(string(a))
			return p, errs.String(), nil
		}
	}
	t.Fatalf("serve neither listened nor exited: %s", errs.String())
	return nil, "", nil
}

// TestFetchResume: a peer whose fragment fetch was cut short resumes it
// from the bytes it kept (a prefix of the file), whichever peer it asks;
// a kept prefix that is wrong makes the whole file's sha256 differ, the
// file is removed, and the next start fetches it all.
func TestFetchResume(t *testing.T) {
	dir, swarm := swarmDir(t)
	holder := startServe(t, dir, swarm, 1, "holder")
	b, _ := os.ReadFile(filepath.Join(dir, "split", "manifest.json"))
	var m struct {
		Fragments []struct {
			File   string
			SHA256 string
			Size   int64
		}
	}
	json.Unmarshal(b, &m)
	fr := m.Fragments[1]
	data, err := os.ReadFile(filepath.Join(dir, "split", fr.File))
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	os.MkdirAll(filepath.Join(other, "split"), 0o755)
	os.WriteFile(filepath.Join(other, "split", "manifest.json"), b, 0o644)
	path := filepath.Join(other, "split", fr.File)
	half := int64(len(data) / 2)

	// A wrong byte in the kept prefix: the peers' bytes are added to it, and
	// the whole is refused and removed, which shows the prefix was not fetched again.
	bad := append([]byte(nil), data[:half]...)
	bad[100] ^= 1
	os.WriteFile(path+".incomplete", bad, 0o644)
	_, errs, err := serveFetching(t, other, swarm, "127.0.0.1:1,"+holder.addr)
	if err == nil || !strings.Contains(errs, "the peers sent a file whose sha256 is") || !strings.Contains(errs, "it was removed") {
		t.Fatalf("a wrong prefix: %v: %s", err, errs)
	}
	if _, err := os.Stat(path + ".incomplete"); !os.IsNotExist(err) {
		t.Errorf("the wrong file was kept: %v", err)
	}

	// A right prefix: only the rest comes, and the fragment is served.
	os.WriteFile(path+".incomplete", data[:half], 0o644)
	fetcher, errs, err := serveFetching(t, other, swarm, holder.addr)
	if err != nil {
		t.Fatalf("resume: %v: %s", err, errs)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the fetched fragment differs (%v)", err)
	}
	want := fmt.Sprintf("size=%d fetched=%d resumed_from=%d", len(data), int64(len(data))-half, half)
	if !strings.Contains(errs, "msg=downloaded file="+fr.File+" "+want) {
		t.Errorf("the fetch's log line does not say %q: %s", want, errs)
	}
	t.Logf("resumed from byte %d of %d: %s", half, len(data), want)
	if out, serr, code := strata(t, "peers", "--peers", fetcher.addr, "--swarm", swarm, "--json"); code != 0 || !strings.Contains(out, fr.SHA256) {
		t.Errorf("peers: exit %d: %s %s", code, out, serr)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverProcess is a running `strata server`.
type serverProcess struct {
	cmd *exec.Cmd
	url string
	log string
}

// startServer starts `strata server MODEL args…` on a free loopback port
// (with no MODEL when model is empty: --models-dir).
func startServer(t *testing.T, model string, args ...string) *serverProcess {
	t.Helper()
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	logPath := filepath.Join(dir, "server.log")
	log, _ := os.Create(logPath)
	all := []string{"server"}
	if model != "" {
		all = append(all, model)
	}
	all = append(append(all, "--port", "0", "--addr-file", addrFile, "--backend", "cpu", "-t", "1"), args...)
	cmd := exec.Command(strataBin, all...)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serverProcess{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the server did not stop within 10 s of SIGTERM")
		}
		log.Close()
	})
	for range 400 {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			s.url = "http://" + strings.TrimSpace(string(b))
			return s
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("the server did not start: %s", b)
	return nil
}

func (s *serverProcess) logText() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// needTool finds a program the test needs; without it the test skips,
// unless CI is set (there .ci/run installs it).
func needTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found, and CI is set (.ci/run installs it)", names[0])
	}
	t.Skipf("%s not found (apt-get install %s; CI fails instead of skipping)", names[0], names[0])
	return ""
}

// openaiClient returns the path of the openai client script, whose
// pinned package .ci/run installs with npm ci.
func openaiClient(t *testing.T) string {
	needTool(t, "node")
	dir := filepath.Join("testdata", "openai")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the openai package is not installed in %s, and CI is set (.ci/run runs npm ci there)", dir)
		}
		t.Skipf("the openai package is not installed (npm ci --prefix %s)", dir)
	}
	return filepath.Join(dir, "client.mjs")
}

// post sends a JSON body and returns the status, the headers and the body.
func post(t *testing.T, url, key string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// errorMessage is the message of an OpenAI error body.
func errorMessage(t *testing.T, body []byte) (message, param string) {
	t.Helper()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Param   *string `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error: %s", body)
	}
	if e.Error.Param != nil {
		param = *e.Error.Param
	}
	return e.Error.Message, param
}

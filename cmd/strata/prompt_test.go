package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLongPromptStopsAtContext gives run a 50 MB prompt: tokenizing stops
// as soon as the count passes the context, so it is refused at once, in
// little more memory than the prompt's own bytes (it took 7.2 GB and 177 s
// to tokenize whole, then was refused).
func TestLongPromptStopsAtContext(t *testing.T) {
	prompt := writeFile(t, "prompt.txt", bytes.Repeat([]byte("Once upon a time, there was a little robot who "), 50<<20/48))
	cmd, peakRSS := peakRSSCommand(t, strataBin, "run", tinyModel, "-f", prompt, "-n", "1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Run()
	timer.Stop()
	elapsed := time.Since(start)
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("killed after %v: %v", elapsed, err)
	}
	errorLine(t, out.String(), errb.String(), code, "context full: the prompt is at least")
	if !strings.Contains(errb.String(), "tokens, more than the context of 4096") {
		t.Errorf("stderr %q", errb.String())
	}
	rss := peakRSS()
	t.Logf("50 MB prompt refused in %v, peak RSS %d MiB", elapsed, rss>>20)
	// The prompt is read whole, in one copy (50 MB), beside the Vulkan
	// probe (about 50 MB with lavapipe's LLVM) and the model: 145 MiB
	// here, where reading it twice (file bytes, then a string) gave 196.
	if rss > 200<<20 {
		t.Errorf("peak RSS %d MiB, want at most 200", rss>>20)
	}
}

// TestPromptCheckedOnce: run and chat refuse a prompt past the context,
// from the same check (chat leaves out a message that does not fit even
// alone, and goes on).
func TestPromptCheckedOnce(t *testing.T) {
	long := strings.Repeat("once upon a time ", 40)
	_, errs, code := strata(t, "run", tinyModel, "-c", "64", "-p", long)
	errorLine(t, "", errs, code, "engine: context full: the prompt is")
	cmd := exec.Command(strataBin, "chat", tinyModel, "-c", "64", "--chat-template", "mistral-v3")
	cmd.Stdin = strings.NewReader(long + "\n")
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "(the message does not fit the context of 64 tokens, even alone: it is left out)") {
		t.Errorf("chat: %v, %q", err, out)
	}
}

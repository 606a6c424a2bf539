package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChat drives a chat through pipes: two turns, /clear, /exit.
func TestChat(t *testing.T) {
	cmd := exec.Command(strataBin, "chat", tinyModel, "--chat-template", "mistral-v3", "-n", "8", "-s", "3")
	cmd.Stdin = strings.NewReader("Hello there\nWhat next?\n/clear\nAgain\n/exit\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s := string(out)
	if strings.Count(s, "> ") < 4 || !strings.Contains(s, "(conversation cleared)") {
		t.Fatalf("transcript:\n%s", s)
	}
}

// TestChatInterrupt sends Ctrl-C (SIGINT) while an answer is being
// written: the answer stops, the session goes on and answers again.
func TestChatInterrupt(t *testing.T) {
	cmd := exec.Command(strataBin, "chat", tinyModel, "--chat-template", "mistral-v3", "-n", "-1", "--ignore-eos", "-c", "4096")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	r := bufio.NewReader(stdout)
	readUntil := func(what string) string {
		var seen strings.Builder
		deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
		defer deadline.Stop()
		for !strings.Contains(seen.String(), what) {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("waiting for %q: %v; got %q", what, err, seen.String())
			}
			seen.WriteByte(b)
		}
		return seen.String()
	}
	for turn := range 2 {
		readUntil("> ")
		io.WriteString(stdin, "Tell me a long story\n")
		// Wait for some of the answer, then interrupt it.
		var got []byte
		for len(got) < 40 {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b)
		}
		cmd.Process.Signal(syscall.SIGINT)
		readUntil("(stopped)")
		t.Logf("turn %d stopped after %q…", turn, got)
	}
	readUntil("> ")
	io.WriteString(stdin, "/exit\n")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("chat ended with %v", err)
	}
}

// TestTokenizeVocabVectors checks `strata tokenize VOCAB --no-bos --json
// TEXT` against every vector of both vocabularies.
func TestTokenizeVocabVectors(t *testing.T) {
	for _, name := range []string{"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf"} {
		dir := filepath.Join("..", "..", "testdata", "vocab")
		inp, _ := os.ReadFile(filepath.Join(dir, name+".inp"))
		outp, _ := os.ReadFile(filepath.Join(dir, name+".out"))
		texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
		texts = texts[:len(texts)-1]
		lines := strings.Split(strings.TrimSuffix(string(outp), "\n"), "\n")
		if len(texts) != len(lines) || len(texts) == 0 {
			t.Fatalf("%s: %d texts, %d lines", name, len(texts), len(lines))
		}
		for i, text := range texts {
			out, errs, code := strata(t, "tokenize", filepath.Join(dir, name), "--no-bos", "--json", "--", text)
			var got []int32
			if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
				t.Fatalf("%s %q: exit %d %q %q", name, text, code, out, errs)
			}
			var want []int32
			for _, f := range strings.Fields(lines[i]) {
				n, _ := strconv.Atoi(f)
				want = append(want, int32(n))
			}
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("%s %q: got %v want %v", name, text, got, want)
			}
		}
	}
}

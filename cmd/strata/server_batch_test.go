package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServerBatched: eight streams in flight together on eight slots of a
// local model, stepped as one batch (prompt chunks, one of them longer
// than a chunk, beside decode tokens), each get the tokens of their own
// `strata run --temp 0`.
func TestServerBatched(t *testing.T) {
	s := startServer(t, tinyModel, "-np", "8")
	prompts := []string{"Once upon a time", "The robot said", "Once upon a time, in a town", "Hello",
		strings.Repeat("The little robot walked to the park and saw a dog. ", 30), "Lily and Ben", "One day", "The sun"}
	got := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			time.Sleep(time.Duration(i%3) * 15 * time.Millisecond) // joining at different steps
			got[i] = streamText(t, s.url, p, 40)
		})
	}
	wg.Wait()
	for i, p := range prompts {
		out, errs, code := strata(t, "run", tinyModel, "-p", p, "--temp", "0", "-n", "40", "--ignore-eos", "--backend", "cpu", "-t", "1", "--json")
		var want runResult
		if code != 0 || json.Unmarshal([]byte(out), &want) != nil {
			t.Fatalf("run: %s", errs)
		}
		if got[i] != want.Text {
			t.Errorf("prompt %d batched with the others: %q\nalone: %q", i, got[i], want.Text)
		}
	}
}

// streamText streams a greedy completion of n tokens and returns its
// text (or the error, to differ from any text).
func streamText(t *testing.T, url, prompt string, n int) string {
	b, _ := json.Marshal(map[string]any{"prompt": prompt, "max_tokens": n, "temperature": 0, "ignore_eos": true, "stream": true})
	res, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	var text strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct{ Text string } `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return "bad chunk: " + data
		}
		for _, c := range chunk.Choices {
			text.WriteString(c.Text)
		}
	}
	return text.String()
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
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
			text, code, done, err := streamText(context.Background(), http.DefaultClient, s.url, p, 40, 0)
			if err != nil || code != 200 || !done {
				text = fmt.Sprintf("status %d, done %v: %v", code, done, err) // differs from any text
			}
			got[i] = text
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

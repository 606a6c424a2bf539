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

// TestServerPeersBatched: six streams in flight together on -np 6 through
// three peers (prompt chunks, one longer than a chunk, beside decode
// tokens) cross each hop as multi-session requests, and each gets the
// tokens of its own `strata run --temp 0` of the whole model.
func TestServerPeersBatched(t *testing.T) {
	dir, swarm := swarmDir(t)
	var addrs []string
	for i, name := range []string{"first", "middle", "last"} {
		addrs = append(addrs, startServe(t, dir, swarm, i, name).addr)
	}
	s := startServer(t, dir+"/split/manifest.json", "--peers", strings.Join(addrs, ","), "--swarm", swarm, "-np", "6")
	prompts := []string{"Once upon a time", "The robot said", "Hello",
		strings.Repeat("The little robot walked to the park and saw a dog. ", 30), "Lily and Ben", "The sun"}
	got := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			time.Sleep(time.Duration(i%3) * 15 * time.Millisecond) // joining at different steps
			text, code, done, err := streamText(context.Background(), http.DefaultClient, s.url, p, 32, 0)
			if err != nil || code != 200 || !done {
				text = fmt.Sprintf("status %d, done %v: %v", code, done, err) // differs from any text
			}
			got[i] = text
		})
	}
	wg.Wait()
	out, errs, code := strata(t, "peers", "--peers", strings.Join(addrs, ","), "--swarm", swarm, "--json")
	if code != 0 {
		t.Fatalf("peers: %s", errs)
	}
	var rows []struct {
		Info struct {
			Batches int64 `json:"batches"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != len(addrs) {
		t.Fatalf("peers: %v: %s", err, out)
	}
	for i, row := range rows {
		if row.Info.Batches < 20 {
			t.Errorf("peer %d served %d multi-session requests, want most steps batched", i, row.Info.Batches)
		}
	}
	for i, p := range prompts {
		out, errs, code := strata(t, "run", tinyModel, "-p", p, "--temp", "0", "-n", "32", "--ignore-eos", "--backend", "cpu", "-t", "1", "--json")
		var want runResult
		if code != 0 || json.Unmarshal([]byte(out), &want) != nil {
			t.Fatalf("run: %s", errs)
		}
		if got[i] != want.Text {
			t.Errorf("prompt %d batched through the peers: %q\nalone: %q", i, got[i], want.Text)
		}
	}
}

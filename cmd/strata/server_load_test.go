package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamText runs one streaming completion and returns its text, the
// status, and whether it ended with [DONE]; cancelAfter > 0 makes the
// client go away after that many chunks.
func streamText(ctx context.Context, client *http.Client, url, prompt string, maxTokens, cancelAfter int) (string, int, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body := fmt.Sprintf(`{"prompt":%q,"max_tokens":%d,"temperature":0,"ignore_eos":true,"stream":true}`, prompt, maxTokens)
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return "", 0, false, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return "", res.StatusCode, false, nil
	}
	var text strings.Builder
	sc := bufio.NewScanner(res.Body)
	chunks := 0
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			return text.String(), 200, true, nil
		}
		var c struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return "", 200, false, err
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Text)
		}
		if chunks++; cancelAfter > 0 && chunks >= cancelAfter {
			return text.String(), 200, false, nil
		}
	}
	return text.String(), 200, false, sc.Err()
}

// TestServerLoad: 300 requests from 16 clients, one in five going away
// midway, against 4 slots and a queue of 8: every request completes, or
// is refused with 503, or was cut by its client; afterwards the server's
// goroutines are back to where they started and its memory is bounded.
func TestServerLoad(t *testing.T) {
	s := startServer(t, tinyModel, "-np", "4", "--queue", "8", "--metrics")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if _, code, done, err := streamText(context.Background(), client, s.url, "Warm up", 4, 0); err != nil || code != 200 || !done {
		t.Fatalf("warm-up: %d %v", code, err)
	}
	time.Sleep(200 * time.Millisecond)
	before := scrape(t, s.url)
	goroutines, rss := value(before, "go_goroutines", nil), value(before, "process_resident_memory_bytes", nil)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := range 19 - c/12 { // 12 × 19 + 4 × 18 = 300
				n := c*19 + i
				cancelAfter := 0
				if n%5 == 4 {
					cancelAfter = 3
				}
				_, code, done, err := streamText(context.Background(), client, s.url, fmt.Sprintf("Request %d of client %d:", i, c), 12, cancelAfter)
				outcome := "other"
				switch {
				case err != nil:
					outcome = "error: " + err.Error()
				case code == 503:
					outcome = "503"
				case code == 200 && done:
					outcome = "completed"
				case code == 200 && cancelAfter > 0:
					outcome = "went away"
				}
				mu.Lock()
				counts[outcome]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	t.Logf("%d requests: %v", total, counts)
	if total != 300 || counts["completed"]+counts["503"]+counts["went away"] != 300 {
		t.Errorf("outcomes %v", counts)
	}
	var after float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := scrape(t, s.url)
		after = value(fams, "go_goroutines", nil)
		if after <= goroutines || time.Now().After(deadline) {
			rssAfter := value(fams, "process_resident_memory_bytes", nil)
			t.Logf("goroutines %v before, %v after; RSS %.1f MiB before, %.1f MiB after", goroutines, after, rss/(1<<20), rssAfter/(1<<20))
			if rssAfter > rss+200<<20 {
				t.Errorf("RSS grew from %.1f to %.1f MiB", rss/(1<<20), rssAfter/(1<<20))
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if after > goroutines {
		t.Errorf("%v goroutines after the load, %v before", after, goroutines)
	}
}

// TestServerPeerKilled: 8 streams through 3 peers (a replica of the middle
// one listed); the middle peer is killed while they run, and every stream
// finishes with the text it has without the kill.
func TestServerPeerKilled(t *testing.T) {
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	middle := startServe(t, dir, swarm, 1, "middle")
	last := startServe(t, dir, swarm, 2, "last")
	replica := startServe(t, dir, swarm, 1, "replica")
	s := startServer(t, dir+"/split/manifest.json", "--peers", strings.Join([]string{first.addr, middle.addr, replica.addr, last.addr}, ","),
		"--swarm", swarm, "-np", "8")
	client := &http.Client{}
	prompt := func(i int) string { return fmt.Sprintf("Stream %d: once upon a time", i) }
	want := make([]string, 8)
	for i := range want {
		text, code, done, err := streamText(context.Background(), client, s.url, prompt(i), 48, 0)
		if err != nil || code != 200 || !done {
			t.Fatalf("stream %d alone: %d %v", i, code, err)
		}
		want[i] = text
	}
	got := make([]string, 8)
	var wg sync.WaitGroup
	var once sync.Once
	errs := make([]error, 8)
	for i := range got {
		wg.Go(func() {
			text, code, done, err := streamText(context.Background(), client, s.url, prompt(i), 48, 0)
			if err == nil && (code != 200 || !done) {
				err = fmt.Errorf("status %d, done %v", code, done)
			}
			got[i], errs[i] = text, err
		})
	}
	time.Sleep(150 * time.Millisecond) // the streams are under way
	once.Do(middle.kill)
	wg.Wait()
	if n := strings.Count(s.logText(), "replica took over"); n == 0 {
		t.Errorf("no replica took over: the kill came after the streams")
	} else {
		t.Logf("the replica took over for %d slots", n)
	}
	for i := range got {
		if errs[i] != nil || got[i] != want[i] {
			t.Errorf("stream %d: %v\n%q\nwithout the kill:\n%q", i, errs[i], got[i], want[i])
		}
	}
	res, err := http.Get(s.url + "/api/swarm")
	if err == nil {
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		res.Body.Close()
		if !strings.Contains(b.String(), replica.addr) {
			t.Errorf("the swarm page does not list the replica: %s", b.String())
		}
	}
}

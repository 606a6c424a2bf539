package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	promodel "github.com/prometheus/common/model"
)

// TestServerBadInput: each kind of bad request gets a 4xx in OpenAI's
// error shape naming the problem, and the server goes on serving.
func TestServerBadInput(t *testing.T) {
	const key = "sekret"
	s := startServer(t, tinyModel, "--api-key", key, "-c", "256")
	chat := s.url + "/v1/chat/completions"
	good := []byte(`{"model":"tiny-mistral-q4km","messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"temperature":0}`)
	long := strings.Repeat("hello world ", 300)
	huge := bytes.Repeat([]byte(" "), 10<<20)
	copy(huge, `{"messages":[{"role":"user","content":"`)
	for _, c := range []struct {
		name, key string
		body      []byte
		status    int
		says      []string
		param     string
	}{
		{"no key", "", good, 401, []string{"API key"}, ""},
		{"wrong key", "nope", good, 401, []string{"API key"}, ""},
		{"bad JSON", key, []byte(`{"messages": [`), 400, []string{"not valid JSON"}, ""},
		{"not JSON", key, []byte(`hello`), 400, []string{"not valid JSON"}, ""},
		{"wrong type", key, []byte(`{"messages":[{"role":"user","content":"Hi"}],"temperature":"hot"}`), 400, []string{"temperature", "number", "string"}, "temperature"},
		{"wrong nested type", key, []byte(`{"messages":[{"role":"user","content":"Hi"}],"max_tokens":[1]}`), 400, []string{"max_tokens", "integer"}, "max_tokens"},
		{"out of range", key, []byte(`{"messages":[{"role":"user","content":"Hi"}],"top_p":3}`), 400, []string{"top_p", "[0, 1]", "3"}, "top_p"},
		{"unknown model", key, []byte(`{"model":"gpt-9","messages":[{"role":"user","content":"Hi"}]}`), 400, []string{`"gpt-9"`, "tiny-mistral-q4km"}, "model"},
		{"no messages", key, []byte(`{"messages":[]}`), 400, []string{"messages"}, "messages"},
		{"bad role", key, []byte(`{"messages":[{"role":"wizard","content":"Hi"}]}`), 400, []string{"wizard"}, "messages[0].role"},
		{"n = 2", key, []byte(`{"messages":[{"role":"user","content":"Hi"}],"n":2}`), 400, []string{"n = 1", "2"}, "n"},
		{"oversized prompt", key, []byte(`{"messages":[{"role":"user","content":"` + long + `"}]}`), 400, []string{"more than the context of 256"}, "messages"},
		{"10 MB body", key, huge, 413, []string{"larger than the limit"}, ""},
	} {
		status, _, body := post(t, chat, c.key, c.body)
		if status != c.status {
			t.Errorf("%s: status %d, want %d: %.300s", c.name, status, c.status, body)
			continue
		}
		msg, param := errorMessage(t, body)
		for _, w := range c.says {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", c.name, msg, w)
			}
		}
		if param != c.param {
			t.Errorf("%s: param %q, want %q", c.name, param, c.param)
		}
		if c.name == "oversized prompt" && !strings.Contains(msg, "the prompt is ") {
			t.Errorf("%s: %q does not give the prompt's length", c.name, msg)
		}
		// The server keeps serving.
		if status, _, body := post(t, chat, key, good); status != 200 {
			t.Fatalf("after %s, a good request: %d %s", c.name, status, body)
		}
	}
	// Completions check their prompt too.
	status, _, body := post(t, s.url+"/v1/completions", key, []byte(`{"prompt":[1,99999999]}`))
	if msg, _ := errorMessage(t, body); status != 400 || !strings.Contains(msg, "99999999") {
		t.Errorf("a token id out of the vocabulary: %d %s", status, body)
	}
	// /health needs no key.
	if res, err := http.Get(s.url + "/health"); err != nil || res.StatusCode != 200 {
		t.Errorf("/health: %v %v", res, err)
	}
}

// TestServerBusyAndGone: with one slot and a queue of one, a third
// request gets 503 with Retry-After; a client that goes away mid-stream
// frees its slot at once, and the metrics (parsed with Prometheus's
// parser) count it all.
func TestServerBusyAndGone(t *testing.T) {
	s := startServer(t, tinyModel, "-np", "1", "--queue", "1", "--metrics", "-c", "4096")
	before := scrape(t, s.url)
	if got := value(before, "strata_slots", nil); got != 1 {
		t.Errorf("strata_slots is %v, want 1", got)
	}
	// Two long streams: one in the slot, one queued.
	long := []byte(`{"messages":[{"role":"user","content":"Go on forever"}],"max_tokens":3000,"ignore_eos":true,"stream":true,"temperature":0}`)
	var streams []*http.Response
	for range 2 {
		res, err := http.Post(s.url+"/v1/chat/completions", "application/json", bytes.NewReader(long))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("a long stream: %v %v", res, err)
		}
		streams = append(streams, res)
	}
	r := bufio.NewReader(streams[0].Body)
	for range 3 { // the first stream is generating
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	status, hdr, body := post(t, s.url+"/v1/chat/completions", "", []byte(`{"messages":[{"role":"user","content":"Hi"}],"max_tokens":2}`))
	if msg, _ := errorMessage(t, body); status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(msg, "busy") {
		t.Errorf("a request past the slot and the queue: %d, Retry-After %q, %s", status, hdr.Get("Retry-After"), body)
	}
	// Both clients go away, the queued one first; the slot is free within
	// a token or so.
	gone := time.Now()
	streams[1].Body.Close()
	streams[0].Body.Close()
	var health struct {
		Processing int `json:"slots_processing"`
		Queued     int `json:"queued"`
	}
	for {
		res, err := http.Get(s.url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(res.Body).Decode(&health)
		res.Body.Close()
		if health.Processing == 0 && health.Queued == 0 {
			break
		}
		if time.Since(gone) > 5*time.Second {
			t.Fatalf("5 s after its clients went away the server is still busy: %+v", health)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("the slot was free %v after the clients went away", time.Since(gone).Round(time.Millisecond))
	after := scrape(t, s.url)
	generated := value(after, "strata_completion_tokens_total", nil) - value(before, "strata_completion_tokens_total", nil)
	if generated <= 0 || generated >= 2*3000 {
		t.Errorf("%v tokens generated for two streams cut off early", generated)
	}
	// Another request is served, and counted.
	status, _, body = post(t, s.url+"/v1/chat/completions", "", []byte(`{"messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"temperature":0,"ignore_eos":true}`))
	if status != 200 {
		t.Fatalf("after the clients went away: %d %s", status, body)
	}
	final := scrape(t, s.url)
	ok := map[string]string{"endpoint": "/v1/chat/completions", "code": "200"}
	busy := map[string]string{"endpoint": "/v1/chat/completions", "code": "503"}
	if d := value(final, "strata_requests_total", ok) - value(before, "strata_requests_total", ok); d != 3 {
		t.Errorf("strata_requests_total{code=200} moved by %v, want 3", d)
	}
	if d := value(final, "strata_requests_total", busy) - value(before, "strata_requests_total", busy); d != 1 {
		t.Errorf("strata_requests_total{code=503} moved by %v, want 1", d)
	}
	if d := value(final, "strata_completion_tokens_total", nil) - value(after, "strata_completion_tokens_total", nil); d != 5 {
		t.Errorf("strata_completion_tokens_total moved by %v for 5 tokens", d)
	}
	if d := value(final, "strata_prompt_tokens_total", nil) + value(final, "strata_prompt_cached_tokens_total", nil) -
		value(after, "strata_prompt_tokens_total", nil) - value(after, "strata_prompt_cached_tokens_total", nil); d <= 0 {
		t.Errorf("the prompt token counters did not move")
	}
	// The first stream and the last request had a first token; the queued
	// stream may have, if the server saw its client go only after the
	// slot was free.
	if n := histogramCount(final, "strata_time_to_first_token_seconds") - histogramCount(before, "strata_time_to_first_token_seconds"); n != 2 && n != 3 {
		t.Errorf("time to first token observed %d times, want 2 or 3", n)
	}
	if n := histogramCount(final, "strata_inter_token_latency_seconds"); n < 4 {
		t.Errorf("inter-token latency observed %d times", n)
	}
	if v := value(final, "strata_active_slots", nil); v != 0 {
		t.Errorf("strata_active_slots is %v when idle", v)
	}
	if v := value(final, "strata_queue_depth", nil); v != 0 {
		t.Errorf("strata_queue_depth is %v when idle", v)
	}
}

// TestServerSlots: requests in flight together on two slots (and the
// queue) each get the tokens of their own `strata run --temp 0`.
func TestServerSlots(t *testing.T) {
	s := startServer(t, tinyModel, "-np", "2")
	prompts := []string{"Once upon a time", "The robot said", "Once upon a time, in a town", "Hello"}
	got := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]any{"prompt": p, "max_tokens": 48, "temperature": 0, "ignore_eos": true})
			res, err := http.Post(s.url+"/v1/completions", "application/json", bytes.NewReader(b))
			if err != nil {
				got[i] = err.Error()
				return
			}
			defer res.Body.Close()
			var r struct {
				Choices []struct{ Text string } `json:"choices"`
			}
			json.NewDecoder(res.Body).Decode(&r)
			if len(r.Choices) == 1 {
				got[i] = r.Choices[0].Text
			}
		})
	}
	wg.Wait()
	for i, p := range prompts {
		out, errs, code := strata(t, "run", tinyModel, "-p", p, "--temp", "0", "-n", "48", "--ignore-eos", "--backend", "cpu", "-t", "1", "--json")
		var want runResult
		if code != 0 || json.Unmarshal([]byte(out), &want) != nil {
			t.Fatalf("run: %s", errs)
		}
		if got[i] != want.Text {
			t.Errorf("%q beside the others: %q\nalone: %q", p, got[i], want.Text)
		}
	}
}

// scrape parses /metrics with Prometheus's text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %s", res.Status)
	}
	parser := expfmt.NewTextParser(promodel.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value is the value of the metric with these labels (0 if absent).
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func histogramCount(fams map[string]*dto.MetricFamily, name string) uint64 {
	if f := fams[name]; f != nil && len(f.Metric) == 1 && f.Metric[0].Histogram != nil {
		return f.Metric[0].Histogram.GetSampleCount()
	}
	panic(fmt.Sprintf("no histogram %s", name))
}

// TestServerHost: a host other machines can reach is refused without a
// key, before anything listens.
func TestServerHost(t *testing.T) {
	_, errs, code := strata(t, "server", tinyModel, "--host", "0.0.0.0", "--port", "0", "--backend", "cpu")
	if code == 0 || !strings.Contains(errs, "--api-key") || !strings.Contains(errs, "--insecure-no-key") {
		t.Errorf("--host 0.0.0.0 without a key: exit %d: %s", code, errs)
	}
}

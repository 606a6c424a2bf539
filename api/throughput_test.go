package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
	"strata/gpu"
)

// BenchmarkThroughput serves a model on the CPU with 2 threads and 8
// slots, and runs, each iteration, 1 stream of 64 greedy tokens alone,
// then 8 such streams at once, through HTTP as a client sees them:
// aggregate decode tokens/s of both (over the time every stream is
// decoding: runStats.add), their ratio, and time to first token and the
// gap between tokens at p50 and p99. "serial" steps the 8 slots one after another, as
// before batching, for comparison. STRATA_BENCH_MODEL=FILE serves
// another model (default the tiny one); STRATA_BENCH_BACKEND=vulkan
// computes on the best Vulkan device instead of the CPU.
//
//	go test -run '^$' -bench Throughput -benchtime 3x ./api
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range []string{"batched", "serial"} {
		b.Run(mode, func(b *testing.B) {
			url := benchServer(b, mode == "serial")
			var one, eight runStats
			for i := range b.N {
				one.add(runStreams(b, url, 1, 64, i))
				eight.add(runStreams(b, url, 8, 64, i))
			}
			one.report(b, "1")
			eight.report(b, "8")
			b.ReportMetric(eight.rate()/one.rate(), "ratio_8/1")
		})
	}
}

// benchServer starts a server of 8 slots on the model and returns its URL.
func benchServer(b *testing.B, serial bool) string {
	path := os.Getenv("STRATA_BENCH_MODEL")
	if path == "" {
		path = filepath.Join("..", "testdata", "tiny-mistral", "tiny-mistral-q4km.gguf")
	}
	f, err := gguf.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	var be engine.Backend
	if os.Getenv("STRATA_BENCH_BACKEND") == "vulkan" {
		g, err := gpu.New(gpu.Options{Device: -1, PipelineCache: "-"})
		if err != nil {
			b.Fatal(err)
		}
		be = g
	} else {
		be = cpu.New(cpu.Options{Threads: 2, Kernels: os.Getenv("STRATA_CPU")})
	}
	frag, err := engine.NewFragment(f, be, engine.FragmentOptions{})
	if err != nil {
		b.Fatal(err)
	}
	vocab, err := engine.VocabFrom(f)
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := engine.ChatTemplateByName("chatml")
	if err != nil {
		b.Fatal(err)
	}
	m := &Model{ID: "bench", Vocab: vocab, Template: tmpl}
	for range 8 {
		s, err := frag.NewSession(256)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		m.Stacks = append(m.Stacks, s)
	}
	b.Cleanup(func() { be.Close(); f.Close() })
	return serveBench(b, m, serial)
}

// serveBench serves m over HTTP, its slots stepped one after another if
// serial, and returns its URL.
func serveBench(b *testing.B, m *Model, serial bool) string {
	o := Options{Model: m, Logger: slog.New(slog.DiscardHandler)}
	if serial {
		o.Stepper = serialStepper{stacks: m.Stacks}
	}
	srv, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(func() { hs.Close(); cancel(); <-done })
	return hs.URL
}

// streamTimes is when one stream's request went and each chunk came.
type streamTimes struct {
	start  time.Time
	chunks []time.Time
	tokens int // completion tokens, from the usage
}

// runStreams runs n streams of tokens greedy tokens at once, each with a
// prompt of its own (no prefix is shared with an earlier round).
func runStreams(b *testing.B, url string, n, tokens, round int) []streamTimes {
	out := make([]streamTimes, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			prompt := fmt.Sprintf("%d %d. Once upon a time, there was a little robot who", round, i)
			body, _ := json.Marshal(map[string]any{"prompt": prompt, "max_tokens": tokens, "temperature": 0,
				"ignore_eos": true, "stream": true, "stream_options": map[string]any{"include_usage": true}})
			st := &out[i]
			st.start = time.Now()
			res, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			defer res.Body.Close()
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok || data == "[DONE]" {
					continue
				}
				var chunk struct {
					Choices []struct{ Text string } `json:"choices"`
					Usage   *struct {
						Completion int `json:"completion_tokens"`
					} `json:"usage"`
				}
				if json.Unmarshal([]byte(data), &chunk) != nil {
					b.Errorf("bad chunk %q", data)
					return
				}
				if chunk.Usage != nil {
					st.tokens = chunk.Usage.Completion
				}
				if len(chunk.Choices) > 0 && chunk.Choices[0].Text != "" {
					st.chunks = append(st.chunks, time.Now())
				}
			}
		})
	}
	wg.Wait()
	for _, st := range out {
		if st.tokens != tokens || len(st.chunks) < 2 {
			b.Fatalf("a stream gave %d tokens in %d chunks, want %d", st.tokens, len(st.chunks), tokens)
		}
	}
	return out
}

// runStats accumulates the rounds of one stream count.
type runStats struct {
	decoded  int           // tokens decoded while every stream was
	decoding time.Duration // the time every stream was decoding
	ttft     []float64     // ms
	itl      []float64     // ms, between a stream's chunks
}

// add counts a round's decode over the time every stream of it was
// decoding: from the last stream's first token, when every prompt is in,
// to the last stream's last token. The server admits requests as they
// come, so one may start decoding while later prompts are still being
// read; those steps are prompt work, and the tokens a stream got before
// the last stream's first one are left out with them (one a chunk: the
// chunks that came then).
func (r *runStats) add(streams []streamTimes) {
	start, end := streams[0].chunks[0], streams[0].chunks[0]
	for _, st := range streams {
		if st.chunks[0].After(start) {
			start = st.chunks[0]
		}
		if l := st.chunks[len(st.chunks)-1]; l.After(end) {
			end = l
		}
	}
	for _, st := range streams {
		early := 0
		for _, c := range st.chunks[1:] {
			if !c.After(start) {
				early++
			}
		}
		r.decoded += st.tokens - 1 - early
		r.ttft = append(r.ttft, millis(st.chunks[0].Sub(st.start)))
		for i := 1; i < len(st.chunks); i++ {
			r.itl = append(r.itl, millis(st.chunks[i].Sub(st.chunks[i-1])))
		}
	}
	r.decoding += end.Sub(start)
}

func millis(d time.Duration) float64 { return d.Seconds() * 1000 }

// rate is the aggregate decode tokens/s.
func (r *runStats) rate() float64 { return float64(r.decoded) / r.decoding.Seconds() }

func (r *runStats) report(b *testing.B, n string) {
	b.ReportMetric(r.rate(), "decode_tok/s_"+n)
	b.ReportMetric(percentile(r.ttft, 50), "ttft_p50_ms_"+n)
	b.ReportMetric(percentile(r.ttft, 99), "ttft_p99_ms_"+n)
	b.ReportMetric(percentile(r.itl, 50), "itl_p50_ms_"+n)
	b.ReportMetric(percentile(r.itl, 99), "itl_p99_ms_"+n)
}

// percentile is the p-th percentile of v (nearest rank).
func percentile(v []float64, p float64) float64 {
	s := slices.Sorted(slices.Values(v))
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

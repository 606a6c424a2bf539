package swarm

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

// countingWeights wraps a backend, counting the weights it holds.
type countingWeights struct {
	engine.Backend
	live int
}

type countedWeight struct {
	engine.Weight
	b        *countingWeights
	released bool
}

func (w *countedWeight) Release() {
	if !w.released {
		w.released = true
		w.b.live--
	}
	w.Weight.Release()
}

func (b *countingWeights) LoadWeight(t *gguf.TensorInfo, data []byte) (engine.Weight, error) {
	w, err := b.Backend.LoadWeight(t, data)
	if err != nil {
		return nil, err
	}
	b.live++
	return &countedWeight{Weight: w, b: b}, nil
}

func in(w engine.Weight) engine.Weight { return w.(*countedWeight).Weight }

func (b *countingWeights) Embed(out engine.Tensor, table engine.Weight, tokens []int32) {
	b.Backend.Embed(out, in(table), tokens)
}

func (b *countingWeights) RMSNorm(out, x engine.Tensor, w engine.Weight, n int, eps float32) {
	b.Backend.RMSNorm(out, x, in(w), n, eps)
}

func (b *countingWeights) MatMul(out engine.Tensor, w engine.Weight, x engine.Tensor, n int) {
	b.Backend.MatMul(out, in(w), x, n)
}

func cpuOne(t *testing.T) engine.Backend {
	b := cpu.New(cpu.Options{Threads: 1})
	t.Cleanup(func() { b.Close() })
	return b
}

// TestMeasure measures the tiny model on the CPU: positive, finite
// figures, a fragment of two layers slower than one of one, every weight
// released and no goroutine left behind.
func TestMeasure(t *testing.T) {
	f := openTiny(t)
	b := &countingWeights{Backend: cpuOne(t)}
	goroutines := runtime.NumGoroutine()
	var ms [2]Measurement
	for i, layers := range []int{1, 2} {
		m, err := Measure(context.Background(), f, b, MeasureOptions{Layers: layers, Tokens: 16, MemoryBytes: 3 << 30})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d layers: %+v", layers, m)
		for _, x := range []float64{m.LayerSeconds, m.PromptLayerSeconds, m.FragmentSeconds, m.HeadSeconds} {
			if !(x > 0) || math.IsInf(x, 0) {
				t.Fatalf("measurement %+v: want positive, finite times", m)
			}
		}
		if m.Layers != layers || m.Tokens != 16 || m.Positions != 32 || m.MemoryBytes != 3<<30 || m.Backend != "cpu" || m.Elapsed <= 0 {
			t.Fatalf("measurement %+v: not what was asked", m)
		}
		if b.live != 0 {
			t.Fatalf("%d weights still loaded after Measure", b.live)
		}
		ms[i] = m
	}
	if ms[1].FragmentSeconds <= ms[0].FragmentSeconds {
		t.Errorf("two layers decode in %v s a token, one in %v", ms[1].FragmentSeconds, ms[0].FragmentSeconds)
	}
	// The tiny model's head (32000 × 256) outweighs a layer many times.
	if ms[0].HeadSeconds <= ms[0].LayerSeconds {
		t.Errorf("head %v s, a layer %v s: want the head slower", ms[0].HeadSeconds, ms[0].LayerSeconds)
	}
	if p := ms[0].Peer("me"); p.ID != "me" || p.LayerSeconds != ms[0].LayerSeconds || p.HeadSeconds != ms[0].HeadSeconds || p.MemoryBytes != 3<<30 {
		t.Errorf("Peer: %+v from %+v", p, ms[0])
	}
	for range 100 {
		if runtime.NumGoroutine() <= goroutines {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Measure, %d before", n, goroutines)
	}
}

// TestMeasureMemory takes the machine's memory unless told, as the CLI's
// checks do.
func TestMeasureMemory(t *testing.T) {
	t.Setenv(engine.MemoryEnv, "5G")
	m, err := Measure(context.Background(), openTiny(t), cpuOne(t), MeasureOptions{Tokens: 3, Prompt: 4})
	if err != nil {
		t.Fatal(err)
	}
	if m.MemoryBytes != 5<<30 || m.MemorySource != engine.MemoryEnv {
		t.Errorf("memory %d from %s, want 5 GiB from %s", m.MemoryBytes, m.MemorySource, engine.MemoryEnv)
	}
}

// TestMeasureBudget stops decoding once the budget is spent.
func TestMeasureBudget(t *testing.T) {
	start := time.Now()
	m, err := Measure(context.Background(), openTiny(t), cpuOne(t), MeasureOptions{Tokens: 4096, Budget: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second || m.Tokens < 3 || m.Tokens >= 4096 {
		t.Errorf("a budget of 50 ms: %d decode steps in %v", m.Tokens, elapsed)
	}
}

// TestMeasureCancel stops at a cancelled context, before it starts and
// in the middle, releasing what it loaded.
func TestMeasureCancel(t *testing.T) {
	f := openTiny(t)
	b := &countingWeights{Backend: cpuOne(t)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Measure(ctx, f, b, MeasureOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Measure(ctx, f, b, MeasureOptions{Tokens: 4096, Budget: time.Hour})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled after 50 ms: %v after %v", err, time.Since(start))
	}
	if b.live != 0 {
		t.Errorf("%d weights still loaded after a cancelled Measure", b.live)
	}
}

// TestMeasureRefuses refuses negative options.
func TestMeasureRefuses(t *testing.T) {
	f := openTiny(t)
	if _, err := Measure(context.Background(), f, cpuOne(t), MeasureOptions{Tokens: -1}); err == nil || !strings.Contains(err.Error(), "-1 tokens") {
		t.Errorf("negative tokens: %v", err)
	}
}

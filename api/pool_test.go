package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/engine"
)

// fakeLibrary serves fake models of 10 bytes each; a load waits for the
// model's gate when it has one, and fails when fail is set.
type fakeLibrary struct {
	vocab *engine.Vocab
	mu    sync.Mutex
	gates map[string]chan struct{}
	fail  atomic.Bool
	loads atomic.Int32
}

func (l *fakeLibrary) Models() ([]Entry, error) {
	return []Entry{{ID: "a", Memory: 10}, {ID: "b", Memory: 10}, {ID: "c", Memory: 10}}, nil
}

func (l *fakeLibrary) Load(ctx context.Context, id string) (*Model, func(), error) {
	l.loads.Add(1)
	l.mu.Lock()
	gate := l.gates[id]
	l.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if l.fail.Load() {
		return nil, nil, errors.New("the file went away")
	}
	tmpl, _ := engine.ChatTemplateByName("chatml")
	return &Model{Vocab: l.vocab, Template: tmpl, Stacks: []Stack{&fakeStack{vocab: l.vocab.Len(), failAt: -1}}}, func() {}, nil
}

// TestPoolWaits: requests for a model being loaded share its one load,
// and one whose client goes away stops waiting at once; a request for a
// model that needs memory a held model takes waits at most LoadWait and
// gets a 503 naming it; a load that fails is a 500 saying why, and the
// next request loads again.
func TestPoolWaits(t *testing.T) {
	lib := &fakeLibrary{vocab: tinyVocab(t), gates: map[string]chan struct{}{"a": make(chan struct{})}}
	s, err := New(Options{Library: lib, Memory: 15, MemorySource: "--models-memory 15", LoadWait: 500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)

	got := make(chan *instance, 2)
	for range 2 {
		go func() {
			in, e := s.pool.acquire(context.Background(), "a")
			if e != nil {
				t.Error(e)
			}
			got <- in
		}()
	}
	gone, leave := context.WithCancel(context.Background())
	left := make(chan time.Time)
	go func() {
		in, e := s.pool.acquire(gone, "a")
		if in != nil || e != nil {
			t.Errorf("a request whose client went away got %v, %v", in, e)
		}
		left <- time.Now()
	}()
	time.Sleep(20 * time.Millisecond)
	leaving := time.Now()
	leave()
	if d := (<-left).Sub(leaving); d > 200*time.Millisecond {
		t.Errorf("a waiting request whose client went away returned after %s", d)
	}
	close(lib.gates["a"])
	a1, a2 := <-got, <-got
	if a1 == nil || a1 != a2 || lib.loads.Load() != 1 {
		t.Fatalf("three requests for a model being loaded: %p and %p, %d loads; want one instance, one load", a1, a2, lib.loads.Load())
	}

	start := time.Now()
	in, e := s.pool.acquire(context.Background(), "b")
	if in != nil || e == nil || e.status != http.StatusServiceUnavailable || e.retryAfter == 0 ||
		!strings.Contains(e.Message, `"b"`) || !strings.Contains(e.Message, "a (10 bytes)") || time.Since(start) < 500*time.Millisecond {
		t.Errorf("b while a is held: %v, %+v after %s; want a 503 with Retry-After naming a, after 500 ms", in, e, time.Since(start))
	}
	s.pool.release(a1)
	s.pool.release(a2)

	lib.fail.Store(true)
	if in, e := s.pool.acquire(context.Background(), "c"); in != nil || e == nil || e.status != http.StatusInternalServerError ||
		!strings.Contains(e.Message, "the file went away") {
		t.Errorf("a load that fails: %v, %+v; want a 500 saying why", in, e)
	}
	lib.fail.Store(false)
	c, e := s.pool.acquire(context.Background(), "c")
	if c == nil || e != nil {
		t.Fatalf("c loaded again: %v, %+v", c, e)
	}
	if loaded := s.pool.loaded(); len(loaded) != 1 || loaded[0] != c {
		t.Errorf("loaded %v, want c alone (a unloaded to make room)", loaded)
	}
	s.pool.release(c)
}

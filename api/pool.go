package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"strata/engine"
)

// A pool keeps the models of a Library that are loaded within a memory
// budget. A request for one that is not loaded loads it, once there is
// room: first the least recently used models that no request holds are
// unloaded, as many as it takes. Requests for a model being loaded wait
// for it, and a request for which nothing can be unloaded waits for a
// request to end; each wait is bounded (Options.LoadWait) and ends with
// its client.
type pool struct {
	srv    *Server
	lib    Library
	budget int64
	source string // what set the budget, for messages
	wait   time.Duration

	mu      sync.Mutex
	ctx     context.Context // the server's: loads and schedulers run under it
	cancel  context.CancelFunc
	models  map[string]*instance // loading, loaded and unloading
	changed chan struct{}        // closed (and replaced) when a model or a request comes or goes
}

func newPool(s *Server, lib Library, budget int64, source string, wait time.Duration) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	return &pool{srv: s, lib: lib, budget: budget, source: source, wait: wait, ctx: ctx, cancel: cancel,
		models: map[string]*instance{}, changed: make(chan struct{})}
}

// broadcast wakes the requests waiting for the pool to change. Under mu.
func (p *pool) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// entries is the library's listing: the models that can be served, and
// the entry of each id, those that cannot included.
func (p *pool) entries() ([]Entry, map[string]Entry, error) {
	all, err := p.lib.Models()
	if err != nil {
		return nil, nil, err
	}
	by := map[string]Entry{}
	var ok []Entry
	for _, e := range all {
		by[e.ID] = e
		if e.Error == "" {
			ok = append(ok, e)
		}
	}
	return ok, by, nil
}

// find is the entry of id, or the reason a request for it is refused.
func (p *pool) find(id string) (Entry, *apiError) {
	ok, by, err := p.entries()
	if err != nil {
		return Entry{}, &apiError{status: http.StatusInternalServerError, Type: "server_error", Message: "api: listing the models: " + err.Error()}
	}
	e, found := by[id]
	switch {
	case !found:
		ids := make([]string, 0, len(ok))
		for _, e := range ok {
			ids = append(ids, e.ID)
		}
		return Entry{}, withCode(badRequest("model", "model %q is not served here; the models are: %s", clip(id), listIDs(ids)), "model_not_found")
	case e.Error != "":
		return Entry{}, withCode(badRequest("model", "model %q cannot be served: %s", clip(id), e.Error), "model_not_supported")
	case e.Memory > p.budget:
		// A 400, not a 503: no retry can help, the budget is the server's
		// configuration (and OpenAI's clients retry a 503 on their own).
		return Entry{}, withCode(badRequest("model", "model %q needs %s (%d bytes: %s), more than the memory budget of %s (%d bytes, %s): it can never be loaded here",
			clip(id), engine.Bytes(e.Memory), e.Memory, e.Needs, engine.Bytes(p.budget), p.budget, p.source), "model_too_large")
	}
	return e, nil
}

func listIDs(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	if len(ids) > 20 {
		return strings.Join(ids[:20], ", ") + fmt.Sprintf(" and %d more (see /v1/models)", len(ids)-20)
	}
	return strings.Join(ids, ", ")
}

// acquire returns the loaded model id, loading it first if need be, for
// a request to use until it calls release. It returns nil and no error
// when ctx ended (the client went away).
func (p *pool) acquire(ctx context.Context, id string) (*instance, *apiError) {
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	var entry *Entry
	for {
		p.mu.Lock()
		in := p.models[id]
		if in == nil {
			if entry == nil {
				p.mu.Unlock()
				e, err := p.find(id)
				if err != nil {
					return nil, err
				}
				entry = &e
				continue
			}
			if entry.Memory > p.budget-p.usedLocked() {
				if victim := p.leastRecentLocked(); victim != nil {
					victim.unloading = true
					p.mu.Unlock()
					p.unload(victim, "to make room for "+id)
					continue
				}
				changed := p.changed
				busy := p.busyLocked()
				p.mu.Unlock()
				if e := p.await(ctx, timer, changed); e != nil || ctx.Err() != nil {
					if e != nil {
						e.Message = fmt.Sprintf("api: model %q needs %s; the memory budget of %s (%s) holds %s, each serving requests, for %s: retry later",
							clip(id), engine.Bytes(entry.Memory), engine.Bytes(p.budget), p.source, busy, p.wait)
					}
					return nil, e
				}
				continue
			}
			in = p.loadLocked(*entry)
		}
		if in.unloading {
			changed := p.changed
			p.mu.Unlock()
			if e := p.await(ctx, timer, changed); e != nil || ctx.Err() != nil {
				return nil, e
			}
			continue
		}
		select {
		case <-in.ready:
			if in.err == nil {
				in.users++
				p.mu.Unlock()
				return in, nil
			}
		default:
		}
		p.mu.Unlock()
		select {
		case <-in.ready:
		case <-ctx.Done():
			return nil, nil
		case <-timer.C:
			return nil, withCode(&apiError{status: http.StatusServiceUnavailable, Type: "server_error", retryAfter: 5,
				Message: fmt.Sprintf("api: model %q is still loading after %s; retry later", clip(id), p.wait)}, "model_loading")
		}
		if in.err != nil {
			return nil, &apiError{status: http.StatusInternalServerError, Type: "server_error", Message: fmt.Sprintf("api: loading model %q: %v", clip(id), in.err)}
		}
	}
}

// await waits for the pool to change; an error when the wait is over.
func (p *pool) await(ctx context.Context, timer *time.Timer, changed chan struct{}) *apiError {
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return nil
	case <-timer.C:
		return withCode(&apiError{status: http.StatusServiceUnavailable, Type: "server_error", retryAfter: 5}, "server_busy")
	}
}

// release lets go of a model acquire returned.
func (p *pool) release(in *instance) {
	p.mu.Lock()
	in.users--
	in.used = time.Now()
	p.broadcast()
	p.mu.Unlock()
}

// usedLocked is the memory of the models loading, loaded and unloading.
func (p *pool) usedLocked() int64 {
	var n int64
	for _, in := range p.models {
		n += in.memory
	}
	return n
}

// leastRecentLocked is the loaded model no request holds that was let go
// of longest ago, or nil.
func (p *pool) leastRecentLocked() *instance {
	var best *instance
	for _, in := range p.models {
		if in.unloading || in.users > 0 || !closed(in.ready) {
			continue
		}
		if best == nil || in.used.Before(best.used) {
			best = in
		}
	}
	return best
}

// busyLocked names the models that hold the budget.
func (p *pool) busyLocked() string {
	var ids []string
	for id, in := range p.models {
		ids = append(ids, fmt.Sprintf("%s (%s)", id, engine.Bytes(in.memory)))
	}
	slices.Sort(ids)
	return listIDs(ids)
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// loadLocked starts loading e, counted against the budget from now on.
func (p *pool) loadLocked(e Entry) *instance {
	m := p.srv.metrics
	log := p.srv.o.Logger
	log.Info("loading model", "model", e.ID, "memory", engine.Bytes(e.Memory), "needs", e.Needs,
		"budget", engine.Bytes(p.budget), "in_use", engine.Bytes(p.usedLocked()))
	placeholder := &instance{memory: e.Memory, ready: make(chan struct{})}
	p.models[e.ID] = placeholder
	go func() {
		start := time.Now()
		model, free, err := p.lib.Load(p.ctx, e.ID)
		if err == nil && (model == nil || len(model.Stacks) == 0 || model.Vocab == nil || model.Template == nil) {
			err = fmt.Errorf("api: the library loaded %q without a vocabulary, a chat template or a slot", e.ID)
			if free != nil {
				free()
			}
		}
		took := time.Since(start)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err == nil && p.ctx.Err() != nil {
			free() // the server stopped while it loaded
			err = p.ctx.Err()
		}
		if err != nil {
			log.Error("loading the model failed", "model", e.ID, "err", err)
			placeholder.err = err
			delete(p.models, e.ID)
		} else {
			model.ID = e.ID
			model.Created = e.Created
			in := p.srv.newInstance(model, nil)
			in.close, in.memory, in.ready, in.used = free, e.Memory, placeholder.ready, time.Now()
			in.start(p.ctx)
			p.models[e.ID] = in
			m.modelsLoaded.Inc()
			m.modelLoads.WithLabelValues(e.ID).Inc()
			m.modelLoadSeconds.Observe(took.Seconds())
			log.Info("model loaded", "model", e.ID, "seconds", took.Seconds(), "memory", engine.Bytes(e.Memory),
				"slots", len(model.Stacks), "context", model.Context(), "loaded", len(p.models))
		}
		close(placeholder.ready)
		p.broadcast()
	}()
	return placeholder
}

// unload stops a model (marked unloading) and frees it.
func (p *pool) unload(in *instance, why string) {
	id := in.model.ID
	in.shut()
	p.mu.Lock()
	delete(p.models, id)
	n := len(p.models)
	p.broadcast()
	p.mu.Unlock()
	m := p.srv.metrics
	m.modelsLoaded.Dec()
	m.modelUnloads.WithLabelValues(id).Inc()
	p.srv.o.Logger.Info("model unloaded", "model", id, "why", why, "memory", engine.Bytes(in.memory), "loaded", n)
}

// loaded is the loaded models, the most recently used first.
func (p *pool) loaded() []*instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*instance
	for _, in := range p.models {
		if !in.unloading && closed(in.ready) && in.err == nil {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b *instance) int { return b.used.Compare(a.used) })
	return out
}

// run serves until ctx ends, then unloads every model.
func (p *pool) run(ctx context.Context) {
	<-ctx.Done()
	p.cancel()
	for {
		p.mu.Lock()
		var in *instance
		for _, m := range p.models {
			if !m.unloading && closed(m.ready) {
				in = m
				break
			}
		}
		if in == nil {
			p.mu.Unlock()
			return
		}
		in.unloading = true
		p.mu.Unlock()
		p.unload(in, "the server stops")
	}
}

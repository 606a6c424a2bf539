package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Server: of one Model, or of the models of a
// Library, loaded on demand.
type Options struct {
	Model *Model
	// Library, instead of Model, is the models the server lists and
	// loads when a request names one, keeping those loaded within Memory
	// bytes (MemorySource says what set it, for messages: "--models-memory").
	// A request waits at most LoadWait (default 5 minutes) for its model
	// to load or for memory to free.
	Library      Library
	Memory       int64
	MemorySource string
	LoadWait     time.Duration
	Defaults     Defaults
	// APIKey, when set, is required as "Authorization: Bearer KEY" on
	// /v1/*, /metrics and /api/*. The page, its files and /health are
	// public (the page asks for the key and sends it).
	APIKey string
	// Queue is how many requests may wait for a slot (default 4 per
	// slot); past it requests are refused with 503 and Retry-After.
	Queue int
	// PromptChunk is the prompt tokens a slot computes per step (default
	// 256), so that a long prompt delays the other slots' tokens by at
	// most one chunk.
	PromptChunk int
	// BodyLimit bounds a request body (default 8 MiB).
	BodyLimit int64
	// Metrics serves Prometheus metrics at /metrics.
	Metrics bool
	// Monitor, when set, feeds the swarm page and the peer metrics.
	Monitor *Monitor
	// Stepper runs the scheduler's steps. By default, slots that are
	// Sessions of one local model step as one batch (batchStepper), slots
	// that are the routes of one transport.Group as one multi-session
	// request per hop (groupStepper), and any others one after another.
	// See Stepper.
	Stepper Stepper
	Logger  *slog.Logger
}

// A Server serves one model, or a Library's, over HTTP.
type Server struct {
	o       Options
	fixed   *instance // the one Model
	pool    *pool     // the Library's
	metrics *metrics
	started time.Time
}

// DefaultBodyLimit bounds request bodies unless Options say otherwise.
const DefaultBodyLimit = 8 << 20

// New makes a server; Run starts its scheduler.
func New(o Options) (*Server, error) {
	switch {
	case o.Library != nil && o.Model != nil:
		return nil, errors.New("api: a server serves a Model or a Library, not both")
	case o.Library != nil:
		if o.Memory <= 0 {
			return nil, errors.New("api: a Library needs a memory budget")
		}
	case o.Model == nil || len(o.Model.Stacks) == 0 || o.Model.Vocab == nil || o.Model.Template == nil:
		return nil, errors.New("api: a server needs a model with a vocabulary, a chat template and at least one slot")
	}
	if o.Model != nil {
		for _, st := range o.Model.Stacks {
			if st.Context() != o.Model.Context() {
				return nil, errors.New("api: the slots' contexts differ")
			}
		}
	}
	if o.Queue < 0 || o.PromptChunk < 0 || o.BodyLimit < 0 || o.LoadWait < 0 {
		return nil, errors.New("api: negative limits")
	}
	if o.PromptChunk == 0 {
		o.PromptChunk = 256
	}
	if o.BodyLimit == 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.LoadWait == 0 {
		o.LoadWait = 5 * time.Minute
	}
	if o.MemorySource == "" {
		o.MemorySource = "the server's memory budget"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{o: o, metrics: newMetrics(), started: time.Now()}
	if o.Library != nil {
		s.pool = newPool(s, o.Library, o.Memory, o.MemorySource, o.LoadWait)
	} else {
		s.fixed = s.newInstance(o.Model, o.Stepper)
		close(s.fixed.ready)
		s.metrics.modelsLoaded.Set(1)
	}
	s.metrics.registry.MustRegister(peerCollector{server: s, monitor: o.Monitor})
	return s, nil
}

// Run runs the scheduler (and the monitor) until ctx ends; a Library's
// models are unloaded then.
func (s *Server) Run(ctx context.Context) {
	if s.o.Monitor != nil {
		go s.o.Monitor.Run(ctx)
	}
	if s.pool != nil {
		s.pool.run(ctx)
		return
	}
	s.fixed.sched.run(ctx)
}

// acquire is the model a request names, loaded, for it to use until it
// calls release; nil and no error when the client went away first.
// Without a name, a server of one model takes it, a Library's server the
// model used last.
func (s *Server) acquire(r *http.Request, name string) (*instance, *apiError) {
	if s.fixed != nil {
		if name == "" || name == s.fixed.model.ID {
			return s.fixed, nil
		}
		return nil, withCode(badRequest("model", "model %q is not served here; this server serves %q", clip(name), s.fixed.model.ID), "model_not_found")
	}
	if name == "" {
		if l := s.pool.loaded(); len(l) > 0 {
			name = l[0].model.ID
		} else {
			return nil, badRequest("model", "field \"model\": name one of the models GET /v1/models lists")
		}
	}
	return s.pool.acquire(r.Context(), name)
}

// release lets go of what acquire returned.
func (s *Server) release(in *instance) {
	if s.pool != nil {
		s.pool.release(in)
	}
}

// instances is the models loaded now.
func (s *Server) instances() []*instance {
	if s.fixed != nil {
		return []*instance{s.fixed}
	}
	return s.pool.loaded()
}

// Handler routes the API, the metrics and the web pages.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.count(s.authorized(h)))
	}
	api("POST /v1/chat/completions", s.chatCompletions)
	api("POST /chat/completions", s.chatCompletions)
	api("POST /v1/completions", s.completions)
	api("POST /completions", s.completions)
	api("GET /v1/models", s.models)
	api("GET /models", s.models)
	api("GET /api/swarm", s.swarm)
	mux.Handle("GET /health", s.count(http.HandlerFunc(s.health)))
	if s.o.Metrics {
		mux.Handle("GET /metrics", s.count(s.authorized(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP)))
	} else {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, &apiError{status: http.StatusNotImplemented, Type: "not_supported_error",
				Message: "api: metrics are off; start the server with --metrics"})
		})
	}
	mux.Handle("GET /", webHandler())
	return mux
}

// authorized requires the API key, when there is one.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	if s.o.APIKey == "" {
		return h
	}
	want := []byte("Bearer " + s.o.APIKey)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, withCode(&apiError{status: http.StatusUnauthorized, Type: "invalid_request_error",
				Message: "api: a missing or wrong API key; send \"Authorization: Bearer KEY\""}, "invalid_api_key"))
			return
		}
		h(w, r)
	}
}

// count counts requests by endpoint and status.
func (s *Server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.metrics.requests.WithLabelValues(strings.TrimPrefix(r.Pattern, r.Method+" "), strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	slots, active, queued := 0, 0, 0
	for _, in := range s.instances() {
		a, q := in.sched.busy()
		slots, active, queued = slots+len(in.sched.slots), active+a, queued+q
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "slots_idle": slots - active,
		"slots_processing": active, "queued": queued})
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if s.fixed != nil {
		m := s.fixed.model
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{{
			"id": m.ID, "object": "model", "created": m.Created, "owned_by": "strata",
			"meta": map[string]any{"n_ctx": m.Context(), "n_vocab": m.Vocab.Len(), "slots": len(m.Stacks), "chat_template": m.Template.Name, "loaded": true},
		}}})
		return
	}
	entries, _, err := s.pool.entries()
	if err != nil {
		writeError(w, &apiError{status: http.StatusInternalServerError, Type: "server_error", Message: "api: listing the models: " + err.Error()})
		return
	}
	loaded := map[string]*Model{}
	for _, in := range s.pool.loaded() {
		loaded[in.model.ID] = in.model
	}
	data := []map[string]any{}
	for _, e := range entries {
		meta := map[string]any{"memory": e.Memory, "loaded": false}
		if m := loaded[e.ID]; m != nil {
			meta = map[string]any{"memory": e.Memory, "loaded": true, "n_ctx": m.Context(), "n_vocab": m.Vocab.Len(),
				"slots": len(m.Stacks), "chat_template": m.Template.Name}
		}
		data = append(data, map[string]any{"id": e.ID, "object": "model", "created": e.Created, "owned_by": "strata", "meta": meta})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// checkPrompt refuses a prompt that is empty or does not fit a slot of m.
func checkPrompt(m *Model, prompt []int32, param string) *apiError {
	if len(prompt) == 0 {
		return badRequest(param, "the prompt is empty")
	}
	if c := m.Context(); len(prompt) > c {
		return withCode(badRequest(param, "the prompt is %d tokens, more than the context of %d", len(prompt), c), "context_length_exceeded")
	}
	return nil
}

func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

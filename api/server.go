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

// Options configure a Server. Model is required.
type Options struct {
	Model    *Model
	Defaults Defaults
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

// A Server serves one model over HTTP.
type Server struct {
	o       Options
	sched   *scheduler
	metrics *metrics
	book    *peerBook
	started time.Time
}

// DefaultBodyLimit bounds request bodies unless Options say otherwise.
const DefaultBodyLimit = 8 << 20

// New makes a server; Run starts its scheduler.
func New(o Options) (*Server, error) {
	if o.Model == nil || len(o.Model.Stacks) == 0 || o.Model.Vocab == nil || o.Model.Template == nil {
		return nil, errors.New("api: a server needs a model with a vocabulary, a chat template and at least one slot")
	}
	for _, st := range o.Model.Stacks {
		if st.Context() != o.Model.Context() {
			return nil, errors.New("api: the slots' contexts differ")
		}
	}
	if o.Queue < 0 || o.PromptChunk < 0 || o.BodyLimit < 0 {
		return nil, errors.New("api: negative limits")
	}
	if o.Queue == 0 {
		o.Queue = 4 * len(o.Model.Stacks)
	}
	if o.PromptChunk == 0 {
		o.PromptChunk = 256
	}
	if o.BodyLimit == 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Stepper == nil {
		if b, ok := newBatchStepper(o.Model.Stacks); ok {
			o.Stepper = b
		} else if g, ok := newGroupStepper(o.Model.Stacks); ok {
			o.Stepper = g
		} else {
			o.Stepper = serialStepper{stacks: o.Model.Stacks}
		}
	}
	s := &Server{o: o, metrics: newMetrics(), book: newPeerBook(), started: time.Now()}
	for i, st := range o.Model.Stacks {
		s.book.stepped(i, st, 0) // the routes as they start
	}
	s.metrics.registry.MustRegister(peerCollector{book: s.book, monitor: o.Monitor})
	s.sched = newScheduler(o.Model, o.Stepper, o.Queue, o.PromptChunk, s.metrics, s.book, o.Logger)
	return s, nil
}

// Run runs the scheduler (and the monitor) until ctx ends.
func (s *Server) Run(ctx context.Context) {
	if s.o.Monitor != nil {
		go s.o.Monitor.Run(ctx)
	}
	s.sched.run(ctx)
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
	active, queued := s.sched.busy()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "slots_idle": len(s.sched.slots) - active,
		"slots_processing": active, "queued": queued})
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	m := s.o.Model
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{{
		"id": m.ID, "object": "model", "created": m.Created, "owned_by": "strata",
		"meta": map[string]any{"n_ctx": m.Context(), "n_vocab": m.Vocab.Len(), "slots": len(m.Stacks), "chat_template": m.Template.Name},
	}}})
}

// checkModel refuses a request for a model this server does not serve.
func (s *Server) checkModel(name string) *apiError {
	if name == "" || name == s.o.Model.ID {
		return nil
	}
	return withCode(badRequest("model", "model %q is not served here; this server serves %q", clip(name), s.o.Model.ID), "model_not_found")
}

// checkPrompt refuses a prompt that is empty or does not fit a slot.
func (s *Server) checkPrompt(prompt []int32, param string) *apiError {
	if len(prompt) == 0 {
		return badRequest(param, "the prompt is empty")
	}
	if c := s.o.Model.Context(); len(prompt) > c {
		return withCode(badRequest(param, "the prompt is %d tokens, more than the context of %d", len(prompt), c), "context_length_exceeded")
	}
	return nil
}

func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

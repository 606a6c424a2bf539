package api

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	registry         *prometheus.Registry
	requests         *prometheus.CounterVec
	promptTokens     prometheus.Counter
	cachedTokens     prometheus.Counter
	completionTokens prometheus.Counter
	ttft             prometheus.Histogram
	itl              prometheus.Histogram
	queue            prometheus.Gauge
	active           prometheus.Gauge
	slots            prometheus.Gauge
	modelsLoaded     prometheus.Gauge
	modelLoads       *prometheus.CounterVec
	modelUnloads     *prometheus.CounterVec
	modelLoadSeconds prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_requests_total",
			Help: "HTTP requests served, by endpoint and status code."}, []string{"endpoint", "code"}),
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_prompt_tokens_total",
			Help: "Prompt tokens computed (not counting those reused from a slot's cache)."}),
		cachedTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_prompt_cached_tokens_total",
			Help: "Prompt tokens reused from a slot's cache."}),
		completionTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_completion_tokens_total",
			Help: "Tokens generated."}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strata_time_to_first_token_seconds",
			Help: "From a request's arrival to its first token, queueing included.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		itl: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strata_inter_token_latency_seconds",
			Help: "Between consecutive tokens of a request.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		queue:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_queue_depth", Help: "Requests waiting for a slot."}),
		active:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_active_slots", Help: "Slots running a request."}),
		slots:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_slots", Help: "Slots (--parallel) of the loaded models."}),
		modelsLoaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strata_models_loaded", Help: "Models loaded."}),
		modelLoads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_model_loads_total",
			Help: "Models loaded on demand (--models-dir), by model."}, []string{"model"}),
		modelUnloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_model_unloads_total",
			Help: "Models unloaded to make room for others (or as the server stops), by model."}, []string{"model"}),
		modelLoadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strata_model_load_seconds",
			Help: "How long loading a model on demand took.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
	}
	m.registry.MustRegister(m.requests, m.promptTokens, m.cachedTokens, m.completionTokens, m.ttft, m.itl, m.queue, m.active, m.slots,
		m.modelsLoaded, m.modelLoads, m.modelUnloads, m.modelLoadSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// peerCollector exports, at each scrape, what the slots' routes did
// through each peer and what the monitor last saw.
type peerCollector struct {
	server  *Server
	monitor *Monitor
}

var (
	peerCompute   = prometheus.NewDesc("strata_peer_compute_seconds_total", "Compute time a peer reported for this server's batches.", []string{"peer", "layers"}, nil)
	peerWall      = prometheus.NewDesc("strata_peer_round_trip_seconds_total", "Wall time of this server's batches to a peer, compute and network.", []string{"peer", "layers"}, nil)
	peerBatches   = prometheus.NewDesc("strata_peer_batches_total", "Batches this server sent a peer.", []string{"peer", "layers"}, nil)
	peerPositions = prometheus.NewDesc("strata_peer_positions_total", "Token positions a peer computed for this server.", []string{"peer", "layers"}, nil)
	peerUp        = prometheus.NewDesc("strata_peer_up", "Whether the last probe of a peer succeeded.", []string{"peer"}, nil)
	peerPing      = prometheus.NewDesc("strata_peer_ping_seconds", "The last ping round trip to a peer.", []string{"peer"}, nil)
)

func (c peerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{peerCompute, peerWall, peerBatches, peerPositions, peerUp, peerPing} {
		ch <- d
	}
}

func (c peerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.server.peerTotals() {
		layers := fmt.Sprintf("%d-%d", t.Start, t.End-1)
		ch <- prometheus.MustNewConstMetric(peerCompute, prometheus.CounterValue, t.Compute, t.Addr, layers)
		ch <- prometheus.MustNewConstMetric(peerWall, prometheus.CounterValue, t.Wall, t.Addr, layers)
		ch <- prometheus.MustNewConstMetric(peerBatches, prometheus.CounterValue, float64(t.Batches), t.Addr, layers)
		ch <- prometheus.MustNewConstMetric(peerPositions, prometheus.CounterValue, float64(t.Positions), t.Addr, layers)
	}
	if c.monitor == nil {
		return
	}
	for addr, st := range c.monitor.Snapshot() {
		up := 0.0
		if st.Up {
			up = 1
			ch <- prometheus.MustNewConstMetric(peerPing, prometheus.GaugeValue, st.RTT.Seconds(), addr)
		}
		ch <- prometheus.MustNewConstMetric(peerUp, prometheus.GaugeValue, up, addr)
	}
}

package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus instruments, on a registry of its own
// (no global state).
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	// authFailures and authThrottled count failed authentications and the
	// requests refused by the throttle, by credential kind (api_key,
	// client_token, jwt); never by address or key, which would let
	// anyone grow the series without bound.
	authFailures  *prometheus.CounterVec
	authThrottled *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxgate_http_requests_total", Help: "HTTP requests by route pattern and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "voxgate_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxgate_decisions_total", Help: "Verification decisions by face, decision and reason.",
		}, []string{"face", "decision", "reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxgate_auth_failures_total", Help: "Failed authentications by credential kind.",
		}, []string{"kind"}),
		authThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxgate_auth_throttled_total", Help: "Requests refused (429) after too many failed authentications, by credential kind.",
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.decisions, m.authFailures, m.authThrottled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one finished request.
func (m *metrics) observe(route string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(took.Seconds())
}

func (s *Server) registerMetrics() {
	h := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
	s.handle("GET", "/metrics", operation{
		id: "metrics", summary: "Prometheus metrics", tag: "operations",
		response: map[int]*body{200: {contentType: "text/plain", schema: schema{"type": "string"}}},
	}, h.ServeHTTP)
}

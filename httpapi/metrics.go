package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"voxgate"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"voxgate/service"
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

func newMetrics(svc *service.Service) *metrics {
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
			Name: "voxgate_decisions_total", Help: decisionsHelp,
		}, []string{"face", "decision", "reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxgate_auth_failures_total", Help: "Failed authentications by credential kind.",
		}, []string{"kind"}),
		authThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxgate_auth_throttled_total", Help: "Requests refused (429) after too many failed authentications, by credential kind.",
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.requests, m.latency, asyncCollector{svc: svc, decisions: m.decisions}, m.authFailures, m.authThrottled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// asyncCollector exports the asynchronous path at scrape time: the
// queue's backlog (shared by every node on the store) and this process's
// webhook and decision counters, read from the service. It also collects
// the HTTP faces' decisions, so that voxgate_decisions_total has one
// collector for both (face="async" from the service's counts).
type asyncCollector struct {
	svc       *service.Service
	decisions *prometheus.CounterVec
}

const decisionsHelp = "Verification decisions by face (native, challenge, uflow, async), decision and reason."

var (
	// descDecisions is voxgate_decisions_total as the HTTP faces' counter
	// describes it, for the asynchronous face's counts.
	descDecisions  = prometheus.NewDesc("voxgate_decisions_total", decisionsHelp, []string{"face", "decision", "reason"}, nil)
	descQueueDepth = prometheus.NewDesc("voxgate_async_queue_depth",
		"Asynchronous backlog over all tenants: jobs queued or running, webhook deliveries pending.", []string{"queue"}, nil)
	descQueueAge = prometheus.NewDesc("voxgate_async_queue_oldest_age_seconds",
		"Age of the oldest job queued or running, and of the oldest pending webhook delivery (0 when none).", []string{"queue"}, nil)
	descAttempts = prometheus.NewDesc("voxgate_webhook_delivery_attempts_total",
		"Webhook delivery attempts made by this process.", nil, nil)
	descFailures = prometheus.NewDesc("voxgate_webhook_delivery_failures_total",
		"Webhook delivery attempts that failed (receiver error, timeout, refused address), dead letters included.", nil, nil)
	descDead = prometheus.NewDesc("voxgate_webhook_dead_letters_total",
		"Webhook deliveries given up on after their retry window (redeliverable by the tenant).", nil, nil)
)

func (c asyncCollector) Describe(ch chan<- *prometheus.Desc) {
	c.decisions.Describe(ch)
	for _, d := range []*prometheus.Desc{descQueueDepth, descQueueAge, descAttempts, descFailures, descDead} {
		ch <- d
	}
}

func (c asyncCollector) Collect(ch chan<- prometheus.Metric) {
	c.decisions.Collect(ch)
	if c.svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.svc.AsyncStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descQueueDepth, err)
	} else if st.QueueKnown {
		now := time.Now()
		ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(st.Queue.Jobs), "jobs")
		ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(st.Queue.Deliveries), "deliveries")
		ch <- prometheus.MustNewConstMetric(descQueueAge, prometheus.GaugeValue, age(st.Queue.OldestJob, now), "jobs")
		ch <- prometheus.MustNewConstMetric(descQueueAge, prometheus.GaugeValue, age(st.Queue.OldestDelivery, now), "deliveries")
	}
	ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(st.DeliveryAttempts))
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(st.DeliveryFailures))
	ch <- prometheus.MustNewConstMetric(descDead, prometheus.CounterValue, float64(st.DeadLetters))
	for k, n := range st.Decisions {
		ch <- prometheus.MustNewConstMetric(descDecisions, prometheus.CounterValue, float64(n), "async", k.Decision, k.Reason)
	}
}

// age is the seconds since t, 0 for the zero time (an empty queue).
func age(t, now time.Time) float64 {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return now.Sub(t).Seconds()
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
	if s.metricsApart {
		return // served by MetricsHandler on its own address
	}
	s.handle("GET", "/metrics", operation{
		id: "metrics", summary: "Prometheus metrics (with the metrics token when the operator set one)", tag: "operations",
		response: map[int]*body{200: {contentType: "text/plain", schema: schema{"type": "string"}}},
	}, s.serveMetrics)
}

// MetricsHandler serves GET /metrics alone, for a listener of its own
// (Options.MetricsApart), with the token check when a token is set.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		reqContext(r.Context()).route = "GET /metrics"
		s.serveMetrics(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, voxgate.Errorf(voxgate.ENOTFOUND, "only GET /metrics is served on this address"))
	})
	return s.middleware(mux)
}

// serveMetrics answers the Prometheus exposition, after checking the
// bearer token when one is configured (SHA-256 of both compared in
// constant time, so that neither content nor length leaks).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metricsToken != "" {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got, want := sha256.Sum256([]byte(strings.TrimSpace(tok))), sha256.Sum256([]byte(s.metricsToken))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="voxgate-metrics"`)
			writeError(w, r, voxgate.Errorf(voxgate.EUNAUTHORIZED, "GET /metrics needs the metrics token as Authorization: Bearer"))
			return
		}
	}
	promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

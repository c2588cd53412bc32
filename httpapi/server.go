// Package httpapi serves voxgate over HTTP: one file per API face (native,
// challenge, voiceid, async, uflow), each a thin translation of requests onto
// service calls. It owns routing, authentication headers, correlation IDs,
// the error body and its status codes, request logging and the OpenAPI
// document of every route.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/jwtauth"
	"voxgate/service"
	"voxgate/trace"
)

// Server routes HTTP requests to the service.
type Server struct {
	svc    *service.Service
	log    *slog.Logger
	mux    *http.ServeMux
	routes []*route
	ready  map[string]func(context.Context) error
	now    func() time.Time
	jwt    *jwtauth.Verifier
	// metrics are the Prometheus instruments served at /metrics.
	metrics *metrics
	cors    corsPolicy
	// serverTiming sends each request's stage durations (see package
	// timing) in a Server-Timing header.
	serverTiming bool
	// trusted are the proxies whose X-Forwarded-For is believed; authFails
	// throttles failed authentications (throttle.go).
	trusted   []netip.Prefix
	authFails *failCounter
	// metricsToken and metricsApart guard /metrics (metrics.go).
	metricsToken string
	metricsApart bool
}

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// Ready lists extra readiness checks (models loaded, ...) for /readyz,
	// beside the store's ping.
	Ready map[string]func(context.Context) error
	// JWT verifies the bearer tokens of the admin and end-user routes
	// (/uflow, seed 003); nil answers them 401.
	JWT *jwtauth.Verifier
	// CORSOrigins are the origins whose pages may call the API from a
	// browser (the SDK on a customer's site): exact origins such as
	// "https://shop.example", or "*" for any. Empty: same origin only.
	CORSOrigins []string
	// ServerTiming sends each response's stage durations (decode, vad,
	// embed, liveness, phrase, replay, store) in a Server-Timing header,
	// for `voxgate bench`. Off by default: timings are for the operator's
	// load tests, not for every client.
	ServerTiming bool
	// TrustedProxies are the reverse proxies (voxgate serve --trusted-proxy)
	// whose X-Forwarded-For names the client: the access log, the failed
	// authentication throttle and the demo-key limit use that address.
	// Empty: the connection's peer is the client.
	TrustedProxies []netip.Prefix
	// AuthThrottle bounds failed authentications per client address and
	// per key ID; zero fields take its defaults.
	AuthThrottle AuthThrottle
	// MetricsToken, when set, is the bearer token GET /metrics requires:
	// the metrics show every tenant's traffic and decisions.
	MetricsToken string
	// MetricsApart takes /metrics off the API's handler: serve
	// MetricsHandler on a private address instead (serve --metrics-addr).
	MetricsApart bool
}

// New returns a Server over svc with every route registered.
func New(svc *service.Service, opt Options) *Server {
	s := &Server{svc: svc, log: trace.Logger(opt.Logger), mux: http.NewServeMux(), ready: opt.Ready, now: time.Now, jwt: opt.JWT, metrics: newMetrics(svc), cors: newCORSPolicy(opt.CORSOrigins),
		serverTiming: opt.ServerTiming, trusted: opt.TrustedProxies,
		metricsToken: opt.MetricsToken, metricsApart: opt.MetricsApart}
	s.authFails = newFailCounter(opt.AuthThrottle, func() time.Time { return s.now() })
	s.registerHealth()
	s.registerNative()
	s.registerVerify()
	s.registerIdentify()
	s.registerSettings()
	s.registerChallenge()
	s.registerUsage()
	s.registerAsync()
	s.registerVoiceID()
	s.registerUflow()
	s.registerDocs()
	s.registerMetrics()
	s.registerClientTokens()
	s.registerWeb()
	s.mux.HandleFunc("/", s.notFound)
	return s
}

// Handler returns the root handler with the middleware applied.
func (s *Server) Handler() http.Handler { return s.middleware(s.withTiming(s.withCORS(s.mux))) }

// reqInfo is the per-request record the middleware logs once the handler
// returns; handlers and the auth step fill it in.
type reqInfo struct {
	id      string
	client  string // the client's address (clientAddr)
	route   string
	tenant  string
	code    string
	logErr  error
	actor   voxgate.Actor
	authed  bool
	started time.Time
	// cleanup runs when the handler has returned (budget releases).
	cleanup []func()
}

type ctxKey struct{}

func reqContext(ctx context.Context) *reqInfo {
	if rc, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return rc
	}
	return &reqInfo{}
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware gives every request a correlation ID (reusing a caller's
// X-Correlation-ID when it is a UUID) and a span of the caller's W3C trace
// (its traceparent header; a new trace without one), both carried by the
// request's context onto every log line written with it; it turns panics
// into 500s that carry the ID and no stack trace, and writes one
// structured log line per request.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Correlation-ID")
		if !ids.IsUUID(id) {
			id = ids.UUID()
		}
		rc := &reqInfo{id: id, client: clientAddr(r, s.trusted), started: time.Now()}
		ctx := context.WithValue(r.Context(), ctxKey{}, rc)
		ctx = trace.With(ctx, trace.Start(r.Header.Get("Traceparent"), id))
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Correlation-ID", id)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				rc.logErr = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				if sw.status == 0 {
					writeError(sw, r, voxgate.Errorf(voxgate.EINTERNAL, "Internal error."))
				}
			}
			for _, f := range rc.cleanup {
				f()
			}
			s.logRequest(ctx, r, rc, sw)
		}()
		next.ServeHTTP(sw, r)
	})
}

func (s *Server) logRequest(ctx context.Context, r *http.Request, rc *reqInfo, sw *statusWriter) {
	s.metrics.observe(rc.route, sw.status, time.Since(rc.started))
	level := slog.LevelInfo
	switch {
	case sw.status == http.StatusServiceUnavailable && sw.Header().Get("Retry-After") != "":
		level = slog.LevelWarn // load shed on purpose (a budget), not a fault
	case sw.status >= 500:
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", rc.route),
		slog.String("client", rc.client),
		slog.Int("status", sw.status),
		slog.Float64("latency_ms", float64(time.Since(rc.started).Microseconds())/1000),
		slog.Int64("bytes_out", sw.bytes),
	}
	if rc.route == "" {
		// No pattern matched: the path itself says what was asked for
		// (a client's typo, a scanner), bounded in length.
		path := r.URL.EscapedPath()
		if len(path) > 256 {
			path = path[:256] + "..."
		}
		attrs = append(attrs, slog.String("path", path))
	}
	if rc.tenant != "" {
		attrs = append(attrs, slog.String("tenant", rc.tenant))
	}
	if rc.code != "" {
		attrs = append(attrs, slog.String("error", rc.code))
	}
	if rc.logErr != nil {
		attrs = append(attrs, slog.String("detail", rc.logErr.Error()))
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
}

// apiKeyFrom returns the key a request carries in x-api-key or in
// Authorization: Bearer.
func apiKeyFrom(r *http.Request) string {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return ""
}

// authed wraps h so that it runs only for a request with a valid API key,
// with the resolved Actor available through actorFrom.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := s.authenticate(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		rc := reqContext(r.Context())
		rc.actor, rc.authed, rc.tenant = a, true, a.TenantID
		h(w, r)
	}
}

// actorFrom returns the authenticated caller of the request.
func actorFrom(r *http.Request) voxgate.Actor { return reqContext(r.Context()).actor }

// notFound answers unknown paths, and known paths with the wrong method
// (405 with an Allow header), in the common error shape.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, voxgate.Errorf(voxgate.EMETHODNOTALLOWED, "method %s not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeError(w, r, voxgate.Errorf(voxgate.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
}

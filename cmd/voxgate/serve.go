package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"voxgate/httpapi"
	"voxgate/seal"
	"voxgate/service"
)

// config is the server's configuration from flags and environment.
type config struct {
	addr, data, models string
	shutdownGrace      time.Duration
	targetFAR          float64
	ratePerMinute      int
	ratePerHour        int
	demoKeys           bool
	// corsOrigins are the browser origins allowed to call the API (the
	// pages that embed the SDK); comma-separated, "*" for any.
	corsOrigins string
	// webhookAllowPrivate lets webhooks reach private and loopback
	// addresses; webhookTimeout bounds one delivery attempt.
	webhookAllowPrivate bool
	webhookTimeout      time.Duration
	// webhookOverlap is how long a replaced webhook secret keeps signing
	// when the tenant does not say.
	webhookOverlap time.Duration
	// jobLease is how long an async job stays claimed without a heartbeat.
	jobLease time.Duration
	// store is the --store URL; "" is the SQLite database under data.
	store string
	// budget bounds the audio work in flight (service.BudgetConfig).
	audioBudgetMB int64
	analyses      int
	queueWait     time.Duration
	// trustedProxies are the CIDRs whose X-Forwarded-For names the client.
	trustedProxies string
	// jwt verifies the tokens of the /uflow admin and end-user routes.
	jwt jwtConfig
	// serverTiming sends per-stage durations in a Server-Timing header
	// (what `voxgate bench` reads).
	serverTiming bool
	// logLevel is the lowest level logged: debug, info, warn or error.
	logLevel string
	// degraded serves even when a model a verdict depends on is missing;
	// enrollSpeech is the net speech, seconds, an enrollment needs.
	degraded     bool
	enrollSpeech float64
	// auditPseudonyms replaces a deleted user's id in the audit log with
	// a salted hash (salt: VOXGATE_AUDIT_SALT or DATA/audit.salt).
	auditPseudonyms bool
	// metricsAddr serves /metrics on its own address instead of the API's;
	// metricsToken makes /metrics require it as a bearer token.
	metricsAddr, metricsToken string
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stdout)
	var cfg config
	fs.StringVar(&cfg.addr, "addr", envOr("VOXGATE_ADDR", "127.0.0.1:8080"), "listen address `HOST:PORT` (env VOXGATE_ADDR)")
	fs.StringVar(&cfg.data, "data", envOr("VOXGATE_DATA", "./data"), "data `DIR`: database, keys (env VOXGATE_DATA)")
	fs.StringVar(&cfg.store, "store", envOr("VOXGATE_STORE", ""), storeFlagUsage)
	fs.StringVar(&cfg.models, "models", envOr("VOXGATE_MODELS", ""), "models `DIR` (env VOXGATE_MODELS; default ./models, then ../shared/models)")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 30*time.Second, "how long in-flight requests may run after SIGTERM")
	fs.Float64Var(&cfg.targetFAR, "far", 0.01, "target false-accept rate of the voice threshold")
	fs.IntVar(&cfg.ratePerMinute, "rate-minute", 60, "biometric requests per API key per minute (0: unlimited)")
	fs.IntVar(&cfg.ratePerHour, "rate-hour", 1000, "biometric requests per API key per hour (0: unlimited)")
	fs.StringVar(&cfg.corsOrigins, "cors-origin", envOr("VOXGATE_CORS_ORIGINS", ""), "comma-separated `ORIGINS` whose pages may call the API with the browser SDK, e.g. https://shop.example (\"*\": any; default: same origin only; env VOXGATE_CORS_ORIGINS)")
	fs.BoolVar(&cfg.demoKeys, "demo-keys", envOr("VOXGATE_DEMO_KEYS", "") == "1", "let anyone mint 24-hour sandbox keys at POST /v1/keys/demo (env VOXGATE_DEMO_KEYS=1)")
	fs.BoolVar(&cfg.webhookAllowPrivate, "webhook-allow-private", envOr("VOXGATE_WEBHOOK_ALLOW_PRIVATE", "") == "1", "let webhooks target private, loopback and link-local addresses (receivers on your own network; env VOXGATE_WEBHOOK_ALLOW_PRIVATE=1)")
	fs.DurationVar(&cfg.webhookTimeout, "webhook-timeout", 10*time.Second, "how long one webhook delivery attempt may take")
	fs.BoolVar(&cfg.serverTiming, "server-timing", false, "send each response's stage durations (decode, vad, embed, liveness, ...) in a Server-Timing header, for load tests such as `voxgate bench`")
	fs.DurationVar(&cfg.webhookOverlap, "webhook-secret-overlap", 24*time.Hour, "how long a replaced webhook secret keeps signing beside the new one, unless the tenant sets secret_overlap_seconds")
	fs.DurationVar(&cfg.jobLease, "job-lease", 30*time.Second, "how long an async job stays claimed by a node that stopped renewing it (a dead node's jobs resume after this)")
	fs.Int64Var(&cfg.audioBudgetMB, "audio-budget-mb", 256, "MiB of uploaded and decoded audio held by requests in flight; past it requests queue, then get 503 with Retry-After")
	fs.IntVar(&cfg.analyses, "analyses", 0, "voice analyses run at once (0: two per CPU core); past it requests queue, then get 503 with Retry-After")
	fs.DurationVar(&cfg.queueWait, "queue-wait", 5*time.Second, "how long a request may queue for the audio budget or an analysis slot")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxy", envOr("VOXGATE_TRUSTED_PROXY", ""), "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For names the client (access log, failed-login throttle); default none: the peer is the client (env VOXGATE_TRUSTED_PROXY)")
	fs.StringVar(&cfg.logLevel, "log-level", envOr("VOXGATE_LOG_LEVEL", "info"), "lowest `LEVEL` logged: debug, info, warn or error (env VOXGATE_LOG_LEVEL)")
	fs.BoolVar(&cfg.degraded, "degraded", envOr("VOXGATE_DEGRADED", "") == "1", "serve even without Silero VAD or the deepfake detector: /readyz passes and verify answers name the checks that did not run (env VOXGATE_DEGRADED=1; default: not ready, and enroll/verify answer 503 models_missing)")
	fs.Float64Var(&cfg.enrollSpeech, "enroll-speech", 10, "net speech, `SECONDS`, an enrollment must collect (2-120)")
	fs.BoolVar(&cfg.auditPseudonyms, "audit-pseudonyms", envOr("VOXGATE_AUDIT_PSEUDONYMS", "") == "1", "on profile deletion, replace the user id in the kept audit rows with a salted hash (salt: env VOXGATE_AUDIT_SALT, 64 hex digits, else DATA/audit.salt, made at first use; env VOXGATE_AUDIT_PSEUDONYMS=1)")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", envOr("VOXGATE_METRICS_ADDR", ""), "serve /metrics on this `HOST:PORT` only, not on the API address (env VOXGATE_METRICS_ADDR)")
	fs.StringVar(&cfg.metricsToken, "metrics-token", envOr("VOXGATE_METRICS_TOKEN", ""), "bearer `TOKEN` that GET /metrics requires (prefer env VOXGATE_METRICS_TOKEN: flags show in ps)")
	cfg.jwt.register(fs)
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if cfg.enrollSpeech < 2 || cfg.enrollSpeech > 120 {
		return usagef("serve", "--enroll-speech must be between 2 and 120 seconds, not %g", cfg.enrollSpeech)
	}
	log, err := newLogger(stderr, cfg.logLevel)
	if err != nil {
		return usagef("serve", "--log-level: %v", err)
	}
	return serve(ctx, cfg, log, nil)
}

// resolveModels returns the models directory: the one given, else ./models,
// else ../shared/models; "" when none exists (the engine then runs without
// the optional models).
func resolveModels(given string) (string, error) {
	if given != "" {
		if st, err := os.Stat(given); err != nil || !st.IsDir() {
			return "", fmt.Errorf("models directory %q not found", given)
		}
		return given, nil
	}
	for _, dir := range []string{"models", filepath.Join("..", "shared", "models")} {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
	}
	return "", nil
}

// serve runs the server until ctx is cancelled, then lets in-flight requests
// finish within the grace period. listening, when not nil, receives the
// bound address (tests listen on port 0).
func serve(ctx context.Context, cfg config, log *slog.Logger, listening chan<- string) error {
	models, err := resolveModels(cfg.models)
	if err != nil {
		return err
	}
	jwtv, err := cfg.jwt.verifier(ctx, log)
	if err != nil {
		return fmt.Errorf("JWT keys: %w", err)
	}
	trusted, err := parsePrefixes(cfg.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	if err := os.MkdirAll(cfg.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// A node of a shared store never makes keys of its own: what it sealed
	// or signed, the other nodes could not open or check.
	create := !sharedStore(cfg.store)
	sealer, err := loadSealer(cfg.data, create)
	if err != nil {
		return err
	}
	tokens, err := loadTokenSigner(cfg.data, create)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg.store, cfg.data)
	if err != nil {
		return err
	}
	defer db.Close()

	eng, err := buildEngine(models, cfg.targetFAR, log)
	if err != nil {
		return err
	}
	scfg := service.DefaultConfig()
	scfg.RatePerMinute, scfg.RatePerHour = cfg.ratePerMinute, cfg.ratePerHour
	scfg.DemoKeys = cfg.demoKeys
	scfg.Degraded = cfg.degraded
	if cfg.enrollSpeech > 0 {
		scfg.RequiredSpeech = cfg.enrollSpeech
	}
	scfg.Async.AllowPrivate = cfg.webhookAllowPrivate
	scfg.Async.Timeout = cfg.webhookTimeout
	scfg.Async.SecretOverlap = cfg.webhookOverlap
	scfg.Async.ShutdownGrace = cfg.shutdownGrace
	scfg.Async.JobLease = cfg.jobLease
	scfg.Budget = service.BudgetConfig{AudioBytes: cfg.audioBudgetMB << 20, Analyses: cfg.analyses, Wait: cfg.queueWait}
	if cfg.auditPseudonyms {
		if scfg.AuditSalt, err = loadAuditSalt(cfg.data, create); err != nil {
			return err
		}
	}
	svc := service.New(db, service.Options{Logger: log, Engine: eng.Engine, Sealer: sealer, Tokens: tokens, Config: scfg, Crash: crashHook(log)})
	api := httpapi.New(svc, httpapi.Options{Logger: log, JWT: jwtv, Ready: eng.readiness(cfg.degraded), CORSOrigins: splitList(cfg.corsOrigins), ServerTiming: cfg.serverTiming, TrustedProxies: trusted,
		MetricsToken: cfg.metricsToken, MetricsApart: cfg.metricsAddr != ""})

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      3 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if missing := svc.ChecksNotRun(); len(missing) > 0 && !cfg.degraded {
		log.Error("not ready: checks a verdict needs have no model; enroll and verify answer 503 models_missing (run `voxgate models pull`, or serve with --degraded)", "missing", missing)
	} else if len(missing) > 0 {
		log.Warn("serving degraded: verdicts are given without these checks", "missing", missing)
	}
	log.Info("voxgate listening", "addr", ln.Addr().String(), "data", cfg.data, "store", describeStore(cfg.store, cfg.data), "models", models, "engine", eng.String(), "version", version,
		"degraded", cfg.degraded, "enroll_speech_s", scfg.RequiredSpeech)
	if listening != nil {
		listening <- ln.Addr().String()
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.metricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			srv.Close()
			return fmt.Errorf("metrics address: %w", err)
		}
		msrv := &http.Server{Handler: api.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10, ErrorLog: srv.ErrorLog}
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
		go func() {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics server: %w", err)
			}
		}()
	}
	go sweep(ctx, svc, log)
	asyncDone := make(chan error, 1)
	go func() { asyncDone <- svc.RunAsync(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace_ms", cfg.shutdownGrace.Milliseconds())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-asyncDone // jobs and webhook deliveries in flight finish (or are left to their leases)
	log.Info("stopped")
	return nil
}

// crashHook returns the crash tests' hook: with VOXGATE_CRASH_AT naming a
// write point of the service ("enroll.outcome", "verify.done", ...; see
// service.Options.Crash), the process kills itself with SIGKILL the first
// time it reaches that point, as a power cut would. Unset (always, outside
// those tests), it returns nil and the service never calls it.
func crashHook(log *slog.Logger) func(point string) {
	at := os.Getenv("VOXGATE_CRASH_AT")
	if at == "" {
		return nil
	}
	log.Warn("crash test: this process will kill itself at a write point", "point", at)
	return func(point string) {
		if point == at {
			log.Warn("crash test: killing the process", "point", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}

// loadAuditSalt returns the salt of audit pseudonyms: VOXGATE_AUDIT_SALT
// (hex; the same on every node), else DATA/audit.salt, created with mode
// 0600 at first use unless create is false (a node of a shared store: see
// secrets.go). Changing it changes the pseudonyms of later deletions.
func loadAuditSalt(dataDir string, create bool) ([]byte, error) {
	if env := os.Getenv("VOXGATE_AUDIT_SALT"); env != "" {
		k, err := seal.ParseKey(strings.TrimSpace(env))
		if err != nil {
			return nil, fmt.Errorf("VOXGATE_AUDIT_SALT: %w", err)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "audit.salt")
	if !create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf(missingSecret, "the audit salt ("+path+" or VOXGATE_AUDIT_SALT)")
		}
	}
	return seal.LoadOrCreateKey(path)
}

// sweep deletes expired sessions and tokens every minute until ctx ends.
func sweep(ctx context.Context, svc *service.Service, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := svc.SweepExpired(ctx); err != nil {
				log.Warn("sweeping expired sessions failed", "err", err)
			} else if n > 0 {
				log.Info("swept expired sessions and tokens", "rows", n)
			}
		}
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parsePrefixes parses a comma-separated list of CIDRs (a bare address is
// its own /32 or /128).
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range splitList(v) {
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"voxgate/httpapi"
	"voxgate/service"
	"voxgate/store/sqlite"
)

// config is the server's configuration from flags and environment.
type config struct {
	addr, data, models string
	shutdownGrace      time.Duration
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	var cfg config
	fs.StringVar(&cfg.addr, "addr", envOr("VOXGATE_ADDR", "127.0.0.1:8080"), "listen address `HOST:PORT` (env VOXGATE_ADDR)")
	fs.StringVar(&cfg.data, "data", envOr("VOXGATE_DATA", "./data"), "data `DIR`: database, keys (env VOXGATE_DATA)")
	fs.StringVar(&cfg.models, "models", envOr("VOXGATE_MODELS", ""), "models `DIR` (env VOXGATE_MODELS; default ./models, then ../shared/models)")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 30*time.Second, "how long in-flight requests may run after SIGTERM")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
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

// openStore makes the data directory (private to the service's user) and
// opens the database in it.
func openStore(ctx context.Context, dataDir string) (*sqlite.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(dataDir, "voxgate.db"))
}

// serve runs the server until ctx is cancelled, then lets in-flight requests
// finish within the grace period. listening, when not nil, receives the
// bound address (tests listen on port 0).
func serve(ctx context.Context, cfg config, log *slog.Logger, listening chan<- string) error {
	models, err := resolveModels(cfg.models)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg.data)
	if err != nil {
		return err
	}
	defer db.Close()

	svc := service.New(db, service.Options{Logger: log})
	api := httpapi.New(svc, httpapi.Options{Logger: log})

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
	log.Info("voxgate listening", "addr", ln.Addr().String(), "data", cfg.data, "models", models, "version", version)
	if listening != nil {
		listening <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", cfg.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

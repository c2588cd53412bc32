package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"voxgate"
	"voxgate/store/postgres"
	"voxgate/store/sqlite"
)

// storeFlagUsage documents --store for every command that opens the store.
const storeFlagUsage = "store `URL`: sqlite:PATH, or postgres://USER:PASSWORD@HOST:PORT/DB?... for several nodes on one database " +
	"(env VOXGATE_STORE; default: SQLite at DATA/voxgate.db)"

// openStore opens the store named by storeURL: "" for the embedded SQLite
// database in the data directory (made private to the service's user),
// "sqlite:PATH" for another SQLite file, postgres:// or postgresql:// for a
// PostgreSQL server shared by several nodes. Migrations run at open; a
// failure to reach, authenticate or migrate leaves the store unchanged.
func openStore(ctx context.Context, storeURL, dataDir string) (voxgate.Store, error) {
	st, err := openStoreURL(ctx, storeURL, dataDir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", describeStore(storeURL, dataDir), err)
	}
	return st, nil
}

func openStoreURL(ctx context.Context, storeURL, dataDir string) (voxgate.Store, error) {
	switch {
	case storeURL == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		return sqlite.Open(ctx, filepath.Join(dataDir, "voxgate.db"))
	case strings.HasPrefix(storeURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(storeURL, "sqlite:"), "//")
		if path == "" {
			return nil, fmt.Errorf("sqlite:PATH needs a PATH")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(storeURL, "postgres://"), strings.HasPrefix(storeURL, "postgresql://"):
		return postgres.Open(ctx, storeURL)
	}
	return nil, fmt.Errorf("unknown kind of store: use sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB")
}

// describeStore names the store for logs, without credentials.
func describeStore(storeURL, dataDir string) string {
	switch {
	case storeURL == "":
		return "sqlite:" + filepath.Join(dataDir, "voxgate.db")
	case strings.HasPrefix(storeURL, "sqlite:"):
		return storeURL
	}
	scheme, rest, ok := strings.Cut(storeURL, "://")
	if !ok {
		scheme, _, _ = strings.Cut(storeURL, ":")
		return fmt.Sprintf("%.20q", scheme)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	rest, _, _ = strings.Cut(rest, "?")
	return scheme + "://" + rest
}

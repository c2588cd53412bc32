package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"voxgate"
	"voxgate/store/storetest"
)

func open(t *testing.T) voxgate.Store {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestMigrationsAreIdempotentAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "voxgate.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustTenant(t, db, "kept")
	v1, _ := db.SchemaVersion(ctx)
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if v2, _ := db.SchemaVersion(ctx); v2 != v1 || v1 == 0 {
		t.Fatalf("schema version %d after reopen, %d before", v2, v1)
	}
	if _, err := db.FindTenant(ctx, "kept"); err != nil {
		t.Fatalf("data lost across reopen: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "voxgate.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := Open(ctx, path); err == nil {
		db.Close()
		t.Fatal("Open accepted a database from a newer version")
	}
}

func TestWALIsOn(t *testing.T) {
	db := open(t).(*DB)
	var mode string
	if err := db.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
}

// A webhook configured before migration 0007 keeps the legacy signature
// scheme its receiver checks, with no rotation under way.
func TestWebhooksFromBeforeStandardSigningKeepTheLegacyScheme(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "voxgate.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	old := &DB{db: raw, now: time.Now}
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 7 {
			break
		}
		if err := old.apply(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	tenant := storetest.MustTenant(t, old, "acme")
	if _, err := raw.Exec(`INSERT INTO webhooks (tenant_id, url, secret, created_at, updated_at) VALUES (?, 'https://a.example/hook', x'0102', 1, 1)`, tenant.ID); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := db.FindWebhook(ctx, tenant.ID)
	if err != nil || w.Signature != "legacy" || w.PreviousSecret != nil || !w.PreviousUntil.IsZero() || w.URL != "https://a.example/hook" {
		t.Fatalf("webhook after the upgrade: %+v, %v", w, err)
	}
}

func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir() // exists already, 0700 or whatever the system makes
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.db")
	old := filepath.Join(dir, "old.db")
	if err := os.WriteFile(old, nil, 0o644); err != nil { // left by an earlier version
		t.Fatal(err)
	}
	os.Chmod(old, 0o644) // whatever the umask
	for _, path := range []string{fresh, old} {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		storetest.MustTenant(t, db, "acme") // a write: the WAL files exist now
		matches, _ := filepath.Glob(path + "*")
		if len(matches) < 2 {
			t.Fatalf("%s: files %v, want the database and its WAL", path, matches)
		}
		for _, p := range matches {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v (%v), want 0600", filepath.Base(p), st.Mode().Perm(), err)
			}
		}
		db.Close()
	}
}

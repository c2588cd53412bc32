package postgres

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"voxgate"
	"voxgate/internal/pgtest"
	"voxgate/store/storetest"
)

func open(t *testing.T) voxgate.Store {
	t.Helper()
	db, err := Open(context.Background(), pgtest.Fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestNodesStartingTogetherMigrateOnce(t *testing.T) {
	ctx := context.Background()
	u := pgtest.Fresh(t)
	const nodes = 5
	var wg sync.WaitGroup
	dbs := make([]*DB, nodes)
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(ctx, u)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	ms, _ := migrations()
	var rows int
	if err := dbs[0].pool.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(ms) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d: one per migration", rows, err, len(ms))
	}
	storetest.MustTenant(t, dbs[0], "kept")
	dbs[0].Close()
	again, err := Open(ctx, u)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	if v, _ := again.SchemaVersion(ctx); v != ms[len(ms)-1].version {
		t.Fatalf("schema version %d after reopen, want %d", v, ms[len(ms)-1].version)
	}
	if _, err := again.FindTenant(ctx, "kept"); err != nil {
		t.Fatalf("data lost across reopen: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	u := pgtest.Fresh(t)
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	pgtest.Exec(t, u, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`)
	db, err = Open(ctx, u)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a database from a newer version")
	}
	if !strings.Contains(err.Error(), "newer than this voxgate") {
		t.Fatalf("error does not say why: %v", err)
	}
}

func TestFailedMigrationLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	u := pgtest.Fresh(t)
	// A table in the way makes migration 0001 fail half-way through.
	pgtest.Exec(t, u, `CREATE TABLE profiles (x INTEGER)`)
	if db, err := Open(ctx, u); err == nil {
		db.Close()
		t.Fatal("Open succeeded over a conflicting table")
	}
	pgtest.Exec(t, u, `DROP TABLE profiles`)
	// Nothing of 0001 stayed: no tenants table, no recorded version.
	pgtest.Exec(t, u, `CREATE TABLE tenants (x INTEGER)`)
	pgtest.Exec(t, u, `DROP TABLE tenants`)
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatalf("Open after clearing the conflict: %v", err)
	}
	db.Close()
}

func TestOpenExplainsConnectionFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := pgtest.URL(t)
	wrongPassword, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	wrongPassword.User = url.UserPassword(wrongPassword.User.Username(), "not-the-password")
	closed := freePort(t)
	for _, tc := range []struct {
		name, url, want string
	}{
		{"wrong password", wrongPassword.String(), "password authentication failed"},
		{"unreachable server", "postgres://voxgate:secret@" + closed + "/voxgate?connect_timeout=5", "connect"},
		{"malformed URL", "postgres://voxgate:secret@127.0.0.1:notaport/db", "postgres URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(ctx, tc.url)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			for _, secret := range []string{"not-the-password", "secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q shows the password", err)
				}
			}
		})
	}
}

// TestPingFailsWhileTheDatabaseIsAwayAndRecovers puts a TCP relay between
// the pool and the server, cuts it, and restores it.
func TestPingFailsWhileTheDatabaseIsAwayAndRecovers(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(pgtest.Fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	relay := pgtest.NewRelay(t, u.Host)
	u.Host = relay.Addr
	db, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("ping through the relay: %v", err)
	}
	relay.Cut()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = db.Ping(pctx)
	cancel()
	if err == nil {
		t.Fatal("ping succeeded with the database unreachable")
	}
	relay.Restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = db.Ping(pctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not recover: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := db.FindTenant(ctx, "nobody"); voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		t.Fatalf("query after recovery: %v", err)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A webhook configured before migration 0007 keeps the legacy signature
// scheme its receiver checks, with no rotation under way.
func TestWebhooksFromBeforeStandardSigningKeepTheLegacyScheme(t *testing.T) {
	ctx := context.Background()
	u := pgtest.Fresh(t)
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	old := &DB{pool: pool, timeout: DefaultTimeout, now: time.Now}
	if err := old.migrateTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	tenant := storetest.MustTenant(t, old, "acme")
	if _, err := pool.Exec(ctx, `INSERT INTO webhooks (tenant_id, url, secret, created_at, updated_at) VALUES ($1, 'https://a.example/hook', '\x0102', 1, 1)`, tenant.ID); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := db.FindWebhook(ctx, tenant.ID)
	if err != nil || w.Signature != "legacy" || w.PreviousSecret != nil || !w.PreviousUntil.IsZero() || w.URL != "https://a.example/hook" {
		t.Fatalf("webhook after the upgrade: %+v, %v", w, err)
	}
}

// Package postgres implements voxgate.Store and voxgate.Queue on PostgreSQL
// (pgx v5), for several voxgate nodes sharing one database: a connection
// pool, a deadline on every call, statements prepared once per connection
// (pgx's statement cache), and versioned migrations embedded in the binary,
// applied at open under an advisory lock so that nodes starting together
// apply each exactly once, all pending ones in one transaction.
//
// Every answer that must hold across nodes is decided by the database:
// single-use sessions and tokens by conditional updates, attempt standing
// under the profile row's lock, rate windows by upserts, queue claims by
// FOR UPDATE SKIP LOCKED with leases, voiceprints by revision checks.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"voxgate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultTimeout bounds one store call whose context has no deadline of its
// own, so that a stalled database turns into an error rather than a request
// that hangs.
const DefaultTimeout = 15 * time.Second

// DefaultMaxConns is the pool size of a node unless the URL sets
// pool_max_conns.
const DefaultMaxConns = 16

// migrateLock is the advisory lock key held while migrating ("voxgate" in
// ASCII): one per database, so nodes starting at once migrate in turn.
const migrateLock int64 = 0x766f786761746500

// DB is a voxgate.Store and voxgate.Queue backed by a PostgreSQL pool.
type DB struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	now     func() time.Time
}

var (
	_ voxgate.Store        = (*DB)(nil)
	_ voxgate.Queue        = (*DB)(nil)
	_ voxgate.QueueMonitor = (*DB)(nil)
)

// Open connects to the database at url (postgres://user:pass@host:port/db,
// with any libpq or pgxpool parameter, e.g. pool_max_conns=32 (default
// DefaultMaxConns),
// connect_timeout=5, search_path=voxgate) and applies pending migrations.
// It fails, having changed nothing, when the server is unreachable, refuses
// the credentials, or holds a schema newer than this binary knows.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %s", redact(err))
	}
	// A request makes its store calls one after another, so a node needs
	// about one connection per request in flight: pgxpool's default (the
	// larger of 4 and the CPU count) would queue requests behind each
	// other on small machines.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	// Connections are checked every few seconds, so that the pool drops
	// dead ones and reconnects when the database comes back.
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", redact(err))
	}
	s := &DB{pool: pool, timeout: DefaultTimeout, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// redact returns err's text; pgx never prints passwords, but a URL that
// failed to parse may be echoed, so anything after "://" up to "@" goes.
func redact(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if j := strings.Index(msg[i:], "@"); j >= 0 {
			msg = msg[:i+3] + "***" + msg[i+j:]
		}
	}
	return msg
}

// bound gives ctx the store's default deadline unless it has one.
func (s *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Ping checks that the database answers (readiness). The pool reconnects
// by itself once an unreachable database is back.
func (s *DB) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var one int
	return s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
}

// Close closes the pool.
func (s *DB) Close() error {
	s.pool.Close()
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v *int
	err := s.pool.QueryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if v == nil {
		return 0, err
	}
	return *v, err
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with NNNN_", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{v, name, string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		// Two files of one version: the second would be skipped silently
		// as applied (branches merged with the same next number).
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// migrate applies every pending migration in one transaction that first
// takes the advisory lock: a node starting beside another waits for it and
// then finds nothing to do, and a failure leaves the schema as it was.
func (s *DB) migrate(ctx context.Context) error { return s.migrateTo(ctx, math.MaxInt) }

// migrateTo is migrate up to version upTo (tests build older schemas).
func (s *DB) migrateTo(ctx context.Context, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current *int
		if err := tx.QueryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if current != nil && *current > latest {
			return fmt.Errorf("database schema version %d is newer than this voxgate knows (%d): refusing to run an older binary on it", *current, latest)
		}
		for _, m := range ms {
			if current != nil && m.version <= *current || m.version > upTo {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, s.now().UnixMilli()); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: %s", redact(err))
	}
	return nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func timePtr(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := fromMillis(*ms)
	return &t
}

// scanner is a row or the current row of rows.
type scanner interface{ Scan(...any) error }

// querier is the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// collect runs a query and scans every row with scan: the one loop behind
// the store's list methods.
func collect[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (*T, error)) ([]*T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// pgCode returns the SQLSTATE of err, "" if it is not a server error.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == "23505" }
func isForeignKey(err error) bool { return pgCode(err) == "23503" }

// CreateTenant implements voxgate.Store.
func (s *DB) CreateTenant(ctx context.Context, t *voxgate.Tenant) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)`,
		t.ID, t.Name, millis(t.CreatedAt))
	if isUnique(err) {
		return voxgate.Errorf(voxgate.ECONFLICT, "tenant %q already exists", t.Name)
	}
	return err
}

// FindTenant implements voxgate.Store.
func (s *DB) FindTenant(ctx context.Context, ref string) (*voxgate.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var t voxgate.Tenant
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM tenants WHERE id = $1 OR name = $1
		ORDER BY (id = $1) DESC LIMIT 1`, ref).Scan(&t.ID, &t.Name, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	}
	if err != nil {
		return nil, err
	}
	t.CreatedAt = fromMillis(created)
	return &t, nil
}

// CreateAPIKey implements voxgate.Store.
func (s *DB) CreateAPIKey(ctx context.Context, k *voxgate.APIKey) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, tenant_id, scope, hash, label, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.TenantID, string(k.Scope), k.Hash, k.Label, millis(k.CreatedAt), nullMillis(k.ExpiresAt), nullMillis(k.RevokedAt))
	if isUnique(err) {
		return voxgate.Errorf(voxgate.ECONFLICT, "key id collision")
	}
	if isForeignKey(err) {
		return voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	}
	return err
}

const keyColumns = `id, tenant_id, scope, hash, label, created_at, expires_at, revoked_at`

func scanKey(row scanner) (*voxgate.APIKey, error) {
	var k voxgate.APIKey
	var scope string
	var created int64
	var expires, revoked *int64
	if err := row.Scan(&k.ID, &k.TenantID, &scope, &k.Hash, &k.Label, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	k.Scope = voxgate.Scope(scope)
	k.CreatedAt = fromMillis(created)
	k.ExpiresAt = timePtr(expires)
	k.RevokedAt = timePtr(revoked)
	return &k, nil
}

// FindAPIKey implements voxgate.Store.
func (s *DB) FindAPIKey(ctx context.Context, id string) (*voxgate.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "key not found")
	}
	return k, err
}

// ListAPIKeys implements voxgate.Store.
func (s *DB) ListAPIKeys(ctx context.Context, tenantID string) ([]*voxgate.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return collect(ctx, s.pool, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`, []any{tenantID}, scanKey)
}

// RevokeAPIKey implements voxgate.Store.
func (s *DB) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3`,
		millis(at), tenantID, keyID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return voxgate.Errorf(voxgate.ENOTFOUND, "key %q not found", keyID)
	}
	return nil
}

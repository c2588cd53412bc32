// Package sqlite implements voxgate.Store on an embedded SQLite database
// (the pure-Go modernc.org/sqlite driver): one file in the data directory,
// write-ahead logging, a busy timeout, and versioned migrations embedded in
// the binary and applied at open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"voxgate"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is a voxgate.Store backed by one SQLite file.
type DB struct {
	db  *sql.DB
	now func() time.Time
}

var _ voxgate.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and applies any
// pending migrations. It refuses a database written by a newer voxgate.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// SQLite serialises writers; a handful of connections lets readers run
	// beside one writer without piling up busy waits.
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	s := &DB{db: sqldb, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return s, nil
}

// privateFiles makes the database file readable by its owner only before
// SQLite opens it: created with mode 0600 when missing (SQLite gives its WAL
// and shared-memory files the database's mode), and tightened to 0600 when
// an earlier version left it, or its WAL files, open to group or others.
// The data folder's own mode is not enough: it may already exist, open.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("make %s private: %w", p, err)
			}
		}
	}
	return nil
}

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// SchemaVersion returns the highest applied migration.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
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

// migrate applies pending migrations, each in its own immediate
// transaction, so that two processes starting at once apply each exactly once.
func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("database schema version %d is newer than this voxgate knows (%d): refusing to run an older binary on it", current, latest)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (s *DB) apply(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, s.now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func timePtr(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := fromMillis(ms.Int64)
	return &t
}

// collect runs a query and scans every row with scan: the one loop behind
// the store's list methods.
func collect[T any](ctx context.Context, db *sql.DB, query string, args []any, scan func(interface{ Scan(...any) error }) (*T, error)) ([]*T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
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

// isUnique reports whether err is a uniqueness violation.
func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateTenant implements voxgate.Store.
func (s *DB) CreateTenant(ctx context.Context, t *voxgate.Tenant) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
		t.ID, t.Name, millis(t.CreatedAt))
	if isUnique(err) {
		return voxgate.Errorf(voxgate.ECONFLICT, "tenant %q already exists", t.Name)
	}
	return err
}

// FindTenant implements voxgate.Store.
func (s *DB) FindTenant(ctx context.Context, ref string) (*voxgate.Tenant, error) {
	var t voxgate.Tenant
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants WHERE id = ? OR name = ? LIMIT 1`, ref, ref).
		Scan(&t.ID, &t.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys (id, tenant_id, scope, hash, label, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.TenantID, string(k.Scope), k.Hash, k.Label, millis(k.CreatedAt), nullMillis(k.ExpiresAt), nullMillis(k.RevokedAt))
	if isUnique(err) {
		return voxgate.Errorf(voxgate.ECONFLICT, "key id collision")
	}
	return err
}

const keyColumns = `id, tenant_id, scope, hash, label, created_at, expires_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (*voxgate.APIKey, error) {
	var k voxgate.APIKey
	var scope string
	var created int64
	var expires, revoked sql.NullInt64
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
	k, err := scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "key not found")
	}
	return k, err
}

// ListAPIKeys implements voxgate.Store.
func (s *DB) ListAPIKeys(ctx context.Context, tenantID string) ([]*voxgate.APIKey, error) {
	return collect(ctx, s.db, `SELECT `+keyColumns+` FROM api_keys WHERE tenant_id = ? ORDER BY created_at DESC, id`, []any{tenantID}, scanKey)
}

// RevokeAPIKey implements voxgate.Store.
func (s *DB) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?`,
		millis(at), tenantID, keyID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return voxgate.Errorf(voxgate.ENOTFOUND, "key %q not found", keyID)
	}
	return nil
}

const profileColumns = `user_id, created_at, enrolled_at, samples, speech_seconds`

func scanProfile(tenantID string, row interface{ Scan(...any) error }) (*voxgate.Profile, error) {
	p := voxgate.Profile{TenantID: tenantID}
	var created int64
	var enrolled sql.NullInt64
	if err := row.Scan(&p.UserID, &created, &enrolled, &p.Samples, &p.SpeechSeconds); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMillis(created)
	p.EnrolledAt = timePtr(enrolled)
	return &p, nil
}

// CreateProfile implements voxgate.Store. The insert and the read happen
// in one immediate transaction, so concurrent callers serialise on it and
// exactly one of them sees created == true.
func (s *DB) CreateProfile(ctx context.Context, tenantID, userID string, at time.Time) (*voxgate.Profile, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO profiles (tenant_id, user_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, user_id) DO NOTHING`, tenantID, userID, millis(at))
	if err != nil {
		return nil, false, err
	}
	n, _ := res.RowsAffected()
	p, err := scanProfile(tenantID, tx.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, userID))
	if err != nil {
		return nil, false, err
	}
	return p, n == 1, tx.Commit()
}

// FindProfile implements voxgate.Store.
func (s *DB) FindProfile(ctx context.Context, tenantID, userID string) (*voxgate.Profile, error) {
	p, err := scanProfile(tenantID, s.db.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "User must enroll before verification")
	}
	return p, err
}

// userTables lists the tables whose rows about a user are deleted with
// the profile, explicitly (foreign keys cascade for some too; this does not
// rely on the pragma being on). The retention of every table is in
// docs/RETENTION.md.
var userTables = []string{
	"enrollment_samples", "voiceprints", "fingerprints", "standings", "device_fingerprints",
	"device_mismatches", "sessions", "voice_tokens", "webhook_deliveries", "group_members",
}

// DeleteProfile implements voxgate.Store.
func (s *DB) DeleteProfile(ctx context.Context, tenantID, userID, auditAs string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
	}
	if err := recordRemoval(ctx, tx, tenantID, userID, s.now()); err != nil {
		return err
	}
	for _, table := range userTables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND user_id = ?`, tenantID, userID); err != nil {
			return fmt.Errorf("delete from %s: %w", table, err)
		}
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM async_jobs WHERE tenant_id = ? AND user_id = ? AND status = 'done'`, []any{tenantID, userID}},
		// Unfinished jobs still owe their submitter an answer: stripped
		// of the user, and taken from any worker holding them, they
		// complete as "profile deleted".
		// (available_at = created_at: claimable at once by any clock.)
		{`UPDATE async_jobs SET user_id = '', audio = NULL, device_fingerprint = '', status = 'queued', claim = '', available_at = created_at
			WHERE tenant_id = ? AND user_id = ?`, []any{tenantID, userID}},
		// Identification results name users in their payload only: the
		// identified one, and the candidates.
		{`DELETE FROM webhook_deliveries WHERE tenant_id = ? AND user_id = '' AND json_valid(CAST(payload AS TEXT)) AND (
			json_extract(CAST(payload AS TEXT), '$.external_id') = ? OR
			EXISTS (SELECT 1 FROM json_each(CAST(payload AS TEXT), '$.candidates') c WHERE json_extract(c.value, '$.user_id') = ?))`,
			[]any{tenantID, userID, userID}},
		// The user's own end-user token counted its rate windows by a key
		// id holding the user id.
		{`DELETE FROM rate_windows WHERE key_id = ?`, []any{voxgate.EndUserKeyID(tenantID, userID)}},
	} {
		if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
			return err
		}
	}
	if auditAs != "" && auditAs != userID {
		if _, err := tx.ExecContext(ctx, `UPDATE attempts SET user_id = ? WHERE tenant_id = ? AND user_id = ?`, auditAs, tenantID, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE attempts SET key_id = ? WHERE tenant_id = ? AND key_id = ?`,
			voxgate.EndUserKeyID(tenantID, auditAs), tenantID, voxgate.EndUserKeyID(tenantID, userID)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

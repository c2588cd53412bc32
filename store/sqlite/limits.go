package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"voxgate"
)

// UpdateStanding implements voxgate.Store. The transaction starts with
// BEGIN IMMEDIATE (the _txlock setting), so the read and the write happen
// under SQLite's write lock.
func (s *DB) UpdateStanding(ctx context.Context, tenantID, userID string, fn func(voxgate.Standing) (voxgate.Standing, error)) (voxgate.Standing, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return voxgate.Standing{}, err
	}
	defer tx.Rollback()
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&exists); err != nil {
		return voxgate.Standing{}, err
	}
	if exists == 0 {
		return voxgate.Standing{}, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "User must enroll before verification")
	}
	cur, err := readStanding(ctx, tx, tenantID, userID)
	if err != nil {
		return voxgate.Standing{}, err
	}
	next, err := fn(cur)
	if err != nil {
		return voxgate.Standing{}, err
	}
	if err := s.writeStanding(ctx, tx, tenantID, userID, next); err != nil {
		return voxgate.Standing{}, err
	}
	return next, tx.Commit()
}

// writeStanding stores the profile's standing within tx.
func (s *DB) writeStanding(ctx context.Context, tx *sql.Tx, tenantID, userID string, next voxgate.Standing) error {
	locked := 0
	if next.Locked {
		locked = 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO standings (tenant_id, user_id, failures, cooldown_until, locked, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET failures = excluded.failures,
			cooldown_until = excluded.cooldown_until, locked = excluded.locked, updated_at = excluded.updated_at`,
		tenantID, userID, next.Failures, next.CooldownUntil.UnixMilli(), locked, s.now().UnixMilli())
	return err
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readStanding(ctx context.Context, q queryRower, tenantID, userID string) (voxgate.Standing, error) {
	var st voxgate.Standing
	var until int64
	var locked int
	err := q.QueryRowContext(ctx, `SELECT failures, cooldown_until, locked FROM standings WHERE tenant_id = ? AND user_id = ?`,
		tenantID, userID).Scan(&st.Failures, &until, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return voxgate.Standing{}, nil
	}
	if err != nil {
		return st, err
	}
	if until > 0 {
		st.CooldownUntil = fromMillis(until)
	}
	st.Locked = locked != 0
	return st, nil
}

// FindStanding implements voxgate.Store.
func (s *DB) FindStanding(ctx context.Context, tenantID, userID string) (voxgate.Standing, error) {
	return readStanding(ctx, s.db, tenantID, userID)
}

// CountRequest implements voxgate.Store.
func (s *DB) CountRequest(ctx context.Context, keyID, scope string, windowStart, pruneBefore time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `INSERT INTO rate_windows (key_id, scope, window_start, count) VALUES (?, ?, ?, 1)
		ON CONFLICT (key_id, scope, window_start) DO UPDATE SET count = count + 1 RETURNING count`,
		keyID, scope, windowStart.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, err
	}
	// Prune a key's stale windows now and then (1 in 64 calls by count),
	// keeping the table small without a background job.
	if n%64 == 1 {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM rate_windows WHERE key_id = ? AND window_start < ?`, keyID, pruneBefore.UnixMilli()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

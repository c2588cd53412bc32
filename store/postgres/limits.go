package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"voxgate"
)

// UpdateStanding implements voxgate.Store. The profile row is locked
// (FOR UPDATE) before the standing is read, so concurrent attempts on any
// node queue behind each other and each sees the one before.
func (s *DB) UpdateStanding(ctx context.Context, tenantID, userID string, fn func(voxgate.Standing) (voxgate.Standing, error)) (voxgate.Standing, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var next voxgate.Standing
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM profiles WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, tenantID, userID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "User must enroll before verification")
		}
		if err != nil {
			return err
		}
		cur, err := readStanding(ctx, tx, tenantID, userID)
		if err != nil {
			return err
		}
		next, err = fn(cur)
		if err != nil {
			return err
		}
		return s.writeStanding(ctx, tx, tenantID, userID, next)
	})
	if err != nil {
		return voxgate.Standing{}, err
	}
	return next, nil
}

// writeStanding stores the profile's standing within tx.
func (s *DB) writeStanding(ctx context.Context, tx pgx.Tx, tenantID, userID string, next voxgate.Standing) error {
	_, err := tx.Exec(ctx, `INSERT INTO standings (tenant_id, user_id, failures, cooldown_until, locked, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET failures = excluded.failures,
			cooldown_until = excluded.cooldown_until, locked = excluded.locked, updated_at = excluded.updated_at`,
		tenantID, userID, next.Failures, next.CooldownUntil.UnixMilli(), next.Locked, s.now().UnixMilli())
	return err
}

func readStanding(ctx context.Context, q querier, tenantID, userID string) (voxgate.Standing, error) {
	var st voxgate.Standing
	var until int64
	err := q.QueryRow(ctx, `SELECT failures, cooldown_until, locked FROM standings WHERE tenant_id = $1 AND user_id = $2`,
		tenantID, userID).Scan(&st.Failures, &until, &st.Locked)
	if errors.Is(err, pgx.ErrNoRows) {
		return voxgate.Standing{}, nil
	}
	if err != nil {
		return st, err
	}
	if until > 0 {
		st.CooldownUntil = fromMillis(until)
	}
	return st, nil
}

// FindStanding implements voxgate.Store.
func (s *DB) FindStanding(ctx context.Context, tenantID, userID string) (voxgate.Standing, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return readStanding(ctx, s.pool, tenantID, userID)
}

// CountRequest implements voxgate.Store: one upsert, atomic however many
// nodes count the same key at once.
func (s *DB) CountRequest(ctx context.Context, keyID, scope string, windowStart, pruneBefore time.Time) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	err := s.pool.QueryRow(ctx, `INSERT INTO rate_windows (key_id, scope, window_start, count) VALUES ($1, $2, $3, 1)
		ON CONFLICT (key_id, scope, window_start) DO UPDATE SET count = rate_windows.count + 1 RETURNING count`,
		keyID, scope, windowStart.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, err
	}
	// Prune a key's stale windows now and then (1 in 64 calls by count),
	// keeping the table small without a background job.
	if n%64 == 1 {
		if _, err := s.pool.Exec(ctx, `DELETE FROM rate_windows WHERE key_id = $1 AND window_start < $2`, keyID, pruneBefore.UnixMilli()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

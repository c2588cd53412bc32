package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"voxgate"
)

// CreateSession implements voxgate.Store.
func (s *DB) CreateSession(ctx context.Context, tenantID string, ss *voxgate.Session) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (id, tenant_id, user_id, mode, challenge, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, ss.ID, tenantID, ss.UserID, ss.Mode, ss.Challenge, millis(ss.CreatedAt), millis(ss.ExpiresAt))
	if isUnique(err) {
		return voxgate.Errorf(voxgate.ECONFLICT, "session id collision")
	}
	return err
}

// ConsumeSession implements voxgate.Store with one conditional UPDATE: of
// concurrent callers on any node, the first to update wins and the others,
// re-checking the row after it commits, find it consumed.
func (s *DB) ConsumeSession(ctx context.Context, tenantID, id string, now time.Time) (*voxgate.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var ss voxgate.Session
	var created, expires int64
	err := s.pool.QueryRow(ctx, `UPDATE sessions SET consumed_at = $1
		WHERE tenant_id = $2 AND id = $3 AND consumed_at IS NULL AND expires_at > $1
		RETURNING id, user_id, mode, challenge, created_at, expires_at`,
		millis(now), tenantID, id).Scan(&ss.ID, &ss.UserID, &ss.Mode, &ss.Challenge, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, voxgate.Errorf(voxgate.ESESSIONNOTFOUND, "Unknown session: start a new one with /start-auth")
		}
		return nil, voxgate.Errorf(voxgate.ESESSIONEXPIRED, "The session has expired or was already used: start a new one")
	}
	if err != nil {
		return nil, err
	}
	ss.CreatedAt, ss.ExpiresAt = fromMillis(created), fromMillis(expires)
	t := now.UTC()
	ss.ConsumedAt = &t
	return &ss, nil
}

// RecentChallenges implements voxgate.Store.
func (s *DB) RecentChallenges(ctx context.Context, tenantID, userID string, limit int) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT challenge FROM sessions WHERE tenant_id = $1 AND user_id = $2
		ORDER BY created_at DESC LIMIT $3`, tenantID, userID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// SweepSessions implements voxgate.Store.
func (s *DB) SweepSessions(ctx context.Context, before time.Time) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var total int64
	for _, q := range []string{`DELETE FROM sessions WHERE expires_at < $1`, `DELETE FROM voice_tokens WHERE expires_at < $1`} {
		tag, err := s.pool.Exec(ctx, q, millis(before))
		if err != nil {
			return int(total), err
		}
		total += tag.RowsAffected()
	}
	return int(total), nil
}

// CreateVoiceToken implements voxgate.Store.
func (s *DB) CreateVoiceToken(ctx context.Context, tenantID string, t *voxgate.VoiceToken) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO voice_tokens (jti, tenant_id, user_id, session_id, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, t.JTI, tenantID, t.UserID, t.SessionID, millis(t.IssuedAt), millis(t.ExpiresAt))
	if isUnique(err) {
		return voxgate.Errorf(voxgate.ECONFLICT, "token id collision")
	}
	return err
}

// ConsumeVoiceToken implements voxgate.Store, like ConsumeSession.
func (s *DB) ConsumeVoiceToken(ctx context.Context, tenantID, jti string, now time.Time) (*voxgate.VoiceToken, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var t voxgate.VoiceToken
	var issued, expires int64
	err := s.pool.QueryRow(ctx, `UPDATE voice_tokens SET used_at = $1
		WHERE tenant_id = $2 AND jti = $3 AND used_at IS NULL AND expires_at > $1
		RETURNING jti, user_id, session_id, issued_at, expires_at`,
		millis(now), tenantID, jti).Scan(&t.JTI, &t.UserID, &t.SessionID, &issued, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM voice_tokens WHERE tenant_id = $1 AND jti = $2`, tenantID, jti).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, voxgate.Errorf(voxgate.ENOTFOUND, "unknown token")
		}
		return nil, voxgate.Errorf(voxgate.ESESSIONEXPIRED, "token already used or expired")
	}
	if err != nil {
		return nil, err
	}
	t.IssuedAt, t.ExpiresAt = fromMillis(issued), fromMillis(expires)
	u := now.UTC()
	t.UsedAt = &u
	return &t, nil
}

// SetChallengePhrases implements voxgate.Store.
func (s *DB) SetChallengePhrases(ctx context.Context, tenantID string, phrases []string, at time.Time) error {
	b, err := json.Marshal(phrases)
	if err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err = s.pool.Exec(ctx, `INSERT INTO challenge_phrases (tenant_id, phrases, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET phrases = excluded.phrases, updated_at = excluded.updated_at`,
		tenantID, string(b), millis(at))
	return err
}

// ChallengePhrases implements voxgate.Store.
func (s *DB) ChallengePhrases(ctx context.Context, tenantID string) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var raw string
	err := s.pool.QueryRow(ctx, `SELECT phrases FROM challenge_phrases WHERE tenant_id = $1`, tenantID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	return out, json.Unmarshal([]byte(raw), &out)
}

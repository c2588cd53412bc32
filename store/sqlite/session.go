package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"voxgate"
)

// CreateSession implements voxgate.Store.
func (s *DB) CreateSession(ctx context.Context, tenantID string, ss *voxgate.Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id, tenant_id, user_id, mode, challenge, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, ss.ID, tenantID, ss.UserID, ss.Mode, ss.Challenge, millis(ss.CreatedAt), millis(ss.ExpiresAt))
	return err
}

// ConsumeSession implements voxgate.Store.
func (s *DB) ConsumeSession(ctx context.Context, tenantID, id string, now time.Time) (*voxgate.Session, error) {
	var ss voxgate.Session
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `UPDATE sessions SET consumed_at = ?
		WHERE tenant_id = ? AND id = ? AND consumed_at IS NULL AND expires_at > ?
		RETURNING id, user_id, mode, challenge, created_at, expires_at`,
		millis(now), tenantID, id, millis(now)).Scan(&ss.ID, &ss.UserID, &ss.Mode, &ss.Challenge, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&n); err != nil {
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
	rows, err := s.db.QueryContext(ctx, `SELECT challenge FROM sessions WHERE tenant_id = ? AND user_id = ?
		ORDER BY created_at DESC LIMIT ?`, tenantID, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SweepSessions implements voxgate.Store.
func (s *DB) SweepSessions(ctx context.Context, before time.Time) (int, error) {
	var total int64
	for _, q := range []string{`DELETE FROM sessions WHERE expires_at < ?`, `DELETE FROM voice_tokens WHERE expires_at < ?`} {
		res, err := s.db.ExecContext(ctx, q, millis(before))
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return int(total), nil
}

// CreateVoiceToken implements voxgate.Store.
func (s *DB) CreateVoiceToken(ctx context.Context, tenantID string, t *voxgate.VoiceToken) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO voice_tokens (jti, tenant_id, user_id, session_id, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, t.JTI, tenantID, t.UserID, t.SessionID, millis(t.IssuedAt), millis(t.ExpiresAt))
	return err
}

// ConsumeVoiceToken implements voxgate.Store.
func (s *DB) ConsumeVoiceToken(ctx context.Context, tenantID, jti string, now time.Time) (*voxgate.VoiceToken, error) {
	var t voxgate.VoiceToken
	var issued, expires int64
	err := s.db.QueryRowContext(ctx, `UPDATE voice_tokens SET used_at = ?
		WHERE tenant_id = ? AND jti = ? AND used_at IS NULL AND expires_at > ?
		RETURNING jti, user_id, session_id, issued_at, expires_at`,
		millis(now), tenantID, jti, millis(now)).Scan(&t.JTI, &t.UserID, &t.SessionID, &issued, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM voice_tokens WHERE tenant_id = ? AND jti = ?`, tenantID, jti).Scan(&n); err != nil {
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
	_, err = s.db.ExecContext(ctx, `INSERT INTO challenge_phrases (tenant_id, phrases, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET phrases = excluded.phrases, updated_at = excluded.updated_at`,
		tenantID, string(b), millis(at))
	return err
}

// ChallengePhrases implements voxgate.Store.
func (s *DB) ChallengePhrases(ctx context.Context, tenantID string) ([]string, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT phrases FROM challenge_phrases WHERE tenant_id = ?`, tenantID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	return out, json.Unmarshal([]byte(raw), &out)
}

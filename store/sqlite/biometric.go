package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"voxgate"
)

// AddSample implements voxgate.Store.
func (s *DB) AddSample(ctx context.Context, tenantID string, smp *voxgate.Sample, requiredSpeech float64) (*voxgate.Profile, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := addSample(ctx, tx, tenantID, smp, requiredSpeech); err != nil {
		return nil, err
	}
	p, err := scanProfile(tenantID, tx.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, smp.UserID))
	if err != nil {
		return nil, err
	}
	return p, tx.Commit()
}

// addSample inserts smp and updates its profile's counters within tx.
func addSample(ctx context.Context, tx *sql.Tx, tenantID string, smp *voxgate.Sample, requiredSpeech float64) error {
	res, err := tx.ExecContext(ctx, `UPDATE profiles SET samples = samples + 1, speech_seconds = speech_seconds + ?,
		enrolled_at = CASE WHEN enrolled_at IS NULL AND speech_seconds + ? >= ? THEN ? ELSE enrolled_at END
		WHERE tenant_id = ? AND user_id = ?`,
		smp.SpeechSeconds, smp.SpeechSeconds, requiredSpeech, millis(smp.CreatedAt), tenantID, smp.UserID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "User must be created with /create-profile before enrollment")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO enrollment_samples
		(id, tenant_id, user_id, created_at, speech_seconds, weight, model_version, quality, embedding)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		smp.ID, tenantID, smp.UserID, millis(smp.CreatedAt), smp.SpeechSeconds, smp.Weight, smp.ModelVersion, smp.Quality, smp.Embedding)
	return err
}

// ListSamples implements voxgate.Store.
func (s *DB) ListSamples(ctx context.Context, tenantID, userID string) ([]*voxgate.Sample, error) {
	return collect(ctx, s.db, `SELECT id, user_id, created_at, speech_seconds, weight, model_version, quality, embedding
		FROM enrollment_samples WHERE tenant_id = ? AND user_id = ? ORDER BY created_at, id`, []any{tenantID, userID}, scanSample)
}

func scanSample(row interface{ Scan(...any) error }) (*voxgate.Sample, error) {
	var smp voxgate.Sample
	var created int64
	if err := row.Scan(&smp.ID, &smp.UserID, &created, &smp.SpeechSeconds, &smp.Weight, &smp.ModelVersion, &smp.Quality, &smp.Embedding); err != nil {
		return nil, err
	}
	smp.CreatedAt = fromMillis(created)
	return &smp, nil
}

// ListCohortSamples implements voxgate.Store.
func (s *DB) ListCohortSamples(ctx context.Context, tenantID, modelVersion string, limit int) ([]*voxgate.Sample, error) {
	if limit <= 0 {
		return nil, nil
	}
	return collect(ctx, s.db, `SELECT id, user_id, created_at, speech_seconds, weight, model_version, quality, embedding
		FROM enrollment_samples WHERE tenant_id = ? AND model_version = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
		[]any{tenantID, modelVersion, limit}, scanSample)
}

// PutVoiceprint implements voxgate.Store.
func (s *DB) PutVoiceprint(ctx context.Context, tenantID string, vp *voxgate.Voiceprint) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := profileExists(ctx, tx, tenantID, vp.UserID); err != nil {
		return err
	}
	if err := putVoiceprint(ctx, tx, tenantID, vp); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	vp.Revision++
	return nil
}

// profileExists returns EPROFILENOTFOUND unless the tenant has the profile.
func profileExists(ctx context.Context, q queryRower, tenantID, userID string) error {
	var exists int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&exists); err != nil {
		return err
	}
	if exists == 0 {
		return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
	}
	return nil
}

// putVoiceprint writes vp within tx if its revision still holds; the
// caller bumps vp.Revision once tx commits.
func putVoiceprint(ctx context.Context, tx *sql.Tx, tenantID string, vp *voxgate.Voiceprint) error {
	next := vp.Revision + 1
	seq, err := bumpGallery(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	var res sql.Result
	if vp.Revision == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO voiceprints (tenant_id, user_id, model_version, template, revision, updated_at, gallery_seq)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, user_id) DO NOTHING`,
			tenantID, vp.UserID, vp.ModelVersion, vp.Template, next, millis(vp.UpdatedAt), seq)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE voiceprints SET model_version = ?, template = ?, revision = ?, updated_at = ?, gallery_seq = ?
			WHERE tenant_id = ? AND user_id = ? AND revision = ?`,
			vp.ModelVersion, vp.Template, next, millis(vp.UpdatedAt), seq, tenantID, vp.UserID, vp.Revision)
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return voxgate.Errorf(voxgate.ECONFLICT, "voiceprint changed concurrently")
	}
	return nil
}

// FindVoiceprint implements voxgate.Store.
func (s *DB) FindVoiceprint(ctx context.Context, tenantID, userID string) (*voxgate.Voiceprint, error) {
	vp := voxgate.Voiceprint{UserID: userID}
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT model_version, template, revision, updated_at FROM voiceprints
		WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&vp.ModelVersion, &vp.Template, &vp.Revision, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "no voiceprint enrolled for user")
	}
	if err != nil {
		return nil, err
	}
	vp.UpdatedAt = fromMillis(updated)
	return &vp, nil
}

// AddFingerprint implements voxgate.Store.
func (s *DB) AddFingerprint(ctx context.Context, tenantID string, f *voxgate.Fingerprint, keep int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := addFingerprint(ctx, tx, tenantID, f, keep); err != nil {
		return err
	}
	return tx.Commit()
}

// addFingerprint inserts f within tx and prunes the profile's oldest
// fingerprints beyond keep.
func addFingerprint(ctx context.Context, tx *sql.Tx, tenantID string, f *voxgate.Fingerprint, keep int) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO fingerprints (id, tenant_id, user_id, created_at, source, data) VALUES (?, ?, ?, ?, ?, ?)`,
		f.ID, tenantID, f.UserID, millis(f.CreatedAt), f.Source, f.Data); err != nil {
		if isForeignKey(err) {
			return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
		}
		return err
	}
	if keep > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM fingerprints WHERE tenant_id = ? AND user_id = ? AND id NOT IN (
			SELECT id FROM fingerprints WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)`,
			tenantID, f.UserID, tenantID, f.UserID, keep); err != nil {
			return err
		}
	}
	return nil
}

func isForeignKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// ListFingerprints implements voxgate.Store.
func (s *DB) ListFingerprints(ctx context.Context, tenantID, userID string, limit int) ([]*voxgate.Fingerprint, error) {
	return collect(ctx, s.db, `SELECT id, user_id, created_at, source, data FROM fingerprints
		WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, []any{tenantID, userID, limit},
		func(row interface{ Scan(...any) error }) (*voxgate.Fingerprint, error) {
			var f voxgate.Fingerprint
			var created int64
			if err := row.Scan(&f.ID, &f.UserID, &created, &f.Source, &f.Data); err != nil {
				return nil, err
			}
			f.CreatedAt = fromMillis(created)
			return &f, nil
		})
}

// RecordAttempt implements voxgate.Store.
func (s *DB) RecordAttempt(ctx context.Context, tenantID string, a *voxgate.Attempt) error {
	return recordAttempt(ctx, s.db, tenantID, a)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func recordAttempt(ctx context.Context, db execer, tenantID string, a *voxgate.Attempt) error {
	_, err := db.ExecContext(ctx, `INSERT INTO attempts (id, tenant_id, user_id, key_id, created_at, kind, decision, reason, detail, latency_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, tenantID, a.UserID, a.KeyID, millis(a.CreatedAt), a.Kind, a.Decision, a.Reason, a.Detail, a.LatencyMs)
	return err
}

// RecordOutcome implements voxgate.Store: every write in one immediate
// transaction.
func (s *DB) RecordOutcome(ctx context.Context, tenantID string, o *voxgate.Outcome) (*voxgate.Profile, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := profileExists(ctx, tx, tenantID, o.UserID); err != nil {
		return nil, err
	}
	if o.Sample != nil {
		if err := addSample(ctx, tx, tenantID, o.Sample, o.RequiredSpeech); err != nil {
			return nil, err
		}
	}
	if o.Voiceprint != nil {
		if err := putVoiceprint(ctx, tx, tenantID, o.Voiceprint); err != nil {
			return nil, err
		}
	}
	if o.Fingerprint != nil {
		if err := addFingerprint(ctx, tx, tenantID, o.Fingerprint, o.FingerprintKeep); err != nil {
			return nil, err
		}
	}
	if o.Standing != nil {
		cur, err := readStanding(ctx, tx, tenantID, o.UserID)
		if err != nil {
			return nil, err
		}
		if err := s.writeStanding(ctx, tx, tenantID, o.UserID, o.Standing(cur)); err != nil {
			return nil, err
		}
	}
	if o.Attempt != nil {
		if err := recordAttempt(ctx, tx, tenantID, o.Attempt); err != nil {
			return nil, err
		}
	}
	p, err := scanProfile(tenantID, tx.QueryRowContext(ctx, `SELECT `+profileColumns+` FROM profiles WHERE tenant_id = ? AND user_id = ?`, tenantID, o.UserID))
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if o.Voiceprint != nil {
		o.Voiceprint.Revision++
	}
	return p, nil
}

// attemptColumns are read by scanAttempt; usage reports read attempts
// without their detail (it is not needed and may be large), so they select
// an empty string in its place.
const (
	attemptColumns      = `id, user_id, key_id, created_at, kind, decision, reason, detail, latency_ms`
	attemptUsageColumns = `id, user_id, key_id, created_at, kind, decision, reason, '' AS detail, latency_ms`
)

func scanAttempt(row interface{ Scan(...any) error }) (*voxgate.Attempt, error) {
	var a voxgate.Attempt
	var created int64
	if err := row.Scan(&a.ID, &a.UserID, &a.KeyID, &created, &a.Kind, &a.Decision, &a.Reason, &a.Detail, &a.LatencyMs); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMillis(created)
	return &a, nil
}

// ListAttempts implements voxgate.Store.
func (s *DB) ListAttempts(ctx context.Context, tenantID, userID string, limit int) ([]*voxgate.Attempt, error) {
	q := `SELECT ` + attemptColumns + ` FROM attempts WHERE tenant_id = ?`
	args := []any{tenantID}
	if userID != "" {
		q += ` AND user_id = ?`
		args = append(args, userID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return collect(ctx, s.db, q, args, scanAttempt)
}

// KeyAttempts implements voxgate.Store.
func (s *DB) KeyAttempts(ctx context.Context, tenantID, keyID string, since time.Time, limit int) ([]*voxgate.Attempt, error) {
	return collect(ctx, s.db, `SELECT `+attemptUsageColumns+` FROM attempts
		WHERE tenant_id = ? AND key_id = ? AND created_at >= ? ORDER BY created_at, id LIMIT ?`,
		[]any{tenantID, keyID, millis(since), limit}, scanAttempt)
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"voxgate"
)

const profileColumns = `user_id, created_at, enrolled_at, samples, speech_seconds`

func scanProfile(tenantID string, row scanner) (*voxgate.Profile, error) {
	p := voxgate.Profile{TenantID: tenantID}
	var created int64
	var enrolled *int64
	if err := row.Scan(&p.UserID, &created, &enrolled, &p.Samples, &p.SpeechSeconds); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMillis(created)
	p.EnrolledAt = timePtr(enrolled)
	return &p, nil
}

// CreateProfile implements voxgate.Store. A concurrent insert of the same
// key waits for the first and then does nothing, so exactly one caller
// sees its row returned (created); the others read the stored profile.
func (s *DB) CreateProfile(ctx context.Context, tenantID, userID string, at time.Time) (*voxgate.Profile, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	p, err := scanProfile(tenantID, s.pool.QueryRow(ctx, `INSERT INTO profiles (tenant_id, user_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, user_id) DO NOTHING RETURNING `+profileColumns, tenantID, userID, millis(at)))
	if err == nil {
		return p, true, nil
	}
	if isForeignKey(err) {
		return nil, false, voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, err
	}
	p, err = scanProfile(tenantID, s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		// Deleted between the two statements: as if created and deleted.
		return nil, false, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
	}
	return p, false, err
}

// FindProfile implements voxgate.Store.
func (s *DB) FindProfile(ctx context.Context, tenantID, userID string) (*voxgate.Profile, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	p, err := scanProfile(tenantID, s.pool.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "User must enroll before verification")
	}
	return p, err
}

// userTables lists the tables whose rows about a user are deleted with
// the profile, explicitly (foreign keys cascade for some too). The
// retention of every table is in docs/RETENTION.md.
var userTables = []string{
	"enrollment_samples", "voiceprints", "fingerprints", "standings", "device_fingerprints",
	"device_mismatches", "sessions", "voice_tokens", "webhook_deliveries", "group_members",
}

// DeleteProfile implements voxgate.Store, in one transaction that first
// locks the profile, so that writers holding it (an outcome, a standing)
// finish before its records go.
func (s *DB) DeleteProfile(ctx context.Context, tenantID, userID, auditAs string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockProfile(ctx, tx, tenantID, userID, "FOR UPDATE"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM profiles WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
			return err
		}
		if err := recordRemoval(ctx, tx, tenantID, userID, s.now()); err != nil {
			return err
		}
		for _, table := range userTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM async_jobs WHERE tenant_id = $1 AND user_id = $2 AND status = 'done'`, []any{tenantID, userID}},
			// Unfinished jobs still owe their submitter an answer: stripped
			// of the user, and taken from any worker holding them, they
			// complete as "profile deleted".
			// (available_at = created_at: claimable at once by any clock.)
			{`UPDATE async_jobs SET user_id = '', audio = NULL, device_fingerprint = '', status = 'queued', claim = '', available_at = created_at
				WHERE tenant_id = $1 AND user_id = $2`, []any{tenantID, userID}},
			// Identification results name users in their payload only: the
			// identified one, and the candidates.
			{`DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND user_id = '' AND (
				try_jsonb(payload) ->> 'external_id' = $2 OR
				EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(try_jsonb(payload) -> 'candidates') = 'array'
					THEN try_jsonb(payload) -> 'candidates' ELSE '[]'::jsonb END) c WHERE c ->> 'user_id' = $2))`,
				[]any{tenantID, userID}},
			// The user's own end-user token counted its rate windows by a
			// key id holding the user id.
			{`DELETE FROM rate_windows WHERE key_id = $1`, []any{voxgate.EndUserKeyID(tenantID, userID)}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		if auditAs != "" && auditAs != userID {
			if _, err := tx.Exec(ctx, `UPDATE attempts SET user_id = $1 WHERE tenant_id = $2 AND user_id = $3`, auditAs, tenantID, userID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE attempts SET key_id = $1 WHERE tenant_id = $2 AND key_id = $3`,
				voxgate.EndUserKeyID(tenantID, auditAs), tenantID, voxgate.EndUserKeyID(tenantID, userID)); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddSample implements voxgate.Store.
func (s *DB) AddSample(ctx context.Context, tenantID string, smp *voxgate.Sample, requiredSpeech float64) (*voxgate.Profile, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var p *voxgate.Profile
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		p, err = addSample(ctx, tx, tenantID, smp, requiredSpeech)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// addSample inserts smp and updates its profile's counters within tx, and
// returns the profile as updated.
func addSample(ctx context.Context, tx pgx.Tx, tenantID string, smp *voxgate.Sample, requiredSpeech float64) (*voxgate.Profile, error) {
	p, err := scanProfile(tenantID, tx.QueryRow(ctx, `UPDATE profiles SET samples = samples + 1, speech_seconds = speech_seconds + $1,
		enrolled_at = CASE WHEN enrolled_at IS NULL AND speech_seconds + $1 >= $2 THEN $3 ELSE enrolled_at END
		WHERE tenant_id = $4 AND user_id = $5 RETURNING `+profileColumns,
		smp.SpeechSeconds, requiredSpeech, millis(smp.CreatedAt), tenantID, smp.UserID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "User must be created with /create-profile before enrollment")
	}
	if err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO enrollment_samples
		(id, tenant_id, user_id, created_at, speech_seconds, weight, model_version, quality, embedding)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		smp.ID, tenantID, smp.UserID, millis(smp.CreatedAt), smp.SpeechSeconds, smp.Weight, smp.ModelVersion, smp.Quality, smp.Embedding)
	return p, err
}

const sampleColumns = `id, user_id, created_at, speech_seconds, weight, model_version, quality, embedding`

func scanSample(row scanner) (*voxgate.Sample, error) {
	var smp voxgate.Sample
	var created int64
	if err := row.Scan(&smp.ID, &smp.UserID, &created, &smp.SpeechSeconds, &smp.Weight, &smp.ModelVersion, &smp.Quality, &smp.Embedding); err != nil {
		return nil, err
	}
	smp.CreatedAt = fromMillis(created)
	return &smp, nil
}

// ListSamples implements voxgate.Store.
func (s *DB) ListSamples(ctx context.Context, tenantID, userID string) ([]*voxgate.Sample, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return collect(ctx, s.pool, `SELECT `+sampleColumns+` FROM enrollment_samples WHERE tenant_id = $1 AND user_id = $2
		ORDER BY created_at, id`, []any{tenantID, userID}, scanSample)
}

// ListCohortSamples implements voxgate.Store.
func (s *DB) ListCohortSamples(ctx context.Context, tenantID, modelVersion string, limit int) ([]*voxgate.Sample, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return collect(ctx, s.pool, `SELECT `+sampleColumns+` FROM enrollment_samples WHERE tenant_id = $1 AND model_version = $2
		ORDER BY created_at DESC, id DESC LIMIT $3`, []any{tenantID, modelVersion, limit}, scanSample)
}

// PutVoiceprint implements voxgate.Store. The profile row is share-locked
// first, so that a concurrent delete either precedes the write (and it
// reports EPROFILENOTFOUND) or follows it.
func (s *DB) PutVoiceprint(ctx context.Context, tenantID string, vp *voxgate.Voiceprint) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockProfile(ctx, tx, tenantID, vp.UserID, "FOR SHARE"); err != nil {
			return err
		}
		return putVoiceprint(ctx, tx, tenantID, vp)
	})
	if err != nil {
		return err
	}
	vp.Revision++
	return nil
}

// lockProfile locks the profile's row (FOR SHARE or FOR UPDATE) within tx,
// or returns EPROFILENOTFOUND.
func lockProfile(ctx context.Context, tx pgx.Tx, tenantID, userID, mode string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM profiles WHERE tenant_id = $1 AND user_id = $2 `+mode, tenantID, userID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
	}
	return err
}

// putVoiceprint writes vp within tx if its revision still holds, moving
// the tenant's gallery on; the caller bumps vp.Revision once tx commits.
func putVoiceprint(ctx context.Context, tx pgx.Tx, tenantID string, vp *voxgate.Voiceprint) error {
	next := vp.Revision + 1
	seq, err := bumpGallery(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	var tag pgconn.CommandTag
	if vp.Revision == 0 {
		tag, err = tx.Exec(ctx, `INSERT INTO voiceprints (tenant_id, user_id, model_version, template, revision, updated_at, gallery_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, user_id) DO NOTHING`,
			tenantID, vp.UserID, vp.ModelVersion, vp.Template, next, millis(vp.UpdatedAt), seq)
	} else {
		tag, err = tx.Exec(ctx, `UPDATE voiceprints SET model_version = $1, template = $2, revision = $3, updated_at = $4, gallery_seq = $5
			WHERE tenant_id = $6 AND user_id = $7 AND revision = $8`,
			vp.ModelVersion, vp.Template, next, millis(vp.UpdatedAt), seq, tenantID, vp.UserID, vp.Revision)
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return voxgate.Errorf(voxgate.ECONFLICT, "voiceprint changed concurrently")
	}
	return nil
}

// FindVoiceprint implements voxgate.Store.
func (s *DB) FindVoiceprint(ctx context.Context, tenantID, userID string) (*voxgate.Voiceprint, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	vp := voxgate.Voiceprint{UserID: userID}
	var updated int64
	err := s.pool.QueryRow(ctx, `SELECT model_version, template, revision, updated_at FROM voiceprints
		WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID).Scan(&vp.ModelVersion, &vp.Template, &vp.Revision, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return addFingerprint(ctx, tx, tenantID, f, keep) })
}

// addFingerprint inserts f within tx and prunes the profile's oldest
// fingerprints beyond keep.
func addFingerprint(ctx context.Context, tx pgx.Tx, tenantID string, f *voxgate.Fingerprint, keep int) error {
	if _, err := tx.Exec(ctx, `INSERT INTO fingerprints (id, tenant_id, user_id, created_at, source, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		f.ID, tenantID, f.UserID, millis(f.CreatedAt), f.Source, f.Data); err != nil {
		if isForeignKey(err) {
			return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
		}
		return err
	}
	if keep > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM fingerprints WHERE tenant_id = $1 AND user_id = $2 AND id NOT IN (
			SELECT id FROM fingerprints WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3)`,
			tenantID, f.UserID, keep); err != nil {
			return err
		}
	}
	return nil
}

// ListFingerprints implements voxgate.Store.
func (s *DB) ListFingerprints(ctx context.Context, tenantID, userID string, limit int) ([]*voxgate.Fingerprint, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return collect(ctx, s.pool, `SELECT id, user_id, created_at, source, data FROM fingerprints
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`, []any{tenantID, userID, limit},
		func(row scanner) (*voxgate.Fingerprint, error) {
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return recordAttempt(ctx, s.pool, tenantID, a)
}

func recordAttempt(ctx context.Context, q querier, tenantID string, a *voxgate.Attempt) error {
	_, err := q.Exec(ctx, `INSERT INTO attempts (id, tenant_id, user_id, key_id, created_at, kind, decision, reason, detail, latency_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, tenantID, a.UserID, a.KeyID, millis(a.CreatedAt), a.Kind, a.Decision, a.Reason, a.Detail, a.LatencyMs)
	return err
}

// RecordOutcome implements voxgate.Store: every write in one transaction,
// which first locks the profile's row, so that outcomes of one profile on
// any nodes apply one after the other (the standing of each sees the one
// before, as in UpdateStanding).
func (s *DB) RecordOutcome(ctx context.Context, tenantID string, o *voxgate.Outcome) (*voxgate.Profile, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var p *voxgate.Profile
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockProfile(ctx, tx, tenantID, o.UserID, "FOR UPDATE"); err != nil {
			return err
		}
		if o.Sample != nil {
			if _, err := addSample(ctx, tx, tenantID, o.Sample, o.RequiredSpeech); err != nil {
				return err
			}
		}
		if o.Voiceprint != nil {
			if err := putVoiceprint(ctx, tx, tenantID, o.Voiceprint); err != nil {
				return err
			}
		}
		if o.Fingerprint != nil {
			if err := addFingerprint(ctx, tx, tenantID, o.Fingerprint, o.FingerprintKeep); err != nil {
				return err
			}
		}
		if o.Standing != nil {
			cur, err := readStanding(ctx, tx, tenantID, o.UserID)
			if err != nil {
				return err
			}
			if err := s.writeStanding(ctx, tx, tenantID, o.UserID, o.Standing(cur)); err != nil {
				return err
			}
		}
		if o.Attempt != nil {
			if err := recordAttempt(ctx, tx, tenantID, o.Attempt); err != nil {
				return err
			}
		}
		var err error
		p, err = scanProfile(tenantID, tx.QueryRow(ctx, `SELECT `+profileColumns+` FROM profiles WHERE tenant_id = $1 AND user_id = $2`, tenantID, o.UserID))
		return err
	})
	if err != nil {
		return nil, err
	}
	if o.Voiceprint != nil {
		o.Voiceprint.Revision++
	}
	return p, nil
}

// attemptColumns are read by scanAttempt; usage reports read attempts
// without their detail, so they select an empty string in its place.
const (
	attemptColumns      = `id, user_id, key_id, created_at, kind, decision, reason, detail, latency_ms`
	attemptUsageColumns = `id, user_id, key_id, created_at, kind, decision, reason, '' AS detail, latency_ms`
)

func scanAttempt(row scanner) (*voxgate.Attempt, error) {
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if userID != "" {
		return collect(ctx, s.pool, `SELECT `+attemptColumns+` FROM attempts WHERE tenant_id = $1 AND user_id = $2
			ORDER BY created_at DESC, id DESC LIMIT $3`, []any{tenantID, userID, limit}, scanAttempt)
	}
	return collect(ctx, s.pool, `SELECT `+attemptColumns+` FROM attempts WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, []any{tenantID, limit}, scanAttempt)
}

// KeyAttempts implements voxgate.Store.
func (s *DB) KeyAttempts(ctx context.Context, tenantID, keyID string, since time.Time, limit int) ([]*voxgate.Attempt, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return collect(ctx, s.pool, `SELECT `+attemptUsageColumns+` FROM attempts
		WHERE tenant_id = $1 AND key_id = $2 AND created_at >= $3 ORDER BY created_at, id LIMIT $4`,
		[]any{tenantID, keyID, millis(since), limit}, scanAttempt)
}

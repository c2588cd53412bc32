package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"voxgate"
	"voxgate/ids"
)

// PutWebhook implements voxgate.Queue.
func (s *DB) PutWebhook(ctx context.Context, w *voxgate.Webhook) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO webhooks (tenant_id, url, secret, signature, previous_secret, previous_until, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, signature = excluded.signature,
			previous_secret = excluded.previous_secret, previous_until = excluded.previous_until, updated_at = excluded.updated_at`,
		w.TenantID, w.URL, w.Secret, w.Signature, w.PreviousSecret, optMillis(w.PreviousUntil), millis(w.CreatedAt), millis(w.UpdatedAt))
	if isForeignKey(err) {
		return voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	}
	return err
}

// FindWebhook implements voxgate.Queue.
func (s *DB) FindWebhook(ctx context.Context, tenantID string) (*voxgate.Webhook, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	w := voxgate.Webhook{TenantID: tenantID}
	var created, updated, prevUntil int64
	err := s.pool.QueryRow(ctx, `SELECT url, secret, signature, previous_secret, previous_until, created_at, updated_at
		FROM webhooks WHERE tenant_id = $1`, tenantID).
		Scan(&w.URL, &w.Secret, &w.Signature, &w.PreviousSecret, &prevUntil, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "no webhook configured")
	}
	if err != nil {
		return nil, err
	}
	w.CreatedAt, w.UpdatedAt = fromMillis(created), fromMillis(updated)
	if prevUntil != 0 {
		w.PreviousUntil = fromMillis(prevUntil)
	}
	return &w, nil
}

// optMillis is millis for an optional time: 0 for the zero time.
func optMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return millis(t)
}

const jobColumns = `id, tenant_id, request_uuid, kind, user_id, key_id, scope, language, device_fingerprint, device_type,
	audio, status, attempts, available_at, claim, created_at, completed_at, params, correlation_id, traceparent`

func scanJob(row scanner) (*voxgate.Job, error) {
	var j voxgate.Job
	var scope string
	var avail, created int64
	var completed *int64
	if err := row.Scan(&j.ID, &j.TenantID, &j.RequestUUID, &j.Kind, &j.UserID, &j.KeyID, &scope, &j.Language,
		&j.DeviceFingerprint, &j.DeviceType, &j.Audio, &j.Status, &j.Attempts, &avail, &j.Claim, &created, &completed, &j.Params,
		&j.CorrelationID, &j.TraceParent); err != nil {
		return nil, err
	}
	j.Scope = voxgate.Scope(scope)
	j.AvailableAt, j.CreatedAt, j.CompletedAt = fromMillis(avail), fromMillis(created), timePtr(completed)
	return &j, nil
}

// EnqueueJob implements voxgate.Queue: an insert that does nothing on a
// known request UUID (waiting for a concurrent insert of the same one to
// commit), then the stored job.
func (s *DB) EnqueueJob(ctx context.Context, j *voxgate.Job) (*voxgate.Job, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	stored, err := scanJob(s.pool.QueryRow(ctx, `INSERT INTO async_jobs (id, tenant_id, request_uuid, kind, user_id, key_id, scope, language,
		device_fingerprint, device_type, audio, status, attempts, available_at, claim, created_at, params, correlation_id, traceparent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued', 0, $12, '', $13, $14, $15, $16)
		ON CONFLICT (tenant_id, request_uuid) DO NOTHING RETURNING `+jobColumns,
		j.ID, j.TenantID, j.RequestUUID, j.Kind, j.UserID, j.KeyID, string(j.Scope), j.Language,
		j.DeviceFingerprint, j.DeviceType, j.Audio, millis(j.AvailableAt), millis(j.CreatedAt), j.Params, j.CorrelationID, j.TraceParent))
	switch {
	case err == nil:
		return stored, true, nil
	case isForeignKey(err):
		return nil, false, voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, false, err
	}
	stored, err = s.FindJob(ctx, j.TenantID, j.RequestUUID)
	return stored, false, err
}

// FindJob implements voxgate.Queue.
func (s *DB) FindJob(ctx context.Context, tenantID, requestUUID string) (*voxgate.Job, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	j, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM async_jobs WHERE tenant_id = $1 AND request_uuid = $2`,
		tenantID, requestUUID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "request not found")
	}
	return j, err
}

// CountPendingJobs implements voxgate.Queue.
func (s *DB) CountPendingJobs(ctx context.Context, tenantID string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM async_jobs WHERE tenant_id = $1 AND status IN ('queued', 'running')`, tenantID).Scan(&n)
	return n, err
}

// ClaimJobs implements voxgate.Queue with one UPDATE whose subquery locks
// the rows it picks with FOR UPDATE SKIP LOCKED: nodes claiming at the same
// moment take disjoint rows without waiting for each other.
func (s *DB) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*voxgate.Job, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return collect(ctx, s.pool, `WITH picked AS (SELECT id FROM async_jobs WHERE status IN ('queued', 'running') AND available_at <= $3
			ORDER BY available_at, created_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		UPDATE async_jobs SET status = 'running', claim = $1, attempts = attempts + 1, available_at = $2
		FROM picked WHERE async_jobs.id = picked.id
		RETURNING `+qualified("async_jobs", jobColumns),
		[]any{ids.Token(16), millis(now.Add(lease)), millis(now), limit}, scanJob)
}

// qualified prefixes each of the comma-separated columns with table, for a
// RETURNING list beside a joined CTE whose id would be ambiguous.
func qualified(table, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = table + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func lostClaim(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return voxgate.Errorf(voxgate.ECONFLICT, "lease lost: another worker holds this row")
	}
	return nil
}

// ExtendJob implements voxgate.Queue.
func (s *DB) ExtendJob(ctx context.Context, tenantID, jobID, claim string, until time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE async_jobs SET available_at = $1
		WHERE tenant_id = $2 AND id = $3 AND claim = $4 AND status = 'running'`, millis(until), tenantID, jobID, claim)
	if err != nil {
		return err
	}
	return lostClaim(tag)
}

// RetryJob implements voxgate.Queue.
func (s *DB) RetryJob(ctx context.Context, tenantID, jobID, claim string, at time.Time, refund bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	refunded := 0
	if refund {
		refunded = 1
	}
	tag, err := s.pool.Exec(ctx, `UPDATE async_jobs SET status = 'queued', claim = '', available_at = $1, attempts = GREATEST(0, attempts - $2)
		WHERE tenant_id = $3 AND id = $4 AND claim = $5 AND status = 'running'`, millis(at), refunded, tenantID, jobID, claim)
	if err != nil {
		return err
	}
	return lostClaim(tag)
}

// CompleteJob implements voxgate.Queue.
func (s *DB) CompleteJob(ctx context.Context, tenantID, jobID, claim string, d *voxgate.Delivery, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE async_jobs SET status = 'done', audio = NULL, claim = '', completed_at = $1
			WHERE tenant_id = $2 AND id = $3 AND claim = $4 AND status = 'running'`, millis(now), tenantID, jobID, claim)
		if err != nil {
			return err
		}
		if err := lostClaim(tag); err != nil {
			return err
		}
		// The delivery names the job's user, so that deleting the profile
		// finds it after the job row is swept.
		_, err = tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, tenant_id, job_id, user_id, event, payload, status, attempts,
			available_at, claim, created_at, window_start, correlation_id, traceparent)
			SELECT $1, $2, $3, user_id, $4, $5, 'pending', 0, $6, '', $7, $8, $9, $10 FROM async_jobs WHERE tenant_id = $2 AND id = $3`,
			d.ID, tenantID, jobID, d.Event, d.Payload, millis(d.AvailableAt), millis(d.CreatedAt), millis(d.WindowStart),
			d.CorrelationID, d.TraceParent)
		return err
	})
}

const deliveryColumns = `id, tenant_id, job_id, event, payload, status, attempts, available_at, claim, last_status, last_error,
	created_at, window_start, delivered_at, correlation_id, traceparent`

func scanDelivery(row scanner) (*voxgate.Delivery, error) {
	var d voxgate.Delivery
	var avail, created, window int64
	var delivered *int64
	if err := row.Scan(&d.ID, &d.TenantID, &d.JobID, &d.Event, &d.Payload, &d.Status, &d.Attempts, &avail, &d.Claim,
		&d.LastStatus, &d.LastError, &created, &window, &delivered, &d.CorrelationID, &d.TraceParent); err != nil {
		return nil, err
	}
	d.AvailableAt, d.CreatedAt, d.WindowStart, d.DeliveredAt = fromMillis(avail), fromMillis(created), fromMillis(window), timePtr(delivered)
	return &d, nil
}

// ClaimDeliveries implements voxgate.Queue, like ClaimJobs.
func (s *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*voxgate.Delivery, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return collect(ctx, s.pool, `WITH picked AS (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND available_at <= $3
			ORDER BY available_at, created_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		UPDATE webhook_deliveries SET claim = $1, attempts = attempts + 1, available_at = $2
		FROM picked WHERE webhook_deliveries.id = picked.id
		RETURNING `+qualified("webhook_deliveries", deliveryColumns),
		[]any{ids.Token(16), millis(now.Add(lease)), millis(now), limit}, scanDelivery)
}

// DeliverySucceeded implements voxgate.Queue.
func (s *DB) DeliverySucceeded(ctx context.Context, tenantID, id, claim string, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'delivered', claim = '', delivered_at = $1, last_error = ''
		WHERE tenant_id = $2 AND id = $3 AND claim = $4 AND status = 'pending'`, millis(at), tenantID, id, claim)
	if err != nil {
		return err
	}
	return lostClaim(tag)
}

// DeliveryFailed implements voxgate.Queue.
func (s *DB) DeliveryFailed(ctx context.Context, tenantID, id, claim string, status int, errText string, next time.Time, dead bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	state := voxgate.DeliveryPending
	if dead {
		state = voxgate.DeliveryDead
	}
	if len(errText) > 500 {
		errText = errText[:500]
	}
	tag, err := s.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = $1, claim = '', available_at = $2, last_status = $3, last_error = $4
		WHERE tenant_id = $5 AND id = $6 AND claim = $7 AND status = 'pending'`,
		state, millis(next), status, errText, tenantID, id, claim)
	if err != nil {
		return err
	}
	return lostClaim(tag)
}

// ListDeliveries implements voxgate.Queue.
func (s *DB) ListDeliveries(ctx context.Context, tenantID, status string, limit int) ([]*voxgate.Delivery, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if status != "" {
		return collect(ctx, s.pool, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE tenant_id = $1 AND status = $2
			ORDER BY created_at DESC, id DESC LIMIT $3`, []any{tenantID, status, limit}, scanDelivery)
	}
	return collect(ctx, s.pool, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, []any{tenantID, limit}, scanDelivery)
}

// Redeliver implements voxgate.Queue.
func (s *DB) Redeliver(ctx context.Context, tenantID, id string, now time.Time) (*voxgate.Delivery, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	d, err := scanDelivery(s.pool.QueryRow(ctx, `UPDATE webhook_deliveries SET status = 'pending', claim = '', attempts = 0,
		available_at = $1, window_start = $1, delivered_at = NULL, last_status = 0, last_error = ''
		WHERE tenant_id = $2 AND id = $3 RETURNING `+deliveryColumns, millis(now), tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "delivery not found")
	}
	return d, err
}

// QueueStats implements voxgate.QueueMonitor.
func (s *DB) QueueStats(ctx context.Context) (voxgate.QueueStats, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var st voxgate.QueueStats
	var oldestJob, oldestDelivery *int64
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM async_jobs WHERE status IN ('queued', 'running')),
		(SELECT MIN(created_at) FROM async_jobs WHERE status IN ('queued', 'running')),
		(SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'),
		(SELECT MIN(created_at) FROM webhook_deliveries WHERE status = 'pending')`).
		Scan(&st.Jobs, &oldestJob, &st.Deliveries, &oldestDelivery)
	if err != nil {
		return st, err
	}
	if oldestJob != nil {
		st.OldestJob = fromMillis(*oldestJob)
	}
	if oldestDelivery != nil {
		st.OldestDelivery = fromMillis(*oldestDelivery)
	}
	return st, nil
}

// SweepQueue implements voxgate.Queue.
func (s *DB) SweepQueue(ctx context.Context, doneBefore, deadBefore time.Time) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var total int64
	for _, q := range []struct {
		sql string
		arg int64
	}{
		{`DELETE FROM async_jobs WHERE status = 'done' AND completed_at < $1`, millis(doneBefore)},
		{`DELETE FROM webhook_deliveries WHERE status = 'delivered' AND delivered_at < $1`, millis(doneBefore)},
		{`DELETE FROM webhook_deliveries WHERE status = 'dead' AND window_start < $1`, millis(deadBefore)},
	} {
		tag, err := s.pool.Exec(ctx, q.sql, q.arg)
		if err != nil {
			return int(total), err
		}
		total += tag.RowsAffected()
	}
	return int(total), nil
}

// AddDevice implements voxgate.Queue.
func (s *DB) AddDevice(ctx context.Context, tenantID, userID, fingerprint string, deviceType int, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO device_fingerprints (tenant_id, user_id, fingerprint, device_type, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id, fingerprint) DO UPDATE SET device_type = excluded.device_type`,
		tenantID, userID, fingerprint, deviceType, millis(at))
	if isForeignKey(err) {
		return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
	}
	return err
}

// KnownDevice implements voxgate.Queue.
func (s *DB) KnownDevice(ctx context.Context, tenantID, userID, fingerprint string) (known, any bool, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(BOOL_OR(fingerprint = $1), FALSE), COUNT(*) > 0 FROM device_fingerprints
		WHERE tenant_id = $2 AND user_id = $3`, fingerprint, tenantID, userID).Scan(&known, &any)
	return known, any, err
}

// RecordDeviceMismatch implements voxgate.Queue.
func (s *DB) RecordDeviceMismatch(ctx context.Context, tenantID string, m *voxgate.DeviceMismatch) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO device_mismatches (id, tenant_id, key_id, user_id, request_uuid, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, m.ID, tenantID, m.KeyID, m.UserID, m.RequestUUID, millis(m.CreatedAt))
	return err
}

// CountDeviceMismatches implements voxgate.Queue.
func (s *DB) CountDeviceMismatches(ctx context.Context, tenantID, keyID string, since time.Time) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	var err error
	if keyID != "" {
		err = s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM device_mismatches WHERE tenant_id = $1 AND created_at >= $2 AND key_id = $3`,
			tenantID, millis(since), keyID).Scan(&n)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM device_mismatches WHERE tenant_id = $1 AND created_at >= $2`,
			tenantID, millis(since)).Scan(&n)
	}
	return n, err
}

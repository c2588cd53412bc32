package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"voxgate"
	"voxgate/ids"
)

var (
	_ voxgate.Queue        = (*DB)(nil)
	_ voxgate.QueueMonitor = (*DB)(nil)
)

// PutWebhook implements voxgate.Queue.
func (s *DB) PutWebhook(ctx context.Context, w *voxgate.Webhook) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO webhooks (tenant_id, url, secret, signature, previous_secret, previous_until, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
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
	w := voxgate.Webhook{TenantID: tenantID}
	var created, updated, prevUntil int64
	err := s.db.QueryRowContext(ctx, `SELECT url, secret, signature, previous_secret, previous_until, created_at, updated_at
		FROM webhooks WHERE tenant_id = ?`, tenantID).
		Scan(&w.URL, &w.Secret, &w.Signature, &w.PreviousSecret, &prevUntil, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
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

func scanJob(row interface{ Scan(...any) error }) (*voxgate.Job, error) {
	var j voxgate.Job
	var scope string
	var avail, created int64
	var completed sql.NullInt64
	if err := row.Scan(&j.ID, &j.TenantID, &j.RequestUUID, &j.Kind, &j.UserID, &j.KeyID, &scope, &j.Language,
		&j.DeviceFingerprint, &j.DeviceType, &j.Audio, &j.Status, &j.Attempts, &avail, &j.Claim, &created, &completed, &j.Params,
		&j.CorrelationID, &j.TraceParent); err != nil {
		return nil, err
	}
	j.Scope = voxgate.Scope(scope)
	j.AvailableAt, j.CreatedAt, j.CompletedAt = fromMillis(avail), fromMillis(created), timePtr(completed)
	return &j, nil
}

// EnqueueJob implements voxgate.Queue. The insert and the read share one
// immediate transaction, so concurrent submissions of one request UUID
// serialise and exactly one creates the job.
func (s *DB) EnqueueJob(ctx context.Context, j *voxgate.Job) (*voxgate.Job, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO async_jobs (id, tenant_id, request_uuid, kind, user_id, key_id, scope, language,
		device_fingerprint, device_type, audio, status, attempts, available_at, claim, created_at, params, correlation_id, traceparent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, '', ?, ?, ?, ?)
		ON CONFLICT (tenant_id, request_uuid) DO NOTHING`,
		j.ID, j.TenantID, j.RequestUUID, j.Kind, j.UserID, j.KeyID, string(j.Scope), j.Language,
		j.DeviceFingerprint, j.DeviceType, j.Audio, millis(j.AvailableAt), millis(j.CreatedAt), j.Params, j.CorrelationID, j.TraceParent)
	if err != nil {
		if isForeignKey(err) {
			return nil, false, voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
		}
		return nil, false, err
	}
	n, _ := res.RowsAffected()
	stored, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM async_jobs WHERE tenant_id = ? AND request_uuid = ?`,
		j.TenantID, j.RequestUUID))
	if err != nil {
		return nil, false, err
	}
	return stored, n == 1, tx.Commit()
}

// FindJob implements voxgate.Queue.
func (s *DB) FindJob(ctx context.Context, tenantID, requestUUID string) (*voxgate.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM async_jobs WHERE tenant_id = ? AND request_uuid = ?`,
		tenantID, requestUUID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "request not found")
	}
	return j, err
}

// CountPendingJobs implements voxgate.Queue.
func (s *DB) CountPendingJobs(ctx context.Context, tenantID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM async_jobs WHERE tenant_id = ? AND status IN ('queued', 'running')`, tenantID).Scan(&n)
	return n, err
}

// ClaimJobs implements voxgate.Queue with one UPDATE ... RETURNING, atomic
// under SQLite's write lock (PostgreSQL: the same with FOR UPDATE SKIP
// LOCKED in the subquery).
func (s *DB) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*voxgate.Job, error) {
	rows, err := s.db.QueryContext(ctx, `UPDATE async_jobs SET status = 'running', claim = ?, attempts = attempts + 1, available_at = ?
		WHERE id IN (SELECT id FROM async_jobs WHERE status IN ('queued', 'running') AND available_at <= ?
			ORDER BY available_at, created_at LIMIT ?)
		RETURNING `+jobColumns,
		ids.Token(16), millis(now.Add(lease)), millis(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*voxgate.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func lostClaim(res sql.Result) error {
	if n, _ := res.RowsAffected(); n == 0 {
		return voxgate.Errorf(voxgate.ECONFLICT, "lease lost: another worker holds this row")
	}
	return nil
}

// ExtendJob implements voxgate.Queue.
func (s *DB) ExtendJob(ctx context.Context, tenantID, jobID, claim string, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE async_jobs SET available_at = ?
		WHERE tenant_id = ? AND id = ? AND claim = ? AND status = 'running'`, millis(until), tenantID, jobID, claim)
	if err != nil {
		return err
	}
	return lostClaim(res)
}

// RetryJob implements voxgate.Queue.
func (s *DB) RetryJob(ctx context.Context, tenantID, jobID, claim string, at time.Time, refund bool) error {
	refunded := 0
	if refund {
		refunded = 1
	}
	res, err := s.db.ExecContext(ctx, `UPDATE async_jobs SET status = 'queued', claim = '', available_at = ?, attempts = MAX(0, attempts - ?)
		WHERE tenant_id = ? AND id = ? AND claim = ? AND status = 'running'`, millis(at), refunded, tenantID, jobID, claim)
	if err != nil {
		return err
	}
	return lostClaim(res)
}

// CompleteJob implements voxgate.Queue.
func (s *DB) CompleteJob(ctx context.Context, tenantID, jobID, claim string, d *voxgate.Delivery, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE async_jobs SET status = 'done', audio = NULL, claim = '', completed_at = ?
		WHERE tenant_id = ? AND id = ? AND claim = ? AND status = 'running'`, millis(now), tenantID, jobID, claim)
	if err != nil {
		return err
	}
	if err := lostClaim(res); err != nil {
		return err
	}
	// The delivery names the job's user, so that deleting the profile
	// finds it after the job row is swept.
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, tenant_id, job_id, user_id, event, payload, status, attempts,
		available_at, claim, created_at, window_start, correlation_id, traceparent)
		SELECT ?, ?, ?, user_id, ?, ?, 'pending', 0, ?, '', ?, ?, ?, ? FROM async_jobs WHERE tenant_id = ? AND id = ?`,
		d.ID, tenantID, jobID, d.Event, d.Payload, millis(d.AvailableAt), millis(d.CreatedAt), millis(d.WindowStart),
		d.CorrelationID, d.TraceParent, tenantID, jobID); err != nil {
		return err
	}
	return tx.Commit()
}

const deliveryColumns = `id, tenant_id, job_id, event, payload, status, attempts, available_at, claim, last_status, last_error,
	created_at, window_start, delivered_at, correlation_id, traceparent`

func scanDelivery(row interface{ Scan(...any) error }) (*voxgate.Delivery, error) {
	var d voxgate.Delivery
	var avail, created, window int64
	var delivered sql.NullInt64
	if err := row.Scan(&d.ID, &d.TenantID, &d.JobID, &d.Event, &d.Payload, &d.Status, &d.Attempts, &avail, &d.Claim,
		&d.LastStatus, &d.LastError, &created, &window, &delivered, &d.CorrelationID, &d.TraceParent); err != nil {
		return nil, err
	}
	d.AvailableAt, d.CreatedAt, d.WindowStart, d.DeliveredAt = fromMillis(avail), fromMillis(created), fromMillis(window), timePtr(delivered)
	return &d, nil
}

func scanDeliveries(rows *sql.Rows, err error) ([]*voxgate.Delivery, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*voxgate.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements voxgate.Queue.
func (s *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*voxgate.Delivery, error) {
	return scanDeliveries(s.db.QueryContext(ctx, `UPDATE webhook_deliveries SET claim = ?, attempts = attempts + 1, available_at = ?
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND available_at <= ?
			ORDER BY available_at, created_at LIMIT ?)
		RETURNING `+deliveryColumns,
		ids.Token(16), millis(now.Add(lease)), millis(now), limit))
}

// DeliverySucceeded implements voxgate.Queue.
func (s *DB) DeliverySucceeded(ctx context.Context, tenantID, id, claim string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'delivered', claim = '', delivered_at = ?, last_error = ''
		WHERE tenant_id = ? AND id = ? AND claim = ? AND status = 'pending'`, millis(at), tenantID, id, claim)
	if err != nil {
		return err
	}
	return lostClaim(res)
}

// DeliveryFailed implements voxgate.Queue.
func (s *DB) DeliveryFailed(ctx context.Context, tenantID, id, claim string, status int, errText string, next time.Time, dead bool) error {
	state := voxgate.DeliveryPending
	if dead {
		state = voxgate.DeliveryDead
	}
	if len(errText) > 500 {
		errText = errText[:500]
	}
	res, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, claim = '', available_at = ?, last_status = ?, last_error = ?
		WHERE tenant_id = ? AND id = ? AND claim = ? AND status = 'pending'`,
		state, millis(next), status, errText, tenantID, id, claim)
	if err != nil {
		return err
	}
	return lostClaim(res)
}

// ListDeliveries implements voxgate.Queue.
func (s *DB) ListDeliveries(ctx context.Context, tenantID, status string, limit int) ([]*voxgate.Delivery, error) {
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE tenant_id = ?`
	args := []any{tenantID}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return scanDeliveries(s.db.QueryContext(ctx, q, args...))
}

// Redeliver implements voxgate.Queue.
func (s *DB) Redeliver(ctx context.Context, tenantID, id string, now time.Time) (*voxgate.Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', claim = '', attempts = 0,
		available_at = ?, window_start = ?, delivered_at = NULL, last_status = 0, last_error = ''
		WHERE tenant_id = ? AND id = ? RETURNING `+deliveryColumns, millis(now), millis(now), tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "delivery not found")
	}
	return d, err
}

// QueueStats implements voxgate.QueueMonitor.
func (s *DB) QueueStats(ctx context.Context) (voxgate.QueueStats, error) {
	var st voxgate.QueueStats
	var oldestJob, oldestDelivery sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM async_jobs WHERE status IN ('queued', 'running')),
		(SELECT MIN(created_at) FROM async_jobs WHERE status IN ('queued', 'running')),
		(SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'),
		(SELECT MIN(created_at) FROM webhook_deliveries WHERE status = 'pending')`).
		Scan(&st.Jobs, &oldestJob, &st.Deliveries, &oldestDelivery)
	if err != nil {
		return st, err
	}
	if oldestJob.Valid {
		st.OldestJob = fromMillis(oldestJob.Int64)
	}
	if oldestDelivery.Valid {
		st.OldestDelivery = fromMillis(oldestDelivery.Int64)
	}
	return st, nil
}

// SweepQueue implements voxgate.Queue.
func (s *DB) SweepQueue(ctx context.Context, doneBefore, deadBefore time.Time) (int, error) {
	var total int64
	for _, q := range []struct {
		sql string
		arg int64
	}{
		{`DELETE FROM async_jobs WHERE status = 'done' AND completed_at < ?`, millis(doneBefore)},
		{`DELETE FROM webhook_deliveries WHERE status = 'delivered' AND delivered_at < ?`, millis(doneBefore)},
		{`DELETE FROM webhook_deliveries WHERE status = 'dead' AND window_start < ?`, millis(deadBefore)},
	} {
		res, err := s.db.ExecContext(ctx, q.sql, q.arg)
		if err != nil {
			return int(total), err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return int(total), nil
}

// AddDevice implements voxgate.Queue.
func (s *DB) AddDevice(ctx context.Context, tenantID, userID, fingerprint string, deviceType int, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO device_fingerprints (tenant_id, user_id, fingerprint, device_type, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, user_id, fingerprint) DO UPDATE SET device_type = excluded.device_type`,
		tenantID, userID, fingerprint, deviceType, millis(at))
	if isForeignKey(err) {
		return voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile not found")
	}
	return err
}

// KnownDevice implements voxgate.Queue.
func (s *DB) KnownDevice(ctx context.Context, tenantID, userID, fingerprint string) (known, any bool, err error) {
	var nKnown, nAny int
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(fingerprint = ?), 0), COUNT(*) FROM device_fingerprints
		WHERE tenant_id = ? AND user_id = ?`, fingerprint, tenantID, userID).Scan(&nKnown, &nAny)
	return nKnown > 0, nAny > 0, err
}

// RecordDeviceMismatch implements voxgate.Queue.
func (s *DB) RecordDeviceMismatch(ctx context.Context, tenantID string, m *voxgate.DeviceMismatch) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO device_mismatches (id, tenant_id, key_id, user_id, request_uuid, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, m.ID, tenantID, m.KeyID, m.UserID, m.RequestUUID, millis(m.CreatedAt))
	return err
}

// CountDeviceMismatches implements voxgate.Queue.
func (s *DB) CountDeviceMismatches(ctx context.Context, tenantID, keyID string, since time.Time) (int, error) {
	q := `SELECT COUNT(*) FROM device_mismatches WHERE tenant_id = ? AND created_at >= ?`
	args := []any{tenantID, millis(since)}
	if keyID != "" {
		q += ` AND key_id = ?`
		args = append(args, keyID)
	}
	var n int
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

package voxgate

import (
	"context"
	"time"
)

// The asynchronous API (seed 002): recordings submitted as jobs, processed
// by workers on any node, their results posted to the tenant's webhook.
// Jobs and deliveries live in the store, so nothing is lost when a node
// stops or crashes: a claimed row carries a lease, and a row whose lease
// ran out is claimed again by whichever node asks next.

// Job kinds.
const (
	JobEnroll   = "enroll"
	JobVerify   = "verify"
	JobIdentify = "identify"
)

// Job states. A job is queued until a worker claims it, running while a
// worker holds its lease, and done once its result is queued for delivery.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
)

// Delivery states. A pending delivery is retried with backoff until it
// succeeds (delivered) or its retry window ends (dead: kept for the
// tenant to inspect and redeliver).
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// Webhook is a tenant's delivery endpoint. Secret is sealed by the
// service (it must be recoverable to sign with, so it is encrypted rather
// than hashed) and never leaves the service in plaintext after it is set.
type Webhook struct {
	TenantID string
	URL      string
	Secret   []byte // sealed
	// Signature is the signing scheme: "standard" (Standard Webhooks),
	// "legacy" (voxgate's first X-Voxgate-Signature scheme, which
	// webhooks configured before the standard keep) or "both".
	Signature string
	// PreviousSecret is the secret the last rotation replaced (sealed),
	// which still signs beside Secret until PreviousUntil, so that
	// receivers can switch without refusing a delivery; nil when none.
	PreviousSecret []byte
	PreviousUntil  time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Job is one submitted enrollment or verification.
type Job struct {
	ID       string
	TenantID string
	// RequestUUID is the client's idempotency key: one job per tenant and
	// request_uuid.
	RequestUUID string
	Kind        string
	UserID      string
	// KeyID and Scope are the submitting key's, so that the job runs, is
	// rate-limited and is audited as that key.
	KeyID             string
	Scope             Scope
	Language          string
	DeviceFingerprint string
	DeviceType        int
	// Params holds a kind's own parameters as JSON (identification: the
	// group searched and how many candidates); "" for none.
	Params string
	// Audio is the sealed recording; nil once the job is done (or the
	// profile it was for was deleted).
	Audio  []byte
	Status string
	// Attempts counts claims: more than one means an earlier worker lost
	// its lease (crashed, or the job failed transiently).
	Attempts int
	// AvailableAt is when the job may next be claimed: now for a new job,
	// the lease end while running, the retry time after a transient error.
	AvailableAt time.Time
	// Claim identifies the current lease; only its holder may complete or
	// release the job.
	Claim       string
	CreatedAt   time.Time
	CompletedAt *time.Time
	// CorrelationID and TraceParent are the submitting request's
	// X-Correlation-ID and W3C trace context, so that the job's log lines
	// and its delivery's can be found from the request.
	CorrelationID, TraceParent string
}

// Delivery is one webhook event and its delivery state.
type Delivery struct {
	ID       string
	TenantID string
	JobID    string
	Event    string
	// Payload is the JSON body posted, the same on every attempt.
	Payload     []byte
	Status      string
	Attempts    int
	AvailableAt time.Time
	Claim       string
	// LastStatus and LastError describe the last failed attempt.
	LastStatus int
	LastError  string
	CreatedAt  time.Time
	// WindowStart starts the retry window: creation, or the last
	// redelivery request.
	WindowStart time.Time
	DeliveredAt *time.Time
	// CorrelationID and TraceParent are the job's (see Job).
	CorrelationID, TraceParent string
}

// QueueStats is the backlog of the asynchronous path, for monitoring.
type QueueStats struct {
	// Jobs counts queued and running jobs; Deliveries pending deliveries.
	Jobs, Deliveries int
	// OldestJob and OldestDelivery are the creation times of the oldest
	// of those (zero when there is none).
	OldestJob, OldestDelivery time.Time
}

// QueueMonitor is a Queue that can report its backlog across all tenants
// (for metrics). store/sqlite implements it; the service reports no
// backlog for a queue that does not.
type QueueMonitor interface {
	// QueueStats returns the backlog over every tenant.
	QueueStats(ctx context.Context) (QueueStats, error)
}

// DeviceMismatch records a verification from a device other than the ones
// the profile enrolled with.
type DeviceMismatch struct {
	ID          string
	UserID      string
	KeyID       string
	RequestUUID string
	CreatedAt   time.Time
}

// Queue persists the asynchronous API's webhooks, jobs and deliveries, and
// the device fingerprints of profiles. It is separate from Store so that a
// store may implement it or not; store/sqlite does, and store/storetest
// checks it. Claims are atomic across nodes sharing one database: of
// concurrent claimers, each row goes to exactly one.
//
// Errors: ENOTFOUND when a record does not exist within the tenant,
// ECONFLICT when a claim was lost (the lease ran out and another worker
// claimed the row); anything else is internal.
type Queue interface {
	// PutWebhook creates or replaces the tenant's webhook.
	PutWebhook(ctx context.Context, w *Webhook) error
	// FindWebhook returns the tenant's webhook. Returns ENOTFOUND.
	FindWebhook(ctx context.Context, tenantID string) (*Webhook, error)

	// EnqueueJob inserts j unless the tenant already has a job with its
	// RequestUUID, and returns the stored job and whether this call
	// created it. Safe under concurrent calls: exactly one job results.
	EnqueueJob(ctx context.Context, j *Job) (stored *Job, created bool, err error)
	// ClaimJobs leases up to limit jobs that are queued, or running with an
	// expired lease, and available at now: each gets a fresh Claim,
	// AvailableAt = now+lease and one more attempt. Oldest first.
	ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Job, error)
	// ExtendJob moves a claimed job's lease end to until: the heartbeat of
	// a worker still running it, so that leases can be short and a dead
	// node's jobs come back soon. Returns ECONFLICT when claim no longer
	// holds the job.
	ExtendJob(ctx context.Context, tenantID, jobID, claim string, until time.Time) error
	// RetryJob puts a claimed job back in the queue, available at the
	// given time. With refund the claim does not count as an attempt (the
	// job was deferred, by a rate limit, rather than failed). Returns
	// ECONFLICT when claim no longer holds the job.
	RetryJob(ctx context.Context, tenantID, jobID, claim string, at time.Time, refund bool) error
	// CompleteJob marks a claimed job done, deletes its audio and enqueues
	// d, in one transaction. Returns ECONFLICT when claim no longer holds
	// the job (nothing is written).
	CompleteJob(ctx context.Context, tenantID, jobID, claim string, d *Delivery, now time.Time) error
	// FindJob returns the tenant's job with this request UUID. Returns
	// ENOTFOUND.
	FindJob(ctx context.Context, tenantID, requestUUID string) (*Job, error)
	// CountPendingJobs returns how many of the tenant's jobs are queued or
	// running (the backlog a submission joins).
	CountPendingJobs(ctx context.Context, tenantID string) (int, error)

	// ClaimDeliveries leases up to limit pending deliveries available at
	// now, like ClaimJobs (each attempt counted).
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Delivery, error)
	// DeliverySucceeded marks a claimed delivery delivered at the given
	// time. Returns ECONFLICT when claim no longer holds it.
	DeliverySucceeded(ctx context.Context, tenantID, id, claim string, at time.Time) error
	// DeliveryFailed records a failed attempt: the delivery becomes
	// available again at next, or dead when dead is true. Returns
	// ECONFLICT when claim no longer holds it.
	DeliveryFailed(ctx context.Context, tenantID, id, claim string, status int, errText string, next time.Time, dead bool) error
	// ListDeliveries returns the tenant's deliveries in one state (all
	// states when status is empty), newest first, at most limit.
	ListDeliveries(ctx context.Context, tenantID, status string, limit int) ([]*Delivery, error)
	// Redeliver puts the tenant's delivery back in the queue, available at
	// now, with a fresh retry window, whatever its state, and returns it.
	// Returns ENOTFOUND.
	Redeliver(ctx context.Context, tenantID, id string, now time.Time) (*Delivery, error)
	// SweepQueue deletes done jobs completed before doneBefore and
	// delivered or dead deliveries last touched before the given times,
	// and returns how many rows went.
	SweepQueue(ctx context.Context, doneBefore, deadBefore time.Time) (int, error)

	// AddDevice remembers a device fingerprint (already hashed by the
	// service) as one the profile enrolled with.
	AddDevice(ctx context.Context, tenantID, userID, fingerprint string, deviceType int, at time.Time) error
	// KnownDevice reports whether the profile enrolled with fingerprint,
	// and whether it has any enrolled device at all.
	KnownDevice(ctx context.Context, tenantID, userID, fingerprint string) (known, any bool, err error)
	// RecordDeviceMismatch counts a verification from an unknown device.
	RecordDeviceMismatch(ctx context.Context, tenantID string, m *DeviceMismatch) error
	// CountDeviceMismatches returns the mismatches recorded for one key of
	// the tenant since the given time (all keys when keyID is empty).
	CountDeviceMismatches(ctx context.Context, tenantID, keyID string, since time.Time) (int, error)
}

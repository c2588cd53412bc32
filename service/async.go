package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"voxgate"
	"voxgate/audio"
	"voxgate/ids"
	"voxgate/policy"
	"voxgate/seal"
	"voxgate/trace"
	"voxgate/webhook"
)

// The asynchronous API (seed 002). A submission is checked, its audio
// sealed, and stored as a job; RunAsync's workers, on any node sharing the
// store, claim jobs under a lease, run them through Enroll or Verify (the
// same calls as the native API), and queue the result as a webhook
// delivery in the same transaction that completes the job and deletes its
// audio. Deliveries are signed, retried with exponential backoff and full
// jitter for a window (24 h), then dead-lettered until the tenant asks for
// a redelivery. Delivery is at least once; receivers dedupe by delivery ID.

// AsyncConfig configures the asynchronous API; zero fields take the
// defaults named on each.
type AsyncConfig struct {
	// AllowPrivate lets webhooks target private, loopback, link-local and
	// other internal addresses (voxgate serve --webhook-allow-private).
	// Off, such targets are refused when configured and at every
	// connection.
	AllowPrivate bool
	// Workers bounds the jobs one node processes at once (default 2: each
	// is a full engine run).
	Workers int
	// Deliverers bounds the webhook requests one node has in flight
	// (default 8).
	Deliverers int
	// Poll is how often an idle node looks for work (default 500 ms).
	Poll time.Duration
	// JobLease is how long a claimed job is reserved for its worker
	// without news from it (default 30 s). The worker renews the lease
	// every third of it while the job runs (a heartbeat), so a long job
	// keeps it, and a node that dies gives its jobs up within one lease.
	JobLease time.Duration
	// JobTimeout bounds one run of a job (default 2 min).
	JobTimeout time.Duration
	// Timeout bounds one delivery attempt (default 10 s); the delivery
	// lease is Timeout + 5 s.
	Timeout time.Duration
	// Backoff spaces delivery retries (default 10 s doubling to 1 h, full
	// jitter).
	Backoff webhook.Backoff
	// Window is how long a delivery is retried before it is dead-lettered
	// (default 24 h).
	Window time.Duration
	// MaxJobAttempts bounds the claims of one job: a job that keeps failing
	// internally, or keeps taking its node down, completes as inconclusive
	// after this many (default 5).
	MaxJobAttempts int
	// MaxPending bounds a tenant's queued and running jobs; submissions
	// beyond it get ERATELIMITED (default 1000).
	MaxPending int
	// Retention is how long done jobs (the request_uuid idempotency
	// record) and delivered deliveries are kept (default 7 days);
	// DeadRetention the same for dead deliveries (default 30 days).
	Retention, DeadRetention time.Duration
	// ShutdownGrace is how long jobs and deliveries in flight may finish
	// after RunAsync's context ends (default 20 s); what is still running
	// then is abandoned to its lease and redone.
	ShutdownGrace time.Duration
	// Resolver resolves webhook hosts when they are configured (default
	// net.DefaultResolver).
	Resolver webhook.Resolver
	// SecretOverlap is how long a replaced webhook secret keeps signing
	// beside the new one when a tenant does not say (default 24 h; voxgate
	// serve --webhook-secret-overlap).
	SecretOverlap time.Duration
}

// withDefaults returns c with its zero fields filled.
func (c AsyncConfig) withDefaults() AsyncConfig {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	seti := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	seti(&c.Workers, 2)
	seti(&c.Deliverers, 8)
	seti(&c.MaxJobAttempts, 5)
	seti(&c.MaxPending, 1000)
	set(&c.Poll, 500*time.Millisecond)
	set(&c.JobLease, 30*time.Second)
	set(&c.JobTimeout, 2*time.Minute)
	set(&c.Timeout, webhook.DefaultTimeout)
	set(&c.Window, 24*time.Hour)
	set(&c.Retention, 7*24*time.Hour)
	set(&c.DeadRetention, 30*24*time.Hour)
	set(&c.ShutdownGrace, 20*time.Second)
	set(&c.SecretOverlap, 24*time.Hour)
	return c
}

// Event types of the webhook payloads.
const (
	EventVerificationCompleted = "verification.completed"
	EventEnrollmentCompleted   = "enrollment.completed"
)

// Results of the webhook payloads.
const (
	ResultVerified     = "verified"
	ResultRejected     = "rejected"
	ResultInconclusive = "inconclusive"
	ResultEnrolled     = "enrolled"
)

// AcceptedMessage is the message of every 202 answer (seed 002).
const AcceptedMessage = "Your request has been accepted and is being processed"

// DefaultLanguage is the language of a submission that names none.
const DefaultLanguage = "en-UK"

// Reasons the asynchronous API adds to the engine's.
const (
	reasonProfileDeleted  = "profile_deleted"
	reasonDuplicateSample = "duplicate_sample"
	reasonAlreadyEnrolled = "already_enrolled"
	reasonInterrupted     = "interrupted"
)

// Job retry spacing after a transient (internal) failure.
var jobBackoff = webhook.Backoff{Base: 5 * time.Second, Cap: 5 * time.Minute}

// queue returns the store's Queue, or EUNAVAILABLE when the store has none.
func (s *Service) queue() (voxgate.Queue, error) {
	if s.jobs == nil {
		return nil, voxgate.Errorf(voxgate.EUNAVAILABLE, "the asynchronous API is not available with this store")
	}
	return s.jobs, nil
}

// org resolves the organisation of a seed-002 path, by name or ID, and
// checks that the actor belongs to it. Another organisation's key gets
// ENOTFOUND, never EFORBIDDEN, so that it cannot learn which exist.
// adminQueue resolves the organisation for an admin key and returns it
// with the queue: the preamble of every webhook administration call.
func (s *Service) adminQueue(ctx context.Context, a voxgate.Actor, org string) (*voxgate.Tenant, voxgate.Queue, error) {
	t, err := s.org(ctx, a, org)
	if err != nil {
		return nil, nil, err
	}
	if err := a.RequireAdmin(); err != nil {
		return nil, nil, err
	}
	q, err := s.queue()
	if err != nil {
		return nil, nil, err
	}
	return t, q, nil
}

func (s *Service) org(ctx context.Context, a voxgate.Actor, ref string) (*voxgate.Tenant, error) {
	if err := a.RequireFlow(""); err != nil {
		return nil, err
	}
	t, err := s.store.FindTenant(ctx, ref)
	if err != nil {
		if voxgate.ErrorCode(err) == voxgate.ENOTFOUND {
			return nil, voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
		}
		return nil, err
	}
	if t.ID != a.TenantID {
		return nil, voxgate.Errorf(voxgate.ENOTFOUND, "organisation not found")
	}
	return t, nil
}

func webhookSecretAD(tenantID string) []byte { return seal.AD(tenantID, "", "webhook-secret") }
func jobAudioAD(tenantID, jobID string) []byte {
	return seal.AD(tenantID, jobID, "async-audio")
}

// deviceHash turns a client's device fingerprint into what is stored:
// SHA-256 bound to tenant and user, so that the raw identifier is never
// kept and equal identifiers of different profiles do not link.
func deviceHash(tenantID, userID, fp string) string {
	if fp == "" {
		return ""
	}
	h := sha256.Sum256(seal.AD("voxgate-device", tenantID, userID, fp))
	return hex.EncodeToString(h[:])
}

// AsyncRequest is one submission to the asynchronous API.
type AsyncRequest struct {
	// Org is the organisation named in the path, by name or ID.
	Org string
	// Kind is voxgate.JobEnroll or voxgate.JobVerify.
	Kind        string
	RequestUUID string
	// ExternalID is the profile's user_id.
	ExternalID        string
	Language          string
	DeviceFingerprint string
	DeviceType        int
	Audio             []byte
	// Group and Top are an identification's (voxgate.JobIdentify): the
	// group searched ("" for every enrolled voice) and how many candidates.
	Group string
	Top   int
}

// Validate checks the request's fields (not the organisation).
func (r *AsyncRequest) Validate() error {
	if r.Kind != voxgate.JobEnroll && r.Kind != voxgate.JobVerify && r.Kind != voxgate.JobIdentify {
		return voxgate.Errorf(voxgate.EINVALID, "unknown request kind %q", r.Kind)
	}
	if r.RequestUUID == "" {
		return voxgate.Errorf(voxgate.EINVALID, "request_uuid is required")
	}
	if !ids.IsUUID(r.RequestUUID) {
		return voxgate.Errorf(voxgate.EINVALID, "request_uuid must be a UUID")
	}
	if r.Kind == voxgate.JobIdentify {
		if err := r.validateIdentify(); err != nil {
			return err
		}
	} else {
		if r.ExternalID == "" {
			return voxgate.Errorf(voxgate.EINVALID, "external_id is required")
		}
		if err := normalizeUserID(&r.ExternalID); err != nil {
			return voxgate.Errorf(voxgate.ErrorCode(err), "%s", strings.Replace(voxgate.ErrorMessage(err), "user_id", "external_id", 1))
		}
	}
	if r.Language != "" && !validLanguage(r.Language) {
		return voxgate.Errorf(voxgate.EINVALID, "language must be a language tag such as en-UK")
	}
	if r.DeviceType < 0 || r.DeviceType > 3 {
		return voxgate.Errorf(voxgate.EINVALID, "device_type must be 0 (unknown), 1 (mobile), 2 (desktop) or 3 (IP phone)")
	}
	if len(r.DeviceFingerprint) > 512 || !utf8.ValidString(r.DeviceFingerprint) {
		return voxgate.Errorf(voxgate.EINVALID, "device_fingerprint must be valid UTF-8 of at most 512 bytes")
	}
	if len(r.Audio) == 0 {
		return voxgate.Errorf(voxgate.EINVALID, "voice_data is required")
	}
	if len(r.Audio) > audio.DefaultMaxBytes {
		return voxgate.Errorf(voxgate.EPAYLOADTOOLARGE, "voice_data larger than %d bytes", audio.DefaultMaxBytes)
	}
	if audio.Detect(r.Audio[:min(len(r.Audio), 4096)]) == audio.Unknown {
		return voxgate.Errorf(voxgate.EUNSUPPORTEDFORMAT, "voice_data is not a recognised audio format (WAV or MP3 expected)")
	}
	return nil
}

// validLanguage accepts BCP 47-like tags: letters, digits and '-' or '_',
// starting with a letter, 2-35 characters.
func validLanguage(l string) bool {
	if len(l) < 2 || len(l) > 35 {
		return false
	}
	for i, r := range l {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_')
		if !ok {
			return false
		}
	}
	return true
}

// AsyncAccepted is the answer to a submission.
type AsyncAccepted struct {
	// CallbackURL is the organisation's webhook, where the result goes.
	CallbackURL string
	JobID       string
	// Created is false when the request_uuid was submitted before: the
	// earlier job stands and no new one was made.
	Created bool
}

// SubmitAsync queues an enrollment or verification. The same request_uuid
// in the same organisation is one job: resubmitting it returns the job
// again (Created false), unless it named another kind or external_id
// (ECONFLICT). Errors: ENOTFOUND for another organisation, EINVALID and
// the audio format codes for bad input, ECONFLICT when no webhook is
// configured, ERATELIMITED when the organisation's backlog is full,
// EUNAVAILABLE when the server cannot process voices.
func (s *Service) SubmitAsync(ctx context.Context, a voxgate.Actor, req AsyncRequest) (*AsyncAccepted, error) {
	t, err := s.org(ctx, a, req.Org)
	if err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := a.CanActOn(req.ExternalID); err != nil {
		return nil, err
	}
	if req.Kind == voxgate.JobIdentify && a.Subject != "" {
		return nil, voxgate.Errorf(voxgate.EFORBIDDEN, "this token may not search other users' voices")
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	q, err := s.queue()
	if err != nil {
		return nil, err
	}
	w, err := q.FindWebhook(ctx, t.ID)
	if err != nil {
		if voxgate.ErrorCode(err) == voxgate.ENOTFOUND {
			return nil, voxgate.Errorf(voxgate.ECONFLICT, "No webhook configured for this organisation: set one with PUT /organisations/%s/webhook before submitting requests", t.Name)
		}
		return nil, err
	}
	reqUUID := strings.ToLower(req.RequestUUID)
	if old, err := q.FindJob(ctx, t.ID, reqUUID); err == nil {
		return s.resubmitted(old, req, w)
	} else if voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		return nil, err
	}
	cfg := s.cfg.Async.withDefaults()
	if n, err := q.CountPendingJobs(ctx, t.ID); err != nil {
		return nil, err
	} else if n >= cfg.MaxPending {
		return nil, &voxgate.Error{Code: voxgate.ERATELIMITED, Message: "Too many requests waiting for this organisation", RetryAfter: 5 * time.Second, Scope: "queue"}
	}
	if req.Kind == voxgate.JobIdentify {
		req.DeviceFingerprint = "" // a device belongs to a profile; an identification has none
	}
	lang := req.Language
	if lang == "" {
		lang = DefaultLanguage
	}
	now := s.now().UTC()
	j := &voxgate.Job{
		ID: ids.UUID(), TenantID: t.ID, RequestUUID: reqUUID, Kind: req.Kind, UserID: req.ExternalID,
		KeyID: a.KeyID, Scope: a.Scope, Language: lang,
		DeviceFingerprint: deviceHash(t.ID, req.ExternalID, req.DeviceFingerprint), DeviceType: req.DeviceType,
		Params: req.params(), AvailableAt: now, CreatedAt: now,
		CorrelationID: trace.From(ctx).CorrelationID, TraceParent: trace.From(ctx).Traceparent(),
	}
	j.Audio = s.sealer.Seal(req.Audio, jobAudioAD(t.ID, j.ID))
	s.crash("async.submit")
	stored, created, err := q.EnqueueJob(ctx, j)
	if err != nil {
		return nil, err
	}
	s.crash("async.queued")
	if !created { // a concurrent submission of the same request won
		return s.resubmitted(stored, req, w)
	}
	s.log.InfoContext(ctx, "async job queued", "tenant", t.ID, "job_id", j.ID, "kind", j.Kind)
	return &AsyncAccepted{CallbackURL: w.URL, JobID: j.ID, Created: true}, nil
}

func (s *Service) resubmitted(old *voxgate.Job, req AsyncRequest, w *voxgate.Webhook) (*AsyncAccepted, error) {
	if old.Kind != req.Kind || old.UserID != req.ExternalID || old.Params != req.params() {
		return nil, voxgate.Errorf(voxgate.ECONFLICT, "request_uuid %s was already used for another request", old.RequestUUID)
	}
	return &AsyncAccepted{CallbackURL: w.URL, JobID: old.ID}, nil
}

// Deliveries returns the organisation's webhook deliveries in one state
// ("pending", "delivered", "dead"; "" for all), newest first, at most
// limit (1-500). Admin keys only.
func (s *Service) Deliveries(ctx context.Context, a voxgate.Actor, org, status string, limit int) ([]*voxgate.Delivery, error) {
	t, err := s.org(ctx, a, org)
	if err != nil {
		return nil, err
	}
	if err := a.RequireAdmin(); err != nil {
		return nil, err
	}
	switch status {
	case "", voxgate.DeliveryPending, voxgate.DeliveryDelivered, voxgate.DeliveryDead:
	default:
		return nil, voxgate.Errorf(voxgate.EINVALID, "status must be pending, delivered or dead")
	}
	if limit < 1 || limit > 500 {
		return nil, voxgate.Errorf(voxgate.EINVALID, "limit must be between 1 and 500")
	}
	q, err := s.queue()
	if err != nil {
		return nil, err
	}
	return q.ListDeliveries(ctx, t.ID, status, limit)
}

// Redeliver queues one of the organisation's deliveries again, now, with a
// fresh retry window, whatever its state (a dead one, or a delivered one
// the receiver lost). Admin keys only. Returns ENOTFOUND.
func (s *Service) Redeliver(ctx context.Context, a voxgate.Actor, org, id string) (*voxgate.Delivery, error) {
	t, q, err := s.adminQueue(ctx, a, org)
	if err != nil {
		return nil, err
	}
	d, err := q.Redeliver(ctx, t.ID, id, s.now().UTC())
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "webhook redelivery requested", "tenant", t.ID, "delivery_id", id)
	return d, nil
}

// DeviceMismatches counts the actor's key's asynchronous verifications
// since the given time that came from a device the profile did not enroll
// with: the figure usage reports show.
func (s *Service) DeviceMismatches(ctx context.Context, a voxgate.Actor, since time.Time) (int, error) {
	if a.TenantID == "" {
		return 0, voxgate.Errorf(voxgate.EUNAUTHORIZED, "Invalid or inactive API key")
	}
	if s.jobs == nil {
		return 0, nil
	}
	return s.jobs.CountDeviceMismatches(ctx, a.TenantID, a.KeyID, since)
}

// VerificationEvent is the webhook payload of a verification (seed 002),
// with voxgate's extra fields after the seed's.
type VerificationEvent struct {
	EventType   string `json:"event_type"`
	RequestUUID string `json:"request_uuid"`
	ExternalID  string `json:"external_id"`
	// Result is verified, rejected or inconclusive (retry: unusable audio
	// or a borderline score; treat it as a rejection and ask again).
	Result string `json:"result"`
	// MatchScore is the calibrated probability, 0..1, that the speaker is
	// the enrolled one.
	MatchScore float64 `json:"match_score"`
	// DeepfakeDetected is true for synthetic or replayed audio.
	DeepfakeDetected bool  `json:"deepfake_detected"`
	LatencyMs        int64 `json:"latency_ms"`

	Decision                  string `json:"decision,omitempty"`
	Reason                    string `json:"reason,omitempty"`
	DeviceFingerprintMismatch bool   `json:"device_fingerprint_mismatch"`
	RetryAfterMs              int64  `json:"retry_after_ms,omitempty"`
	Language                  string `json:"language"`
}

// EnrollmentEvent is the webhook payload of an enrollment.
type EnrollmentEvent struct {
	EventType   string `json:"event_type"`
	RequestUUID string `json:"request_uuid"`
	ExternalID  string `json:"external_id"`
	// Result is enrolled (the sample was added), rejected or inconclusive
	// (unusable audio: record again).
	Result    string `json:"result"`
	LatencyMs int64  `json:"latency_ms"`

	Reason string `json:"reason,omitempty"`
	// EnrollmentComplete is true once the profile holds enough speech to
	// verify against; Progress is the share collected, 0..1.
	EnrollmentComplete bool    `json:"enrollment_complete"`
	Progress           float64 `json:"progress"`
	Samples            int     `json:"samples"`
	SpeechSeconds      float64 `json:"speech_seconds"`
	Language           string  `json:"language"`
}

// RunAsync processes the asynchronous API's jobs and webhook deliveries
// until ctx ends, then lets the work in flight finish within the
// configured grace and returns. Run it on every node: claims are leased
// in the store, so nodes share the queue without doing a job twice, and a
// dead node's work is picked up when its leases end.
func (s *Service) RunAsync(ctx context.Context) error {
	q, err := s.queue()
	if err != nil {
		return err
	}
	cfg := s.cfg.Async.withDefaults()
	sender := &webhook.Sender{AllowPrivate: cfg.AllowPrivate, Timeout: cfg.Timeout}
	// Work in flight outlives ctx by the grace period.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.ShutdownGrace, cancel)
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()

	deliveryLease := cfg.Timeout + 5*time.Second
	var wg sync.WaitGroup
	wg.Go(func() {
		pump(ctx, cfg.Workers, cfg.Poll, s.log, "jobs",
			func(n int) ([]*voxgate.Job, error) { return q.ClaimJobs(ctx, s.now().UTC(), cfg.JobLease, n) },
			func(j *voxgate.Job) {
				jctx, cancel := context.WithTimeout(work, cfg.JobTimeout)
				defer cancel()
				stop := s.heartbeat(jctx, cancel, q, cfg, j)
				defer stop()
				s.runJob(jctx, q, cfg, j)
			})
	})
	wg.Go(func() {
		pump(ctx, cfg.Deliverers, cfg.Poll, s.log, "deliveries",
			func(n int) ([]*voxgate.Delivery, error) {
				return q.ClaimDeliveries(ctx, s.now().UTC(), deliveryLease, n)
			},
			func(d *voxgate.Delivery) { s.deliver(work, q, cfg, sender, d) })
	})
	wg.Go(func() { s.sweepQueue(ctx, q, cfg) })
	wg.Wait()
	return nil
}

// heartbeat renews j's lease every third of cfg.JobLease until the
// returned stop is called. When the claim is lost (the lease ran out before
// a renewal got through and another worker has the job) it cancels the
// job's context: the other worker's run stands.
func (s *Service) heartbeat(ctx context.Context, cancel context.CancelFunc, q voxgate.Queue, cfg AsyncConfig, j *voxgate.Job) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(cfg.JobLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := q.ExtendJob(ctx, j.TenantID, j.ID, j.Claim, s.now().UTC().Add(cfg.JobLease))
			switch {
			case voxgate.ErrorCode(err) == voxgate.ECONFLICT:
				s.log.WarnContext(ctx, "async job lease lost: abandoning the run", "tenant", j.TenantID, "job_id", j.ID)
				cancel()
				return
			case err != nil && ctx.Err() == nil:
				s.log.WarnContext(ctx, "renewing async job lease failed", "tenant", j.TenantID, "job_id", j.ID, "err", err)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// pump claims up to n items at a time with claim and runs each with do in
// its own goroutine, never more than n at once, polling every poll when
// there is nothing to claim. It stops claiming when ctx ends and returns
// once the items in flight are done.
func pump[T any](ctx context.Context, n int, poll time.Duration, log *slog.Logger, what string, claim func(n int) ([]T, error), do func(T)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var busy atomic.Int64
	freed := make(chan struct{}, n)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		idle := true
		if free := n - int(busy.Load()); free > 0 {
			items, err := claim(free)
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "claiming async work failed", "queue", what, "err", err)
			}
			for _, it := range items {
				busy.Add(1)
				wg.Go(func() {
					defer func() {
						busy.Add(-1)
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
					do(it)
				})
			}
			// A full batch suggests more is waiting: claim again at once
			// if slots remain.
			idle = len(items) < free || err != nil
		}
		if !idle && n-int(busy.Load()) > 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		timer.Reset(poll)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-freed:
		}
	}
}

// outcome is a job's result, ready to become a webhook payload.
type outcome struct {
	event   string
	payload any
}

// runJob processes one claimed job and records its outcome. Transient
// failures put it back in the queue; everything else, success or a
// refusal, completes it with a delivery.
func (s *Service) runJob(ctx context.Context, q voxgate.Queue, cfg AsyncConfig, j *voxgate.Job) {
	// The job is a span of the submitting request's trace: its lines carry
	// that request's trace and correlation IDs.
	ctx = trace.With(ctx, trace.Start(j.TraceParent, j.CorrelationID))
	log := s.log.With("tenant", j.TenantID, "job_id", j.ID, "kind", j.Kind, "attempt", j.Attempts)
	var out outcome
	var err error
	switch {
	case j.Audio == nil:
		out = s.refusedOutcome(j, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "profile deleted"), reasonProfileDeleted)
	case j.Attempts > cfg.MaxJobAttempts:
		log.ErrorContext(ctx, "async job abandoned after repeated failures")
		out = s.refusedOutcome(j, voxgate.Errorf(voxgate.EINTERNAL, "processing failed"), voxgate.EINTERNAL)
	default:
		out, err = s.process(ctx, q, j)
	}
	// Bookkeeping runs even when ctx ended (shutdown grace ran out): a
	// failed write only means the lease runs out and the job is redone.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err != nil {
		var retryAt time.Time
		var e *voxgate.Error
		// A rate limit or a node at capacity defers the job: not a failure.
		deferred := errors.As(err, &e) && (e.Code == voxgate.ERATELIMITED || e.Code == voxgate.EUNAVAILABLE && e.RetryAfter > 0)
		switch {
		case deferred:
			retryAt = s.now().Add(max(e.RetryAfter, time.Second))
			log.InfoContext(ctx, "async job deferred by a rate limit or the node's capacity", "retry_at", retryAt, "scope", e.Scope)
		case j.Attempts < cfg.MaxJobAttempts:
			retryAt = s.now().Add(max(jobBackoff.Delay(j.Attempts, rand.Int64N), time.Second))
			log.WarnContext(ctx, "async job failed; will retry", "err", err, "retry_at", retryAt)
		default:
			log.ErrorContext(ctx, "async job failed for the last time", "err", err)
			out, err = s.refusedOutcome(j, err, voxgate.ErrorCode(err)), nil
		}
		if err != nil {
			if rerr := q.RetryJob(bctx, j.TenantID, j.ID, j.Claim, retryAt.UTC(), deferred); rerr != nil {
				log.WarnContext(ctx, "requeueing async job failed", "err", rerr)
			}
			return
		}
	}
	body, merr := json.Marshal(out.payload)
	if merr != nil {
		log.ErrorContext(ctx, "encoding webhook payload failed", "err", merr)
		return
	}
	now := s.now().UTC()
	d := &voxgate.Delivery{ID: ids.UUID(), TenantID: j.TenantID, JobID: j.ID, Event: out.event, Payload: body,
		AvailableAt: now, CreatedAt: now, WindowStart: now,
		CorrelationID: j.CorrelationID, TraceParent: trace.From(ctx).Traceparent()}
	s.crash("job.processed")
	if err := q.CompleteJob(bctx, j.TenantID, j.ID, j.Claim, d, now); err != nil {
		// ECONFLICT: the lease ran out and another worker has the job.
		log.WarnContext(ctx, "completing async job failed", "err", err)
		return
	}
	s.crash("job.completed")
	log.InfoContext(ctx, "async job done", "event", out.event, "delivery_id", d.ID)
}

// process runs the job through the service. It returns an error only for
// transient failures (internal errors, an unavailable engine, rate limits);
// refusals of the input become outcomes.
func (s *Service) process(ctx context.Context, q voxgate.Queue, j *voxgate.Job) (outcome, error) {
	audioData, err := s.sealer.Open(j.Audio, jobAudioAD(j.TenantID, j.ID))
	if err != nil {
		return outcome{}, err
	}
	a := voxgate.Actor{TenantID: j.TenantID, KeyID: j.KeyID, Scope: j.Scope}
	switch j.Kind {
	case voxgate.JobEnroll:
		return s.processEnroll(ctx, q, a, j, audioData)
	case voxgate.JobVerify:
		return s.processVerify(ctx, q, a, j, audioData)
	case voxgate.JobIdentify:
		return s.processIdentify(ctx, a, j, audioData)
	}
	return s.refusedOutcome(j, voxgate.Errorf(voxgate.EINVALID, "unknown job kind"), voxgate.EINVALID), nil
}

// transient reports whether err should be retried rather than reported.
func transient(err error) bool {
	switch voxgate.ErrorCode(err) {
	case voxgate.EINTERNAL, voxgate.EUNAVAILABLE, voxgate.ERATELIMITED:
		return true
	}
	return false
}

func (s *Service) processEnroll(ctx context.Context, q voxgate.Queue, a voxgate.Actor, j *voxgate.Job, audioData []byte) (outcome, error) {
	if _, _, err := s.CreateProfile(ctx, a, j.UserID); err != nil {
		if transient(err) {
			return outcome{}, err
		}
		return s.refusedOutcome(j, err, ""), nil
	}
	res, err := s.Enroll(ctx, a, j.UserID, audioData)
	if err != nil {
		if transient(err) {
			return outcome{}, err
		}
		if voxgate.ErrorCode(err) != voxgate.ECONFLICT {
			return s.refusedOutcome(j, err, ""), nil
		}
		// The recording is enrolled already. On a re-run of this job the
		// earlier, interrupted run most likely added it: report the
		// profile as it stands.
		if j.Attempts <= 1 {
			return s.refusedOutcome(j, err, reasonDuplicateSample), nil
		}
		p, perr := s.store.FindProfile(ctx, a.TenantID, j.UserID)
		if perr != nil {
			return outcome{}, perr
		}
		// The interrupted run may have died before remembering the device.
		if err := s.addDevice(ctx, q, a, j); err != nil {
			return outcome{}, err
		}
		ev := s.enrollmentEvent(j, ResultEnrolled, reasonAlreadyEnrolled)
		ev.EnrollmentComplete, ev.Samples, ev.SpeechSeconds = p.Enrolled(), p.Samples, round2(p.SpeechSeconds)
		ev.Progress = round2(min(1, p.SpeechSeconds/s.cfg.RequiredSpeech))
		return outcome{EventEnrollmentCompleted, ev}, nil
	}
	s.crash("job.enrolled")
	if err := s.addDevice(ctx, q, a, j); err != nil {
		return outcome{}, err
	}
	ev := s.enrollmentEvent(j, ResultEnrolled, "")
	ev.EnrollmentComplete, ev.Progress, ev.Samples, ev.SpeechSeconds = res.Enrolled, res.Progress, res.Samples, res.SpeechSeconds
	return outcome{EventEnrollmentCompleted, ev}, nil
}

// addDevice remembers the job's device as one the profile enrolled with
// (idempotent: a re-run of the job adds nothing twice).
func (s *Service) addDevice(ctx context.Context, q voxgate.Queue, a voxgate.Actor, j *voxgate.Job) error {
	if j.DeviceFingerprint == "" {
		return nil
	}
	return q.AddDevice(ctx, a.TenantID, j.UserID, j.DeviceFingerprint, j.DeviceType, s.now().UTC())
}

func (s *Service) processVerify(ctx context.Context, q voxgate.Queue, a voxgate.Actor, j *voxgate.Job, audioData []byte) (outcome, error) {
	res, err := s.Verify(ctx, a, VerifyRequest{UserID: j.UserID, Audio: audioData})
	if err != nil {
		if transient(err) {
			return outcome{}, err
		}
		return s.refusedOutcome(j, err, ""), nil
	}
	s.async.decided(res.Decision.Decision, res.Reason)
	ev := s.verificationEvent(j, verificationResult(res.Decision.Decision), res.Reason)
	ev.Decision, ev.MatchScore = res.Decision.Decision, res.Confidence
	ev.DeepfakeDetected = res.Spoof.Detected || res.Spoof.Replay
	if res.RetryAfter > 0 {
		ev.RetryAfterMs = res.RetryAfter.Milliseconds()
	}
	if j.Attempts > 1 && res.Reason == policy.ReasonReplay {
		// A re-run after a node died mid-job can meet the fingerprint its
		// own first run stored: not evidence of an attack.
		ev.Result, ev.Reason, ev.DeepfakeDetected = ResultInconclusive, reasonInterrupted, res.Spoof.Detected
	}
	if j.DeviceFingerprint != "" {
		known, enrolledAny, err := q.KnownDevice(ctx, a.TenantID, j.UserID, j.DeviceFingerprint)
		if err != nil {
			return outcome{}, err
		}
		if enrolledAny && !known {
			ev.DeviceFingerprintMismatch = true
			if err := q.RecordDeviceMismatch(ctx, a.TenantID, &voxgate.DeviceMismatch{
				ID: ids.UUID(), UserID: j.UserID, KeyID: j.KeyID, RequestUUID: j.RequestUUID, CreatedAt: s.now().UTC(),
			}); err != nil {
				return outcome{}, err
			}
		}
	}
	return outcome{EventVerificationCompleted, ev}, nil
}

// verificationResult maps a native decision onto seed 002's results.
func verificationResult(decision string) string {
	switch decision {
	case policy.Accept:
		return ResultVerified
	case policy.Retry:
		return ResultInconclusive
	default: // reject, cooldown
		return ResultRejected
	}
}

// refusedOutcome reports a job that produced no decision: unusable audio
// is inconclusive (record again), anything else rejected. reason "" uses
// the error's code.
func (s *Service) refusedOutcome(j *voxgate.Job, err error, reason string) outcome {
	code := voxgate.ErrorCode(err)
	if reason == "" {
		reason = code
	}
	result := ResultRejected
	switch code {
	case voxgate.EAUDIOTOOSHORT, voxgate.EAUDIOTOOLONG, voxgate.ENOSPEECH, voxgate.ETOONOISY, voxgate.ECLIPPED,
		voxgate.EUNSUPPORTEDFORMAT, voxgate.EPAYLOADTOOLARGE, voxgate.EINTERNAL, voxgate.EUNAVAILABLE, voxgate.EMODELSMISSING:
		result = ResultInconclusive
	}
	switch j.Kind {
	case voxgate.JobEnroll:
		return outcome{EventEnrollmentCompleted, s.enrollmentEvent(j, result, reason)}
	case voxgate.JobIdentify:
		return outcome{EventIdentificationCompleted, s.identificationEvent(j, result, reason)}
	}
	return outcome{EventVerificationCompleted, s.verificationEvent(j, result, reason)}
}

// latency is seed 002's latency_ms: from request receipt to result.
func (s *Service) latency(j *voxgate.Job) int64 {
	return max(0, s.now().Sub(j.CreatedAt).Milliseconds())
}

func (s *Service) verificationEvent(j *voxgate.Job, result, reason string) *VerificationEvent {
	return &VerificationEvent{EventType: EventVerificationCompleted, RequestUUID: j.RequestUUID, ExternalID: j.UserID,
		Result: result, Reason: reason, LatencyMs: s.latency(j), Language: j.Language}
}

func (s *Service) enrollmentEvent(j *voxgate.Job, result, reason string) *EnrollmentEvent {
	return &EnrollmentEvent{EventType: EventEnrollmentCompleted, RequestUUID: j.RequestUUID, ExternalID: j.UserID,
		Result: result, Reason: reason, LatencyMs: s.latency(j), Language: j.Language}
}

// deliver makes one attempt at a claimed delivery and records the outcome:
// delivered on a 2xx, otherwise retried after a jittered backoff, or dead
// once the retry window is spent. The webhook is read at each attempt, so
// a corrected URL or a new secret applies to pending deliveries.
func (s *Service) deliver(ctx context.Context, q voxgate.Queue, cfg AsyncConfig, sender *webhook.Sender, d *voxgate.Delivery) {
	ctx = trace.With(ctx, trace.Start(d.TraceParent, d.CorrelationID))
	log := s.log.With("tenant", d.TenantID, "delivery_id", d.ID, "event", d.Event, "attempt", d.Attempts)
	var res webhook.Result
	w, err := q.FindWebhook(ctx, d.TenantID)
	if err == nil {
		var keys webhook.Keys
		keys, err = s.signingKeys(w, s.now())
		if err == nil {
			res, err = sender.Send(ctx, w.URL, keys, webhook.Message{ID: d.ID, Event: d.Event, Body: d.Payload}, s.now())
		}
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := s.now().UTC()
	s.async.attempts.Add(1)
	if err != nil {
		s.async.failures.Add(1)
	}
	if err == nil {
		if err := q.DeliverySucceeded(bctx, d.TenantID, d.ID, d.Claim, now); err != nil {
			log.WarnContext(ctx, "recording a delivery failed", "err", err)
			return
		}
		log.InfoContext(ctx, "webhook delivered", "status", res.Status, "latency_ms", float64(res.Duration.Microseconds())/1000)
		return
	}
	end := d.WindowStart.Add(cfg.Window)
	next := now.Add(cfg.Backoff.Delay(d.Attempts, rand.Int64N))
	if next.After(end) {
		next = end // one last attempt when the window closes
	}
	dead := !now.Before(end)
	if err := q.DeliveryFailed(bctx, d.TenantID, d.ID, d.Claim, res.Status, err.Error(), next, dead); err != nil {
		log.WarnContext(ctx, "recording a failed delivery failed", "err", err)
		return
	}
	if dead {
		s.async.deadLetters.Add(1)
		log.WarnContext(ctx, "webhook dead-lettered", "err", err, "status", res.Status)
	} else {
		log.WarnContext(ctx, "webhook attempt failed", "err", err, "status", res.Status, "next_at", next)
	}
}

// sweepQueue deletes finished queue rows past their retention, hourly.
func (s *Service) sweepQueue(ctx context.Context, q voxgate.Queue, cfg AsyncConfig) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := s.now()
		if n, err := q.SweepQueue(ctx, now.Add(-cfg.Retention), now.Add(-cfg.DeadRetention)); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweeping the async queue failed", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "swept finished async jobs and deliveries", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Package service is voxgate's application layer: it authenticates callers,
// enforces tenant and subject boundaries, and orchestrates the store and the
// engine for enrollment and verification. It knows nothing about HTTP: every
// API face in httpapi is a thin translation onto these methods, so a fix here
// fixes every API at once.
package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"strings"
	"time"

	"voxgate"
	"voxgate/engine"
	"voxgate/ids"
	"voxgate/policy"
	"voxgate/seal"
	"voxgate/timing"
	"voxgate/trace"
	"voxgate/voicetoken"
)

// Service is the application layer. Build it with New.
type Service struct {
	store  voxgate.Store
	log    *slog.Logger
	now    func() time.Time
	engine *engine.Engine
	sealer *seal.Sealer
	tokens *voicetoken.Signer
	cfg    Config

	cohorts   cohortCache   // each tenant's impostor cohort (cohort.go)
	galleries galleryCache  // each tenant's voiceprints for identification (gallery.go)
	admit     admission     // audio memory and engine slots (admission.go)
	async     asyncCounters // the asynchronous workers' counts (asyncstats.go)
	// jobs and monitor are the store's optional capabilities (the async
	// queue, its backlog report), nil when it lacks them; they are taken
	// from the store as given, since the timing wrapper (timing.WrapStore)
	// has the Store's methods only.
	jobs    voxgate.Queue
	monitor voxgate.QueueMonitor
	// crashHook is Options.Crash: nil outside crash tests.
	crashHook func(point string)
}

// Options configure a Service. The zero value is usable for key and profile
// management; enrollment and verification need Engine and Sealer.
type Options struct {
	Logger *slog.Logger
	// Now replaces the clock in tests.
	Now func() time.Time
	// Engine analyses recordings and scores voices.
	Engine *engine.Engine
	// Sealer encrypts voiceprints, samples and fingerprints at rest.
	Sealer *seal.Sealer
	// Tokens signs voice tokens for the challenge flow.
	Tokens *voicetoken.Signer
	// Config holds the policies; zero fields take DefaultConfig's values.
	Config Config
	// Crash, when set, is called at every named write point of enrollment,
	// verification and the asynchronous API ("enroll.outcome" before the
	// step's one transaction, "enroll.done" after it, ...; see the calls
	// of crash). Crash tests set it to kill the process there; nil (the
	// default) does nothing.
	Crash func(point string)
}

// Config is the service's policy: gates, limits, learning, retention.
type Config struct {
	// RequiredSpeech is the net speech, seconds, enrollment must collect.
	RequiredSpeech float64
	EnrollGate     engine.Gate
	VerifyGate     engine.Gate
	Decision       policy.Config
	Limits         policy.Limits
	Learning       policy.Learning
	// RatePerMinute and RatePerHour bound requests per API key on the
	// biometric routes; 0 disables that window.
	RatePerMinute, RatePerHour int
	// FingerprintKeep is how many replay fingerprints a profile keeps.
	FingerprintKeep int
	// SessionTTL and TokenTTL bound challenge sessions and voice tokens.
	SessionTTL, TokenTTL time.Duration
	// DemoKeys lets anyone mint a 24-hour sandbox key (POST /v1/keys/demo).
	DemoKeys bool
	// DisableLimits turns attempt limits and rate limits off, and
	// DisableLearning freezes templates: only for evaluation runs, which
	// score thousands of trials per profile and must not depend on order.
	DisableLimits   bool
	DisableLearning bool
	// IdentifyFPIR is the false-positive identification rate the open-set
	// threshold of identification, watchlist and duplicate checks is set
	// for (0: DefaultFPIR).
	IdentifyFPIR float64
	// Async configures the asynchronous API and its webhooks (async.go).
	Async AsyncConfig
	// Budget bounds the audio work in flight on this node (admission.go).
	Budget BudgetConfig
	// Degraded lets enrollments and verifications run without a check
	// whose model the engine lacks (Silero VAD, the deepfake detector);
	// their answers then name the checks that did not run. Off, they are
	// refused with EMODELSMISSING (checks.go).
	Degraded bool
	// AuditSalt, when set, turns on pseudonymous audit rows after
	// deletion: deleting a profile replaces its user id in the audit log
	// with a salted hash (AuditPseudonym). Empty: the audit log keeps the
	// user id.
	AuditSalt []byte
}

// DefaultConfig returns the shipped policies.
func DefaultConfig() Config {
	return Config{
		RequiredSpeech:  10,
		EnrollGate:      engine.EnrollGate,
		VerifyGate:      engine.VerifyGate,
		Decision:        policy.DefaultConfig(),
		Limits:          policy.DefaultLimits(),
		Learning:        policy.DefaultLearning(),
		RatePerMinute:   60,
		RatePerHour:     1000,
		FingerprintKeep: 500,
	}
}

// New returns a Service over store.
func New(store voxgate.Store, opt Options) *Service {
	// Lines logged with a request's or a job's context carry its
	// correlation and trace IDs.
	s := &Service{store: timing.WrapStore(store), log: trace.Logger(opt.Logger), now: opt.Now, engine: opt.Engine, sealer: opt.Sealer, tokens: opt.Tokens, cfg: opt.Config, crashHook: opt.Crash}
	s.jobs, _ = store.(voxgate.Queue)
	s.monitor, _ = store.(voxgate.QueueMonitor)
	if s.now == nil {
		s.now = time.Now
	}
	def := DefaultConfig()
	if s.cfg.RequiredSpeech == 0 {
		s.cfg.RequiredSpeech = def.RequiredSpeech
	}
	if s.cfg.EnrollGate == (engine.Gate{}) {
		s.cfg.EnrollGate = def.EnrollGate
	}
	if s.cfg.VerifyGate == (engine.Gate{}) {
		s.cfg.VerifyGate = def.VerifyGate
	}
	if s.cfg.Decision == (policy.Config{}) {
		s.cfg.Decision = def.Decision
	}
	if s.cfg.Limits == (policy.Limits{}) {
		s.cfg.Limits = def.Limits
	}
	if s.cfg.Learning == (policy.Learning{}) {
		s.cfg.Learning = def.Learning
	}
	if s.cfg.FingerprintKeep == 0 {
		s.cfg.FingerprintKeep = def.FingerprintKeep
	}
	s.admit = newAdmission(s.cfg.Budget)
	return s
}

// crash calls the crash hook (Options.Crash) at a named write point.
func (s *Service) crash(point string) {
	if s.crashHook != nil {
		s.crashHook(point)
	}
}

// Config returns the service's effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Ping reports whether the store answers (readiness).
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// keyPrefix starts every voxgate API key, so that secret scanners and people
// can recognise one.
const keyPrefix = "vg_"

// A key reads vg_<id>_<secret>: the id finds the row, the secret is checked
// against the stored hash in constant time.
const (
	keyIDLen     = 12
	keySecretLen = 43 // 43 characters of a 31-letter alphabet: 213 bits
)

func hashKey(raw string) []byte {
	h := sha256.Sum256([]byte("voxgate-api-key\x00" + raw))
	return h[:]
}

// NewKey is what CreateKey returns: the raw key, shown once, and its record.
type NewKey struct {
	Key    string
	Record *voxgate.APIKey
	Tenant *voxgate.Tenant
}

// CreateKey makes a new API key for the named tenant, creating the tenant if
// it does not exist yet. It is an operator action (the `voxgate keys` command),
// not reachable over HTTP. ttl, when positive, makes the key expire.
func (s *Service) CreateKey(ctx context.Context, tenant string, scope voxgate.Scope, label string, ttl time.Duration) (*NewKey, error) {
	if !scope.Valid() {
		return nil, voxgate.Errorf(voxgate.EINVALID, "scope must be admin or verify")
	}
	t, err := s.ensureTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	id := ids.Token(keyIDLen)
	raw := keyPrefix + id + "_" + ids.Token(keySecretLen)
	now := s.now().UTC()
	k := &voxgate.APIKey{ID: id, TenantID: t.ID, Scope: scope, Hash: hashKey(raw), Label: label, CreatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		k.ExpiresAt = &exp
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "api key created", "tenant", t.ID, "key_id", id, "scope", scope)
	return &NewKey{Key: raw, Record: k, Tenant: t}, nil
}

// ensureTenant finds the tenant by ID or name, or creates it by name.
func (s *Service) ensureTenant(ctx context.Context, ref string) (*voxgate.Tenant, error) {
	t, err := s.store.FindTenant(ctx, ref)
	if err == nil {
		return t, nil
	}
	if voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		return nil, err
	}
	if err := voxgate.ValidateTenantName(ref); err != nil {
		return nil, err
	}
	t = &voxgate.Tenant{ID: ids.UUID(), Name: ref, CreatedAt: s.now().UTC()}
	if err := s.store.CreateTenant(ctx, t); err != nil {
		if voxgate.ErrorCode(err) == voxgate.ECONFLICT { // created concurrently
			return s.store.FindTenant(ctx, ref)
		}
		return nil, err
	}
	return t, nil
}

// ListKeys returns the keys of the tenant named or identified by ref.
func (s *Service) ListKeys(ctx context.Context, ref string) (*voxgate.Tenant, []*voxgate.APIKey, error) {
	t, err := s.store.FindTenant(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	keys, err := s.store.ListAPIKeys(ctx, t.ID)
	return t, keys, err
}

// RevokeKey revokes one key of the tenant ref. Returns ENOTFOUND when the
// tenant has no such key.
func (s *Service) RevokeKey(ctx context.Context, ref, keyID string) error {
	t, err := s.store.FindTenant(ctx, ref)
	if err != nil {
		return err
	}
	if err := s.store.RevokeAPIKey(ctx, t.ID, keyID, s.now().UTC()); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "api key revoked", "tenant", t.ID, "key_id", keyID)
	return nil
}

// errBadKey is the one answer to every authentication failure, so that a
// caller cannot tell a malformed key from an unknown or revoked one.
func errBadKey() error { return voxgate.Errorf(voxgate.EUNAUTHORIZED, "Invalid or inactive API key") }

// dummyHash is compared against when no key row exists, so that unknown and
// wrong keys take the same time.
var dummyHash = hashKey("voxgate-dummy")

// Authenticate resolves a raw API key to an Actor. Returns EUNAUTHORIZED for
// malformed, unknown, revoked and expired keys alike.
func (s *Service) Authenticate(ctx context.Context, raw string) (voxgate.Actor, error) {
	id, ok := parseKey(raw)
	if !ok {
		return voxgate.Actor{}, errBadKey()
	}
	k, err := s.store.FindAPIKey(ctx, id)
	if err != nil && voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		return voxgate.Actor{}, err
	}
	want := dummyHash
	if k != nil {
		want = k.Hash
	}
	match := subtle.ConstantTimeCompare(hashKey(raw), want) == 1
	if k == nil || !match || !k.Active(s.now()) {
		return voxgate.Actor{}, errBadKey()
	}
	return voxgate.Actor{TenantID: k.TenantID, KeyID: k.ID, Scope: k.Scope}, nil
}

// KeyID returns the ID part of a well-formed API key (whatever its
// secret), for throttling failures per key; false when raw is not one.
func KeyID(raw string) (string, bool) { return parseKey(raw) }

// parseKey returns the ID part of a well-formed key.
func parseKey(raw string) (string, bool) {
	rest, ok := strings.CutPrefix(raw, keyPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != keyIDLen || len(secret) != keySecretLen {
		return "", false
	}
	return id, true
}

// Tenant returns the actor's tenant.
func (s *Service) Tenant(ctx context.Context, a voxgate.Actor) (*voxgate.Tenant, error) {
	return s.store.FindTenant(ctx, a.TenantID)
}

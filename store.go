package voxgate

import (
	"context"
	"time"
)

// Store persists the domain. Every call that touches tenant data takes the
// tenant ID as a required argument, so that no query can forget it; the
// SQLite (store/sqlite) and PostgreSQL (store/postgres) implementations,
// and any other, must pass the shared conformance suite in store/storetest.
//
// Errors: ENOTFOUND / EPROFILENOTFOUND when a record does not exist within
// the tenant, ECONFLICT on uniqueness violations; anything else is internal.
type Store interface {
	// Ping reports whether the store is reachable (readiness).
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error

	// CreateTenant inserts t. Returns ECONFLICT if the name is taken.
	CreateTenant(ctx context.Context, t *Tenant) error
	// FindTenant returns the tenant whose ID or name is ref.
	// Returns ENOTFOUND if there is none.
	FindTenant(ctx context.Context, ref string) (*Tenant, error)

	// CreateAPIKey inserts k (its Hash set, never the secret).
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKey returns the key with this ID, in any tenant: it is the one
	// lookup that precedes authentication. Returns ENOTFOUND.
	FindAPIKey(ctx context.Context, id string) (*APIKey, error)
	// ListAPIKeys returns the tenant's keys, newest first.
	ListAPIKeys(ctx context.Context, tenantID string) ([]*APIKey, error)
	// RevokeAPIKey marks the tenant's key revoked at the given time.
	// Returns ENOTFOUND if the tenant has no such key.
	RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time) error

	// CreateProfile inserts the profile unless it exists, and returns the
	// stored profile and whether this call created it. Safe under
	// concurrent calls with the same user: exactly one row results.
	CreateProfile(ctx context.Context, tenantID, userID string, at time.Time) (p *Profile, created bool, err error)
	// FindProfile returns the tenant's profile. Returns EPROFILENOTFOUND.
	FindProfile(ctx context.Context, tenantID, userID string) (*Profile, error)
	// DeleteProfile erases the profile and everything else that holds the
	// user's data, in one transaction: samples, voiceprint, fingerprints,
	// standing, devices, device mismatches, challenge sessions and voice
	// tokens, group memberships, finished asynchronous jobs and every
	// webhook delivery about the user (any state; identification results
	// that name the user, as identified or as a candidate, included). Unfinished jobs are kept only so that their
	// submitter still gets an answer: their audio, device fingerprint and
	// user id are cleared and their lease is broken, so they complete as
	// "profile deleted" without any data of the user. The audit log
	// (attempts) is kept; when auditAs is not empty it replaces the user
	// id in the user's audit rows, and in the KeyID of the user's own
	// end-user token (EndUserKeyID). Returns EPROFILENOTFOUND.
	DeleteProfile(ctx context.Context, tenantID, userID, auditAs string) error

	// AddSample stores an enrollment sample and updates the profile's
	// counters in one transaction, marking the profile enrolled once its
	// net speech reaches requiredSpeech seconds. Returns the updated
	// profile, or EPROFILENOTFOUND.
	AddSample(ctx context.Context, tenantID string, s *Sample, requiredSpeech float64) (*Profile, error)
	// RecordOutcome applies every write of o in one transaction (see
	// Outcome) and returns the profile as it stands after it. Returns
	// ECONFLICT when o.Voiceprint's revision is no longer the stored one
	// and EPROFILENOTFOUND when the profile is gone; either way nothing is
	// written.
	RecordOutcome(ctx context.Context, tenantID string, o *Outcome) (*Profile, error)
	// ListSamples returns the profile's samples, oldest first.
	ListSamples(ctx context.Context, tenantID, userID string) ([]*Sample, error)
	// ListCohortSamples returns the tenant's newest enrollment samples of
	// model version modelVersion across all its profiles, newest first, at
	// most limit: the tenant's own impostor cohort for score normalisation.
	ListCohortSamples(ctx context.Context, tenantID, modelVersion string, limit int) ([]*Sample, error)

	// PutVoiceprint writes the profile's template if vp.Revision is the
	// stored revision (0: none stored yet), and sets vp.Revision to the new
	// one. Returns ECONFLICT when another writer got there first,
	// EPROFILENOTFOUND when the profile is gone.
	PutVoiceprint(ctx context.Context, tenantID string, vp *Voiceprint) error
	// FindVoiceprint returns the profile's template. Returns ENOTFOUND.
	FindVoiceprint(ctx context.Context, tenantID, userID string) (*Voiceprint, error)

	// GalleryChanges returns how the tenant's gallery changed after
	// revision since (0: the whole gallery, with Full set): every
	// PutVoiceprint and DeleteProfile moves the tenant's revision on. One
	// indexed query when nothing changed, so that a node may ask before
	// every search.
	GalleryChanges(ctx context.Context, tenantID string, since int64) (*GalleryDelta, error)

	// UpdateGroup adds users to and removes users from the tenant's group
	// (adding a member twice or removing a non-member is no error), in one
	// transaction, and returns the members afterwards, sorted. Returns
	// EPROFILENOTFOUND, changing nothing, when an added user has no profile.
	// A deleted profile leaves every group.
	UpdateGroup(ctx context.Context, tenantID, group string, add, remove []string, at time.Time) ([]string, error)
	// GroupMembers returns the members of the tenant's group, sorted (a
	// group nobody was added to is empty, not an error).
	GroupMembers(ctx context.Context, tenantID, group string) ([]string, error)
	// IdentificationSettings returns the tenant's identification settings,
	// or the zero value when none were stored.
	IdentificationSettings(ctx context.Context, tenantID string) (IdentificationSettings, error)
	// SetIdentificationSettings stores the tenant's identification settings.
	SetIdentificationSettings(ctx context.Context, tenantID string, s IdentificationSettings, at time.Time) error
	// VerificationSettings returns the tenant's verification settings, or
	// the zero value when none were stored. Every node reads them here:
	// a change applies to the next verification on any node.
	VerificationSettings(ctx context.Context, tenantID string) (VerificationSettings, error)
	// SetVerificationSettings stores the tenant's verification settings
	// (Validate's errors for a malformed s) and appends audit, the record
	// of the change, to the audit log, in one transaction.
	SetVerificationSettings(ctx context.Context, tenantID string, s VerificationSettings, audit *Attempt) error

	// AddFingerprint stores a replay fingerprint and keeps only the newest
	// keep of the profile's fingerprints (keep <= 0: all).
	AddFingerprint(ctx context.Context, tenantID string, f *Fingerprint, keep int) error
	// ListFingerprints returns the profile's newest fingerprints first, at
	// most limit.
	ListFingerprints(ctx context.Context, tenantID, userID string, limit int) ([]*Fingerprint, error)

	// UpdateStanding reads the profile's standing (zero if none), passes it
	// to fn and stores what fn returns, all under one lock, so that
	// concurrent attempts on any node see each other. fn's error aborts the
	// update and is returned. Returns EPROFILENOTFOUND.
	UpdateStanding(ctx context.Context, tenantID, userID string, fn func(Standing) (Standing, error)) (Standing, error)
	// FindStanding returns the profile's standing, zero if none.
	FindStanding(ctx context.Context, tenantID, userID string) (Standing, error)

	// CountRequest adds one to the key's counter for the window starting at
	// windowStart and returns the new count. Windows older than
	// pruneBefore may be deleted on the way.
	CountRequest(ctx context.Context, keyID, scope string, windowStart, pruneBefore time.Time) (int, error)

	// CreateSession stores a new challenge session.
	CreateSession(ctx context.Context, tenantID string, s *Session) error
	// ConsumeSession marks the tenant's session used at time now and
	// returns it, atomically: of concurrent callers exactly one succeeds.
	// Returns ESESSIONNOTFOUND when the tenant has no such session and
	// ESESSIONEXPIRED when it was used before or has expired.
	ConsumeSession(ctx context.Context, tenantID, id string, now time.Time) (*Session, error)
	// RecentChallenges returns the user's newest challenges, at most limit.
	RecentChallenges(ctx context.Context, tenantID, userID string, limit int) ([]string, error)
	// SweepSessions deletes sessions and tokens that expired before the
	// given time and returns how many rows went.
	SweepSessions(ctx context.Context, before time.Time) (int, error)

	// CreateVoiceToken records an issued token.
	CreateVoiceToken(ctx context.Context, tenantID string, t *VoiceToken) error
	// ConsumeVoiceToken marks the token used, atomically, if it is unused
	// and unexpired at now. Returns ENOTFOUND for unknown tokens (or
	// another tenant's) and ESESSIONEXPIRED for used or expired ones.
	ConsumeVoiceToken(ctx context.Context, tenantID, jti string, now time.Time) (*VoiceToken, error)

	// SetChallengePhrases replaces the tenant's passphrases.
	SetChallengePhrases(ctx context.Context, tenantID string, phrases []string, at time.Time) error
	// ChallengePhrases returns the tenant's passphrases (none: empty).
	ChallengePhrases(ctx context.Context, tenantID string) ([]string, error)

	// RecordAttempt appends to the audit log.
	RecordAttempt(ctx context.Context, tenantID string, a *Attempt) error
	// ListAttempts returns the tenant's newest attempts first, for one user
	// when userID is not empty, at most limit.
	ListAttempts(ctx context.Context, tenantID, userID string, limit int) ([]*Attempt, error)
	// KeyAttempts returns the attempts made with one key of the tenant since
	// the given time, oldest first, at most limit, without their detail: the
	// raw material of usage reports.
	KeyAttempts(ctx context.Context, tenantID, keyID string, since time.Time, limit int) ([]*Attempt, error)
}

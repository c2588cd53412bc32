// Package voxgate holds the domain of the voice-biometrics service: the plain
// types (Tenant, APIKey, Profile, Attempt...), the Store interface that
// persists them, and the application error codes. It imports nothing of the
// outside world: storage lives in store/sqlite and store/postgres, HTTP in httpapi, the signal
// processing in the engine packages (audio, vad, speaker, antispoof, ...), and
// the orchestration of all of them in service.
package voxgate

import (
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Scope is what an API key or token may do.
type Scope string

const (
	// ScopeAdmin may do everything within its tenant: manage profiles,
	// enroll, verify, read usage and audit.
	ScopeAdmin Scope = "admin"
	// ScopeVerify may create profiles, enroll and verify, but not delete
	// profiles, read the audit log or learning data, or administer the
	// tenant.
	ScopeVerify Scope = "verify"
)

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s == ScopeAdmin || s == ScopeVerify }

// Tenant is a customer organisation. Every other record belongs to exactly
// one tenant and is never visible to another.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// ValidateTenantName checks a tenant name: 1-64 characters of letters,
// digits, '-', '_' and '.', so that it can stand in a URL path (seed 002
// addresses tenants as /organisations/{orgId}).
func ValidateTenantName(name string) error {
	if name == "" || len(name) > 64 {
		return Errorf(EINVALID, "tenant name must be 1-64 characters")
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return Errorf(EINVALID, "tenant name may contain only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// APIKey is the stored form of a tenant's API key. The secret itself is never
// stored: only its SHA-256 hash, compared in constant time.
type APIKey struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"tenant_id"`
	Scope     Scope      `json:"scope"`
	Hash      []byte     `json:"-"`
	Label     string     `json:"label,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the key may authenticate at time now.
func (k *APIKey) Active(now time.Time) bool {
	if k.RevokedAt != nil {
		return false
	}
	return k.ExpiresAt == nil || now.Before(*k.ExpiresAt)
}

// Actor is who is calling the service: a tenant, through one key or token,
// with a scope, and optionally confined to one subject (an end-user token may
// act only on its own profile).
type Actor struct {
	TenantID string
	KeyID    string
	Scope    Scope
	// Subject, when not empty, is the only user_id this actor may touch.
	Subject string
	// Flow, when not empty, names the one browser flow ("enroll" or
	// "challenge") a client token was minted for; the HTTP layer lets such
	// an actor reach only that flow's routes.
	Flow string
}

// CanActOn returns an error unless the actor may touch the given user.
// A confined actor asking for another user gets ENOTFOUND rather than
// EFORBIDDEN, so that it cannot probe which users exist.
func (a Actor) CanActOn(userID string) error {
	if a.TenantID == "" {
		return Errorf(EUNAUTHORIZED, "Invalid or inactive API key")
	}
	if a.Subject != "" && a.Subject != userID {
		return Errorf(EFORBIDDEN, "this token may act only on its own user")
	}
	return nil
}

// RequireAdmin returns EFORBIDDEN unless the actor has the admin scope and
// is not confined to a single subject.
func (a Actor) RequireAdmin() error {
	if a.TenantID == "" {
		return Errorf(EUNAUTHORIZED, "Invalid or inactive API key")
	}
	if a.Scope != ScopeAdmin || a.Subject != "" {
		return Errorf(EFORBIDDEN, "this operation needs an admin key")
	}
	return nil
}

// RequireFlow returns EFORBIDDEN unless the actor may run an operation of
// the named browser flow. Keys and end-user tokens may run any; a client
// token only the flow it was minted for. flow "" names the operations
// outside every browser flow (the verify decision without a challenge,
// voice tokens, usage, the asynchronous and voice-ID APIs), which no
// client token may run.
func (a Actor) RequireFlow(flow string) error {
	if a.TenantID == "" {
		return Errorf(EUNAUTHORIZED, "Invalid or inactive API key")
	}
	if a.Flow != "" && a.Flow != flow {
		return Errorf(EFORBIDDEN, "this client token is for the %s flow only", a.Flow)
	}
	return nil
}

// CanManage returns nil if the actor may delete user userID's profile:
// an admin key or admin token for any user of its tenant, an end-user
// token for its own profile (self-service erasure). A verify key or a
// client token may not (EFORBIDDEN).
func (a Actor) CanManage(userID string) error {
	if a.TenantID == "" {
		return Errorf(EUNAUTHORIZED, "Invalid or inactive API key")
	}
	endUser := a.Subject != "" && a.Flow == ""
	if a.Flow != "" || (a.Scope != ScopeAdmin && !endUser) {
		return Errorf(EFORBIDDEN, "this operation needs an admin key")
	}
	return a.CanActOn(userID)
}

// EndUserKeyID is the KeyID of an end-user token's Actor: usage, rate
// limits and the audit log count an end user's requests under it. It
// holds the user id, so erasing a profile rewrites it too.
func EndUserKeyID(tenantID, subject string) string { return "jwt:user:" + tenantID + ":" + subject }

// Profile is one user of a tenant: the person whose voice is enrolled.
type Profile struct {
	TenantID  string    `json:"-"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	// EnrolledAt is set once enough net speech has been collected.
	EnrolledAt *time.Time `json:"enrolled_at,omitempty"`
	// Samples is the number of enrollment samples kept.
	Samples int `json:"samples"`
	// SpeechSeconds is the net speech in those samples.
	SpeechSeconds float64 `json:"speech_seconds"`
}

// Enrolled reports whether the profile has a usable voiceprint.
func (p *Profile) Enrolled() bool { return p.EnrolledAt != nil }

// MaxUserIDLen bounds user identifiers.
const MaxUserIDLen = 128

// NormalizeUserID returns the canonical form of a user_id (seed 001;
// external_id in seed 002): Unicode NFC, so that "é" typed as one code point
// or as "e" and a combining accent names one user. It refuses ids that are
// empty, longer than 128 characters or not UTF-8 (EINVALID), and, with
// EINVALIDUSERID, ids that hold control characters, line or paragraph
// separators, or invisible format characters (bidirectional overrides and
// isolates, zero-width spaces and joiners, the byte-order mark...), with
// which two ids that look the same could name different users.
func NormalizeUserID(id string) (string, error) {
	if id == "" {
		return "", Errorf(EINVALID, "user_id is required")
	}
	if !utf8.ValidString(id) {
		return "", Errorf(EINVALID, "user_id must be valid UTF-8")
	}
	id = norm.NFC.String(id)
	if n := utf8.RuneCountInString(id); n > MaxUserIDLen {
		return "", Errorf(EINVALID, "user_id must be at most %d characters (got %d)", MaxUserIDLen, n)
	}
	for _, r := range id {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return "", Errorf(EINVALIDUSERID, "user_id must not contain control or invisible formatting characters (found U+%04X)", r)
		}
	}
	return id, nil
}

// ValidateUserID reports whether id is an acceptable user_id: nil exactly
// when NormalizeUserID accepts it. Code that stores or looks up the id must
// use NormalizeUserID's result.
func ValidateUserID(id string) error {
	_, err := NormalizeUserID(id)
	return err
}

package voxgate

import "time"

// Sample is one accepted enrollment recording of a profile: its quality
// measures and its sealed speaker embedding. The audio itself is not kept.
type Sample struct {
	ID            string
	UserID        string
	CreatedAt     time.Time
	SpeechSeconds float64
	// Weight is the sample's share in the template (more and cleaner
	// speech weighs more).
	Weight       float64
	ModelVersion string
	// Quality is the JSON of the engine's measures of the recording.
	Quality string
	// Embedding is sealed: only the service can open it.
	Embedding []byte
}

// Voiceprint is a profile's current template, sealed. Revision increases
// with every write, so that concurrent updates (adaptive learning on two
// nodes) cannot overwrite each other silently.
type Voiceprint struct {
	UserID       string
	ModelVersion string
	Template     []byte // sealed
	Revision     int64
	UpdatedAt    time.Time
}

// Fingerprint is the sealed replay fingerprint of one recording.
type Fingerprint struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	Source    string // "enroll" or "verify"
	Data      []byte // sealed
}

// Attempt is one audited decision: who, when, what was decided and why,
// with the scores as JSON. It never holds biometrics.
type Attempt struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	Kind      string    `json:"kind"`
	Decision  string    `json:"decision"`
	Reason    string    `json:"reason,omitempty"`
	Detail    string    `json:"-"`
	LatencyMs float64   `json:"latency_ms"`
}

// Standing is a profile's record of consecutive failed attempts, its
// cooldown and its lock (see policy.Limits).
type Standing struct {
	Failures      int       `json:"consecutive_failures"`
	CooldownUntil time.Time `json:"cooldown_until"`
	Locked        bool      `json:"locked"`
}

// Outcome is every write of one enrollment step or one verification: the
// sample, the template, the replay fingerprint, the standing and the audit
// row. Store.RecordOutcome applies them in one transaction, so that a
// process killed at any point leaves all of them or none: never a profile
// marked enrolled without its voiceprint, a sample whose recording could be
// enrolled again for lack of its fingerprint, or a change without its audit
// row. Nil fields are not written.
type Outcome struct {
	UserID string
	// Sample is added and the profile's counters updated, as AddSample
	// does with RequiredSpeech.
	Sample         *Sample
	RequiredSpeech float64
	// Voiceprint is written as PutVoiceprint does: only when its Revision
	// is still the stored one (0: none stored yet); on success Revision is
	// set to the new one.
	Voiceprint *Voiceprint
	// Fingerprint is added as AddFingerprint does, keeping the newest
	// FingerprintKeep (<= 0: all).
	Fingerprint     *Fingerprint
	FingerprintKeep int
	// Standing, when set, maps the stored standing (zero if none) to the
	// new one under the transaction's lock, as UpdateStanding does.
	Standing func(Standing) Standing
	// Attempt is appended to the audit log.
	Attempt *Attempt
}

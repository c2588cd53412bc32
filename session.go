package voxgate

import "time"

// Session is a challenge: a short-lived, single-use request to one user to
// speak a fresh phrase.
type Session struct {
	ID         string
	UserID     string
	Mode       string
	Challenge  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ConsumedAt *time.Time
}

// VoiceToken is the record of an issued voice token, kept so that its first
// validation can revoke it.
type VoiceToken struct {
	JTI       string
	UserID    string
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

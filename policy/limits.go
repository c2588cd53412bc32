package policy

import (
	"math"
	"time"

	"voxgate"
)

// Limits are the attempt limits of a profile, after NIST SP 800-63B §5.2.2:
// a few free failures, then growing delays, then lock-out until an
// administrator resets the profile. A success clears the count.
type Limits struct {
	// FreeFailures is how many consecutive failures pass without delay.
	FreeFailures int
	// BaseDelay is the first cooldown; each further failure doubles it.
	BaseDelay time.Duration
	// MaxDelay caps a single cooldown.
	MaxDelay time.Duration
	// LockAfter is the consecutive failure count that locks the profile.
	LockAfter int
}

// DefaultLimits returns the shipped limits: 5 free failures, then 30 s
// doubling up to 1 h, lock-out at 50 (800-63B allows at most 100).
func DefaultLimits() Limits {
	return Limits{FreeFailures: 5, BaseDelay: 30 * time.Second, MaxDelay: time.Hour, LockAfter: 50}
}

// Standing is a profile's persisted failure record.
type Standing = voxgate.Standing

// Gate says whether an attempt may run now. It returns ReasonLocked,
// ReasonCooldown with the time left, or "" when the attempt may run.
func (l Limits) Gate(s Standing, now time.Time) (reason string, retryAfter time.Duration) {
	switch {
	case s.Locked:
		return ReasonLocked, 0
	case now.Before(s.CooldownUntil):
		return ReasonCooldown, s.CooldownUntil.Sub(now)
	}
	return "", 0
}

// Failed returns the standing after a failed attempt at time now.
func (l Limits) Failed(s Standing, now time.Time) Standing {
	s.Failures++
	if l.LockAfter > 0 && s.Failures >= l.LockAfter {
		s.Locked = true
		return s
	}
	if s.Failures >= l.FreeFailures {
		s.CooldownUntil = now.Add(l.Delay(s.Failures))
	}
	return s
}

// Delay is the cooldown after the n-th consecutive failure.
func (l Limits) Delay(n int) time.Duration {
	if n < l.FreeFailures {
		return 0
	}
	d := float64(l.BaseDelay) * math.Pow(2, float64(n-l.FreeFailures))
	if d > float64(l.MaxDelay) {
		return l.MaxDelay
	}
	return time.Duration(d)
}

// Succeeded returns the standing after a successful attempt: clean.
func (l Limits) Succeeded(Standing) Standing { return Standing{} }

// RetriesLeft is how many failures remain before the next cooldown.
func (l Limits) RetriesLeft(s Standing) int {
	if s.Locked {
		return 0
	}
	if left := l.FreeFailures - s.Failures; left > 0 {
		return left
	}
	return 0
}

// Counts reports whether a decision counts as a failure. Retries on weak
// evidence count too, so that an attacker cannot probe forever with
// borderline audio; quality refusals (no speech, clipped) do not.
func Counts(decision string) bool { return decision == Reject || decision == Retry }

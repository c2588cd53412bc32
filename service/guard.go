package service

import (
	"context"
	"encoding/json"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/replay"
)

// replayMatch compares fp with the profile's stored fingerprints and returns
// the closest match.
func (s *Service) replayMatch(ctx context.Context, tenantID, userID string, fp replay.Fingerprint) (replay.Match, error) {
	stored, err := s.store.ListFingerprints(ctx, tenantID, userID, s.cfg.FingerprintKeep)
	if err != nil {
		return replay.Match{}, err
	}
	var best replay.Match
	for _, f := range stored {
		b, err := s.sealer.Open(f.Data, fingerprintAD(tenantID, userID))
		if err != nil {
			s.log.WarnContext(ctx, "fingerprint does not open", "tenant", tenantID, "err", err)
			continue
		}
		var old replay.Fingerprint
		if err := old.UnmarshalBinary(b); err != nil {
			continue // an older fingerprint format
		}
		if m := replay.Compare(fp, old); m.Replay || m.Similarity > best.Similarity {
			best = m
			if m.Replay {
				break
			}
		}
	}
	return best, nil
}

// newFingerprint seals fp as a fingerprint record of the profile, for an
// Outcome to store with the rest of the attempt.
func (s *Service) newFingerprint(tenantID, userID, source string, fp replay.Fingerprint) (*voxgate.Fingerprint, error) {
	b, err := fp.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &voxgate.Fingerprint{
		ID: ids.UUID(), UserID: userID, CreatedAt: s.now().UTC(), Source: source,
		Data: s.sealer.Seal(b, fingerprintAD(tenantID, userID)),
	}, nil
}

// rateLimit counts a biometric request against the key's per-minute and
// per-hour windows. Returns ERATELIMITED with the time to the window's end
// and its scope, and audits the refusal for the usage report.
func (s *Service) rateLimit(ctx context.Context, a voxgate.Actor, userID, kind string) error {
	if s.cfg.DisableLimits {
		return nil
	}
	now := s.now()
	for _, w := range []struct {
		scope string
		limit int
		size  time.Duration
	}{{"minute", s.cfg.RatePerMinute, time.Minute}, {"hour", s.cfg.RatePerHour, time.Hour}} {
		if w.limit <= 0 {
			continue
		}
		start := now.Truncate(w.size)
		n, err := s.store.CountRequest(ctx, a.KeyID, w.scope, start, start.Add(-2*w.size))
		if err != nil {
			return err
		}
		if n > w.limit {
			s.recordThrottle(ctx, a, userID, kind, w.scope)
			return &voxgate.Error{Code: voxgate.ERATELIMITED, Message: "Too many requests for this API key",
				RetryAfter: start.Add(w.size).Sub(now), Scope: w.scope}
		}
	}
	return nil
}

// audit records a decision in the audit log. A decision that cannot be
// audited is not delivered: callers return the error.
func (s *Service) audit(ctx context.Context, a voxgate.Actor, userID, kind, decision, reason string, detail any, latency time.Duration) error {
	at, err := s.attempt(a, userID, kind, decision, reason, detail, latency)
	if err != nil {
		return err
	}
	return s.store.RecordAttempt(ctx, a.TenantID, at)
}

// attempt builds an audit row, for audit or for an Outcome.
func (s *Service) attempt(a voxgate.Actor, userID, kind, decision, reason string, detail any, latency time.Duration) (*voxgate.Attempt, error) {
	b, err := json.Marshal(detail)
	if err != nil {
		return nil, err
	}
	return &voxgate.Attempt{
		ID: ids.UUID(), UserID: userID, KeyID: a.KeyID, CreatedAt: s.now().UTC(), Kind: kind,
		Decision: decision, Reason: reason, Detail: string(b), LatencyMs: float64(latency.Microseconds()) / 1000,
	}, nil
}

package service

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"time"

	"voxgate"
	"voxgate/ids"
)

// maxUsageRows bounds the attempts a usage report reads.
const maxUsageRows = 200_000

// Usage is the per-key report of GET /v1/usage.
type Usage struct {
	KeyID     string         `json:"key_id"`
	Since     time.Time      `json:"since"`
	Until     time.Time      `json:"until"`
	Totals    map[string]int `json:"totals"`
	Decisions map[string]int `json:"decisions"`
	Reasons   map[string]int `json:"reasons"`
	Throttled int            `json:"throttled"`
	// Windows are per-minute counts over the last hour of the report.
	Windows   []UsageWindow      `json:"windows"`
	LatencyMs map[string]float64 `json:"latency_ms"`
}

// UsageWindow is one minute of traffic.
type UsageWindow struct {
	Minute    time.Time      `json:"minute"`
	Requests  int            `json:"requests"`
	Decisions map[string]int `json:"decisions"`
	Throttled int            `json:"throttled"`
}

// Usage reports the calling key's traffic over the last window (at most 30
// days): totals by kind, decision mix, reason histogram, throttled
// requests, per-minute windows of the last hour, latency percentiles.
func (s *Service) Usage(ctx context.Context, a voxgate.Actor, window time.Duration) (*Usage, error) {
	if err := a.RequireFlow(""); err != nil {
		return nil, err
	}
	if window <= 0 || window > 30*24*time.Hour {
		return nil, voxgate.Errorf(voxgate.EINVALID, "window must be between 1s and 30 days")
	}
	now := s.now().UTC()
	since := now.Add(-window)
	rows, err := s.store.KeyAttempts(ctx, a.TenantID, a.KeyID, since, maxUsageRows)
	if err != nil {
		return nil, err
	}
	u := &Usage{KeyID: a.KeyID, Since: since, Until: now, Totals: map[string]int{"requests": 0},
		Decisions: map[string]int{}, Reasons: map[string]int{}, LatencyMs: map[string]float64{}}
	hourStart := now.Add(-time.Hour).Truncate(time.Minute)
	windows := map[int64]*UsageWindow{}
	var lat []float64
	for _, r := range rows {
		u.Totals["requests"]++
		u.Totals[r.Kind]++
		if r.Decision == decisionThrottled {
			u.Throttled++
		} else {
			u.Decisions[r.Decision]++
			lat = append(lat, r.LatencyMs)
		}
		if r.Reason != "" {
			u.Reasons[r.Reason]++
		}
		if !r.CreatedAt.Before(hourStart) {
			m := r.CreatedAt.Truncate(time.Minute)
			w := windows[m.Unix()]
			if w == nil {
				w = &UsageWindow{Minute: m, Decisions: map[string]int{}}
				windows[m.Unix()] = w
			}
			w.Requests++
			if r.Decision == decisionThrottled {
				w.Throttled++
			} else {
				w.Decisions[r.Decision]++
			}
		}
	}
	for _, w := range windows {
		u.Windows = append(u.Windows, *w)
	}
	slices.SortFunc(u.Windows, func(x, y UsageWindow) int { return x.Minute.Compare(y.Minute) })
	if u.Windows == nil {
		u.Windows = []UsageWindow{}
	}
	slices.Sort(lat)
	for name, q := range map[string]float64{"p50": 0.5, "p90": 0.9, "p99": 0.99} {
		u.LatencyMs[name] = percentile(lat, q)
	}
	if len(lat) > 0 {
		u.LatencyMs["max"] = lat[len(lat)-1]
	}
	return u, nil
}

// decisionThrottled marks a request refused by a rate limit in the audit log.
const decisionThrottled = "throttled"

func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// AuditEntry is one audited decision with its scores, never biometrics.
type AuditEntry struct {
	*voxgate.Attempt
	Detail json.RawMessage `json:"detail"`
}

// Audit returns the tenant's newest decisions, for one user when userID is
// set, at most limit (1..1000). Admin scope only.
func (s *Service) Audit(ctx context.Context, a voxgate.Actor, userID string, limit int) ([]AuditEntry, error) {
	if err := a.RequireAdmin(); err != nil {
		return nil, err
	}
	if userID != "" {
		if err := normalizeUserID(&userID); err != nil {
			return nil, err
		}
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.store.ListAttempts(ctx, a.TenantID, userID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(rows))
	for _, r := range rows {
		d := json.RawMessage(r.Detail)
		if !json.Valid(d) {
			d = json.RawMessage("{}")
		}
		out = append(out, AuditEntry{Attempt: r, Detail: d})
	}
	return out, nil
}

// recordThrottle audits a request refused by a rate limit.
func (s *Service) recordThrottle(ctx context.Context, a voxgate.Actor, userID, kind, scope string) {
	err := s.store.RecordAttempt(ctx, a.TenantID, &voxgate.Attempt{
		ID: ids.UUID(), UserID: userID, KeyID: a.KeyID, CreatedAt: s.now().UTC(), Kind: kind,
		Decision: decisionThrottled, Reason: voxgate.ERATELIMITED, Detail: `{"scope":"` + scope + `"}`,
	})
	if err != nil {
		s.log.ErrorContext(ctx, "recording a throttled request failed", "tenant", a.TenantID, "err", err)
	}
}

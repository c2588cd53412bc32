package service

import (
	"context"
	"encoding/json"

	"voxgate"
)

// Identification on the asynchronous face (seed 002's organisations): a
// POST /organisations/{orgId}/identifications job whose answer is an
// identification.completed webhook.

// EventIdentificationCompleted is the event of an identification's webhook.
const EventIdentificationCompleted = "identification.completed"

// Results of an identification's webhook beside ResultRejected and
// ResultInconclusive.
const (
	ResultIdentified = "identified"
	ResultUnknown    = "unknown"
)

// identifyParams are an identification job's parameters (voxgate.Job.Params).
type identifyParams struct {
	Group string `json:"group,omitempty"`
	Top   int    `json:"top,omitempty"`
}

// IdentificationEvent is the webhook payload of an identification.
type IdentificationEvent struct {
	EventType   string `json:"event_type"`
	RequestUUID string `json:"request_uuid"`
	// Result is identified, unknown, inconclusive (unusable audio: ask
	// again) or rejected (the request could not be processed).
	Result string `json:"result"`
	// ExternalID is the identified user ("" unless identified), and
	// MatchScore the calibrated confidence of the first candidate.
	ExternalID       string              `json:"external_id"`
	MatchScore       float64             `json:"match_score"`
	Candidates       []IdentifyCandidate `json:"candidates"`
	Threshold        float64             `json:"threshold"`
	Group            string              `json:"group,omitempty"`
	DeepfakeDetected bool                `json:"deepfake_detected"`
	LatencyMs        int64               `json:"latency_ms"`
	Reason           string              `json:"reason,omitempty"`
	Language         string              `json:"language"`
}

// validateIdentify checks an identification submission's own fields.
func (r *AsyncRequest) validateIdentify() error {
	if r.ExternalID != "" {
		return voxgate.Errorf(voxgate.EINVALID, "an identification names no external_id: it finds one")
	}
	if r.Group != "" {
		if err := voxgate.ValidateGroupName(r.Group); err != nil {
			return err
		}
	}
	if r.Top < 0 || r.Top > MaxIdentifyTop {
		return voxgate.Errorf(voxgate.EINVALID, "top must be 1-%d", MaxIdentifyTop)
	}
	return nil
}

func (r *AsyncRequest) params() string {
	if r.Kind != voxgate.JobIdentify || (r.Group == "" && r.Top == 0) {
		return ""
	}
	b, _ := json.Marshal(identifyParams{Group: r.Group, Top: r.Top})
	return string(b)
}

func (s *Service) processIdentify(ctx context.Context, a voxgate.Actor, j *voxgate.Job, audioData []byte) (outcome, error) {
	var p identifyParams
	if j.Params != "" {
		if err := json.Unmarshal([]byte(j.Params), &p); err != nil {
			return s.refusedOutcome(j, voxgate.Errorf(voxgate.EINVALID, "bad job parameters"), voxgate.EINVALID), nil
		}
	}
	res, err := s.Identify(ctx, a, IdentifyRequest{Audio: audioData, Group: p.Group, Top: p.Top})
	if err != nil {
		if transient(err) {
			return outcome{}, err
		}
		return s.refusedOutcome(j, err, ""), nil
	}
	ev := s.identificationEvent(j, ResultUnknown, res.Reason)
	ev.Candidates, ev.Threshold, ev.Group, ev.DeepfakeDetected = res.Candidates, res.Threshold, res.Group, res.Spoof.Detected
	if len(res.Candidates) > 0 {
		ev.MatchScore = res.Candidates[0].Confidence
	}
	switch res.Decision {
	case Identified:
		ev.Result, ev.ExternalID = ResultIdentified, res.Candidates[0].UserID
	case IdentifyRetry:
		ev.Result = ResultInconclusive
	}
	return outcome{EventIdentificationCompleted, ev}, nil
}

func (s *Service) identificationEvent(j *voxgate.Job, result, reason string) *IdentificationEvent {
	return &IdentificationEvent{EventType: EventIdentificationCompleted, RequestUUID: j.RequestUUID, Result: result,
		Reason: reason, Candidates: []IdentifyCandidate{}, LatencyMs: s.latency(j), Language: j.Language}
}

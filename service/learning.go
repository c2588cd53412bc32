package service

import (
	"context"
	"math"
	"time"

	"voxgate"
	"voxgate/policy"
)

// Learning is a profile's adaptive state (GET /v1/user-learning/{user_id}).
type Learning struct {
	UserID           string           `json:"user_id"`
	Enrolled         bool             `json:"enrolled"`
	Samples          int              `json:"samples"`
	SpeechSeconds    float64          `json:"speech_seconds"`
	RequiredSpeech   float64          `json:"required_speech_seconds"`
	LearningProgress float64          `json:"learning_progress"`
	Adaptations      int              `json:"adaptations"`
	DriftCosine      float64          `json:"cosine_to_enrolled"`
	Threshold        float64          `json:"threshold"`
	ThresholdFloor   float64          `json:"threshold_floor"`
	TargetFAR        float64          `json:"target_far"`
	Scores           ScoreStats       `json:"scores"`
	RecentUpdates    []update         `json:"recent_updates"`
	Standing         voxgate.Standing `json:"standing"`
	ModelVersion     string           `json:"model_version"`
	Policy           policy.Learning  `json:"-"`
	UpdatedAt        *time.Time       `json:"updated_at,omitempty"`
}

// ScoreStats summarise the accepted (genuine) scores.
type ScoreStats struct {
	Accepted int     `json:"accepted"`
	Mean     float64 `json:"mean"`
	Std      float64 `json:"std"`
}

// UserLearning returns the profile's adaptive state. The per-user threshold
// is the global operating threshold: adaptation may only ever raise it, and
// voxgate does not raise it without measurements showing the gain. Admin
// only: a verify key gets EFORBIDDEN.
func (s *Service) UserLearning(ctx context.Context, a voxgate.Actor, userID string) (*Learning, error) {
	if err := a.RequireAdmin(); err != nil { // score statistics and history: not for verify keys
		return nil, err
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, err
	}
	p, err := s.Profile(ctx, a, userID)
	if err != nil {
		return nil, err
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	st, err := s.store.FindStanding(ctx, a.TenantID, userID)
	if err != nil {
		return nil, err
	}
	op, err := s.operatingPoint(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	domain, err := s.cohort(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	thr := op.voice.In(domain).Threshold
	out := &Learning{UserID: userID, Enrolled: p.Enrolled(), Samples: p.Samples, SpeechSeconds: round2(p.SpeechSeconds),
		RequiredSpeech: s.cfg.RequiredSpeech, Threshold: round4(thr), ThresholdFloor: round4(thr),
		TargetFAR: op.voice.TargetFAR, Standing: st, RecentUpdates: []update{}, ModelVersion: s.engine.Speaker.Version()}
	vp, err := s.store.FindVoiceprint(ctx, a.TenantID, userID)
	if voxgate.ErrorCode(err) == voxgate.ENOTFOUND {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := s.openTemplate(a.TenantID, vp)
	if err != nil {
		return nil, err
	}
	out.ModelVersion = t.ModelVersion
	out.Adaptations = t.Adaptations
	out.LearningProgress = s.cfg.Learning.Progress(t.Speech, s.cfg.RequiredSpeech, t.Adaptations)
	out.DriftCosine = round4(float64(cosine(t.Current, t.Enrolled)))
	out.Scores.Accepted = t.Accepted
	if t.Accepted > 0 {
		mean := t.ScoreSum / float64(t.Accepted)
		out.Scores.Mean = round4(mean)
		out.Scores.Std = round4(math.Sqrt(math.Max(0, t.ScoreSum2/float64(t.Accepted)-mean*mean)))
	}
	if n := len(t.History); n > 0 {
		out.RecentUpdates = t.History[max(0, n-10):]
	}
	u := vp.UpdatedAt
	out.UpdatedAt = &u
	return out, nil
}

// RevertLearning undoes adaptations: to the template before the last one,
// or all the way to the enrolled template when all is true. Admin only.
func (s *Service) RevertLearning(ctx context.Context, a voxgate.Actor, userID string, all bool) (*Learning, error) {
	if err := a.RequireAdmin(); err != nil {
		return nil, err
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, err
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		vp, err := s.store.FindVoiceprint(ctx, a.TenantID, userID)
		if err != nil {
			if voxgate.ErrorCode(err) == voxgate.ENOTFOUND {
				return nil, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "No voiceprint enrolled for user")
			}
			return nil, err
		}
		t, err := s.openTemplate(a.TenantID, vp)
		if err != nil {
			return nil, err
		}
		switch {
		case all || len(t.Previous) == 0:
			t.Current, t.Previous, t.Adaptations = t.Enrolled, nil, 0
		default:
			t.Current = t.Previous[len(t.Previous)-1]
			t.Previous = t.Previous[:len(t.Previous)-1]
			t.Adaptations = max(0, t.Adaptations-1)
		}
		blob, err := s.sealTemplate(a.TenantID, userID, t)
		if err != nil {
			return nil, err
		}
		vp.Template, vp.UpdatedAt = blob, s.now().UTC()
		err = s.store.PutVoiceprint(ctx, a.TenantID, vp)
		if voxgate.ErrorCode(err) == voxgate.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.log.InfoContext(ctx, "learning reverted", "tenant", a.TenantID, "all", all)
		return s.UserLearning(ctx, a, userID)
	}
	return nil, voxgate.Errorf(voxgate.ECONFLICT, "the voiceprint kept changing: try again")
}

// ResetAttempts clears a profile's failure count, cooldown and lock: the
// administrator's answer to a locked profile. Admin only.
func (s *Service) ResetAttempts(ctx context.Context, a voxgate.Actor, userID string) error {
	if err := a.RequireAdmin(); err != nil {
		return err
	}
	if err := normalizeUserID(&userID); err != nil {
		return err
	}
	_, err := s.store.UpdateStanding(ctx, a.TenantID, userID, func(voxgate.Standing) (voxgate.Standing, error) {
		return voxgate.Standing{}, nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "attempt limits reset", "tenant", a.TenantID)
	}
	return err
}

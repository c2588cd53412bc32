package service

import (
	"context"
	"math"

	"voxgate"
	"voxgate/antispoof"
	"voxgate/speaker"
)

// A tenant's verification operating point (issues 16 and 17): the speaker
// target false-accept rate and the liveness policy, stored per tenant and
// read from the store on every verification, so that a change applies to
// the next request on every node. The engine stays storage-free: the
// service resolves the settings against the loaded models and passes the
// resulting thresholds in.

// MaxTargetFAR bounds a tenant's target_far: 5 %. The model's calibration
// goes higher, but a check that lets one impostor in twenty through no
// longer verifies anyone; the dev sets confirm the 1 % point only
// (docs/ACCURACY.md).
const MaxTargetFAR = 0.05

// Audit kind and decision of a settings change.
const (
	auditKindSettings = "settings"
	auditSettingsSet  = "updated"
)

// operatingPoint is a tenant's settings resolved against the loaded
// models: what one request applies.
type operatingPoint struct {
	voice    speaker.Calibration
	flagOnly bool // liveness mode flag: report spoof verdicts, do not act on them
	// spoofThreshold is the detector threshold of the tenant's operating
	// point; 0: the detector's default, as Spoof returns it.
	spoofThreshold float64
}

// operatingPoint reads the tenant's settings and resolves them.
func (s *Service) operatingPoint(ctx context.Context, tenantID string) (operatingPoint, error) {
	st, err := s.store.VerificationSettings(ctx, tenantID)
	if err != nil {
		return operatingPoint{}, err
	}
	op := operatingPoint{voice: s.engine.Calibration, flagOnly: st.Liveness.Mode == voxgate.LivenessFlag}
	if st.TargetFAR > 0 {
		op.voice = s.engine.Speaker.Calibrate(st.TargetFAR)
	}
	if st.Liveness.MaxBPCER > 0 && s.engine.Spoof != nil {
		if p, ok := spoofPoint(s.engine.SpoofPoints(), st.Liveness.MaxBPCER); ok {
			op.spoofThreshold = p.Threshold
		} else {
			// Stored against another detector (the server restarted
			// without the second checkpoint): the default point applies,
			// and every response reports the threshold it used.
			s.log.WarnContext(ctx, "the tenant's liveness operating point is not offered by the loaded detector: its default threshold applies",
				"tenant", tenantID, "max_bpcer", st.Liveness.MaxBPCER)
		}
	}
	return op, nil
}

// mode is the tenant's liveness mode as applied.
func (op operatingPoint) mode() string {
	if op.flagOnly {
		return voxgate.LivenessFlag
	}
	return voxgate.LivenessEnforce
}

// spoofThresholdOr is the threshold the tenant's point applies, given the
// detector's default.
func (op operatingPoint) spoofThresholdOr(def float64) float64 {
	if op.spoofThreshold > 0 {
		return op.spoofThreshold
	}
	return def
}

// spoofPoint returns the detector's operating point for bpcer.
func spoofPoint(pts []antispoof.OperatingPoint, bpcer float64) (antispoof.OperatingPoint, bool) {
	for _, p := range pts {
		if math.Abs(p.BPCER-bpcer) < 1e-9 {
			return p, true
		}
	}
	return antispoof.OperatingPoint{}, false
}

// spoofPointAt returns the detector's operating point whose threshold is
// thr (the default threshold is one of them).
func spoofPointAt(pts []antispoof.OperatingPoint, thr float64) (antispoof.OperatingPoint, bool) {
	for _, p := range pts {
		if math.Abs(p.Threshold-thr) < 1e-9 {
			return p, true
		}
	}
	return antispoof.OperatingPoint{}, false
}

// VerificationPolicy is a tenant's verification settings as they apply:
// the stored settings with defaults filled in, what they come to with the
// loaded models, and the values the server accepts.
type VerificationPolicy struct {
	voxgate.VerificationSettings
	Effective EffectivePoint `json:"effective"`
	Limits    PolicyLimits   `json:"limits"`
}

// EffectivePoint is what a tenant's settings come to with the loaded
// models.
type EffectivePoint struct {
	// VoiceThreshold is the normalised voice score an accept needs, and
	// VoiceHigh the stricter one (a tenth of target_far) of the "high"
	// tier.
	VoiceThreshold float64 `json:"voice_threshold"`
	VoiceHigh      float64 `json:"voice_high"`
	// DomainShift is already in both: how far the tenant's enrollments
	// move the model's thresholds (speaker.Cohort.Shift; 0 until two
	// users are enrolled), from PseudoOutsiders scores.
	DomainShift     float64 `json:"domain_shift"`
	PseudoOutsiders int     `json:"pseudo_outsider_scores"`
	// SpoofThreshold is the P(spoof) at or above which speech is judged
	// synthetic; nil without a detector.
	SpoofThreshold *float64 `json:"spoof_threshold"`
	// SpoofBPCEROutOfFold and SpoofAPCERTraining are the point's measured
	// rates (antispoof.OperatingPoint); nil where the detector has none.
	SpoofBPCEROutOfFold *float64 `json:"spoof_bpcer_out_of_fold,omitempty"`
	SpoofAPCERTraining  *float64 `json:"spoof_apcer_training,omitempty"`
	SpeakerModel        string   `json:"speaker_model"`
	SpoofDetector       string   `json:"spoof_detector,omitempty"`
}

// PolicyLimits are the values SetVerificationSettings accepts.
type PolicyLimits struct {
	TargetFARMin     float64   `json:"target_far_min"`
	TargetFARMax     float64   `json:"target_far_max"`
	LivenessModes    []string  `json:"liveness_modes"`
	LivenessMaxBPCER []float64 `json:"liveness_max_bpcer"`
}

// VerificationPolicy returns the tenant's verification settings with
// defaults filled in and what they come to (admin only). EUNAVAILABLE
// without the voice engine.
func (s *Service) VerificationPolicy(ctx context.Context, a voxgate.Actor) (*VerificationPolicy, error) {
	if err := a.RequireAdmin(); err != nil {
		return nil, err
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	st, err := s.store.VerificationSettings(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	return s.describe(ctx, a.TenantID, st)
}

// describe fills in st's defaults and what it comes to.
func (s *Service) describe(ctx context.Context, tenantID string, st voxgate.VerificationSettings) (*VerificationPolicy, error) {
	op, err := s.operatingPoint(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	domain, err := s.cohort(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	voice := op.voice.In(domain)
	pts := s.engine.SpoofPoints()
	p := &VerificationPolicy{VerificationSettings: st,
		Effective: EffectivePoint{VoiceThreshold: round4(voice.Threshold), VoiceHigh: round4(voice.High),
			DomainShift: round4(domain.Shift()), PseudoOutsiders: domain.PseudoOutsiders(), SpeakerModel: s.engine.Speaker.Version()},
		Limits: PolicyLimits{TargetFARMin: s.engine.Speaker.MinTargetFAR(), TargetFARMax: MaxTargetFAR,
			LivenessModes: []string{voxgate.LivenessEnforce, voxgate.LivenessFlag}, LivenessMaxBPCER: []float64{}}}
	p.TargetFAR = op.voice.TargetFAR
	if p.Liveness.Mode == "" {
		p.Liveness.Mode = voxgate.LivenessEnforce
	}
	for _, pt := range pts {
		p.Limits.LivenessMaxBPCER = append(p.Limits.LivenessMaxBPCER, pt.BPCER)
	}
	if d, ok := s.engine.Spoof.(interface{ Threshold() float64 }); ok {
		thr := op.spoofThresholdOr(d.Threshold())
		p.Effective.SpoofThreshold = &thr
		if n, ok := s.engine.Spoof.(interface{ Name() string }); ok {
			p.Effective.SpoofDetector = n.Name()
		}
		p.Liveness.MaxBPCER = 0
		if pt, ok := spoofPointAt(pts, thr); ok {
			p.Liveness.MaxBPCER = pt.BPCER
			p.Effective.SpoofBPCEROutOfFold, p.Effective.SpoofAPCERTraining = &pt.BPCEROutOfFold, &pt.APCERTraining
		}
	}
	return p, nil
}

// SetVerificationSettings stores the tenant's verification settings (admin
// only), with an audit row naming the key and both the old and the new
// settings, and returns them as they now apply. A zero field means the
// server's default. Errors: EINVALIDTARGETFAR outside [the model's
// MinTargetFAR, MaxTargetFAR]; EINVALIDLIVENESSMODE for a mode other than
// enforce and flag; EINVALIDLIVENESSBPCER for a max_bpcer that is not one
// of the loaded detector's operating points; EUNAVAILABLE without the
// voice engine.
func (s *Service) SetVerificationSettings(ctx context.Context, a voxgate.Actor, st voxgate.VerificationSettings) (*VerificationPolicy, error) {
	if err := a.RequireAdmin(); err != nil {
		return nil, err
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	if lo := s.engine.Speaker.MinTargetFAR(); st.TargetFAR != 0 && (st.TargetFAR < lo-1e-12 || st.TargetFAR > MaxTargetFAR) {
		return nil, voxgate.Errorf(voxgate.EINVALIDTARGETFAR, "target_far must be between %g (the finest rate the speaker model's calibration resolves) and %g", lo, MaxTargetFAR)
	}
	if st.Liveness.MaxBPCER != 0 {
		pts := s.engine.SpoofPoints()
		if len(pts) == 0 {
			return nil, voxgate.Errorf(voxgate.EINVALIDLIVENESSBPCER, "this server's deepfake detector offers no operating points besides its default (or none is loaded): leave liveness.max_bpcer out")
		}
		if _, ok := spoofPoint(pts, st.Liveness.MaxBPCER); !ok {
			offered := make([]float64, len(pts))
			for i, p := range pts {
				offered[i] = p.BPCER
			}
			return nil, voxgate.Errorf(voxgate.EINVALIDLIVENESSBPCER, "liveness.max_bpcer must be one of the detector's operating points %v (the share of real training speech flagged)", offered)
		}
	}
	before, err := s.store.VerificationSettings(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	audit, err := s.attempt(a, "", auditKindSettings, auditSettingsSet, "", map[string]any{
		"settings": "verification", "before": before, "after": st}, 0)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetVerificationSettings(ctx, a.TenantID, st, audit); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "verification settings changed", "tenant", a.TenantID, "key", a.KeyID,
		"target_far", st.TargetFAR, "liveness_mode", st.Liveness.Mode, "liveness_max_bpcer", st.Liveness.MaxBPCER)
	return s.describe(ctx, a.TenantID, st)
}

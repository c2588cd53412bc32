package voxgate

import "math"

// Liveness modes: what a spoof verdict of the synthetic-speech detector
// does to a verification. There is no "off": the product's verdict is
// "the enrolled person, speaking live" (SPEC.md), so the check always runs
// and is always reported.
const (
	// LivenessEnforce rejects a recording judged synthetic: the default.
	LivenessEnforce = "enforce"
	// LivenessFlag reports the verdict (and audits it) but decides as if
	// the recording were judged real: for watching the detector's false
	// alarms on a tenant's own users before enforcing it. Replayed
	// recordings are rejected in either mode.
	LivenessFlag = "flag"
)

// VerificationSettings are a tenant's verification operating point. A zero
// field means the server's default; the service checks the values against
// the loaded models (the speaker model's calibration table, the detector's
// operating points) before storing them.
type VerificationSettings struct {
	// TargetFAR is the speaker false-accept rate the voice threshold is
	// chosen for, through the model's own calibration (0: the server's,
	// 1 %).
	TargetFAR float64 `json:"target_far"`
	// Liveness is the synthetic-speech detector's policy.
	Liveness LivenessSettings `json:"liveness"`
}

// LivenessSettings are the tenant's liveness policy.
type LivenessSettings struct {
	// Mode is LivenessEnforce or LivenessFlag ("": enforce).
	Mode string `json:"mode"`
	// MaxBPCER names the detector's operating point: the threshold set on
	// real training speech so that this share of it is flagged (0: the
	// detector's default point).
	MaxBPCER float64 `json:"max_bpcer"`
}

// Validate checks the settings' form: rates in (0, 1) or zero, a known
// mode. Returns EINVALIDTARGETFAR, EINVALIDLIVENESSMODE or
// EINVALIDLIVENESSBPCER.
func (s VerificationSettings) Validate() error {
	if s.TargetFAR != 0 && !(s.TargetFAR > 0 && s.TargetFAR < 1) || math.IsNaN(s.TargetFAR) {
		return Errorf(EINVALIDTARGETFAR, "target_far must be a rate between 0 and 1, e.g. 0.001 for 0.1 %%")
	}
	switch s.Liveness.Mode {
	case "", LivenessEnforce, LivenessFlag:
	case "off":
		return Errorf(EINVALIDLIVENESSMODE, "liveness cannot be turned off: every verdict says whether the speech is live; use %q to report spoof verdicts without rejecting", LivenessFlag)
	default:
		return Errorf(EINVALIDLIVENESSMODE, "liveness.mode must be %q or %q", LivenessEnforce, LivenessFlag)
	}
	if s.Liveness.MaxBPCER != 0 && !(s.Liveness.MaxBPCER > 0 && s.Liveness.MaxBPCER < 1) || math.IsNaN(s.Liveness.MaxBPCER) {
		return Errorf(EINVALIDLIVENESSBPCER, "liveness.max_bpcer must be a rate between 0 and 1, e.g. 0.02 for 2 %%")
	}
	return nil
}

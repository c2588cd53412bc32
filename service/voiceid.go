package service

import (
	"context"
	"math"
	"time"

	"voxgate"
	"voxgate/engine"
)

// The voice-ID face (seed 000) stores nothing: enrollment returns the
// embedding for the caller to keep, and verification compares a recording
// with an embedding the caller sends back.

// VoiceIDMinSeconds is the seed-000 minimum enrollment duration.
const VoiceIDMinSeconds = 10.0

// VoiceIDEnrollment is the answer of POST /v1/voiceid/enroll.
type VoiceIDEnrollment struct {
	Embedding        []float32
	ModelVersion     string
	DeepfakeChecked  bool
	DeepfakeDetected bool
	ProcessingTime   time.Duration
}

// VoiceIDEnroll embeds a recording of at least 10 s. Too short or unusable
// audio is EINVALID with the seed's message ("Audio file too short: 8.5s
// (minimum 10.0s required)"); undecodable audio EUNSUPPORTEDFORMAT.
func (s *Service) VoiceIDEnroll(ctx context.Context, a voxgate.Actor, userID string, audio []byte) (*VoiceIDEnrollment, error) {
	start := time.Now()
	if err := s.voiceIDPrelude(ctx, a, &userID); err != nil {
		return nil, err
	}
	release, err := s.analysis(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	an, err := s.voiceIDAnalyze(ctx, audio, engine.Gate{MinDuration: VoiceIDMinSeconds, MinSpeech: s.cfg.EnrollGate.MinSpeech,
		MinSNR: s.cfg.EnrollGate.MinSNR, MaxClipping: s.cfg.EnrollGate.MaxClipping})
	if err != nil {
		return nil, err
	}
	emb, err := s.embed(ctx, an)
	if err != nil {
		return nil, voxgate.Errorf(voxgate.EINVALID, "No usable speech in the audio file")
	}
	out := &VoiceIDEnrollment{Embedding: emb, ModelVersion: s.engine.Speaker.Version()}
	op, err := s.operatingPoint(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	if out.DeepfakeChecked, out.DeepfakeDetected, err = s.deepfake(ctx, an, op); err != nil {
		return nil, err
	}
	out.ProcessingTime = time.Since(start)
	return out, nil
}

// VoiceIDMatch is the answer of POST /v1/voiceid/verify.
type VoiceIDMatch struct {
	Match      bool
	Score      float64
	Confidence float64
	Threshold  float64
	// TargetFAR and LivenessMode are the tenant's operating point
	// (its verification settings).
	TargetFAR        float64
	LivenessMode     string
	DeepfakeChecked  bool
	DeepfakeDetected bool
	ModelVersion     string
	ProcessingTime   time.Duration
}

// VoiceIDVerify compares a recording with an embedding returned earlier by
// VoiceIDEnroll. An embedding of another model version (named, or not 256
// finite values of unit length) is refused with EINVALID: scores across
// models mean nothing. Match requires the voice above the operating
// threshold and no deepfake.
func (s *Service) VoiceIDVerify(ctx context.Context, a voxgate.Actor, userID string, audio []byte, embedding []float32, modelVersion string) (*VoiceIDMatch, error) {
	start := time.Now()
	if err := s.voiceIDPrelude(ctx, a, &userID); err != nil {
		return nil, err
	}
	version := s.engine.Speaker.Version()
	if modelVersion != "" && modelVersion != version {
		return nil, voxgate.Errorf(voxgate.EINVALID, "The embedding was made by model %q; this server's model is %q: re-enroll to get a new embedding", modelVersion, version)
	}
	if err := checkEmbedding(embedding); err != nil {
		return nil, err
	}
	release, err := s.analysis(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	an, err := s.voiceIDAnalyze(ctx, audio, s.cfg.VerifyGate)
	if err != nil {
		return nil, err
	}
	emb, err := s.embed(ctx, an)
	if err != nil {
		return nil, voxgate.Errorf(voxgate.EINVALID, "No usable speech in the audio file")
	}
	domain, err := s.cohort(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	op, err := s.operatingPoint(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	cal := op.voice.In(domain)
	sc := cal.ScoreIn(s.engine.Speaker, embedding, emb, domain, userID)
	out := &VoiceIDMatch{Score: round4(finite(sc.Normalized)), Confidence: round4(sc.Confidence),
		Threshold: round4(cal.Threshold), TargetFAR: op.voice.TargetFAR, LivenessMode: op.mode(), ModelVersion: version}
	if out.DeepfakeChecked, out.DeepfakeDetected, err = s.deepfake(ctx, an, op); err != nil {
		return nil, err
	}
	out.Match = finite(sc.Normalized) >= cal.Threshold && (!out.DeepfakeDetected || op.flagOnly)
	out.ProcessingTime = time.Since(start)
	decision := "reject"
	if out.Match {
		decision = "accept"
	}
	if err := s.audit(ctx, a, userID, "voiceid", decision, "", map[string]any{
		"score": out.Score, "confidence": out.Confidence, "threshold": out.Threshold, "deepfake_detected": out.DeepfakeDetected,
		"target_far": out.TargetFAR, "liveness_mode": out.LivenessMode,
	}, out.ProcessingTime); err != nil {
		return nil, err
	}
	return out, nil
}

// voiceIDPrelude checks the actor and the optional user id, which it
// normalises in place.
func (s *Service) voiceIDPrelude(ctx context.Context, a voxgate.Actor, userID *string) error {
	if err := a.RequireFlow(""); err != nil {
		return err
	}
	if *userID != "" {
		if err := normalizeUserID(userID); err != nil {
			return err
		}
		if err := a.CanActOn(*userID); err != nil {
			return err
		}
	}
	if err := s.requireEngine(); err != nil {
		return err
	}
	return s.rateLimit(ctx, a, *userID, "voiceid")
}

// voiceIDAnalyze decodes and gates audio, speaking seed 000's error
// dialect: quality failures are validation errors.
func (s *Service) voiceIDAnalyze(ctx context.Context, audio []byte, g engine.Gate) (*engine.Analysis, error) {
	an, err := s.engine.Analyze(ctx, audio)
	if err != nil {
		if voxgate.ErrorCode(err) == voxgate.EUNSUPPORTEDFORMAT {
			return nil, &voxgate.Error{Code: voxgate.EUNSUPPORTEDFORMAT, Message: "Provided audio format is not supported", Cause: err}
		}
		return nil, err
	}
	if err := g.Check(an); err != nil {
		return nil, voxgate.Errorf(voxgate.EINVALID, "%s", voxgate.ErrorMessage(err))
	}
	return an, nil
}

// deepfake runs synthetic-speech detection when a detector is loaded, at
// the tenant's operating point.
func (s *Service) deepfake(ctx context.Context, an *engine.Analysis, op operatingPoint) (checked, detected bool, err error) {
	if s.engine.Spoof == nil {
		return false, false, nil
	}
	p, def, err := s.spoofScore(ctx, an)
	if err != nil {
		return false, false, err
	}
	return true, p >= op.spoofThresholdOr(def), nil
}

// checkEmbedding accepts only what VoiceIDEnroll returns: 256 finite values
// of unit length.
func checkEmbedding(e []float32) error {
	if len(e) != 256 {
		return voxgate.Errorf(voxgate.EINVALID, "embedding must hold the 256 floats returned by /v1/voiceid/enroll (got %d)", len(e))
	}
	var n float64
	for _, v := range e {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return voxgate.Errorf(voxgate.EINVALID, "embedding holds a non-finite value")
		}
		n += float64(v) * float64(v)
	}
	if math.Abs(math.Sqrt(n)-1) > 1e-3 {
		return voxgate.Errorf(voxgate.EINVALID, "embedding is not one returned by this model (norm %.4f, expected 1)", math.Sqrt(n))
	}
	return nil
}

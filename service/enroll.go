package service

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"voxgate"
	"voxgate/engine"
	"voxgate/ids"
)

// EnrollResult is the outcome of one enrollment sample.
type EnrollResult struct {
	UserID string
	// Sample describes the recording just added.
	Sample engine.Report
	// Samples and SpeechSeconds are the profile's totals so far.
	Samples        int
	SpeechSeconds  float64
	RequiredSpeech float64
	// Progress is SpeechSeconds / RequiredSpeech, capped at 1.
	Progress  float64
	Enrolled  bool
	SampleID  string
	Latency   time.Duration
	ModelName string
	// WatchlistMatch is the watchlist voice the recording matched, and
	// DuplicateVoice another profile's (nil: none); under the tenant's
	// default policy they are flags, under "reject" Enroll refuses instead.
	WatchlistMatch, DuplicateVoice *VoiceMatch
	Insights                       []string
}

// matchInsights explains watchlist and duplicate-voice matches.
func matchInsights(watch, dup *VoiceMatch) []string {
	var out []string
	if watch != nil {
		out = append(out, fmt.Sprintf("The voice matches %q on the watchlist (score %.2f, threshold %.2f).", watch.UserID, watch.Score, watch.Threshold))
	}
	if dup != nil {
		out = append(out, fmt.Sprintf("The voice matches another enrolled profile, %q (score %.2f, threshold %.2f): one voice under two identities?", dup.UserID, dup.Score, dup.Threshold))
	}
	return out
}

// requireEngine returns EUNAVAILABLE when the service runs without models.
func (s *Service) requireEngine() error {
	if s.engine == nil || s.sealer == nil {
		return voxgate.Errorf(voxgate.EUNAVAILABLE, "voice engine not loaded")
	}
	return nil
}

// Enroll adds one recording to a profile's voiceprint. The recording must
// pass the enrollment quality gate (its codes: EAUDIOTOOSHORT, ENOSPEECH,
// ETOONOISY, ECLIPPED; EUNSUPPORTEDFORMAT, EPAYLOADTOOLARGE for bad input).
// A recording already enrolled (or a re-encoding of it) is refused with
// ECONFLICT: the same audio twice adds no evidence. Returns
// EPROFILENOTFOUND when the profile was not created first.
func (s *Service) Enroll(ctx context.Context, a voxgate.Actor, userID string, audio []byte) (*EnrollResult, error) {
	start := time.Now()
	if err := a.RequireFlow(FlowEnroll); err != nil {
		return nil, err
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, err
	}
	if err := a.CanActOn(userID); err != nil {
		return nil, err
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	if err := s.requireChecks(); err != nil {
		return nil, err
	}
	if _, err := s.store.FindProfile(ctx, a.TenantID, userID); err != nil {
		if voxgate.ErrorCode(err) == voxgate.EPROFILENOTFOUND {
			return nil, voxgate.Errorf(voxgate.EPROFILENOTFOUND, "User must be created with /create-profile before enrollment")
		}
		return nil, err
	}
	if err := s.rateLimit(ctx, a, userID, "enroll"); err != nil {
		return nil, err
	}
	release, err := s.analysis(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	an, err := s.engine.Analyze(ctx, audio)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.EnrollGate.Check(an); err != nil {
		if aerr := s.audit(ctx, a, userID, "enroll", "refused", voxgate.ErrorCode(err), map[string]any{"quality": an.Report()}, time.Since(start)); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	fp := s.fingerprint(ctx, an)
	if m, err := s.replayMatch(ctx, a.TenantID, userID, fp); err != nil {
		return nil, err
	} else if m.Replay {
		return nil, errReplayedSample()
	}
	emb, err := s.embed(ctx, an)
	if err != nil {
		return nil, voxgate.Errorf(voxgate.ENOSPEECH, "No usable speech in the recording")
	}
	report := an.Report()
	watch, dup, err := s.screen(ctx, a.TenantID, userID, emb, true)
	if err != nil {
		return nil, err
	}
	var insights []string
	if watch != nil || dup != nil {
		pol, err := s.watchlistPolicy(ctx, a.TenantID)
		if err != nil {
			return nil, err
		}
		detail := map[string]any{"quality": report, "watchlist_match": watch, "duplicate_voice": dup, "policy": pol}
		if pol == voxgate.WatchlistReject {
			err := voxgate.Errorf(voxgate.EWATCHLISTMATCH, "The voice matches a voice on the tenant's watchlist: enrollment refused")
			if watch == nil {
				err = voxgate.Errorf(voxgate.EDUPLICATEVOICE, "The voice matches another enrolled profile of the tenant: enrollment refused")
			}
			if aerr := s.audit(ctx, a, userID, "enroll", "refused", voxgate.ErrorCode(err), detail, time.Since(start)); aerr != nil {
				return nil, aerr
			}
			return nil, err
		}
		insights = matchInsights(watch, dup)
	}
	quality, _ := json.Marshal(report)
	now := s.now().UTC()
	smp := &voxgate.Sample{
		ID: ids.UUID(), UserID: userID, CreatedAt: now, SpeechSeconds: an.SpeechSeconds,
		Weight: sampleWeight(an), ModelVersion: s.engine.Speaker.Version(), Quality: string(quality),
		Embedding: s.sealVector(emb, sampleAD(a.TenantID, userID)),
	}
	fpRec, err := s.newFingerprint(a.TenantID, userID, "enroll", fp)
	if err != nil {
		return nil, err
	}
	// The sample, the template rebuilt with it, its replay fingerprint and
	// the audit row are one Outcome: written together or not at all, so
	// that a crash cannot leave an enrolled profile without a voiceprint
	// or a sample whose recording could be enrolled again. The template's
	// revision guards the sample set: a concurrent enrollment or adaptation
	// makes the write conflict, and the step is redone on top of it
	// (replay check included, so that the same recording sent twice at
	// once is enrolled once).
	for attempt := 0; ; attempt++ {
		if attempt > 0 { // a concurrent step may have enrolled this very recording
			if m, err := s.replayMatch(ctx, a.TenantID, userID, fp); err != nil {
				return nil, err
			} else if m.Replay {
				return nil, errReplayedSample()
			}
		}
		vp, err := s.enrolledTemplate(ctx, a.TenantID, userID, smp)
		if err != nil {
			return nil, err
		}
		p, err := s.store.FindProfile(ctx, a.TenantID, userID)
		if err != nil {
			return nil, err
		}
		total := p.SpeechSeconds + smp.SpeechSeconds
		res := &EnrollResult{
			UserID: userID, Sample: report, Samples: p.Samples + 1, SpeechSeconds: round2(total),
			RequiredSpeech: s.cfg.RequiredSpeech, Progress: round2(min(1, total/s.cfg.RequiredSpeech)),
			Enrolled: p.Enrolled() || total >= s.cfg.RequiredSpeech, SampleID: smp.ID, Latency: time.Since(start), ModelName: smp.ModelVersion,
			WatchlistMatch: watch, DuplicateVoice: dup, Insights: insights,
		}
		detail := map[string]any{"quality": report, "progress": res.Progress}
		if watch != nil {
			detail["watchlist_match"] = watch
		}
		if dup != nil {
			detail["duplicate_voice"] = dup
		}
		at, err := s.attempt(a, userID, "enroll", "accepted", "", detail, res.Latency)
		if err != nil {
			return nil, err
		}
		s.crash("enroll.outcome")
		p, err = s.store.RecordOutcome(ctx, a.TenantID, &voxgate.Outcome{
			UserID: userID, Sample: smp, RequiredSpeech: s.cfg.RequiredSpeech, Voiceprint: vp,
			Fingerprint: fpRec, FingerprintKeep: s.cfg.FingerprintKeep, Attempt: at,
		})
		if voxgate.ErrorCode(err) == voxgate.ECONFLICT && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.crash("enroll.done")
		s.forgetCohort(a.TenantID)
		res.Samples, res.SpeechSeconds, res.Enrolled = p.Samples, round2(p.SpeechSeconds), p.Enrolled()
		res.Progress = round2(min(1, p.SpeechSeconds/s.cfg.RequiredSpeech))
		return res, nil
	}
}

func errReplayedSample() error {
	return voxgate.Errorf(voxgate.ECONFLICT, "This recording (or a copy of it) is already enrolled: record a new sample")
}

// sampleWeight weighs a sample in the template by its net speech, with
// noisy samples counting less (full weight from 20 dB SNR up).
func sampleWeight(an *engine.Analysis) float64 {
	q := min(1, max(0.2, an.Quality.SNRdB/20))
	return an.SpeechSeconds * q
}

// enrolledTemplate returns the profile's voiceprint rebuilt from all its
// samples plus smp, not yet stored, with the revision it replaces.
// Adaptations are reset: a new enrollment sample is a new baseline.
func (s *Service) enrolledTemplate(ctx context.Context, tenantID, userID string, smp *voxgate.Sample) (*voxgate.Voiceprint, error) {
	samples, err := s.store.ListSamples(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	samples = append(samples, smp)
	var embs [][]float32
	var weights []float64
	var speech float64
	version := s.engine.Speaker.Version()
	for _, smp := range samples {
		if smp.ModelVersion != version {
			continue // from an older model: needs re-enrollment
		}
		v, err := s.openVector(smp.Embedding, sampleAD(tenantID, userID))
		if err != nil {
			return nil, err
		}
		embs = append(embs, v)
		weights = append(weights, smp.Weight)
		speech += smp.SpeechSeconds
	}
	t := s.engine.Speaker.Enroll(embs, weights)
	level, err := s.genuineLevel(ctx, tenantID, userID, embs, weights)
	if err != nil {
		return nil, err
	}
	vp, err := s.store.FindVoiceprint(ctx, tenantID, userID)
	var rev int64
	tmpl := &template{}
	switch {
	case err == nil:
		rev = vp.Revision
		if old, err := s.openTemplate(tenantID, vp); err == nil {
			tmpl = old // keep score statistics
		}
	case voxgate.ErrorCode(err) != voxgate.ENOTFOUND:
		return nil, err
	}
	tmpl.ModelVersion, tmpl.Current, tmpl.Enrolled = version, t.Vector, t.Vector
	tmpl.Samples, tmpl.Speech, tmpl.Adaptations, tmpl.Previous = len(embs), speech, 0, nil
	tmpl.GenuineLevel = level
	blob, err := s.sealTemplate(tenantID, userID, tmpl)
	if err != nil {
		return nil, err
	}
	return &voxgate.Voiceprint{UserID: userID, ModelVersion: version, Template: blob, Revision: rev, UpdatedAt: s.now().UTC()}, nil
}

// genuineLevel is the lowest leave-one-out score of the enrollment samples:
// each scored against the template of the others, the way verification
// scores (see template.GenuineLevel).
func (s *Service) genuineLevel(ctx context.Context, tenantID, userID string, embs [][]float32, weights []float64) (float64, error) {
	if len(embs) < 2 {
		return 0, nil
	}
	domain, err := s.cohort(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	floor := math.Inf(1)
	for i := range embs {
		others := append(append([][]float32(nil), embs[:i]...), embs[i+1:]...)
		w := append(append([]float64(nil), weights[:i]...), weights[i+1:]...)
		t := s.engine.Speaker.Enroll(others, w)
		if t.Samples == 0 {
			continue
		}
		floor = min(floor, finite(s.engine.ScoreIn(t.Vector, embs[i], domain, userID).Normalized))
	}
	if math.IsInf(floor, 1) {
		return 0, nil
	}
	return round4(floor), nil
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }

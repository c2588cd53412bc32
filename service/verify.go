package service

import (
	"context"
	"math"
	"time"

	"voxgate"
	"voxgate/engine"
	"voxgate/policy"
)

// VerifyRequest is one verification attempt.
type VerifyRequest struct {
	UserID string
	Audio  []byte
	// Phrase, when not empty, must have been spoken.
	Phrase string
	// Challenged marks a challenge-response attempt (a session's fresh
	// phrase), which learning treats as stronger evidence of liveness.
	Challenged bool
	// slotHeld: the caller (VerifyVoice) holds an analysis slot already.
	slotHeld bool
}

// VerifyResult is the fused decision with its diagnostics.
type VerifyResult struct {
	policy.Decision
	UserID           string
	LearningProgress float64
	RetryAfter       time.Duration
	RetriesLeft      int
	Calibration      Calibration
	Thresholds       Thresholds
	Spoof            SpoofReport
	Phrase           *engine.PhraseResult
	Quality          *engine.Report
	Learned          bool
	Latency          time.Duration
	ModelVersion     string
	// WatchlistMatch is the watchlist voice the recording matched (nil:
	// none); under the tenant's "reject" policy the decision is reject.
	WatchlistMatch *VoiceMatch
	// ChecksNotRun names the checks skipped for want of their model
	// (CheckVAD, CheckDeepfake; only in degraded mode).
	ChecksNotRun []string
}

// Calibration reports the voice scores on each scale.
type Calibration struct {
	RawScore        float64 `json:"raw_score"`
	NormalizedScore float64 `json:"normalized_score"`
	Confidence      float64 `json:"confidence"`
}

// Thresholds reports the operating points used.
type Thresholds struct {
	Voice     float64 `json:"voice"`
	VoiceHigh float64 `json:"voice_high"`
	// DomainShift is how far the tenant's voice thresholds sit from the
	// model's at the same target (speaker.Cohort.Shift, learned from the
	// tenant's own enrollments), already included in Voice and VoiceHigh.
	DomainShift float64 `json:"domain_shift"`
	// TargetFAR is the tenant's speaker operating point (its verification
	// settings; the server's default unless set).
	TargetFAR float64 `json:"target_far"`
	Margin    float64 `json:"margin"`
	// Spoof is the detector threshold actually applied (the tenant's
	// liveness operating point), SpoofBPCER the share of real training
	// speech it was set to flag, where the detector says.
	Spoof      float64  `json:"spoof,omitempty"`
	SpoofBPCER *float64 `json:"spoof_bpcer,omitempty"`
	// LivenessMode is the tenant's: "enforce" (a spoof verdict rejects) or
	// "flag" (reported, not acted on).
	LivenessMode string   `json:"liveness_mode"`
	Phrase       *float64 `json:"phrase,omitempty"`
}

// SpoofReport is the liveness evidence.
type SpoofReport struct {
	Checked          bool     `json:"deepfake_checked"`
	Detected         bool     `json:"deepfake_detected"`
	Probability      *float64 `json:"spoof_probability,omitempty"`
	Replay           bool     `json:"replay_detected"`
	ReplaySimilarity float64  `json:"replay_similarity"`
	Labels           []string `json:"labels"`
}

// Verify checks a recording against the profile's voiceprint and returns
// the fused decision. Errors: EPROFILENOTFOUND (unknown user),
// EENROLLINCOMPLETE (not enough enrollment yet), ELOCKED (too many
// failures; an administrator must reset), ERATELIMITED, and the audio input
// errors. Quality refusals and cooldowns are decisions, not errors.
func (s *Service) Verify(ctx context.Context, a voxgate.Actor, req VerifyRequest) (*VerifyResult, error) {
	start := time.Now()
	flow := "" // the bare decision: keys and end-user tokens only
	if req.Challenged {
		flow = FlowChallenge
	}
	if err := a.RequireFlow(flow); err != nil {
		return nil, err
	}
	if err := normalizeUserID(&req.UserID); err != nil {
		return nil, err
	}
	if err := a.CanActOn(req.UserID); err != nil {
		return nil, err
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	if err := s.requireChecks(); err != nil {
		return nil, err
	}
	if err := s.rateLimit(ctx, a, req.UserID, "verify"); err != nil {
		return nil, err
	}
	p, err := s.store.FindProfile(ctx, a.TenantID, req.UserID)
	if err != nil {
		return nil, err
	}
	if !p.Enrolled() {
		return nil, voxgate.Errorf(voxgate.EENROLLINCOMPLETE, "Enrollment incomplete: %.1fs of %.1fs speech collected", p.SpeechSeconds, s.cfg.RequiredSpeech)
	}
	vp, err := s.store.FindVoiceprint(ctx, a.TenantID, req.UserID)
	if err != nil {
		if voxgate.ErrorCode(err) == voxgate.ENOTFOUND {
			return nil, voxgate.Errorf(voxgate.EENROLLINCOMPLETE, "Enrollment incomplete: no voiceprint for the current model")
		}
		return nil, err
	}
	tmpl, err := s.openTemplate(a.TenantID, vp)
	if err != nil {
		return nil, err
	}
	if tmpl.ModelVersion != s.engine.Speaker.Version() {
		return nil, voxgate.Errorf(voxgate.EENROLLINCOMPLETE, "The voiceprint was made by model %s; re-enroll for %s", tmpl.ModelVersion, s.engine.Speaker.Version())
	}
	res := &VerifyResult{UserID: req.UserID, ModelVersion: tmpl.ModelVersion, ChecksNotRun: s.ChecksNotRun(),
		LearningProgress: s.cfg.Learning.Progress(tmpl.Speech, s.cfg.RequiredSpeech, tmpl.Adaptations)}

	// Cooldown and lock come before any audio work.
	if !s.cfg.DisableLimits {
		st, err := s.store.FindStanding(ctx, a.TenantID, req.UserID)
		if err != nil {
			return nil, err
		}
		res.RetriesLeft = s.cfg.Limits.RetriesLeft(st)
		if r, err := s.gateStanding(st, res); r != nil || err != nil {
			return s.finish(ctx, a, req, res, start, err)
		}
	}

	if !req.slotHeld {
		release, err := s.analysis(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	an, err := s.engine.Analyze(ctx, req.Audio)
	if err != nil {
		return nil, err
	}
	rep := an.Report()
	res.Quality = &rep
	if err := s.cfg.VerifyGate.Check(an); err != nil {
		// Unusable audio is a retry with its own reason; it does not count
		// against the attempt limit.
		res.Decision = policy.Decision{Decision: policy.Retry, Reason: voxgate.ErrorCode(err),
			Signals:  policy.Signals{Voice: policy.Low, Phrase: phraseNotChecked(req.Phrase), Liveness: policy.Low},
			Insights: []string{voxgate.ErrorMessage(err)}}
		return s.finish(ctx, a, req, res, start, nil)
	}

	// Reserve the attempt: count it as a failure now, under the store's
	// lock, so that parallel guesses cannot all slip in before the first
	// failure is recorded. A success clears it below.
	if !s.cfg.DisableLimits {
		var gated bool
		st, err := s.store.UpdateStanding(ctx, a.TenantID, req.UserID, func(st voxgate.Standing) (voxgate.Standing, error) {
			if reason, _ := s.cfg.Limits.Gate(st, s.now()); reason != "" {
				gated = true
				return st, nil
			}
			return s.cfg.Limits.Failed(st, s.now()), nil
		})
		if err != nil {
			return nil, err
		}
		if gated {
			if _, err := s.gateStanding(st, res); err != nil {
				return nil, err
			}
			return s.finish(ctx, a, req, res, start, nil)
		}
		res.RetriesLeft = s.cfg.Limits.RetriesLeft(st)
	}

	s.crash("verify.reserved")
	ev, emb, fp, err := s.evidence(ctx, a, req, an, tmpl, res)
	if err != nil {
		return nil, err
	}
	res.Decision = policy.Decide(ev, s.cfg.Decision)
	watch, _, err := s.screen(ctx, a.TenantID, req.UserID, emb, false)
	if err != nil {
		return nil, err
	}
	if watch != nil {
		res.WatchlistMatch = watch
		res.Insights = append(res.Insights, matchInsights(watch, nil)...)
		pol, err := s.watchlistPolicy(ctx, a.TenantID)
		if err != nil {
			return nil, err
		}
		if pol == voxgate.WatchlistReject && res.Decision.Decision != policy.Reject {
			res.Decision.Decision, res.Reason = policy.Reject, ReasonWatchlistMatch
		}
	}
	// The attempt's fingerprint (so that it cannot be replayed later), the
	// cleared standing of an accept, the adapted template and the audit
	// row are one Outcome: a crash keeps all of them or none.
	o := &voxgate.Outcome{UserID: req.UserID, Fingerprint: fp, FingerprintKeep: s.cfg.FingerprintKeep}
	learn := false
	if res.Decision.Decision == policy.Accept {
		if !s.cfg.DisableLimits {
			o.Standing = s.cfg.Limits.Succeeded
			res.RetriesLeft = s.cfg.Limits.FreeFailures
		}
		// A tenant with a laxer target_far accepts more, but adapts no more
		// easily: the bar starts from the stricter of its high tier and
		// the server default's, where the poisoning tests measured it.
		learn = !s.cfg.DisableLearning && s.cfg.Learning.MayLearn(res.Decision, req.Challenged) &&
			ev.Voice.Score >= s.cfg.Learning.Bar(max(ev.Voice.High, s.engine.Calibration.High), tmpl.GenuineLevel)
	}
	for attempt := 0; ; attempt++ {
		o.Voiceprint, res.Learned = nil, false
		if learn && attempt < 5 { // past that, lost every race: skip this adaptation
			if o.Voiceprint, res.Learned, err = s.adapted(ctx, a.TenantID, req.UserID, emb, ev.Voice.Score); err != nil {
				return nil, err
			}
		}
		res.Latency = time.Since(start)
		if o.Attempt, err = s.attempt(a, req.UserID, "verify", res.Decision.Decision, res.Reason, auditDetail(req, res), res.Latency); err != nil {
			return nil, err
		}
		s.crash("verify.outcome")
		_, err = s.store.RecordOutcome(ctx, a.TenantID, o)
		if voxgate.ErrorCode(err) == voxgate.ECONFLICT && o.Voiceprint != nil {
			continue // a concurrent adaptation or enrollment: adapt on top of it
		}
		if err != nil {
			return nil, err
		}
		s.crash("verify.done")
		return res, nil
	}
}

func phraseNotChecked(phrase string) string {
	if phrase == "" {
		return policy.NotChecked
	}
	return policy.Low
}

// gateStanding fills res with a cooldown decision, or returns ELOCKED, when
// the standing forbids an attempt now.
func (s *Service) gateStanding(st voxgate.Standing, res *VerifyResult) (*VerifyResult, error) {
	reason, after := s.cfg.Limits.Gate(st, s.now())
	switch reason {
	case policy.ReasonLocked:
		return nil, voxgate.Errorf(voxgate.ELOCKED, "Too many failed attempts: the profile is locked until an administrator resets it")
	case policy.ReasonCooldown:
		res.Decision = policy.Decision{Decision: policy.Cooldown, Reason: policy.ReasonCooldown,
			Signals:  policy.Signals{Voice: policy.Low, Phrase: policy.NotChecked, Liveness: policy.Low},
			Insights: []string{"Too many failed attempts: wait before trying again."}}
		res.RetryAfter = after
		return res, nil
	}
	return nil, nil
}

// evidence gathers every signal for the decision.
// It returns the probe's embedding and its replay fingerprint, which the
// caller stores with the attempt.
func (s *Service) evidence(ctx context.Context, a voxgate.Actor, req VerifyRequest, an *engine.Analysis, tmpl *template, res *VerifyResult) (policy.Evidence, []float32, *voxgate.Fingerprint, error) {
	ev := policy.Evidence{SpeechSeconds: an.SpeechSeconds, SNRdB: an.Quality.SNRdB}
	emb, err := s.embed(ctx, an)
	if err != nil {
		return ev, nil, nil, voxgate.Errorf(voxgate.ENOSPEECH, "No usable speech in the recording")
	}
	domain, err := s.cohort(ctx, a.TenantID)
	if err != nil {
		return ev, nil, nil, err
	}
	op, err := s.operatingPoint(ctx, a.TenantID)
	if err != nil {
		return ev, nil, nil, err
	}
	// The tenant's operating point: its target's thresholds moved by its
	// domain shift.
	cal := op.voice.In(domain)
	sc := cal.ScoreIn(s.engine.Speaker, tmpl.Current, emb, domain, req.UserID)
	ev.Voice = policy.Voice{Score: finite(sc.Normalized), Threshold: cal.Threshold, High: cal.High, Confidence: sc.Confidence, Rival: sc.Rival}
	res.Calibration = Calibration{RawScore: round4(sc.Raw), NormalizedScore: round4(finite(sc.Normalized)), Confidence: round4(sc.Confidence)}
	res.Thresholds = Thresholds{Voice: round4(cal.Threshold), VoiceHigh: round4(cal.High), DomainShift: round4(domain.Shift()), TargetFAR: cal.TargetFAR,
		Margin: round4(s.cfg.Decision.VoiceMargin * max(0, cal.High-cal.Threshold)), LivenessMode: op.mode()}

	// Replay: against every kept fingerprint of this profile; the attempt's
	// own fingerprint is kept too, so that it cannot be replayed later.
	fp := s.fingerprint(ctx, an)
	m, err := s.replayMatch(ctx, a.TenantID, req.UserID, fp)
	if err != nil {
		return ev, nil, nil, err
	}
	fpRec, err := s.newFingerprint(a.TenantID, req.UserID, "verify", fp)
	if err != nil {
		return ev, nil, nil, err
	}
	ev.Liveness.Replay, ev.Liveness.ReplaySimilarity = m.Replay, round4(m.Similarity)
	res.Spoof = SpoofReport{Replay: m.Replay, ReplaySimilarity: round4(m.Similarity), Labels: []string{}}
	if m.Replay {
		res.Spoof.Labels = append(res.Spoof.Labels, "replay")
	}
	if s.engine.Spoof != nil {
		prob, def, err := s.spoofScore(ctx, an)
		if err != nil {
			return ev, nil, nil, err
		}
		thr := op.spoofThresholdOr(def)
		ev.Liveness.SpoofChecked, ev.Liveness.SpoofProbability, ev.Liveness.SpoofThreshold = true, prob, thr
		ev.Liveness.SpoofFlagOnly = op.flagOnly
		p := round4(prob)
		res.Spoof.Checked, res.Spoof.Probability, res.Spoof.Detected = true, &p, prob >= thr
		res.Thresholds.Spoof = thr
		if pt, ok := spoofPointAt(s.engine.SpoofPoints(), thr); ok {
			res.Thresholds.SpoofBPCER = &pt.BPCER
		}
		if res.Spoof.Detected {
			res.Spoof.Labels = append(res.Spoof.Labels, "synthetic")
		} else {
			res.Spoof.Labels = append(res.Spoof.Labels, "bonafide")
		}
	}
	if req.Phrase != "" {
		if s.engine.Phrase == nil {
			return ev, nil, nil, voxgate.Errorf(voxgate.EUNAVAILABLE, "phrase checking is not available on this server")
		}
		pr, err := s.checkPhrase(ctx, an, req.Phrase)
		if err != nil {
			return ev, nil, nil, err
		}
		// -Inf means the prompt could not be aligned at all; keep scores
		// finite so that they can be stored and sent as JSON.
		pr.Score = round4(finite(pr.Score))
		res.Phrase = &pr
		thr := pr.Threshold
		res.Thresholds.Phrase = &thr
		ev.Phrase = &policy.Phrase{Score: pr.Score, Threshold: pr.Threshold, Confidence: pr.Confidence, Recognized: pr.Recognized}
	}
	return ev, emb, fpRec, nil
}

// adapted returns the profile's template moved towards an accepted probe,
// within the drift bound, and its score statistics updated: not yet
// stored, with the revision it replaces. It reports whether the template
// itself changed.
func (s *Service) adapted(ctx context.Context, tenantID, userID string, probe []float32, score float64) (*voxgate.Voiceprint, bool, error) {
	vp, err := s.store.FindVoiceprint(ctx, tenantID, userID)
	if err != nil {
		return nil, false, err
	}
	t, err := s.openTemplate(tenantID, vp)
	if err != nil {
		return nil, false, err
	}
	t.Accepted++
	t.ScoreSum += score
	t.ScoreSum2 += score * score
	next := s.cfg.Learning.Update(t.Current, t.Enrolled, probe)
	if next != nil {
		t.Previous = append(t.Previous, t.Current)
		if len(t.Previous) > keepPrevious {
			t.Previous = t.Previous[len(t.Previous)-keepPrevious:]
		}
		t.Current = next
		t.Adaptations++
		t.History = append(t.History, update{At: s.now().UTC(), Score: round4(score), Drift: round4(float64(cosine(next, t.Enrolled)))})
		if len(t.History) > keepHistory {
			t.History = t.History[len(t.History)-keepHistory:]
		}
	}
	blob, err := s.sealTemplate(tenantID, userID, t)
	if err != nil {
		return nil, false, err
	}
	vp.Template, vp.UpdatedAt = blob, s.now().UTC()
	return vp, next != nil, nil
}

// finish records the attempt in the audit log and completes the result:
// the ending of a verification that stored nothing else.
func (s *Service) finish(ctx context.Context, a voxgate.Actor, req VerifyRequest, res *VerifyResult, start time.Time, err error) (*VerifyResult, error) {
	if err != nil {
		return nil, err
	}
	res.Latency = time.Since(start)
	if err := s.audit(ctx, a, req.UserID, "verify", res.Decision.Decision, res.Reason, auditDetail(req, res), res.Latency); err != nil {
		return nil, err
	}
	return res, nil
}

// auditDetail is what the audit log keeps of a verification.
func auditDetail(req VerifyRequest, res *VerifyResult) map[string]any {
	detail := map[string]any{
		"signals": res.Signals, "confidence": res.Confidence, "calibration": res.Calibration,
		"thresholds": res.Thresholds, "liveness": res.Spoof, "challenged": req.Challenged, "learned": res.Learned,
	}
	if res.Quality != nil {
		detail["quality"] = res.Quality
	}
	if res.WatchlistMatch != nil {
		detail["watchlist_match"] = res.WatchlistMatch
	}
	if res.Phrase != nil {
		detail["phrase"] = map[string]any{"score": round4(res.Phrase.Score), "recognized": res.Phrase.Recognized}
	}
	return detail
}

func finite(x float64) float64 {
	if math.IsInf(x, -1) || math.IsNaN(x) {
		return -100
	}
	if math.IsInf(x, 1) {
		return 100
	}
	return x
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func cosine(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

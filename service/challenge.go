package service

import (
	"context"
	"time"

	"voxgate"
	"voxgate/challenge"
	"voxgate/ids"
	"voxgate/policy"
	"voxgate/voicetoken"
)

// Session and token lifetimes.
const (
	DefaultSessionTTL = 120 * time.Second
	DefaultTokenTTL   = 60 * time.Second
	// recentChallenges is how many of a user's past challenges a new one
	// must differ from.
	recentChallenges = 50
)

// StartAuth opens a challenge session for an enrolled user: a fresh phrase
// to speak, valid once and for a short time. mode is "words" (default),
// "digits" or "phrases" (the tenant's passphrases). Returns
// EPROFILENOTFOUND, EENROLLINCOMPLETE, or EINVALID for a bad mode or a
// phrases mode without passphrases.
func (s *Service) StartAuth(ctx context.Context, a voxgate.Actor, userID, mode string) (*voxgate.Session, error) {
	if err := a.RequireFlow(FlowChallenge); err != nil {
		return nil, err
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, err
	}
	if err := a.CanActOn(userID); err != nil {
		return nil, err
	}
	if mode == "" {
		mode = string(challenge.Words)
	}
	m := challenge.Mode(mode)
	if !m.Valid() {
		return nil, voxgate.Errorf(voxgate.EINVALID, "mode must be words, digits or phrases")
	}
	if err := s.rateLimit(ctx, a, userID, "challenge"); err != nil {
		return nil, err
	}
	p, err := s.store.FindProfile(ctx, a.TenantID, userID)
	if err != nil {
		return nil, err
	}
	if !p.Enrolled() {
		return nil, voxgate.Errorf(voxgate.EENROLLINCOMPLETE, "Enrollment incomplete: %.1fs of %.1fs speech collected", p.SpeechSeconds, s.cfg.RequiredSpeech)
	}
	var opts challenge.Options
	if m == challenge.Phrases {
		phrases, err := s.store.ChallengePhrases(ctx, a.TenantID)
		if err != nil {
			return nil, err
		}
		if len(phrases) < challenge.MinPhrases {
			return nil, voxgate.Errorf(voxgate.EINVALID, "phrases mode needs the tenant's passphrases: PUT /v1/challenge-phrases first")
		}
		opts.Phrases = phrases
	}
	recent, err := s.store.RecentChallenges(ctx, a.TenantID, userID, recentChallenges)
	if err != nil {
		return nil, err
	}
	text, err := challenge.Generate(m, opts, recent)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	ttl := s.cfg.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	ss := &voxgate.Session{ID: ids.UUID(), UserID: userID, Mode: mode, Challenge: text, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.store.CreateSession(ctx, a.TenantID, ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// ChallengeResult is the outcome of answering a challenge.
type ChallengeResult struct {
	Verify *VerifyResult
	// Token is the signed voice token, only on success.
	Token  string
	Claims *voicetoken.Claims
	// Code names the failed check (seed 001): voice_rejected,
	// phrase_rejected, liveness_rejected, replay_rejected,
	// audio_rejected, cooldown.
	Code string
}

// VerifyVoice answers a session: the recording must pass speaker, phrase
// and liveness checks. The session is consumed by its first use whatever
// the outcome. Returns ESESSIONNOTFOUND (unknown, or another user's),
// ESESSIONEXPIRED (expired or used), and Verify's errors.
func (s *Service) VerifyVoice(ctx context.Context, a voxgate.Actor, sessionID, userID string, audio []byte) (*ChallengeResult, error) {
	if err := a.RequireFlow(FlowChallenge); err != nil {
		return nil, err
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, err
	}
	if err := a.CanActOn(userID); err != nil {
		return nil, err
	}
	if sessionID == "" {
		return nil, voxgate.Errorf(voxgate.EINVALID, "session_id is required")
	}
	if s.tokens == nil {
		return nil, voxgate.Errorf(voxgate.EUNAVAILABLE, "voice tokens are not configured")
	}
	// The analysis slot is taken before the session is consumed, so that
	// a node too busy to score the answer (503) leaves the session for
	// the client's retry.
	release, err := s.analysis(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	ss, err := s.store.ConsumeSession(ctx, a.TenantID, sessionID, s.now())
	if err != nil {
		return nil, err
	}
	if ss.UserID != userID {
		return nil, voxgate.Errorf(voxgate.ESESSIONNOTFOUND, "Unknown session: start a new one with /start-auth")
	}
	res, err := s.Verify(ctx, a, VerifyRequest{UserID: userID, Audio: audio, Phrase: ss.Challenge, Challenged: true, slotHeld: true})
	if err != nil {
		return nil, err
	}
	out := &ChallengeResult{Verify: res}
	if res.Decision.Decision != policy.Accept {
		out.Code = failureCode(res.Reason)
		return out, nil
	}
	ttl := s.cfg.TokenTTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	jti := ids.UUID()
	tok, claims, err := s.tokens.Issue(userID, a.TenantID, ss.ID, jti, ttl)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateVoiceToken(ctx, a.TenantID, &voxgate.VoiceToken{
		JTI: jti, UserID: userID, SessionID: ss.ID, IssuedAt: claims.IssuedAt.Time, ExpiresAt: claims.ExpiresAt.Time,
	}); err != nil {
		return nil, err
	}
	out.Token, out.Claims = tok, claims
	return out, nil
}

// failureCode maps a decision's reason to the seed-001 failure code.
func failureCode(reason string) string {
	switch reason {
	case policy.ReasonVoiceMismatch, policy.ReasonVoiceUncertain:
		return "voice_rejected"
	case policy.ReasonPhraseMismatch, policy.ReasonPhraseUnclear:
		return "phrase_rejected"
	case policy.ReasonSpoof:
		return "liveness_rejected"
	case policy.ReasonReplay:
		return "replay_rejected"
	case policy.ReasonCooldown:
		return "cooldown"
	default: // audio_too_short, no_speech, too_noisy, clipped
		return "audio_rejected"
	}
}

// TokenCheck is the answer of /verify-token.
type TokenCheck struct {
	Valid    bool
	UserID   string
	IssuedAt time.Time
	Reason   string
}

// VerifyToken validates a voice token of the actor's tenant and revokes it:
// of any number of concurrent validations exactly one is valid.
func (s *Service) VerifyToken(ctx context.Context, a voxgate.Actor, token string) (*TokenCheck, error) {
	if err := a.RequireFlow(""); err != nil {
		return nil, err
	}
	if token == "" {
		return nil, voxgate.Errorf(voxgate.EINVALID, "token is required")
	}
	if s.tokens == nil {
		return nil, voxgate.Errorf(voxgate.EUNAVAILABLE, "voice tokens are not configured")
	}
	c, err := s.tokens.Verify(token)
	if err != nil {
		return &TokenCheck{Reason: "invalid_token"}, nil
	}
	if c.Tenant != a.TenantID || (a.Subject != "" && a.Subject != c.Subject) {
		return &TokenCheck{Reason: "invalid_token"}, nil
	}
	t, err := s.store.ConsumeVoiceToken(ctx, a.TenantID, c.ID, s.now())
	switch voxgate.ErrorCode(err) {
	case "":
		return &TokenCheck{Valid: true, UserID: t.UserID, IssuedAt: t.IssuedAt}, nil
	case voxgate.ENOTFOUND:
		return &TokenCheck{Reason: "invalid_token"}, nil
	case voxgate.ESESSIONEXPIRED:
		return &TokenCheck{Reason: "token_used_or_expired"}, nil
	default:
		return nil, err
	}
}

// SetChallengePhrases replaces the tenant's passphrases for the phrases
// mode. Each must be speakable by the recogniser; at least two. Admin only.
func (s *Service) SetChallengePhrases(ctx context.Context, a voxgate.Actor, phrases []string) error {
	if err := a.RequireAdmin(); err != nil {
		return err
	}
	if s.engine == nil || s.engine.Phrase == nil {
		return voxgate.Errorf(voxgate.EUNAVAILABLE, "phrase checking is not available on this server")
	}
	if err := challenge.ValidatePhrases(phrases, s.engine.Phrase.Speakable); err != nil {
		return voxgate.Errorf(voxgate.EINVALID, "%s", err.Error())
	}
	return s.store.SetChallengePhrases(ctx, a.TenantID, phrases, s.now().UTC())
}

// ChallengePhrases returns the tenant's passphrases.
func (s *Service) ChallengePhrases(ctx context.Context, a voxgate.Actor) ([]string, error) {
	if err := a.RequireFlow(""); err != nil {
		return nil, err
	}
	return s.store.ChallengePhrases(ctx, a.TenantID)
}

// SweepExpired deletes sessions and tokens that expired over an hour ago;
// the server runs it periodically.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	return s.store.SweepSessions(ctx, s.now().Add(-time.Hour))
}

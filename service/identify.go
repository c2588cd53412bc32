package service

import (
	"context"
	"slices"
	"time"

	"voxgate"
	"voxgate/engine"
	"voxgate/gallery"
)

// Identification (1:N): which of the tenant's enrolled voices, if any, is
// speaking. Scores are verification's (the same s-norm with the tenant's
// cohort, the same rival check), so a score means the same thing in both;
// the decision threshold is the model's open-set threshold for the searched
// gallery's size at the configured false-positive identification rate
// (speaker.Model.OpenSetThreshold): the chance that someone not enrolled is
// named as one of n voices stays at FPIR however large n grows.

// Identification decisions.
const (
	Identified = "identified"
	Unknown    = "unknown"
	// IdentifyRetry is unusable audio, with the quality gate's reason.
	IdentifyRetry = "retry"
)

// Identification reasons beside the quality gate's.
const (
	ReasonNoMatch        = "no_match"
	ReasonEmptyGallery   = "empty_gallery"
	ReasonSpoofSuspected = "spoof_suspected"
	ReasonWatchlistMatch = "watchlist_match"
	ReasonDuplicateVoice = "duplicate_voice"
)

// DefaultFPIR is the default false-positive identification rate.
const DefaultFPIR = 0.01

// MaxIdentifyTop bounds the candidates one identification returns.
const MaxIdentifyTop = 50

// IdentifyRequest is one identification.
type IdentifyRequest struct {
	Audio []byte
	// Group, when not empty, restricts the search to the group's members.
	Group string
	// Top is how many candidates to return (0: 5).
	Top int
}

// IdentifyCandidate is one ranked voice.
type IdentifyCandidate struct {
	UserID     string  `json:"user_id"`
	Score      float64 `json:"score"`
	Confidence float64 `json:"confidence"`
}

// IdentifyResult is an identification's answer.
type IdentifyResult struct {
	Decision   string
	Reason     string
	Candidates []IdentifyCandidate
	// Threshold is the open-set threshold for a gallery of Gallery voices
	// at FPIR.
	Threshold float64
	FPIR      float64
	Gallery   int
	Group     string
	Quality   *engine.Report
	Spoof     SpoofReport
	Insights  []string
	Latency   time.Duration
}

// VoiceMatch is a watchlist match or a duplicate voice: another profile's
// voice whose score reached the open-set threshold of the set searched.
type VoiceMatch struct {
	UserID    string  `json:"user_id"`
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
}

func (s *Service) fpir() float64 {
	if s.cfg.IdentifyFPIR > 0 {
		return s.cfg.IdentifyFPIR
	}
	return DefaultFPIR
}

// Identify searches the actor's tenant (or one group of it) for the voice in
// the recording. Any key of the tenant may identify; a token confined to one
// user may not (EFORBIDDEN). Unusable audio is a retry decision with its
// reason, synthetic speech an unknown one (spoof_suspected) that names
// nobody. Errors: EINVALID (bad group or top), ERATELIMITED, the audio
// input errors.
func (s *Service) Identify(ctx context.Context, a voxgate.Actor, req IdentifyRequest) (*IdentifyResult, error) {
	start := time.Now()
	if a.TenantID == "" {
		return nil, voxgate.Errorf(voxgate.EUNAUTHORIZED, "Invalid or inactive API key")
	}
	if a.Subject != "" {
		return nil, voxgate.Errorf(voxgate.EFORBIDDEN, "this token may not search other users' voices")
	}
	if req.Top == 0 {
		req.Top = 5
	}
	if req.Top < 1 || req.Top > MaxIdentifyTop {
		return nil, voxgate.Errorf(voxgate.EINVALID, "top must be 1-%d", MaxIdentifyTop)
	}
	if req.Group != "" {
		if err := voxgate.ValidateGroupName(req.Group); err != nil {
			return nil, err
		}
	}
	if err := s.requireEngine(); err != nil {
		return nil, err
	}
	if err := s.rateLimit(ctx, a, "", "identify"); err != nil {
		return nil, err
	}
	release, err := s.analysis(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	res := &IdentifyResult{FPIR: s.fpir(), Group: req.Group, Candidates: []IdentifyCandidate{}, Spoof: SpoofReport{Labels: []string{}}}
	an, err := s.engine.Analyze(ctx, req.Audio)
	if err != nil {
		return nil, err
	}
	rep := an.Report()
	res.Quality = &rep
	if err := s.cfg.VerifyGate.Check(an); err != nil {
		res.Decision, res.Reason, res.Insights = IdentifyRetry, voxgate.ErrorCode(err), []string{voxgate.ErrorMessage(err)}
		return s.finishIdentify(ctx, a, res, start)
	}
	if s.engine.Spoof != nil {
		op, err := s.operatingPoint(ctx, a.TenantID)
		if err != nil {
			return nil, err
		}
		prob, def, err := s.spoofScore(ctx, an)
		if err != nil {
			return nil, err
		}
		p := round4(prob)
		res.Spoof.Checked, res.Spoof.Probability, res.Spoof.Detected = true, &p, prob >= op.spoofThresholdOr(def)
		switch {
		case res.Spoof.Detected && !op.flagOnly:
			res.Spoof.Labels = append(res.Spoof.Labels, "synthetic")
			res.Decision, res.Reason = Unknown, ReasonSpoofSuspected
			res.Insights = []string{"The recording sounds synthetic: nobody is named."}
			return s.finishIdentify(ctx, a, res, start)
		case res.Spoof.Detected:
			res.Spoof.Labels = append(res.Spoof.Labels, "synthetic")
			res.Insights = append(res.Insights, "The recording sounds synthetic: flagged only, as this tenant's liveness mode asks.")
		default:
			res.Spoof.Labels = append(res.Spoof.Labels, "bonafide")
		}
	}
	emb, err := s.engine.Embed(an)
	if err != nil {
		return nil, voxgate.Errorf(voxgate.ENOSPEECH, "No usable speech in the recording")
	}
	var among []string
	if req.Group != "" {
		if among, err = s.store.GroupMembers(ctx, a.TenantID, req.Group); err != nil {
			return nil, err
		}
	}
	found, n, err := s.search(ctx, a.TenantID, emb, req.Top, among, req.Group != "")
	if err != nil {
		return nil, err
	}
	res.Gallery = n
	res.Threshold = round4(s.engine.Speaker.OpenSetThreshold(res.FPIR, n))
	for _, c := range found {
		res.Candidates = append(res.Candidates, IdentifyCandidate{UserID: c.UserID,
			Score: round4(finite(c.Score.Normalized)), Confidence: round4(c.Score.Confidence)})
	}
	switch {
	case n == 0:
		res.Decision, res.Reason = Unknown, ReasonEmptyGallery
	case len(found) > 0 && found[0].Score.Normalized >= s.engine.Speaker.OpenSetThreshold(res.FPIR, n):
		res.Decision = Identified
	default:
		res.Decision, res.Reason = Unknown, ReasonNoMatch
	}
	return s.finishIdentify(ctx, a, res, start)
}

// search looks for emb among the tenant's gallery (only among's members when
// restrict is set) and returns the best top and the number of voices
// searched.
func (s *Service) search(ctx context.Context, tenantID string, emb []float32, top int, among []string, restrict bool) ([]gallery.Candidate, int, error) {
	x, err := s.gallery(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	domain, err := s.cohort(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	n := x.Len()
	if restrict {
		n = 0
		for _, u := range among {
			if x.Has(u) {
				n++
			}
		}
		if n == 0 {
			return nil, 0, nil
		}
	} else {
		among = nil
	}
	return x.Search(emb, top, among, s.engine.Calibration.In(domain), domain), n, nil
}

func (s *Service) finishIdentify(ctx context.Context, a voxgate.Actor, res *IdentifyResult, start time.Time) (*IdentifyResult, error) {
	if res.Insights == nil {
		res.Insights = []string{}
	}
	res.Latency = time.Since(start)
	detail := map[string]any{"candidates": res.Candidates, "threshold": res.Threshold, "fpir": res.FPIR,
		"gallery": res.Gallery, "group": res.Group, "liveness": res.Spoof}
	if res.Quality != nil {
		detail["quality"] = res.Quality
	}
	who := ""
	if res.Decision == Identified {
		who = res.Candidates[0].UserID
	}
	if err := s.audit(ctx, a, who, "identify", res.Decision, res.Reason, detail, res.Latency); err != nil {
		return nil, err
	}
	return res, nil
}

// screen checks emb, a recording of self, against the tenant's watchlist
// and, when duplicates is set, against every other enrolled voice; a nil
// match means none reached its threshold.
func (s *Service) screen(ctx context.Context, tenantID, self string, emb []float32, duplicates bool) (watch, dup *VoiceMatch, err error) {
	members, err := s.store.GroupMembers(ctx, tenantID, voxgate.WatchlistGroup)
	if err != nil {
		return nil, nil, err
	}
	others := members[:0:0]
	for _, u := range members {
		if u != self {
			others = append(others, u)
		}
	}
	best := func(found []gallery.Candidate, n int) *VoiceMatch {
		thr := s.engine.Speaker.OpenSetThreshold(s.fpir(), n)
		for _, c := range found {
			if c.UserID == self {
				continue
			}
			if c.Score.Normalized >= thr {
				return &VoiceMatch{UserID: c.UserID, Score: round4(c.Score.Normalized), Threshold: round4(thr)}
			}
			break
		}
		return nil
	}
	if len(others) > 0 {
		found, n, err := s.search(ctx, tenantID, emb, 1, others, true)
		if err != nil {
			return nil, nil, err
		}
		watch = best(found, n)
	}
	if duplicates {
		found, n, err := s.search(ctx, tenantID, emb, 2, nil, false)
		if err != nil {
			return nil, nil, err
		}
		x, err := s.gallery(ctx, tenantID)
		if err != nil {
			return nil, nil, err
		}
		if x.Has(self) {
			n-- // self is not a candidate
		}
		dup = best(found, max(n, 1))
	}
	return watch, dup, nil
}

// watchlistPolicy returns the tenant's policy for watchlist matches and
// duplicate voices.
func (s *Service) watchlistPolicy(ctx context.Context, tenantID string) (string, error) {
	st, err := s.store.IdentificationSettings(ctx, tenantID)
	if err != nil {
		return "", err
	}
	if st.WatchlistPolicy == "" {
		return voxgate.WatchlistFlag, nil
	}
	return st.WatchlistPolicy, nil
}

// Group is a named set of the tenant's profiles.
type Group struct {
	Name    string   `json:"group"`
	Members []string `json:"members"`
}

// MaxGroupChange bounds the users one UpdateGroup call adds and removes.
const MaxGroupChange = 1000

// UpdateGroup adds profiles to and removes profiles from one of the tenant's
// groups (admin only). Returns EINVALID for bad names or too many users,
// EPROFILENOTFOUND when an added user has no profile.
func (s *Service) UpdateGroup(ctx context.Context, a voxgate.Actor, name string, add, remove []string) (*Group, error) {
	if err := a.RequireAdmin(); err != nil {
		return nil, err
	}
	if err := voxgate.ValidateGroupName(name); err != nil {
		return nil, err
	}
	if len(add)+len(remove) > MaxGroupChange {
		return nil, voxgate.Errorf(voxgate.EINVALID, "at most %d users may be added and removed in one call", MaxGroupChange)
	}
	add, remove = slices.Clone(add), slices.Clone(remove) // normalised below: the caller's slices stay as given
	for _, list := range [][]string{add, remove} {
		for i := range list {
			if err := normalizeUserID(&list[i]); err != nil {
				return nil, err
			}
		}
	}
	members, err := s.store.UpdateGroup(ctx, a.TenantID, name, add, remove, s.now().UTC())
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "group updated", "tenant", a.TenantID, "group", name, "added", len(add), "removed", len(remove))
	return &Group{Name: name, Members: members}, nil
}

// Group returns one of the tenant's groups (admin only); a group nobody was
// added to is empty.
func (s *Service) Group(ctx context.Context, a voxgate.Actor, name string) (*Group, error) {
	if err := a.RequireAdmin(); err != nil {
		return nil, err
	}
	if err := voxgate.ValidateGroupName(name); err != nil {
		return nil, err
	}
	members, err := s.store.GroupMembers(ctx, a.TenantID, name)
	if err != nil {
		return nil, err
	}
	return &Group{Name: name, Members: members}, nil
}

// IdentificationSettings returns the tenant's identification settings with
// defaults filled in (admin only).
func (s *Service) IdentificationSettings(ctx context.Context, a voxgate.Actor) (voxgate.IdentificationSettings, error) {
	if err := a.RequireAdmin(); err != nil {
		return voxgate.IdentificationSettings{}, err
	}
	p, err := s.watchlistPolicy(ctx, a.TenantID)
	return voxgate.IdentificationSettings{WatchlistPolicy: p}, err
}

// SetIdentificationSettings stores the tenant's identification settings
// (admin only). Returns EINVALID for an unknown policy.
func (s *Service) SetIdentificationSettings(ctx context.Context, a voxgate.Actor, st voxgate.IdentificationSettings) error {
	if err := a.RequireAdmin(); err != nil {
		return err
	}
	if err := st.Validate(); err != nil {
		return err
	}
	return s.store.SetIdentificationSettings(ctx, a.TenantID, st, s.now().UTC())
}

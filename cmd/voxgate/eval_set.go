package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"voxgate"
	"voxgate/eval"
	"voxgate/service"
	"voxgate/store/sqlite"
)

// refusedScore stands for a trial the service refused to score: below any
// threshold, as a refusal never accepts.
const refusedScore = -100

// evalSet enrolls every model of the set and scores every trial through a
// fresh service over a temporary SQLite store: the same calls the HTTP API
// makes, with attempt limits and learning off so that trial order does not
// matter. With o.outsiders, each nontarget trial is verified in a tenant
// where its impostor is not enrolled (eval_outsiders.go).
func evalSet(ctx context.Context, set *eval.Set, eng engineBundle, o evalOptions, stderr io.Writer) (*setReport, *eval.Scores, float64, error) {
	rep := &setReport{}
	if len(set.Trials) == 0 {
		return rep, nil, 0, nil
	}
	tmp, err := os.MkdirTemp("", "voxgate-eval-")
	if err != nil {
		return nil, nil, 0, err
	}
	defer os.RemoveAll(tmp)
	db, err := sqlite.Open(ctx, filepath.Join(tmp, "eval.db"))
	if err != nil {
		return nil, nil, 0, err
	}
	defer db.Close()
	svc, err := evalService(db, set, eng)
	if err != nil {
		return nil, nil, 0, err
	}
	// The outsiders' tenants serve the outsiders protocol and the
	// non-mated identification searches (eval_identify.go).
	outsiders := planOutsiders(set)
	var plan outsiderPlan // the zero plan verifies every trial in the full tenant
	if o.outsiders {
		plan = outsiders
	}
	tenants := plan.tenants(set)
	total := len(set.Trials) + plan.extraEnrollments(set)
	if o.identify {
		tenants = outsiders.tenants(set)
		total = len(set.Trials) + outsiders.extraEnrollments(set) + len(identProbes(set, outsiders))
	}
	for _, e := range set.Enroll {
		total += len(e.Paths)
	}
	prog := newProgress(stderr, set.Name, total)
	defer prog.done()
	if err := enrollTenants(ctx, svc, set, tenants, o.workers, prog); err != nil {
		return nil, nil, 0, err
	}
	// The report counts the full tenant's enrollment only, so that it reads
	// the same under both protocols; the audio seconds count every
	// recording analysed, as the CPU seconds beside them do.
	full := tenants[0]
	sp := &speakerReport{EnrollSamples: full.samples, RefusedSamples: full.refused}
	var audioSeconds float64
	actors := make([]voxgate.Actor, len(tenants))
	for i, t := range tenants {
		actors[i] = t.actor
		audioSeconds += t.audioSeconds
	}
	for _, e := range set.Enroll {
		if p, err := svc.Profile(ctx, full.actor, e.Model); err == nil && !p.Enrolled() {
			sp.UnenrolledModels = append(sp.UnenrolledModels, e.Model)
		}
	}
	tl := &tally{sp: sp}
	if err := scoreTrials(ctx, svc, plan.route(set, actors), o.workers, prog, tl); err != nil {
		return nil, nil, 0, err
	}
	audioSeconds += tl.audioSeconds
	if o.identify {
		if rep.Identification, err = identifySet(ctx, svc, set, outsiders, actors, o.workers, prog); err != nil {
			return nil, nil, 0, err
		}
	}
	scores := &tl.scores
	sort.Float64s(scores.Target)
	sort.Float64s(scores.Nontarget)
	if len(scores.Target) > 0 && len(scores.Nontarget) > 0 {
		sp.setFigures(scores, eng.Engine.Calibration.Threshold)
		if tl.hasThreshold {
			sp.setApplied(&tl.margins, tl.targetThreshold, eng.Engine.Calibration.Threshold)
		}
		rep.Speaker = sp
	}
	if tl.spoofTrials > 0 {
		iapar := round4(float64(tl.spoofAccepted) / float64(tl.spoofTrials))
		rep.Spoof = &spoofReport{IAPAR: &iapar, SpoofTrials: tl.spoofTrials}
	}
	return rep, scores, audioSeconds, nil
}

// evalService builds the service a set is measured through: the shipped
// policies with attempt limits and learning off, and every model enrolled
// from whatever speech its set gives.
func evalService(db *sqlite.DB, set *eval.Set, eng engineBundle) (*service.Service, error) {
	cfg := service.DefaultConfig()
	cfg.DisableLimits, cfg.DisableLearning = true, true
	cfg.RequiredSpeech = 0.5 // every model enrolls from what its set gives
	// Error rates are measured with whatever models the folder holds (a
	// set with spoof.csv requires the deepfake detector, see runEval).
	cfg.Degraded = true
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	// Synthetic-speech detection costs a second or so per trial and says
	// nothing about speaker error rates: sets without spoof trials are
	// scored without it (it is measured on spoof.csv sets and in IAPAR).
	en := eng.Engine
	hasSpoofTrials := false
	for _, t := range set.Trials {
		hasSpoofTrials = hasSpoofTrials || t.Label == eval.Spoof
	}
	if !hasSpoofTrials && en.Spoof != nil {
		copied := *en
		copied.Spoof = nil
		en = &copied
	}
	return service.New(db, service.Options{Engine: en, Sealer: sealer, Config: cfg}), nil
}

// evalTenant is one tenant (organisation) of an evaluation: its name, the
// model left out of it ("" for none), and, once enrolled, its admin actor
// and what its enrollment kept and refused.
type evalTenant struct {
	name, skip       string
	actor            voxgate.Actor
	samples, refused int
	audioSeconds     float64
}

// enrollTenants enrolls the tenants side by side on up to workers
// goroutines, each tenant's recordings one after another in enroll.csv
// order, so that every tenant holds its models' samples in the same order.
func enrollTenants(ctx context.Context, svc *service.Service, set *eval.Set, tenants []evalTenant, workers int, prog *progress) error {
	return forEach(len(tenants), workers, func(i int) error {
		return enrollTenant(ctx, svc, set, &tenants[i], prog)
	})
}

// enrollTenant creates tenant t with an admin key of its own and enrolls
// every model of the set but t.skip from all its enrollment recordings.
// Recordings the enrollment gate refuses are counted, not fatal: the
// model's trials then meet the service's own answer to a thin enrollment.
func enrollTenant(ctx context.Context, svc *service.Service, set *eval.Set, t *evalTenant, prog *progress) error {
	nk, err := svc.CreateKey(ctx, t.name, voxgate.ScopeAdmin, "", 0)
	if err != nil {
		return err
	}
	if t.actor, err = svc.Authenticate(ctx, nk.Key); err != nil {
		return err
	}
	for _, e := range set.Enroll {
		if e.Model == t.skip {
			continue
		}
		if _, _, err := svc.CreateProfile(ctx, t.actor, e.Model); err != nil {
			return err
		}
		for _, p := range e.Paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			res, err := svc.Enroll(ctx, t.actor, e.Model, data)
			prog.add(1)
			switch code := voxgate.ErrorCode(err); code {
			case "":
				t.samples++
				t.audioSeconds += res.Sample.DurationS
			case voxgate.EAUDIOTOOSHORT, voxgate.ENOSPEECH, voxgate.ETOONOISY, voxgate.ECLIPPED, voxgate.ECONFLICT:
				t.refused++
			default:
				return fmt.Errorf("enroll %s with %s: %w", e.Model, p, err)
			}
		}
	}
	return nil
}

// trialJob is one trial and the actor of the tenant it is verified in.
type trialJob struct {
	eval.Trial
	actor voxgate.Actor
}

// scoreTrials verifies every job on up to workers goroutines into tl.
func scoreTrials(ctx context.Context, svc *service.Service, jobs []trialJob, workers int, prog *progress, tl *tally) error {
	return forEach(len(jobs), workers, func(i int) error {
		j := jobs[i]
		defer prog.add(1)
		res, err := verifyTrial(ctx, svc, j)
		if err != nil {
			return fmt.Errorf("trial %s against %s: %w", j.Path, j.Model, err)
		}
		tl.add(j.Label, res)
		return nil
	})
}

// verifyTrial verifies one trial's recording against its model.
func verifyTrial(ctx context.Context, svc *service.Service, j trialJob) (*service.VerifyResult, error) {
	data, err := os.ReadFile(j.Path)
	if err != nil {
		return nil, err
	}
	res, err := svc.Verify(ctx, j.actor, service.VerifyRequest{UserID: j.Model, Audio: data})
	if voxgate.ErrorCode(err) == voxgate.EENROLLINCOMPLETE {
		// Every enrollment sample of the model was refused: the service
		// answers every trial with an error, which never accepts.
		return &service.VerifyResult{}, nil
	}
	return res, err
}

// tally gathers the outcomes of a set's trials; the scoring workers share
// it under mu.
type tally struct {
	mu     sync.Mutex
	scores eval.Scores
	// margins are the scores minus the threshold the service applied to
	// each trial; targetThreshold is the last one a target trial met.
	margins                    eval.Scores
	targetThreshold            float64
	hasThreshold               bool
	sp                         *speakerReport // accepted and refused counts
	spoofTrials, spoofAccepted int
	audioSeconds               float64
}

// add records one trial's result. A result without quality report or
// calibration is a refusal (quality gate, incomplete enrollment): it scores
// refusedScore and counts in RefusedTrials.
func (t *tally) add(label string, res *service.VerifyResult) {
	score := res.Calibration.NormalizedScore
	refused := res.Quality == nil || res.Calibration == (service.Calibration{})
	if refused {
		score = refusedScore
	}
	margin := score - res.Thresholds.Voice
	if refused {
		margin = refusedScore
	}
	accepted := res.Decision.Decision == "accept"
	t.mu.Lock()
	defer t.mu.Unlock()
	if res.Quality != nil {
		t.audioSeconds += res.Quality.DurationS
	}
	switch label {
	case eval.Target:
		t.scores.Target = append(t.scores.Target, score)
		t.margins.Target = append(t.margins.Target, margin)
		if !refused {
			t.targetThreshold, t.hasThreshold = res.Thresholds.Voice, true
		}
		if accepted {
			t.sp.AcceptedTargets++
		}
	case eval.Nontarget:
		t.scores.Nontarget = append(t.scores.Nontarget, score)
		t.margins.Nontarget = append(t.margins.Nontarget, margin)
		if accepted {
			t.sp.AcceptedNontargets++
		}
	case eval.Spoof:
		t.spoofTrials++
		if accepted {
			t.spoofAccepted++
		}
	}
	if refused && label != eval.Spoof {
		t.sp.RefusedTrials++
	}
}

// setFigures fills the error rates from scores that hold both classes: EER,
// minDCF, the rates at the engine's calibrated threshold thr, and FRR at the
// thresholds where the measured FAR first falls to 1 % and 0.1 %.
func (sp *speakerReport) setFigures(scores *eval.Scores, thr float64) {
	eer, _ := scores.EER()
	dcf, _ := scores.MinDCF(0.01)
	far, frr := scores.Rates(thr)
	sp.EER, sp.MinDCF, sp.FAR, sp.FRR, sp.Threshold = round4(eer), round4(dcf), round4(far), round4(frr), round4(thr)
	sp.TargetTrials, sp.NontargetTrials = len(scores.Target), len(scores.Nontarget)
	at1, at01 := scores.AtFAR(0.01), scores.AtFAR(0.001)
	sp.FRRAtFAR1pct, sp.ThresholdAtFAR1pct = round4(at1.FRR), finiteThreshold(at1.Threshold)
	sp.FRRAtFAR01pct, sp.ThresholdAtFAR01pct = round4(at01.FRR), finiteThreshold(at01.Threshold)
}

// setApplied replaces FAR and FRR at the model's threshold with the rates
// at the thresholds the service applied (margins: score minus threshold, per
// trial); applied is the full tenant's, global the model's.
func (sp *speakerReport) setApplied(margins *eval.Scores, applied, global float64) {
	if len(margins.Target) == 0 || len(margins.Nontarget) == 0 {
		return
	}
	far, frr := margins.Rates(0)
	sp.FAR, sp.FRR, sp.Threshold, sp.DomainShift = round4(far), round4(frr), round4(applied), round4(applied-global)
}

// finiteThreshold rounds a threshold for the report, or gives nil for the
// infinite ones of the DET sweep's ends, which JSON cannot carry: +Inf when
// only rejecting every trial reaches the false-accept rate.
func finiteThreshold(x float64) *float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return nil
	}
	r := round4(x)
	return &r
}

// forEach calls do(i) for every i in [0, n) on up to workers goroutines and
// returns the first error; after one, the remaining calls are skipped.
func forEach(n, workers int, do func(i int) error) error {
	next := make(chan int)
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
		once   sync.Once
		first  error
	)
	for range max(1, min(workers, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if failed.Load() {
					continue
				}
				if err := do(i); err != nil {
					failed.Store(true)
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"voxgate"
	"voxgate/eval"
	"voxgate/service"
)

// Identification (1:N) on a set: every distinct trial recording whose
// speaker is an enrolled model (the target trials say whose it is) is
// searched twice through the service's Identify, as the API would:
//
//   - mated, among every model of the set: a hit at threshold t when the
//     first candidate is the speaker with a score of at least t (rank 1);
//   - non-mated, in the tenant where the speaker's own model was never
//     enrolled (the outsiders protocol's tenants, eval_outsiders.go): a false
//     positive at t when the first candidate scores at least t. Leaving the
//     model out of the whole tenant, not only out of the search, also takes
//     the speaker out of the tenant cohort and the rival check, as for a
//     voice that was never enrolled.
//
// FNIR at FPIR 1 % is read on the set's own searches (the threshold that
// lets at most 1 % of non-mated searches through); FPIR and FNIR at the
// service's calibrated open-set threshold are what the API decides.

// identReport is a set's identification figures.
type identReport struct {
	MatedSearches    int     `json:"mated_searches"`
	NonmatedSearches int     `json:"nonmated_searches"`
	Gallery          int     `json:"gallery"`
	Rank1            float64 `json:"rank1_rate"`
	// FNIRAtFPIR1pct is the false-negative identification rate at the
	// lowest threshold whose measured FPIR is at most 1 %.
	FNIRAtFPIR1pct      float64  `json:"fnir_at_fpir_1pct"`
	ThresholdAtFPIR1pct *float64 `json:"threshold_at_fpir_1pct"`
	// FPIR and FNIR are the rates of the service's decisions, at its
	// calibrated open-set threshold (Threshold, for the full gallery).
	FPIR      float64 `json:"fpir"`
	FNIR      float64 `json:"fnir"`
	Threshold float64 `json:"threshold"`
	FPIRGoal  float64 `json:"fpir_target"`
	// Refused searches were unusable audio: misses, and never false
	// positives.
	Refused int `json:"refused_searches"`
}

// identProbe is one recording to search and its speaker's model.
type identProbe struct {
	path, model string
}

// identProbes returns the set's distinct trial recordings of enrolled
// speakers, in trials.csv order.
func identProbes(set *eval.Set, plan outsiderPlan) []identProbe {
	seen := map[string]bool{}
	var out []identProbe
	for _, t := range set.Trials {
		p := filepath.Clean(t.Path)
		if seen[p] || t.Label == eval.Spoof {
			continue
		}
		seen[p] = true
		if m := plan.owners[p]; m != "" {
			out = append(out, identProbe{path: t.Path, model: m})
		}
	}
	return out
}

// identifySet runs the mated and non-mated searches. actors follows
// plan.tenants(set): the full tenant first, then one without each model of
// plan.without.
func identifySet(ctx context.Context, svc *service.Service, set *eval.Set, plan outsiderPlan, actors []voxgate.Actor, workers int, prog *progress) (*identReport, error) {
	probes := identProbes(set, plan)
	without := map[string]voxgate.Actor{}
	for i, m := range plan.without {
		without[m] = actors[i+1]
	}
	var (
		mu     sync.Mutex
		scores eval.Scores
		rep    = &identReport{FPIRGoal: service.DefaultFPIR}
		rank1  int
		fp, fn int
	)
	miss := math.Inf(-1)
	err := forEach(len(probes), workers, func(i int) error {
		p := probes[i]
		defer prog.add(1)
		data, err := os.ReadFile(p.path)
		if err != nil {
			return err
		}
		mated, err := svc.Identify(ctx, actors[0], service.IdentifyRequest{Audio: data, Top: 1})
		if err != nil {
			return fmt.Errorf("identify %s: %w", p.path, err)
		}
		var non *service.IdentifyResult
		if a, ok := without[p.model]; ok {
			if non, err = svc.Identify(ctx, a, service.IdentifyRequest{Audio: data, Top: 1}); err != nil {
				return fmt.Errorf("identify %s without %s: %w", p.path, p.model, err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		rep.MatedSearches++
		if mated.Decision == service.IdentifyRetry {
			rep.Refused++
		}
		hit := len(mated.Candidates) > 0 && mated.Candidates[0].UserID == p.model
		score := miss
		if hit {
			rank1++
			score = mated.Candidates[0].Score
		}
		scores.Target = append(scores.Target, score)
		if !(hit && mated.Decision == service.Identified) {
			fn++
		}
		rep.Gallery, rep.Threshold = max(rep.Gallery, mated.Gallery), mated.Threshold
		if non == nil {
			return nil
		}
		rep.NonmatedSearches++
		score = miss
		if len(non.Candidates) > 0 && non.Decision != service.IdentifyRetry {
			score = non.Candidates[0].Score
		}
		scores.Nontarget = append(scores.Nontarget, score)
		if non.Decision == service.Identified {
			fp++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rep.MatedSearches == 0 {
		return nil, nil
	}
	rep.Rank1 = round4(float64(rank1) / float64(rep.MatedSearches))
	rep.FNIR = round4(float64(fn) / float64(rep.MatedSearches))
	if rep.NonmatedSearches > 0 {
		sort.Float64s(scores.Target)
		sort.Float64s(scores.Nontarget)
		at := scores.AtFAR(0.01)
		rep.FNIRAtFPIR1pct, rep.ThresholdAtFPIR1pct = round4(at.FRR), finiteThreshold(at.Threshold)
		rep.FPIR = round4(float64(fp) / float64(rep.NonmatedSearches))
	}
	return rep, nil
}

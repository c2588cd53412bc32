package main

import (
	"fmt"
	"path/filepath"

	"voxgate"
	"voxgate/eval"
)

// The impostor protocols of `voxgate eval`. The dev sets enroll every
// speaker in one tenant, so each nontarget trial's impostor is an insider:
// an enrolled user of the tenant, whom the rival rule and the tenant cohort
// (speaker/cohort.go) know and exploit. A fraudster calling in on someone's
// account is usually not enrolled; the outsiders protocol measures him by
// scoring each nontarget trial in a tenant where the impostor's own model
// is left out.
const (
	protocolInsiders  = "insiders"
	protocolOutsiders = "outsiders"
)

// outsiderPlan says in which tenant each trial of a set is verified under
// the outsiders protocol.
type outsiderPlan struct {
	// owners maps each recording whose speaker the set tells, by cleaned
	// path, to that speaker's model.
	owners map[string]string
	// without lists, in enroll.csv order, the models that are the impostor
	// of some nontarget trial: each gets a tenant of its own absence.
	without []string
}

// planOutsiders reads from the set who speaks in which recording: the
// enrollment recordings and the target trials' recordings are their
// model's voice. A recording claimed by two models keeps the first claim
// (enroll.csv before trials.csv, each in file order); the dev sets have no
// such recording.
func planOutsiders(set *eval.Set) outsiderPlan {
	p := outsiderPlan{owners: map[string]string{}}
	claim := func(model, path string) {
		path = filepath.Clean(path)
		if _, ok := p.owners[path]; !ok {
			p.owners[path] = model
		}
	}
	for _, e := range set.Enroll {
		for _, path := range e.Paths {
			claim(e.Model, path)
		}
	}
	for _, t := range set.Trials {
		if t.Label == eval.Target {
			claim(t.Model, t.Path)
		}
	}
	needed := map[string]bool{}
	for _, t := range set.Trials {
		if s := p.impostor(t); s != "" {
			needed[s] = true
		}
	}
	for _, e := range set.Enroll {
		if needed[e.Model] {
			p.without = append(p.without, e.Model)
		}
	}
	return p
}

// impostor returns the model to leave out of the tenant in which trial t
// is verified, or "" to verify it in the full tenant: target and spoof
// trials, a nontarget recording of no model of the set (its speaker is an
// outsider already), and a nontarget recording of the claimed model itself
// (a labelling slip: leaving him out would leave no one to verify against).
func (p outsiderPlan) impostor(t eval.Trial) string {
	if t.Label != eval.Nontarget {
		return ""
	}
	s := p.owners[filepath.Clean(t.Path)]
	if s == t.Model {
		return ""
	}
	return s
}

// extraEnrollments is how many enrollment recordings the tenants of the
// plan add to the full tenant's, for the progress total.
func (p outsiderPlan) extraEnrollments(set *eval.Set) int {
	all, paths := 0, map[string]int{}
	for _, e := range set.Enroll {
		all += len(e.Paths)
		paths[e.Model] += len(e.Paths)
	}
	n := 0
	for _, s := range p.without {
		n += all - paths[s]
	}
	return n
}

// tenants returns the tenants to enroll for the plan: the full one first,
// then one without each impostor. Those are named by the impostor's place
// in enroll.csv, as a model id may hold characters a tenant name may not.
func (p outsiderPlan) tenants(set *eval.Set) []evalTenant {
	ts := []evalTenant{{name: "eval"}}
	index := map[string]int{}
	for i, e := range set.Enroll {
		index[e.Model] = i
	}
	for _, s := range p.without {
		ts = append(ts, evalTenant{name: fmt.Sprintf("eval-without-%d", index[s]), skip: s})
	}
	return ts
}

// route returns the actor of the tenant each trial is verified in: the
// full tenant's (actors[0]), or the one without the trial's impostor.
// actors follows the order of tenants.
func (p outsiderPlan) route(set *eval.Set, actors []voxgate.Actor) []trialJob {
	without := map[string]voxgate.Actor{}
	for i, s := range p.without {
		without[s] = actors[i+1]
	}
	jobs := make([]trialJob, len(set.Trials))
	for i, t := range set.Trials {
		jobs[i] = trialJob{Trial: t, actor: actors[0]}
		if a, ok := without[p.impostor(t)]; ok {
			jobs[i].actor = a
		}
	}
	return jobs
}

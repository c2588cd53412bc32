package eval

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Embedding is what a speaker system extracts from one recording.
type Embedding struct {
	Vector        []float32
	AudioSeconds  float64 // duration of the decoded recording
	SpeechSeconds float64 // net speech in it, used to weight enrollment
}

// SpeakerSystem is the speaker engine under test, given as the very
// functions the service calls.
type SpeakerSystem struct {
	// Embed decodes and embeds the recording at path.
	Embed func(ctx context.Context, path string) (Embedding, error)
	// Enroll builds a template from a model's enrollment embeddings.
	Enroll func(embs []Embedding) []float32
	// Score compares a probe with a template; higher means same speaker.
	Score func(template, probe []float32) float64
	// Threshold is the service's operating threshold on Score's scale.
	Threshold float64
}

// SpeakerResult holds the speaker-verification figures of one set. Rates are
// fractions (0.05 = 5%).
type SpeakerResult struct {
	EER             float64 `json:"eer"`
	MinDCF          float64 `json:"min_dcf"` // p_target 0.01, Cmiss = Cfa = 1, normalised
	FAR             float64 `json:"far"`     // at Threshold
	FRR             float64 `json:"frr"`     // at Threshold
	Threshold       float64 `json:"threshold"`
	TargetTrials    int     `json:"target_trials"`
	NontargetTrials int     `json:"nontarget_trials"`
	AudioSeconds    float64 `json:"audio_seconds"` // decoded audio embedded, each file once
	CPUSeconds      float64 `json:"cpu_seconds"`   // process CPU time spent in the run
	Scores          Scores  `json:"-"`
}

// RTF returns CPU seconds per audio second.
func (r SpeakerResult) RTF() float64 {
	if r.AudioSeconds == 0 {
		return 0
	}
	return r.CPUSeconds / r.AudioSeconds
}

// DCFTarget is the target prior of the reported minDCF.
const DCFTarget = 0.01

// Speaker enrolls every model of set from its enrollment recordings, scores
// each target and nontarget trial (spoof trials are left to the spoof
// evaluation) and returns the figures. Each recording is embedded once.
// progress, when not nil, is called after each embedded recording with the
// count done and the total.
func Speaker(ctx context.Context, set *Set, sys SpeakerSystem, progress func(done, total int)) (SpeakerResult, error) {
	var res SpeakerResult
	if len(set.Enroll) == 0 || len(set.Trials) == 0 {
		return res, fmt.Errorf("eval: set %s has no speaker trials", set.Name)
	}
	var paths []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	for _, e := range set.Enroll {
		for _, p := range e.Paths {
			add(p)
		}
	}
	for _, t := range set.Trials {
		if t.Label != Spoof {
			add(t.Path)
		}
	}
	cpu0 := cpuTime()
	embs := make(map[string]Embedding, len(paths))
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		e, err := sys.Embed(ctx, p)
		if err != nil {
			return res, fmt.Errorf("eval: %s: %w", p, err)
		}
		embs[p] = e
		res.AudioSeconds += e.AudioSeconds
		if progress != nil {
			progress(i+1, len(paths))
		}
	}
	templates := make(map[string][]float32, len(set.Enroll))
	for _, e := range set.Enroll {
		var list []Embedding
		for _, p := range e.Paths {
			list = append(list, embs[p])
		}
		templates[e.Model] = sys.Enroll(list)
	}
	for _, t := range set.Trials {
		switch t.Label {
		case Target:
			res.Scores.Target = append(res.Scores.Target, sys.Score(templates[t.Model], embs[t.Path].Vector))
		case Nontarget:
			res.Scores.Nontarget = append(res.Scores.Nontarget, sys.Score(templates[t.Model], embs[t.Path].Vector))
		}
	}
	res.CPUSeconds = (cpuTime() - cpu0).Seconds()
	res.TargetTrials, res.NontargetTrials = len(res.Scores.Target), len(res.Scores.Nontarget)
	res.EER, _ = res.Scores.EER()
	res.MinDCF, _ = res.Scores.MinDCF(DCFTarget)
	res.Threshold = sys.Threshold
	res.FAR, res.FRR = res.Scores.Rates(sys.Threshold)
	return res, nil
}

// cpuTime returns the user plus system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

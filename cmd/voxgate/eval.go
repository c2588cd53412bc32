package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"voxgate"
	"voxgate/antispoof"
	"voxgate/eval"
	"voxgate/phrase"
	"voxgate/service"
	"voxgate/store/sqlite"
)

// evalOptions are the flags of `voxgate eval`.
type evalOptions struct {
	asJSON    bool
	plot      string
	models    string
	targetFAR float64
	workers   int
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stderr)
	var o evalOptions
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	fs.StringVar(&o.plot, "plot", "", "draw the DET curves of all sets into `FILE.png`")
	fs.StringVar(&o.models, "models", envOr("VOXGATE_MODELS", ""), "models `DIR` (default ./models, then ../shared/models)")
	fs.Float64Var(&o.targetFAR, "far", 0.01, "target false-accept rate of the operating threshold")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "trials scored in parallel")
	var dirs []string
	for len(args) > 0 {
		if err := parse(fs, args); err != nil {
			if errors.Is(err, errHelp) {
				return nil
			}
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(dirs) == 0 {
		fmt.Fprintln(stderr, "usage: voxgate eval SETDIR... [--json] [--plot FILE.png] [--models DIR] [--far 0.01]")
		return errUsage
	}
	modelsDir, err := resolveModels(o.models)
	if err != nil {
		return err
	}
	// Warnings (a model missing from the folder, so that a cruder fallback
	// is measured) go to stderr: the figures are only the service's when
	// its models are.
	eng, err := buildEngine(modelsDir, o.targetFAR, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	report := evalReport{Sets: map[string]*setReport{}}
	var audioSeconds, cpuSeconds float64
	var curves []eval.Curve
	for _, dir := range dirs {
		set, err := eval.ReadSet(dir)
		if err != nil {
			return err
		}
		cpu0 := cpuTime()
		rep, scores, secs, err := evalSet(ctx, set, eng, o, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", set.Name, err)
		}
		if len(set.Spoofs) > 0 {
			d, ok := eng.Spoof.(*antispoof.Detector)
			if !ok {
				return fmt.Errorf("%s has spoof.csv but no anti-spoofing model is loaded (models folder %q)", set.Name, modelsDir)
			}
			sr, err := antispoof.EvalSet(ctx, d, filepath.Join(set.Dir, "spoof.csv"))
			if err != nil {
				return fmt.Errorf("%s spoof: %w", set.Name, err)
			}
			if rep.Spoof == nil {
				rep.Spoof = &spoofReport{}
			}
			rep.Spoof.SetResult = sr
		}
		if len(set.Phrases) > 0 {
			if eng.Phrase == nil {
				return fmt.Errorf("%s has phrases.csv but no speech recogniser is installed (Debian pocketsphinx-en-us)", set.Name)
			}
			pe, err := phrase.EvalSet(ctx, eng.Phrase.(*phrase.Recognizer), filepath.Join(set.Dir, "phrases.csv"))
			if err != nil {
				return fmt.Errorf("%s phrases: %w", set.Name, err)
			}
			rep.Phrase = &pe
			secs += pe.AudioSeconds
		}
		cpu := cpuTime() - cpu0
		rep.AudioSeconds, rep.CPUSeconds = round3(secs), round3(cpu)
		if secs > 0 {
			rep.RTF = round4(cpu / secs)
		}
		audioSeconds += secs
		cpuSeconds += cpu
		report.Sets[set.Name] = rep
		if scores != nil {
			curves = append(curves, eval.Curve{Name: set.Name, Points: scores.DET()})
		}
	}
	if audioSeconds > 0 {
		report.RTF = round4(cpuSeconds / audioSeconds)
	}
	report.ModelVersion = eng.Speaker.Version()
	report.TargetFAR = o.targetFAR
	if o.plot != "" {
		f, err := os.Create(o.plot)
		if err != nil {
			return err
		}
		if err := eval.PlotDET(f, curves); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	printReport(stdout, report)
	return nil
}

type evalReport struct {
	Sets         map[string]*setReport `json:"sets"`
	RTF          float64               `json:"rtf"`
	ModelVersion string                `json:"model_version"`
	TargetFAR    float64               `json:"target_far"`
}

type setReport struct {
	Speaker      *speakerReport `json:"speaker,omitempty"`
	Phrase       *phrase.Eval   `json:"phrase,omitempty"`
	Spoof        *spoofReport   `json:"spoof,omitempty"`
	AudioSeconds float64        `json:"audio_seconds"`
	CPUSeconds   float64        `json:"cpu_seconds"`
	RTF          float64        `json:"rtf"`
}

// spoofReport is the synthetic-speech detector on a spoof.csv set, plus,
// for sets whose trials include spoofs, the share of spoof trials the fused
// decision accepted (IAPAR, ISO/IEC 30107-3).
type spoofReport struct {
	antispoof.SetResult
	IAPAR       *float64 `json:"iapar,omitempty"`
	SpoofTrials int      `json:"spoof_trials,omitempty"`
}

type speakerReport struct {
	EER             float64 `json:"eer"`
	MinDCF          float64 `json:"min_dcf"`
	FAR             float64 `json:"far"`
	FRR             float64 `json:"frr"`
	Threshold       float64 `json:"threshold"`
	TargetTrials    int     `json:"target_trials"`
	NontargetTrials int     `json:"nontarget_trials"`
	// RefusedTrials were refused by the quality gate: they count as
	// rejections, as the service would answer them.
	RefusedTrials int `json:"refused_trials"`
	// EnrollSamples and RefusedSamples count enrollment recordings kept and
	// refused by the enrollment gate.
	EnrollSamples  int `json:"enroll_samples"`
	RefusedSamples int `json:"refused_samples"`
	// UnenrolledModels had every enrollment sample refused; their trials
	// count as refused.
	UnenrolledModels []string `json:"unenrolled_models,omitempty"`
	// Accepted is how many trials the fused decision accepted.
	AcceptedTargets    int `json:"accepted_targets"`
	AcceptedNontargets int `json:"accepted_nontargets"`
}

// refusedScore stands for a trial the service refused to score: below any
// threshold, as a refusal never accepts.
const refusedScore = -100

// evalSet enrolls every model of the set and scores every trial through a
// fresh service over a temporary SQLite store: the same calls the HTTP API
// makes, with attempt limits and learning off so that trial order does not
// matter.
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
	cfg := service.DefaultConfig()
	cfg.DisableLimits, cfg.DisableLearning = true, true
	cfg.RequiredSpeech = 0.5 // every model enrolls from what its set gives
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := newSealer(key)
	if err != nil {
		return nil, nil, 0, err
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
	svc := service.New(db, service.Options{Engine: en, Sealer: sealer, Config: cfg})
	nk, err := svc.CreateKey(ctx, "eval", voxgate.ScopeAdmin, "", 0)
	if err != nil {
		return nil, nil, 0, err
	}
	actor, err := svc.Authenticate(ctx, nk.Key)
	if err != nil {
		return nil, nil, 0, err
	}
	sp := &speakerReport{}
	var audioSeconds float64
	var mu sync.Mutex
	total := len(set.Trials)
	for _, e := range set.Enroll {
		total += len(e.Paths)
	}
	prog := newProgress(stderr, set.Name, total)
	defer prog.done()
	for _, e := range set.Enroll {
		if _, _, err := svc.CreateProfile(ctx, actor, e.Model); err != nil {
			return nil, nil, 0, err
		}
		for _, p := range e.Paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, 0, err
			}
			res, err := svc.Enroll(ctx, actor, e.Model, data)
			prog.add(1)
			switch code := voxgate.ErrorCode(err); code {
			case "":
				sp.EnrollSamples++
				audioSeconds += res.Sample.DurationS
			case voxgate.EAUDIOTOOSHORT, voxgate.ENOSPEECH, voxgate.ETOONOISY, voxgate.ECLIPPED, voxgate.ECONFLICT:
				sp.RefusedSamples++
			default:
				return nil, nil, 0, fmt.Errorf("enroll %s with %s: %w", e.Model, p, err)
			}
		}
	}
	for _, e := range set.Enroll {
		if p, err := svc.Profile(ctx, actor, e.Model); err == nil && !p.Enrolled() {
			sp.UnenrolledModels = append(sp.UnenrolledModels, e.Model)
		}
	}
	scores := &eval.Scores{}
	var spoofTrials, spoofAccepted int
	jobs := make(chan eval.Trial)
	errc := make(chan error, o.workers)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < max(1, o.workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				if failed.Load() {
					continue
				}
				data, err := os.ReadFile(t.Path)
				if err == nil {
					var res *service.VerifyResult
					res, err = svc.Verify(ctx, actor, service.VerifyRequest{UserID: t.Model, Audio: data})
					if voxgate.ErrorCode(err) == voxgate.EENROLLINCOMPLETE {
						// Every enrollment sample of the model was refused:
						// the service answers every trial with an error,
						// which never accepts.
						res, err = &service.VerifyResult{}, nil
					}
					if err == nil {
						mu.Lock()
						score := res.Calibration.NormalizedScore
						refused := res.Quality == nil || res.Calibration == (service.Calibration{})
						if refused {
							score = refusedScore
						}
						if res.Quality != nil {
							audioSeconds += res.Quality.DurationS
						}
						accepted := res.Decision.Decision == "accept"
						switch t.Label {
						case eval.Target:
							scores.Target = append(scores.Target, score)
							if accepted {
								sp.AcceptedTargets++
							}
						case eval.Nontarget:
							scores.Nontarget = append(scores.Nontarget, score)
							if accepted {
								sp.AcceptedNontargets++
							}
						case eval.Spoof:
							spoofTrials++
							if accepted {
								spoofAccepted++
							}
						}
						if refused && t.Label != eval.Spoof {
							sp.RefusedTrials++
						}
						mu.Unlock()
					}
				}
				prog.add(1)
				if err != nil && !failed.Swap(true) {
					errc <- fmt.Errorf("trial %s against %s: %w", t.Path, t.Model, err)
				}
			}
		}()
	}
	for _, t := range set.Trials {
		jobs <- t
	}
	close(jobs)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, nil, 0, err
	}
	sort.Float64s(scores.Target)
	sort.Float64s(scores.Nontarget)
	if len(scores.Target) > 0 && len(scores.Nontarget) > 0 {
		eer, _ := scores.EER()
		dcf, _ := scores.MinDCF(0.01)
		thr := eng.Engine.Calibration.Threshold
		far, frr := scores.Rates(thr)
		sp.EER, sp.MinDCF, sp.FAR, sp.FRR, sp.Threshold = round4(eer), round4(dcf), round4(far), round4(frr), round4(thr)
		sp.TargetTrials, sp.NontargetTrials = len(scores.Target), len(scores.Nontarget)
		rep.Speaker = sp
	}
	if spoofTrials > 0 {
		iapar := round4(float64(spoofAccepted) / float64(spoofTrials))
		rep.Spoof = &spoofReport{IAPAR: &iapar, SpoofTrials: spoofTrials}
	}
	return rep, scores, audioSeconds, nil
}

func printReport(w io.Writer, r evalReport) {
	names := make([]string, 0, len(r.Sets))
	for n := range r.Sets {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "model %s, operating point FAR %.3g\n\n", r.ModelVersion, r.TargetFAR)
	fmt.Fprintf(w, "%-18s %7s %7s %7s %7s %9s %8s %8s %8s %7s\n", "set", "EER", "minDCF", "FAR", "FRR", "threshold", "targets", "nontgt", "refused", "RTF")
	for _, n := range names {
		s := r.Sets[n]
		if sp := s.Speaker; sp != nil {
			fmt.Fprintf(w, "%-18s %6.2f%% %7.4f %6.2f%% %6.2f%% %9.4f %8d %8d %8d %7.4f\n", n, 100*sp.EER, sp.MinDCF, 100*sp.FAR, 100*sp.FRR,
				sp.Threshold, sp.TargetTrials, sp.NontargetTrials, sp.RefusedTrials, s.RTF)
		}
	}
	for _, n := range names {
		if sp := r.Sets[n].Spoof; sp != nil {
			if sp.Bonafide > 0 {
				fmt.Fprintf(w, "spoof  %-11s EER %6.2f%% (raw AASIST %6.2f%%)  APCER %6.2f%%  BPCER %6.2f%% at %.3f  (%d bona fide, %d spoofed)\n",
					n, 100*sp.EER, 100*sp.AASISTEER, 100*sp.APCER, 100*sp.BPCER, sp.Threshold, sp.Bonafide, sp.Spoofed)
			}
			if sp.IAPAR != nil {
				fmt.Fprintf(w, "spoof  %-11s IAPAR %6.2f%% of %d spoof trials accepted by the fused decision\n", n, 100**sp.IAPAR, sp.SpoofTrials)
			}
		}
	}
	for _, n := range names {
		if p := r.Sets[n].Phrase; p != nil {
			fmt.Fprintf(w, "phrase %-11s EER %6.2f%%  FRR %6.2f%%  FAR %6.2f%% at %.3f  (%d match, %d mismatch, %.1f ms per audio second)\n",
				n, 100*p.EER, 100*p.FRR, 100*p.FAR, p.Threshold, p.Match, p.Mismatch, p.MillisPerSecond())
		}
	}
	fmt.Fprintf(w, "\nreal-time factor (CPU seconds per audio second): %.4f\n", r.RTF)
}

// cpuTime returns this process's user+system CPU seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
func round4(x float64) float64 {
	if x < 0 {
		return -round4(-x)
	}
	return float64(int64(x*10000+0.5)) / 10000
}

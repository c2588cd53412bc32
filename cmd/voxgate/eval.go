package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"voxgate/antispoof"
	"voxgate/eval"
	"voxgate/phrase"
)

// evalOptions are the flags of `voxgate eval`.
type evalOptions struct {
	asJSON    bool
	outsiders bool
	identify  bool
	plot      string
	models    string
	targetFAR float64
	workers   int
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stdout)
	var o evalOptions
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	fs.BoolVar(&o.outsiders, "outsiders", false, "score each nontarget trial in a tenant where the impostor is not enrolled (outsider impostors; one extra enrollment of the set per impostor)")
	fs.BoolVar(&o.identify, "identify", true, "also measure identification (1:N): rank 1 and FNIR at FPIR 1 % (one extra enrollment of the set per model, shared with --outsiders)")
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
		return usagef("eval", "eval needs at least one SETDIR")
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
	report := evalReport{Sets: map[string]*setReport{}, Protocol: protocolInsiders}
	if o.outsiders {
		report.Protocol = protocolOutsiders
	}
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
	Sets map[string]*setReport `json:"sets"`
	// Protocol says whether the nontarget trials' impostors were enrolled
	// users of the tenant ("insiders", the sets' own protocol) or not
	// ("outsiders", --outsiders).
	Protocol     string  `json:"protocol"`
	RTF          float64 `json:"rtf"`
	ModelVersion string  `json:"model_version"`
	TargetFAR    float64 `json:"target_far"`
}

type setReport struct {
	Speaker *speakerReport `json:"speaker,omitempty"`
	Phrase  *phrase.Eval   `json:"phrase,omitempty"`
	Spoof   *spoofReport   `json:"spoof,omitempty"`
	// Identification is 1:N on the set (eval_identify.go).
	Identification *identReport `json:"identification,omitempty"`
	AudioSeconds   float64      `json:"audio_seconds"`
	CPUSeconds     float64      `json:"cpu_seconds"`
	RTF            float64      `json:"rtf"`
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
	EER    float64 `json:"eer"`
	MinDCF float64 `json:"min_dcf"`
	// FAR and FRR are the rates at the threshold the service applied to
	// each trial: the model's calibrated one moved by the tenant's domain
	// shift (speaker.Cohort.Shift). Threshold is the one the full tenant's
	// target trials met (every tenant of the outsider protocol lacks one
	// user, so its shift differs a little), DomainShift its distance from
	// the model's global threshold.
	FAR         float64 `json:"far"`
	FRR         float64 `json:"frr"`
	Threshold   float64 `json:"threshold"`
	DomainShift float64 `json:"domain_shift"`
	// FRRAtFAR1pct and FRRAtFAR01pct are the false-reject rates at the
	// lowest thresholds whose false-accept rate measured on these trials is
	// at most 1 % and 0.1 % (eval.Scores.AtFAR): what a threshold set on
	// the data itself would give, beside FAR and FRR at the calibrated
	// one. A threshold is null when only rejecting every trial gets there.
	FRRAtFAR1pct        float64  `json:"frr_at_far_1pct"`
	ThresholdAtFAR1pct  *float64 `json:"threshold_at_far_1pct"`
	FRRAtFAR01pct       float64  `json:"frr_at_far_01pct"`
	ThresholdAtFAR01pct *float64 `json:"threshold_at_far_01pct"`
	TargetTrials        int      `json:"target_trials"`
	NontargetTrials     int      `json:"nontarget_trials"`
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

func printReport(w io.Writer, r evalReport) {
	names := make([]string, 0, len(r.Sets))
	for n := range r.Sets {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "model %s, operating point FAR %.3g, impostors: %s\n\n", r.ModelVersion, r.TargetFAR, r.Protocol)
	fmt.Fprintf(w, "%-18s %7s %7s %7s %7s %9s %10s %9s %10s %9s %8s %8s %8s %7s\n", "set", "EER", "minDCF", "FAR", "FRR", "threshold",
		"FRR@FAR1%", "at thr", "FRR@FAR.1%", "at thr", "targets", "nontgt", "refused", "RTF")
	for _, n := range names {
		s := r.Sets[n]
		if sp := s.Speaker; sp != nil {
			fmt.Fprintf(w, "%-18s %6.2f%% %7.4f %6.2f%% %6.2f%% %9.4f %9.2f%% %9s %9.2f%% %9s %8d %8d %8d %7.4f\n", n, 100*sp.EER, sp.MinDCF, 100*sp.FAR, 100*sp.FRR,
				sp.Threshold, 100*sp.FRRAtFAR1pct, thresholdText(sp.ThresholdAtFAR1pct), 100*sp.FRRAtFAR01pct, thresholdText(sp.ThresholdAtFAR01pct),
				sp.TargetTrials, sp.NontargetTrials, sp.RefusedTrials, s.RTF)
		}
	}
	for _, n := range names {
		if id := r.Sets[n].Identification; id != nil {
			fmt.Fprintf(w, "identify %-9s rank 1 %6.2f%%  FNIR@FPIR1%% %6.2f%% (at %s)  at the open-set threshold %.4f: FPIR %6.2f%% FNIR %6.2f%%  (%d mated, %d non-mated searches, gallery %d, %d refused)\n",
				n, 100*id.Rank1, 100*id.FNIRAtFPIR1pct, thresholdText(id.ThresholdAtFPIR1pct), id.Threshold, 100*id.FPIR, 100*id.FNIR,
				id.MatedSearches, id.NonmatedSearches, id.Gallery, id.Refused)
		}
	}
	for _, n := range names {
		if sp := r.Sets[n].Spoof; sp != nil {
			if sp.Bonafide > 0 || sp.Spoofed > 0 {
				fmt.Fprintf(w, "spoof  %-11s EER %s (raw AASIST %s)  APCER %6.2f%%  BPCER %6.2f%% at %.3f  (%d bona fide, %d spoofed)\n",
					n, pct(sp.EER), pct(sp.AASISTEER), 100*sp.APCER, 100*sp.BPCER, sp.Threshold, sp.Bonafide, sp.Spoofed)
				if sp.ASVspoof5EER != nil {
					fmt.Fprintf(w, "spoof  %-11s detector %s; raw ASVspoof 5 checkpoint EER %6.2f%%\n", n, sp.Detector, 100**sp.ASVspoof5EER)
				}
			}
			printSpoofGroups(w, n, sp.Groups)
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

// printSpoofGroups prints a spoof.csv set's figures per attack family
// (APCER, and EER against all the set's bona fide rows) and per bona fide
// corpus (BPCER), grouped by antispoof.Family.
func printSpoofGroups(w io.Writer, set string, groups []antispoof.GroupResult) {
	for _, g := range groups {
		name := g.Name
		if name == "" {
			name = "(no folder)"
		}
		eer := "     -"
		if g.EER != nil {
			eer = fmt.Sprintf("%5.2f%%", 100**g.EER)
		}
		if g.Label == "spoof" {
			fmt.Fprintf(w, "spoof  %-11s   family %-16s APCER %6.2f%%  EER %s  (%d spoofed)\n", set, name, 100*g.Rate, eer, g.N)
		} else {
			fmt.Fprintf(w, "spoof  %-11s   corpus %-16s BPCER %6.2f%%  EER %s  (%d bona fide)\n", set, name, 100*g.Rate, eer, g.N)
		}
	}
}

// thresholdText prints a report threshold; "reject" stands for the null
// one, where only rejecting every trial reaches the false-accept rate.
func thresholdText(t *float64) string {
	if t == nil {
		return "reject"
	}
	return fmt.Sprintf("%.4f", *t)
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

// pct formats an optional rate as a percentage, "-" when it is undefined.
func pct(x *float64) string {
	if x == nil {
		return "      -"
	}
	return fmt.Sprintf("%6.2f%%", 100**x)
}

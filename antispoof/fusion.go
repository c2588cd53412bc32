package antispoof

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// The fused detector: a score-level fusion of two AASIST checkpoints, the
// published one (ASVspoof 2019 LA) and the ASVspoof 5 baseline, with a
// handful of numbers fitted in train/antispoof/fuse.py on permissive data
// where bona fide and spoofed speech pass through the same channels (see
// BACKEND_CARD.md). Each model's score is standardised on real speech and
// the fused score is their maximum ("max": the more alarmed model decides)
// or a weighted sum ("sum"). So few parameters on two scores leave no room
// to learn a recording channel, which is what sank the larger back-end
// (backend.go) on synthesis systems it had not seen.

//go:embed fusion.json
var fusionJSON []byte

// Fusion inputs, one value per window.
const (
	// InputAASIST is the published checkpoint's bona fide minus spoof logit.
	InputAASIST = "aasist"
	// InputASVspoof5 is the ASVspoof 5 checkpoint's bona fide minus spoof
	// logit.
	InputASVspoof5 = "asvspoof5"
)

// fusionFile is the JSON layout of fusion.json, written by fuse.py.
type fusionFile struct {
	Version string `json:"version"`
	// Inputs names the fused values: InputAASIST, InputASVspoof5.
	Inputs []string `json:"inputs"`
	// Mean and Scale standardise each input: (x-Mean)/Scale.
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
	// Weights, Bias and Combine give the spoof-positive score of one
	// window: with Combine "sum" (or empty), Bias + sum_i Weights[i]*z_i;
	// with "max", Bias + max_i Weights[i]*z_i, z_i the standardised input i.
	Weights []float64 `json:"weights"`
	Bias    float64   `json:"bias"`
	Combine string    `json:"combine"`
	// Calibration maps the mean window score s to P(spoof) =
	// 1/(1+exp(-(A*s+B))); zero A means A = 1.
	Calibration struct {
		A float64 `json:"a"`
		B float64 `json:"b"`
	} `json:"calibration"`
	// Threshold is the operating point on the probability scale, and
	// ThresholdRule how it was set.
	Threshold     float64 `json:"threshold"`
	ThresholdRule string  `json:"threshold_rule"`
	// Windows is how many windows per model a recording is scored on
	// (spread as windowStarts); the window logits are averaged.
	Windows int `json:"windows"`
	// OperatingPoints are the thresholds a deployment may choose instead
	// of Threshold, each set by the same rule for another BPCER target
	// (ascending); OperatingPointsRule says how. Absent in older files.
	OperatingPoints     []OperatingPoint `json:"operating_points,omitempty"`
	OperatingPointsRule string           `json:"operating_points_rule,omitempty"`
}

// OperatingPoint is one threshold of the detector, set on real training
// speech for a bona fide classification error rate.
type OperatingPoint struct {
	// BPCER is the share of the real training excerpts at or above
	// Threshold (in sample): the rate of genuine speech flagged it aims at.
	BPCER float64 `json:"bpcer"`
	// Threshold is the P(spoof) at or above which speech is judged
	// synthetic.
	Threshold float64 `json:"threshold"`
	// BPCEROutOfFold is the same share with the standardisation fitted
	// without each excerpt's speaker: the figure to expect on new speakers.
	BPCEROutOfFold float64 `json:"bpcer_out_of_fold"`
	// APCERTraining is the share of the generated training spoofs
	// (espeak-ng, flite, festival, vocoders) under Threshold. Synthesis
	// systems the detector never met fare worse (docs/ACCURACY.md).
	APCERTraining float64 `json:"apcer_training"`
}

// fusion is a parsed fusionFile, read-only and safe for concurrent use.
type fusion struct{ f fusionFile }

func parseFusion(data []byte) (*fusion, error) {
	var f fusionFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("antispoof: fusion weights: %w", err)
	}
	n := len(f.Inputs)
	if n == 0 || len(f.Mean) != n || len(f.Scale) != n || len(f.Weights) != n {
		return nil, errors.New("antispoof: fusion weights: inputs, mean, scale and weights differ in length")
	}
	for i, in := range f.Inputs {
		if in != InputAASIST && in != InputASVspoof5 {
			return nil, fmt.Errorf("antispoof: fusion weights: unknown input %q", in)
		}
		if !(f.Scale[i] > 0) || math.IsNaN(f.Mean[i]+f.Weights[i]) || math.IsInf(f.Mean[i]+f.Weights[i], 0) {
			return nil, fmt.Errorf("antispoof: fusion weights: input %q has a bad mean, scale or weight", in)
		}
	}
	if !(f.Threshold > 0 && f.Threshold < 1) || math.IsNaN(f.Bias) || math.IsInf(f.Bias, 0) || f.Windows < 1 {
		return nil, errors.New("antispoof: fusion weights: bad bias, threshold or window count")
	}
	if f.Combine != "" && f.Combine != "sum" && f.Combine != "max" {
		return nil, fmt.Errorf("antispoof: fusion weights: unknown combine %q", f.Combine)
	}
	if f.Calibration.A < 0 || math.IsNaN(f.Calibration.A+f.Calibration.B) || math.IsInf(f.Calibration.A+f.Calibration.B, 0) {
		return nil, errors.New("antispoof: fusion weights: bad calibration")
	}
	if f.Calibration.A == 0 {
		f.Calibration.A = 1
	}
	for i, p := range f.OperatingPoints {
		if !(p.BPCER > 0 && p.BPCER < 1) || !(p.Threshold > 0 && p.Threshold < 1) ||
			i > 0 && !(p.BPCER > f.OperatingPoints[i-1].BPCER && p.Threshold <= f.OperatingPoints[i-1].Threshold) {
			return nil, errors.New("antispoof: fusion weights: operating points must have BPCER and threshold in (0, 1), BPCER ascending and threshold not rising")
		}
	}
	if !slices.Contains(f.Inputs, InputASVspoof5) {
		return nil, errors.New("antispoof: fusion weights: the ASVspoof 5 score is not among the inputs")
	}
	return &fusion{f: f}, nil
}

// logit returns the spoof-positive fused score of one window from each
// model's bona fide minus spoof logit.
func (u *fusion) logit(aasist, asvspoof5 float64) float64 {
	var s float64
	for i, in := range u.f.Inputs {
		v := aasist
		if in == InputASVspoof5 {
			v = asvspoof5
		}
		t := u.f.Weights[i] * (v - u.f.Mean[i]) / u.f.Scale[i]
		switch {
		case u.f.Combine != "max":
			s += t
		case i == 0 || t > s:
			s = t
		}
	}
	return u.f.Bias + s
}

// probability maps a mean window score to a calibrated P(spoof).
func (u *fusion) probability(s float64) float64 {
	return 1 / (1 + math.Exp(-(u.f.Calibration.A*s + u.f.Calibration.B)))
}

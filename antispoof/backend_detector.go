package antispoof

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// MinSamples is the shortest audio the Detector judges: 0.5 s. Shorter
// audio gives a Verdict with Checked false.
const MinSamples = SampleRate / 2

// LabelSynthetic is the label a Verdict carries when the detector judges
// the speech synthetic or converted.
const LabelSynthetic = "synthetic_speech"

// LabelTooShort is the label of audio too short to judge (see MinSamples).
const LabelTooShort = "too_short_for_deepfake_check"

// Detector judges whether speech is synthetic. With both AASIST
// checkpoints (the published one and the ASVspoof 5 baseline) it is their
// score-level fusion (fusion.go); with the published one alone it falls back
// to the older back-end (backend.go) and Warning says so. Either way the
// score is calibrated to a spoof probability with an operating threshold.
// It is safe for concurrent use.
//
// A recording is scored on at most MaxWindows windows of 4.04 s (the
// fusion: its own window count, one by default; see windowStarts); window
// logits are averaged over windows and calibrated.
type Detector struct {
	model   *Model
	second  *Model  // the ASVspoof 5 checkpoint; nil: the older back-end
	fusion  *fusion // with second
	backend *backend
	spec    *spectrum
	warning string
}

// NewDetector loads aasist/AASIST.pth and aasist/AASIST.conf from modelsDir
// and, when present, aasist-asvspoof5/AASIST.pth and .conf, and fuses
// them. Without the second checkpoint's files it returns the older
// single-model Detector, with Warning set; a second checkpoint that is
// present but does not load is an error.
func NewDetector(modelsDir string) (*Detector, error) {
	dir := filepath.Join(modelsDir, "aasist")
	m, err := Load(filepath.Join(dir, "AASIST.pth"), filepath.Join(dir, "AASIST.conf"))
	if err != nil {
		return nil, err
	}
	dir2 := filepath.Join(modelsDir, SecondDir)
	pth2 := filepath.Join(dir2, "AASIST.pth")
	if _, err := os.Stat(pth2); errors.Is(err, fs.ErrNotExist) {
		d, err := NewDetectorFromModel(m)
		if err != nil {
			return nil, err
		}
		d.warning = "no " + SecondDir + "/AASIST.pth in the models folder: liveness uses the older single-model back-end, " +
			"which misses synthesis systems it was not trained on (run `voxgate models pull`)"
		return d, nil
	}
	m2, err := Load(pth2, filepath.Join(dir2, "AASIST.conf"))
	if err != nil {
		return nil, err
	}
	return NewFusedDetector(m, m2)
}

// SecondDir is the models subfolder of the ASVspoof 5 checkpoint.
const SecondDir = "aasist-asvspoof5"

// NewDetectorFromModel wraps an already loaded AASIST model (the published
// AASIST checkpoint: the back-end was trained on its hidden vectors) with
// the older single-model back-end.
func NewDetectorFromModel(m *Model) (*Detector, error) {
	b, err := parseBackend(backendJSON, m.EmbeddingDim())
	if err != nil {
		return nil, err
	}
	return &Detector{model: m, backend: b, spec: newSpectrum()}, nil
}

// NewFusedDetector fuses the published AASIST checkpoint (first) with the
// ASVspoof 5 one (second) using the embedded fusion weights.
func NewFusedDetector(first, second *Model) (*Detector, error) {
	u, err := parseFusion(fusionJSON)
	if err != nil {
		return nil, err
	}
	if first.cfg.Samples != second.cfg.Samples {
		return nil, errors.New("antispoof: the two checkpoints take windows of different lengths")
	}
	return &Detector{model: first, second: second, fusion: u, spec: newSpectrum()}, nil
}

// FP32 returns the Detector with its networks computing in FP32 (see
// Model.FP32): the reference its INT8 verdicts are held to.
func (d *Detector) FP32() *Detector {
	c := *d
	c.model = d.model.FP32()
	if d.second != nil {
		c.second = d.second.FP32()
	}
	return &c
}

// Warning is empty for the fused Detector; otherwise it says why the
// Detector runs the older single-model back-end.
func (d *Detector) Warning() string { return d.warning }

// Name says which detector this is, for logs and readiness:
// "aasist+asvspoof5 fusion-DATE" or "aasist+backend".
func (d *Detector) Name() string {
	if d.fusion != nil {
		return "aasist+asvspoof5 " + d.fusion.f.Version
	}
	return "aasist+backend"
}

// Threshold is the operating threshold on the probability scale: Spoof
// probabilities at or above it are judged synthetic.
func (d *Detector) Threshold() float64 {
	if d.fusion != nil {
		return d.fusion.f.Threshold
	}
	return d.backend.f.Threshold
}

// OperatingPoints returns the thresholds the Detector offers besides
// Threshold, ascending by BPCER (a copy); none for the older back-end,
// whose threshold was set at its equal error rate, not on real speech.
func (d *Detector) OperatingPoints() []OperatingPoint {
	if d.fusion == nil {
		return nil
	}
	return slices.Clone(d.fusion.f.OperatingPoints)
}

// Spoof returns the calibrated probability that samples (16 kHz mono, in
// [-1, 1]) are synthetic speech, and the operating threshold on the same
// scale. Audio shorter than MinSamples returns probability 0 (no evidence;
// Detail says it was not checked).
func (d *Detector) Spoof(ctx context.Context, samples []float32) (probability, threshold float64, err error) {
	v, err := d.Detail(ctx, samples)
	if err != nil {
		return 0, 0, err
	}
	return v.Probability, v.Threshold, nil
}

// Verdict is the Detector's full judgement of one recording.
type Verdict struct {
	// Checked is false when the audio was too short to judge; then
	// Probability is 0 and Spoofed false.
	Checked bool `json:"checked"`
	// Spoofed reports Probability >= Threshold.
	Spoofed bool `json:"spoofed"`
	// Probability is the calibrated P(spoof) and Threshold the operating
	// threshold on that scale.
	Probability float64 `json:"probability"`
	Threshold   float64 `json:"threshold"`
	// Score is the back-end's spoof-positive logit averaged over windows,
	// before calibration.
	Score float64 `json:"score"`
	// AASIST is the raw network's bona fide minus spoof logit averaged over
	// the same windows (positive leans genuine), as Result.Score.
	AASIST float64 `json:"aasist"`
	// ASVspoof5 is the same for the ASVspoof 5 checkpoint (fused Detector
	// only).
	ASVspoof5 *float64 `json:"asvspoof5,omitempty"`
	// Windows details each scored window in time order.
	Windows []WindowVerdict `json:"windows"`
	// Labels are machine-readable findings: LabelSynthetic, LabelTooShort.
	Labels []string `json:"labels,omitempty"`
}

// WindowVerdict is one window's part of a Verdict.
type WindowVerdict struct {
	Start  int     `json:"start"`  // first sample
	Score  float64 `json:"score"`  // back-end logit
	AASIST float64 `json:"aasist"` // raw bona fide minus spoof logit
	// ASVspoof5 is the second checkpoint's raw logit (fused Detector only).
	ASVspoof5 *float64 `json:"asvspoof5,omitempty"`
}

// Detail judges samples (16 kHz mono) and explains the judgement. It
// returns ctx's error if ctx ends between windows.
func (d *Detector) Detail(ctx context.Context, samples []float32) (Verdict, error) {
	v := Verdict{Threshold: d.Threshold()}
	if len(samples) < MinSamples {
		v.Labels = []string{LabelTooShort}
		return v, ctx.Err()
	}
	win := d.model.cfg.Samples
	starts := windowStarts(len(samples), win, d.windows())
	var sum, sumRaw, sumRaw2 float64
	for _, s := range starts {
		if err := ctx.Err(); err != nil {
			return Verdict{}, err
		}
		w, err := d.window(ctx, samples[s:min(s+win, len(samples))])
		if err != nil {
			return Verdict{}, err
		}
		w.Start = s
		v.Windows = append(v.Windows, w)
		sum += w.Score
		sumRaw += w.AASIST
		if w.ASVspoof5 != nil {
			sumRaw2 += *w.ASVspoof5
		}
	}
	n := float64(len(starts))
	v.Checked = true
	v.Score = sum / n
	v.AASIST = sumRaw / n
	if d.second != nil {
		r2 := sumRaw2 / n
		v.ASVspoof5 = &r2
	}
	v.Probability = d.probability(v.Score)
	v.Spoofed = v.Probability >= v.Threshold
	if v.Spoofed {
		v.Labels = []string{LabelSynthetic}
	}
	return v, nil
}

// windows is how many windows a recording is scored on: the fusion's own
// count, or MaxWindows for the older back-end.
func (d *Detector) windows() int {
	if d.fusion != nil {
		return d.fusion.f.Windows
	}
	return MaxWindows
}

// probability calibrates a mean window score to P(spoof).
func (d *Detector) probability(score float64) float64 {
	if d.fusion != nil {
		return d.fusion.probability(score)
	}
	return d.backend.probability(score)
}

// window scores one window x (Start left for the caller): the fusion of
// both checkpoints' logits, or the older back-end on the first one's
// hidden vector and x's spectral statistics. It returns ctx's error if ctx
// ends between the two fused passes.
func (d *Detector) window(ctx context.Context, x []float32) (WindowVerdict, error) {
	var w WindowVerdict
	if d.fusion != nil {
		l1 := d.model.Logits(x)
		if err := ctx.Err(); err != nil {
			return w, err
		}
		l2 := d.second.Logits(x)
		raw2 := float64(l2[1]) - float64(l2[0])
		w.AASIST, w.ASVspoof5 = float64(l1[1])-float64(l1[0]), &raw2
		w.Score = d.fusion.logit(w.AASIST, raw2)
	} else {
		emb := d.model.Embedding(x)
		w.AASIST = float64(emb[len(emb)-1]) - float64(emb[len(emb)-2])
		w.Score = d.backend.logit(emb, d.spec.features(x))
	}
	if math.IsNaN(w.Score) || math.IsInf(w.Score, 0) {
		return w, errors.New("antispoof: " + d.Name() + " produced a non-finite score")
	}
	return w, nil
}

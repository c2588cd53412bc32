package antispoof

import (
	"context"
	"errors"
	"math"
	"path/filepath"
)

// MinSamples is the shortest audio the Detector judges: 0.5 s. Shorter
// audio gives a Verdict with Checked false.
const MinSamples = SampleRate / 2

// LabelSynthetic is the label a Verdict carries when the detector judges
// the speech synthetic or converted.
const LabelSynthetic = "synthetic_speech"

// LabelTooShort is the label of audio too short to judge (see MinSamples).
const LabelTooShort = "too_short_for_deepfake_check"

// Detector judges whether speech is synthetic: AASIST (published
// checkpoint) followed by the embedded back-end, calibrated to a spoof
// probability with an operating threshold. It is safe for concurrent use.
//
// A recording is scored on at most MaxWindows windows of 4.04 s (see
// windowStarts); the back-end's logits are averaged over windows and
// calibrated.
type Detector struct {
	model   *Model
	backend *backend
	spec    *spectrum
}

// NewDetector loads aasist/AASIST.pth and aasist/AASIST.conf from modelsDir
// and the embedded back-end.
func NewDetector(modelsDir string) (*Detector, error) {
	dir := filepath.Join(modelsDir, "aasist")
	m, err := Load(filepath.Join(dir, "AASIST.pth"), filepath.Join(dir, "AASIST.conf"))
	if err != nil {
		return nil, err
	}
	return NewDetectorFromModel(m)
}

// NewDetectorFromModel wraps an already loaded AASIST model (the published
// AASIST checkpoint: the back-end was trained on its hidden vectors).
func NewDetectorFromModel(m *Model) (*Detector, error) {
	b, err := parseBackend(backendJSON, m.EmbeddingDim())
	if err != nil {
		return nil, err
	}
	return &Detector{model: m, backend: b, spec: newSpectrum()}, nil
}

// Threshold is the operating threshold on the probability scale: Spoof
// probabilities at or above it are judged synthetic.
func (d *Detector) Threshold() float64 { return d.backend.f.Threshold }

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
}

// Detail judges samples (16 kHz mono) and explains the judgement. It
// returns ctx's error if ctx ends between windows.
func (d *Detector) Detail(ctx context.Context, samples []float32) (Verdict, error) {
	v := Verdict{Threshold: d.backend.f.Threshold}
	if len(samples) < MinSamples {
		v.Labels = []string{LabelTooShort}
		return v, ctx.Err()
	}
	win := d.model.cfg.Samples
	starts := windowStarts(len(samples), win, MaxWindows)
	var sum, sumRaw float64
	for _, s := range starts {
		if err := ctx.Err(); err != nil {
			return Verdict{}, err
		}
		x := samples[s:min(s+win, len(samples))]
		emb := d.model.Embedding(x)
		raw := float64(emb[len(emb)-1]) - float64(emb[len(emb)-2])
		l := d.backend.logit(emb, d.spec.features(x))
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return Verdict{}, errors.New("antispoof: back-end produced a non-finite score")
		}
		v.Windows = append(v.Windows, WindowVerdict{Start: s, Score: l, AASIST: raw})
		sum += l
		sumRaw += raw
	}
	n := float64(len(starts))
	v.Checked = true
	v.Score = sum / n
	v.AASIST = sumRaw / n
	v.Probability = d.backend.probability(v.Score)
	v.Spoofed = v.Probability >= v.Threshold
	if v.Spoofed {
		v.Labels = []string{LabelSynthetic}
	}
	return v, nil
}

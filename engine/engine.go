package engine

import (
	"context"
	"fmt"

	"voxgate/antispoof"
	"voxgate/phrase"
	"voxgate/replay"
	"voxgate/speaker"
)

// Engine holds the loaded models and turns analysed recordings into
// evidence. It is safe for concurrent use.
type Engine struct {
	Analyzer
	Speaker *speaker.Model
	// Calibration is the speaker operating point (the configured target
	// false-accept rate).
	Calibration speaker.Calibration
	// Spoof detects synthetic speech; nil when no anti-spoofing model is
	// loaded (the liveness signal then never reaches "high").
	Spoof SpoofDetector
	// Phrase checks spoken phrases; nil when no recogniser is available.
	Phrase PhraseChecker
}

// SpoofDetector scores how likely a recording is synthetic speech.
type SpoofDetector interface {
	// Spoof returns the calibrated probability that samples (16 kHz mono)
	// are synthetic, and the threshold at or above which they are treated
	// as a spoof.
	Spoof(ctx context.Context, samples []float32) (probability, threshold float64, err error)
}

// PhraseChecker verifies that a prompt was spoken; *phrase.Recognizer is
// the implementation.
type PhraseChecker interface {
	// Check scores how well samples (16 kHz mono, from audio at
	// sourceRate) match prompt; higher is better, and the result's
	// threshold is the operating point on the same scale.
	Check(ctx context.Context, samples []float32, sourceRate int, prompt string) (phrase.Result, error)
	// Speakable returns an error naming the words of prompt the recogniser
	// cannot check.
	Speakable(prompt string) error
}

// PhraseResult is a phrase check's outcome.
type PhraseResult = phrase.Result

// New returns an Engine with the shipped speaker model at the given target
// false-accept rate.
func New(an Analyzer, targetFAR float64) (*Engine, error) {
	m, err := speaker.Load()
	if err != nil {
		return nil, fmt.Errorf("load speaker model: %w", err)
	}
	return &Engine{Analyzer: an, Speaker: m, Calibration: m.Calibrate(targetFAR)}, nil
}

// Embed returns the speaker embedding of the analysed recording's speech.
//
// The speaker model picks its frames with its own energy detector, the one
// it was trained with, not with the analysis's neural VAD segments: Silero
// pads segments with silence and misses parts of 8 kHz speech, and feeding
// its mask took FSDD's EER through the service from 0.096 to 0.255
// (0.129 when it only vetoed the detector's frames). The VAD still decides
// the quality gate and the net speech.
func (e *Engine) Embed(a *Analysis) ([]float32, error) {
	return e.Speaker.Embed(a.Clip.Samples, nil)
}

// Score compares a probe embedding with a template at the engine's
// operating point.
func (e *Engine) Score(template, probe []float32) speaker.Score {
	return e.Calibration.Score(e.Speaker, template, probe)
}

// ScoreIn is Score with the deployment's own cohort (see speaker.Cohort)
// joining the normalisation, its tiers at the operating point moved by the
// cohort's domain shift; claimed owns template.
func (e *Engine) ScoreIn(template, probe []float32, domain *speaker.Cohort, claimed string) speaker.Score {
	return e.Calibration.In(domain).ScoreIn(e.Speaker, template, probe, domain, claimed)
}

// SpoofPoints returns the operating points the deepfake detector offers
// besides its default threshold, ascending by BPCER: none without a
// detector or when it has no table (antispoof.Detector.OperatingPoints).
func (e *Engine) SpoofPoints() []antispoof.OperatingPoint {
	if t, ok := e.Spoof.(interface {
		OperatingPoints() []antispoof.OperatingPoint
	}); ok {
		return t.OperatingPoints()
	}
	return nil
}

// Fingerprint returns the replay fingerprint of the recording.
func (e *Engine) Fingerprint(a *Analysis) replay.Fingerprint {
	return replay.Compute(a.Clip.Samples)
}

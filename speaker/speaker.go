// Package speaker owns speaker verification: it turns speech into a
// 256-dimensional voiceprint embedding, builds enrollment templates from
// several recordings, and scores a probe against a template with score
// normalisation, a calibrated confidence, an operating threshold for a target
// false-accept rate, and a coarse tier.
//
// A model file (safetensors; see train/speaker) names its kind. The shipped
// model (model.safetensors, embedded in the binary; see MODEL_CARD.md) is of
// kind "mfccstats", the design that measured best (train/speaker/RESULTS.md):
//
//	16 kHz audio -> 64 log-mel bands (package features, 25 ms / 10 ms)
//	-> speech frames (caller's mask, else the energy detector, else all)
//	-> MFCC c0..c29 + deltas -> per-dimension mean and standard deviation
//	-> LDA projection (trained on train-pool, clean and narrowband copies)
//	-> L2 norm -> minus the mean training embedding -> L2 norm,
//
// and, in v4 models, beside it an untrained high-band part: c1..c9 of the
// mel bands centred in 1-3.4 kHz, each frame's spectral tilt removed,
// averaged over the speech frames and standardised. The parts are weighted
// so that a cosine is w times the LDA part's plus 1-w times the high band's
// (w = 0.8): emotion and vocal effort move the low bands and the tilt
// most, a speaker's formants above 1 kHz least. The LDA has at most 120
// informative dimensions, the high band 9; the remaining entries of the
// 256-dim embedding are zero. Kind "tdnn" is a compact neural x-vector
// network (train/speaker/train_nn.py) that replaces the statistics and LDA
// with five dilated 1-D convolutions over mean-normalised log-mel frames,
// mean/std pooling and a linear layer; it is supported and parity-tested but
// not shipped, because the one trained here measured worse.
//
// Scores are cosine similarities of embeddings, normalised with adaptive
// symmetric score normalisation (s-norm: top-K cohort scores) against a
// cohort of train-pool embeddings shipped in the model file (whole
// recordings and short, partly noisy crops) joined by the deployment's own
// cohort (Cohort: the tenant's enrolled users), and mapped to a
// probability-like confidence by a logistic calibration fitted on train-pool
// speakers held out of training. The same held-out trials, compared within
// one simulated recording condition at a time, give the threshold for any
// target false-accept rate.
package speaker

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"

	"voxgate/features"
)

// Dim is the length of every embedding.
const Dim = 256

// DefaultTargetFAR is the false-accept rate the default operating threshold
// is chosen for.
const DefaultTargetFAR = 0.01

//go:embed model.safetensors
var shippedModel []byte

// Model is a loaded speaker model. It is immutable and safe for concurrent
// use.
type Model struct {
	version   string
	fe        *features.Frontend
	kind      string     // "mfccstats" or "tdnn"
	stats     *mfccStats // kind "mfccstats"
	net       *tdnn      // kind "tdnn"
	minSpeech int        // fewer masked speech frames than this: use the energy detector, then all frames

	cohort     []float32 // [K][cohortDim] cohort embeddings, the leading entries of each (the rest are zero)
	cohortDim  int       // entries kept per cohort row, 1..Dim
	cohortInv  []float32 // [K] 1/|row|: rows are unit length only up to F16 rounding
	topK       int       // cohort scores kept for adaptive s-norm
	calA, calB float64   // confidence = sigmoid(calA*normalized + calB)
	nonQuant   []float64 // ascending normalised nontarget scores of the calibration trials

	pool sync.Pool // *work
}

// Load returns the model shipped inside the binary.
func Load() (*Model, error) { return parse(shippedModel) }

// LoadFile reads a model file written by train/speaker/export.py.
func LoadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("speaker: %w", err)
	}
	return parse(b)
}

// Version returns the model_version name, e.g. "gmmsv-v1".
func (m *Model) Version() string { return m.version }

func parse(b []byte) (*Model, error) {
	f, err := parseModelFile(b)
	if err != nil {
		return nil, err
	}
	m := &Model{version: f.meta["model_version"]}
	if m.version == "" {
		return nil, fmt.Errorf("speaker: model has no model_version")
	}
	nmels, err := f.metaInt("num_mels")
	if err != nil {
		return nil, err
	}
	if nmels != features.DefaultConfig.NumMels {
		return nil, fmt.Errorf("speaker: model wants %d mel bands, front end has %d", nmels, features.DefaultConfig.NumMels)
	}
	if m.fe, err = features.New(features.DefaultConfig); err != nil {
		return nil, err
	}
	m.kind = f.meta["kind"]
	switch m.kind {
	case "mfccstats":
		nceps, err := f.metaInt("num_ceps")
		if err != nil {
			return nil, err
		}
		if nceps < 1 || nceps > 64 || nceps > nmels {
			return nil, fmt.Errorf("speaker: num_ceps %d out of range", nceps)
		}
		if m.stats, err = loadStats(f, nmels, nceps); err != nil {
			return nil, err
		}
	case "tdnn":
		if m.net, err = loadTDNN(f, nmels); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("speaker: unknown model kind %q", m.kind)
	}
	if m.minSpeech, err = f.metaInt("min_speech_frames"); err != nil {
		return nil, err
	}
	if m.topK, err = f.metaInt("snorm_top_k"); err != nil {
		return nil, err
	}
	if m.calA, err = f.metaFloat("calibration_a"); err != nil {
		return nil, err
	}
	if m.calB, err = f.metaFloat("calibration_b"); err != nil {
		return nil, err
	}
	if m.cohort, m.cohortDim, m.cohortInv, err = loadCohort(f); err != nil {
		return nil, err
	}
	if m.topK <= 0 || m.topK > len(m.cohortInv) {
		return nil, fmt.Errorf("speaker: s-norm top-k %d outside cohort of %d", m.topK, len(m.cohortInv))
	}
	q, _, err := f.get("calibration.nontarget_scores", -1)
	if err != nil {
		return nil, err
	}
	if len(q) < 2 {
		return nil, fmt.Errorf("speaker: calibration needs at least two nontarget scores")
	}
	m.nonQuant = make([]float64, len(q))
	for i, v := range q {
		m.nonQuant[i] = float64(v)
	}
	sort.Float64s(m.nonQuant)
	m.pool.New = func() any { return new(work) }
	return m, nil
}

// loadCohort reads the s-norm cohort, [K][d] with d <= Dim: a model may
// leave out trailing embedding entries that it always sets to zero (and
// store the rows as F16). The rows stay [K][d], since a row's zeros add
// nothing to a dot product, with the inverse of each row's norm.
func loadCohort(f *modelFile) (rows []float32, d int, inv []float32, err error) {
	c, shape, err := f.get("snorm.cohort", -1, -1)
	if err != nil {
		return nil, 0, nil, err
	}
	k, d := shape[0], shape[1]
	if d < 1 || d > Dim {
		return nil, 0, nil, fmt.Errorf("speaker: cohort rows of %d entries, want 1..%d", d, Dim)
	}
	inv = make([]float32, k)
	for i := range inv {
		var n float64
		for _, v := range c[i*d : (i+1)*d] {
			n += float64(v) * float64(v)
		}
		if n > 0 {
			inv[i] = float32(1 / math.Sqrt(n))
		}
	}
	return c, d, inv, nil
}

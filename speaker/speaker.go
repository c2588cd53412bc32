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
// and, beside it, untrained parts: c1..c9 of the mel bands centred in
// 1-3.4 kHz (v4 and v5 models) and c1..c7 of those centred in 3.4-7.6 kHz
// (v5), each frame's spectral tilt removed, averaged over the speech frames
// and standardised. The parts are weighted so that a cosine is 0.55 times
// the LDA part's plus 0.3 times the high band's plus 0.15 times the upper
// band's: emotion and vocal effort move the low bands and the tilt most, a
// speaker's formants above 1 kHz least. The upper band is gated by the
// measured bandwidth, since telephone and 8 kHz audio have nothing there
// but the channel's edge, and two recordings are compared on it only when
// both have it (Model.sim). The LDA has at most 120 informative dimensions,
// the high band 9, the upper band 7; the remaining entries of the
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
	"voxgate/tensor"
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

	cohort     []float32   // [K][cohortDim] cohort embeddings, the leading entries of each (the rest are zero)
	cohortDim  int         // entries kept per cohort row, 1..Dim
	cohortNorm []vnorm     // [K]: rows are unit length only up to F16 rounding
	split      int         // first entry of the gated upper band; 0: none, sim is the cosine
	hasRatio   float64     // |upper band|^2 / |the rest|^2 at a gate of 0.5
	lowEnd     int         // end of the LDA part (the high band follows, to split)
	lowScale   float32     // squared scales of the LDA and high-band parts in sim
	highScale  float32     // when the upper band is not shared (nb_weight)
	topK       int         // cohort scores kept for adaptive s-norm
	calA, calB float64     // confidence = sigmoid(calA*normalized + calB)
	domain     *domainRule // tenant-adaptive threshold rule (domain.go); nil: none
	nonQuant   []float64   // ascending normalised nontarget scores of the calibration trials

	pool sync.Pool // *work

	packOnce sync.Once
	packed   *tensor.Packed // the cohort packed for matrix products (batch.go)
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
	if m.domain, err = parseDomainRule(f.meta["domain_calibration"]); err != nil {
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
	if m.stats != nil && m.stats.ub != nil {
		m.split, m.lowEnd = m.stats.ubOff, m.stats.hbOff
		sq := func(x float32) float64 { return float64(x) * float64(x) }
		w, wh, wu := sq(m.stats.wLDA), sq(m.stats.hb.weight), sq(m.stats.ub.weight)
		m.hasRatio = 0.25 * wu / (1 - wu)
		wn, err := f.metaFloat("nb_weight")
		if err != nil {
			return nil, err
		}
		if wn <= 0 || wn >= 1 {
			return nil, fmt.Errorf("speaker: metadata nb_weight=%v: want 0 < w < 1", wn)
		}
		m.lowScale, m.highScale = float32(wn/w), float32((1-wn)/wh)
	}
	if m.cohort, m.cohortDim, err = loadCohort(f); err != nil {
		return nil, err
	}
	if m.split > m.cohortDim {
		return nil, fmt.Errorf("speaker: cohort rows of %d entries end before the upper band at %d", m.cohortDim, m.split)
	}
	m.cohortNorm = make([]vnorm, len(m.cohort)/m.cohortDim)
	for i := range m.cohortNorm {
		m.cohortNorm[i] = m.norms(m.cohort[i*m.cohortDim : (i+1)*m.cohortDim])
	}
	if m.topK <= 0 || m.topK > len(m.cohortNorm) {
		return nil, fmt.Errorf("speaker: s-norm top-k %d outside cohort of %d", m.topK, len(m.cohortNorm))
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
// nothing to a dot product.
func loadCohort(f *modelFile) (rows []float32, d int, err error) {
	c, shape, err := f.get("snorm.cohort", -1, -1)
	if err != nil {
		return nil, 0, err
	}
	d = shape[1]
	if d < 1 || d > Dim {
		return nil, 0, fmt.Errorf("speaker: cohort rows of %d entries, want 1..%d", d, Dim)
	}
	return c, d, nil
}

// vnorm is what Model.sim needs to know of a vector besides its entries.
type vnorm struct {
	inv    float32 // 1/|v| (0 for a zero vector)
	invLow float32 // the same for v[:split] with its parts rescaled (sim)
	upper  bool    // it has the upper band: its gate was at least 0.5
}

// norms returns v's vnorm.
func (m *Model) norms(v []float32) vnorm {
	var lo, hi, up float64
	for i, x := range v {
		switch {
		case m.split == 0 || i < m.lowEnd:
			lo += float64(x) * float64(x)
		case i < m.split:
			hi += float64(x) * float64(x)
		default:
			up += float64(x) * float64(x)
		}
	}
	var n vnorm
	if t := lo + hi + up; t > 0 {
		n.inv = float32(1 / math.Sqrt(t))
	}
	if t := float64(m.lowScale)*lo + float64(m.highScale)*hi; t > 0 {
		n.invLow = float32(1 / math.Sqrt(t))
	}
	n.upper = m.split > 0 && up > 0 && up >= m.hasRatio*(lo+hi)
	return n
}

// sim compares two embeddings (or templates) with their norms. When both
// have the upper band it is their cosine. Otherwise the upper band is left
// out, since what one recording lacks is no evidence (a telephone probe of
// a wideband enrollment would lose the band's share of the cosine), and
// the other two parts are reweighted to the model's nb_weight: without the
// upper band the LDA part, trained on telephone copies too, is the better
// judge (train/speaker/RESULTS.md). Vectors may be shorter than Dim (cohort
// rows); the missing entries count as zeros.
func (m *Model) sim(a []float32, na vnorm, b []float32, nb vnorm) float64 {
	if m.split == 0 || (na.upper && nb.upper) {
		n := min(len(a), len(b))
		return float64(tensor.Dot(a[:n], b[:n]) * na.inv * nb.inv)
	}
	h, s := min(m.lowEnd, len(a), len(b)), min(m.split, len(a), len(b))
	d := m.lowScale*tensor.Dot(a[:h], b[:h]) + m.highScale*tensor.Dot(a[h:s], b[h:s])
	return float64(d * na.invLow * nb.invLow)
}

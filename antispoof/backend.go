package antispoof

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// The back-end: a small classifier over AASIST's hidden representation and
// logits plus spectral statistics (backend_features.go), trained in
// train/antispoof on speech AASIST never saw (see BACKEND_CARD.md). Its
// weights ship in backend.json, embedded below.

//go:embed backend.json
var backendJSON []byte

// backendFile is the JSON layout of backend.json, written by
// train/antispoof/train.py.
type backendFile struct {
	Version int `json:"version"`
	// Inputs names each element of the full per-window input vector:
	// AASIST's hidden vector (emb0..emb159), its two logits
	// (logit_spoof, logit_bonafide), then specFeatureNames.
	Inputs []string `json:"inputs"`
	// Select picks the elements of the full vector the classifier reads.
	Select []int `json:"select"`
	// Mean and Scale standardise the selected elements: (x-Mean)/Scale.
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
	// Layers is an MLP: each layer y = act(W·x + b), W [out][in]; the last
	// has one output, a spoof-positive logit for one window.
	Layers []struct {
		W   [][]float64 `json:"w"`
		B   []float64   `json:"b"`
		Act string      `json:"act"` // "relu" or "linear"
	} `json:"layers"`
	// Calibration maps the mean window logit s to P(spoof) =
	// 1/(1+exp(-(A*s+B))).
	Calibration struct {
		A float64 `json:"a"`
		B float64 `json:"b"`
	} `json:"calibration"`
	// Threshold is the operating point on the probability scale.
	Threshold float64 `json:"threshold"`
	// ThresholdRule says how Threshold was chosen.
	ThresholdRule string `json:"threshold_rule"`
}

// backend is a parsed backendFile, read-only and safe for concurrent use.
type backend struct {
	f backendFile
}

func parseBackend(data []byte, embDim int) (*backend, error) {
	var f backendFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("antispoof: back-end weights: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("antispoof: back-end weights: version %d, want 1", f.Version)
	}
	full := embDim + 2 + numSpecFeatures
	if len(f.Inputs) != full {
		return nil, fmt.Errorf("antispoof: back-end expects %d inputs, this build has %d", len(f.Inputs), full)
	}
	for i, name := range specFeatureNames {
		if f.Inputs[embDim+2+i] != name {
			return nil, fmt.Errorf("antispoof: back-end input %d is %q, this build computes %q", embDim+2+i, f.Inputs[embDim+2+i], name)
		}
	}
	n := len(f.Select)
	if n == 0 || len(f.Mean) != n || len(f.Scale) != n {
		return nil, errors.New("antispoof: back-end weights: select/mean/scale lengths differ")
	}
	for _, j := range f.Select {
		if j < 0 || j >= full {
			return nil, fmt.Errorf("antispoof: back-end selects input %d of %d", j, full)
		}
	}
	for i, s := range f.Scale {
		if !(s > 0) {
			return nil, fmt.Errorf("antispoof: back-end scale %d is %v", i, s)
		}
	}
	in := n
	for li, l := range f.Layers {
		if len(l.W) != len(l.B) || len(l.W) == 0 {
			return nil, fmt.Errorf("antispoof: back-end layer %d: %d rows, %d biases", li, len(l.W), len(l.B))
		}
		for _, row := range l.W {
			if len(row) != in {
				return nil, fmt.Errorf("antispoof: back-end layer %d: row of %d, want %d", li, len(row), in)
			}
		}
		if l.Act != "relu" && l.Act != "linear" {
			return nil, fmt.Errorf("antispoof: back-end layer %d: activation %q", li, l.Act)
		}
		in = len(l.W)
	}
	if len(f.Layers) == 0 || in != 1 {
		return nil, errors.New("antispoof: back-end must end in one output")
	}
	if !(f.Calibration.A > 0) {
		return nil, fmt.Errorf("antispoof: back-end calibration slope %v must be positive", f.Calibration.A)
	}
	if !(f.Threshold > 0 && f.Threshold < 1) {
		return nil, fmt.Errorf("antispoof: back-end threshold %v outside (0, 1)", f.Threshold)
	}
	return &backend{f: f}, nil
}

// logit returns the spoof-positive logit for one window's full input
// vector (embedding and logits, then spectral statistics).
func (b *backend) logit(emb []float32, spec []float64) float64 {
	x := make([]float64, len(b.f.Select))
	for i, j := range b.f.Select {
		var v float64
		if j < len(emb) {
			v = float64(emb[j])
		} else {
			v = spec[j-len(emb)]
		}
		x[i] = (v - b.f.Mean[i]) / b.f.Scale[i]
	}
	for _, l := range b.f.Layers {
		y := make([]float64, len(l.W))
		for o, row := range l.W {
			s := l.B[o]
			for i, w := range row {
				s += w * x[i]
			}
			if l.Act == "relu" {
				s = max(s, 0)
			}
			y[o] = s
		}
		x = y
	}
	return x[0]
}

// probability maps a mean window logit to a calibrated P(spoof).
func (b *backend) probability(s float64) float64 {
	return 1 / (1 + math.Exp(-(b.f.Calibration.A*s + b.f.Calibration.B)))
}

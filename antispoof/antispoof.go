// Package antispoof detects synthetic and converted speech with AASIST
// (Jung et al., "AASIST: Audio Anti-Spoofing using Integrated
// Spectro-Temporal Graph Attention Networks", ICASSP 2022), a Go port of
// the authors' network that runs their published AASIST and AASIST-L
// checkpoints.
//
// The network reads 64600 samples (4.04 s at 16 kHz) of raw waveform: a
// sinc filter bank, a residual 2-D convolutional encoder, spectral and
// temporal graph attention with graph pooling, and two branches of
// heterogeneous graph attention with a master node, whose readout gives two
// logits [spoof, bona fide]. Score slides that window over longer audio.
//
// The output is an uncalibrated logit difference; mapping it to a spoof
// probability and a decision threshold belongs to the caller (see Result).
package antispoof

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"voxgate/pytorch"
	"voxgate/tensor"
)

// SampleRate is the audio rate the network was trained on.
const SampleRate = 16000

// Hop is the stride in samples between the windows Score evaluates: 2 s, so
// that each sample outside the first and last 2 s is seen by two windows.
const Hop = 32000

// maxWorkers caps the goroutines one window is split over: beyond a few,
// the per-worker scratch grows faster than the speed-up, and a busy server
// gets its parallelism from concurrent requests instead.
const maxWorkers = 8

// Model is a loaded AASIST network. It is immutable after Load and safe for
// concurrent use; each call borrows a workspace (about 40 MB for the
// published models) from an internal pool and splits its window over up to
// min(GOMAXPROCS, 8) goroutines.
type Model struct {
	cfg     Config
	front   *frontEnd
	blocks  [6]*resBlock
	posS    []float32 // [freq nodes][channels]
	master1 []float32
	master2 []float32

	gatS, gatT             *gatLayer
	st11, st12, st21, st22 *htrgLayer
	poolS, poolT           *graphPool
	poolHS1, poolHT1       *graphPool
	poolHS2, poolHT2       *graphPool
	out                    linear // [2][5*gat_dims[1]]

	workers    int // goroutines per window
	workspaces *sync.Pool
	// int8 runs the encoder's convolutions in INT8 (tensor.GemmQ), the
	// default where the CPU has AVX-512 VNNI; FP32 returns a copy without.
	int8 bool
}

// workspace holds every buffer one forward pass needs.
type workspace struct {
	x      []float32 // zero-padded waveform window
	maps   [7]*fmap  // encoder input, then each block's output
	front  [][]float32
	blocks []blockScratch // per worker
	// qin is a block's input quantised for the INT8 encoder (nil in FP32).
	qin []uint8
}

// Load reads an AASIST checkpoint (PyTorch state dict) and its .conf file.
func Load(checkpoint, conf string) (*Model, error) {
	cfg, err := ReadConfig(conf)
	if err != nil {
		return nil, err
	}
	sd, err := pytorch.Load(checkpoint)
	if err != nil {
		return nil, err
	}
	m, err := New(cfg, sd)
	if err != nil {
		return nil, fmt.Errorf("antispoof: %s: %w", checkpoint, err)
	}
	return m, nil
}

// New builds a model from a configuration and a state dict with the
// authors' tensor names.
func New(cfg Config, state map[string]*tensor.Tensor) (*Model, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sd := flushSubnormals(state)
	m := &Model{cfg: cfg, workers: min(runtime.GOMAXPROCS(0), maxWorkers), int8: tensor.UseQ()}
	var err error
	if m.front, err = newFrontEnd(cfg, sd); err != nil {
		return nil, err
	}
	h, w := m.front.outShape(cfg.Samples)
	chans := []([2]int){cfg.Blocks[0], cfg.Blocks[1], cfg.Blocks[2], cfg.Blocks[3], cfg.Blocks[3], cfg.Blocks[3]}
	for i, c := range chans {
		if m.blocks[i], err = newResBlock(sd, fmt.Sprintf("encoder.%d.0.", i), c[0], c[1], i == 0); err != nil {
			return nil, err
		}
		w /= 3
	}
	if w < 1 {
		return nil, errors.New("window too short for six pooling stages")
	}
	enc := cfg.Blocks[3][1]
	g0, g1 := cfg.GATDims[0], cfg.GATDims[1]
	pos, err := sd.get("pos_S", 1, h, enc)
	if err != nil {
		return nil, err
	}
	m.posS = pos.Data
	for name, dst := range map[string]*[]float32{"master1": &m.master1, "master2": &m.master2} {
		t, err := sd.get(name, 1, 1, g0)
		if err != nil {
			return nil, err
		}
		*dst = t.Data
	}
	if m.gatS, err = sd.gat("GAT_layer_S", enc, g0, cfg.Temperatures[0]); err != nil {
		return nil, err
	}
	if m.gatT, err = sd.gat("GAT_layer_T", enc, g0, cfg.Temperatures[1]); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name    string
		dst     **htrgLayer
		in, out int
	}{
		{"HtrgGAT_layer_ST11", &m.st11, g0, g1},
		{"HtrgGAT_layer_ST12", &m.st12, g1, g1},
		{"HtrgGAT_layer_ST21", &m.st21, g0, g1},
		{"HtrgGAT_layer_ST22", &m.st22, g1, g1},
	} {
		if *l.dst, err = sd.htrg(l.name, l.in, l.out, cfg.Temperatures[2]); err != nil {
			return nil, err
		}
	}
	// The authors use pool_ratios[2] for all four pools after HS-GAL
	// (pool_ratios[3] is unused).
	for _, p := range []struct {
		name  string
		dst   **graphPool
		ratio float64
		dim   int
	}{
		{"pool_S", &m.poolS, cfg.PoolRatios[0], g0},
		{"pool_T", &m.poolT, cfg.PoolRatios[1], g0},
		{"pool_hS1", &m.poolHS1, cfg.PoolRatios[2], g1},
		{"pool_hT1", &m.poolHT1, cfg.PoolRatios[2], g1},
		{"pool_hS2", &m.poolHS2, cfg.PoolRatios[2], g1},
		{"pool_hT2", &m.poolHT2, cfg.PoolRatios[2], g1},
	} {
		proj, err := sd.linear(p.name+".proj", p.dim, 1)
		if err != nil {
			return nil, err
		}
		*p.dst = &graphPool{ratio: p.ratio, proj: proj}
	}
	if m.out, err = sd.linear("out_layer", 5*g1, 2); err != nil {
		return nil, err
	}
	m.workspaces = &sync.Pool{New: func() any { return m.newWorkspace() }}
	return m, nil
}

// FP32 returns the model computing every layer in FP32, sharing m's
// weights: the reference the INT8 encoder is held to
// (TestINT8AgreesWithFP32), and the operator's choice where the reduced
// precision is not wanted.
func (m *Model) FP32() *Model {
	c := *m
	c.int8 = false
	c.workspaces = &sync.Pool{}
	c.workspaces.New = func() any { return c.newWorkspace() }
	return &c
}

// INT8 reports whether the encoder runs in INT8.
func (m *Model) INT8() bool { return m.int8 }

// Config returns the model's hyper-parameters.
func (m *Model) Config() Config { return m.cfg }

func (m *Model) newWorkspace() *workspace {
	n := m.cfg.Samples
	ws := &workspace{x: make([]float32, m.front.paddedLen(n))}
	h, w := m.front.outShape(n)
	ws.maps[0] = newFmap(h, w, 1)
	ws.front = make([][]float32, m.workers)
	for i := range ws.front {
		ws.front[i] = make([]float32, m.front.scratchLen())
	}
	// The blocks run one after another, so they share per-worker scratch
	// sized for the widest.
	var mid, tile int
	for i, b := range m.blocks {
		w /= 3
		ws.maps[i+1] = newFmap(h, w, b.cout)
		bm, bt := b.scratchSize(h)
		mid, tile = max(mid, bm), max(tile, bt)
	}
	ws.blocks = make([]blockScratch, m.workers)
	for j := range ws.blocks {
		ws.blocks[j] = blockScratch{mid: make([]float32, mid), tile: make([]float32, tile)}
		if m.int8 {
			ws.blocks[j].qmid = make([]uint8, mid)
		}
	}
	if m.int8 {
		var in int
		for _, f := range ws.maps[:len(m.blocks)] {
			in = max(in, len(f.data))
		}
		ws.qin = make([]uint8, in)
	}
	return ws
}

// Logits runs the network on one window and returns [spoof, bona fide].
// x is 16 kHz audio scaled to [-1, 1]; only the first Config().Samples
// samples are used, and shorter input is repeated from its start to fill the
// window, as in the authors' evaluation. Empty input, and any NaN or
// infinite sample, reads as silence.
func (m *Model) Logits(x []float32) [2]float32 {
	ws := m.workspaces.Get().(*workspace)
	defer m.workspaces.Put(ws)
	m.fill(ws, x)
	return m.forward(ws)
}

// fill copies x into the workspace's window as Logits documents.
func (m *Model) fill(ws *workspace, x []float32) {
	n := m.cfg.Samples
	win := ws.x[:n]
	if len(x) == 0 {
		clear(win)
	} else {
		for i := 0; i < n; i += len(x) {
			copy(win[i:], x)
		}
	}
	for i, v := range win {
		if v-v != 0 { // NaN or ±Inf from a broken decoder reads as silence
			win[i] = 0
		}
	}
}

// readout runs the network up to the readout vector that the output layer
// maps to the logits: [5*GATDims[1]].
func (m *Model) readout(ws *workspace) []float32 {
	m.front.forward(ws.x, ws.maps[0], ws.front)
	for i, b := range m.blocks {
		b.forward(ws.maps[i], ws.maps[i+1], ws.blocks, ws.qin)
	}
	e := ws.maps[len(m.blocks)]
	enc := m.blocks[len(m.blocks)-1].realOut

	// Spectral nodes: max |e| over time, one node per frequency row, plus the
	// learned positional embedding. Temporal nodes: max |e| over frequency.
	eS := make([]float32, e.h*enc)
	eT := make([]float32, e.w*enc)
	for r := range e.h {
		for col := range e.w {
			v := e.data[e.off(r+1, col+padLeft):]
			for c := range enc {
				a := abs(v[c])
				eS[r*enc+c] = max(eS[r*enc+c], a)
				eT[col*enc+c] = max(eT[col*enc+c], a)
			}
		}
	}
	addInPlace(eS, m.posS)

	// The spectral and temporal graphs, and later the two HS-GAL branches,
	// are independent: each pair runs on two goroutines.
	var outS, outT []float32
	var nS, nT int
	tensor.ParallelFor(2, m.workers, func(_, i int) {
		if i == 0 {
			outS, nS = m.poolS.forward(m.gatS.forward(eS, e.h), e.h)
		} else {
			outT, nT = m.poolT.forward(m.gatT.forward(eT, e.w), e.w)
		}
	})

	branch := func(first, second *htrgLayer, poolS, poolT *graphPool, master []float32) (t []float32, nt int, s []float32, ns int, mst []float32) {
		t, s, mst = first.forward(outT, nT, outS, nS, master)
		s, ns = poolS.forward(s, nS)
		t, nt = poolT.forward(t, nT)
		augT, augS, augM := second.forward(t, nt, s, ns, mst)
		addInPlace(t, augT)
		addInPlace(s, augS)
		addInPlace(mst, augM)
		return t, nt, s, ns, mst
	}
	var t1, s1, m1, t2, s2, m2 []float32
	var nt, ns int
	tensor.ParallelFor(2, m.workers, func(_, i int) {
		if i == 0 {
			t1, nt, s1, ns, m1 = branch(m.st11, m.st12, m.poolHS1, m.poolHT1, m.master1)
		} else {
			t2, _, s2, _, m2 = branch(m.st21, m.st22, m.poolHS2, m.poolHT2, m.master2)
		}
	})
	for i := range t1 {
		t1[i] = max(t1[i], t2[i])
	}
	for i := range s1 {
		s1[i] = max(s1[i], s2[i])
	}
	for i := range m1 {
		m1[i] = max(m1[i], m2[i])
	}

	// Readout: [max|T|, mean T, max|S|, mean S, master].
	d := m.cfg.GATDims[1]
	hidden := make([]float32, 5*d)
	readout := func(x []float32, n int, maxAbs, mean []float32) {
		for i := range n {
			for c := range d {
				maxAbs[c] = max(maxAbs[c], abs(x[i*d+c]))
				mean[c] += x[i*d+c]
			}
		}
		for c := range mean {
			mean[c] /= float32(n)
		}
	}
	readout(t1, nt, hidden[0:d], hidden[d:2*d])
	readout(s1, ns, hidden[2*d:3*d], hidden[3*d:4*d])
	copy(hidden[4*d:], m1)
	return hidden
}

// Result is the detector's verdict on one recording.
type Result struct {
	// Score is the bona fide minus spoof logit, averaged over windows:
	// positive leans genuine, negative synthetic. It is not a probability;
	// a calibration (e.g. logistic, fitted on held-out genuine and spoofed
	// speech) maps it to one and sets the decision threshold.
	Score float64
	// Min is the lowest window score: the most synthetic-sounding stretch,
	// useful when only part of a recording is spoofed.
	Min float64
	// Windows is the number of windows evaluated; zero for empty audio, in
	// which case Score and Min are zero and carry no evidence.
	Windows int
	// PerWindow holds each window's score in time order; window i starts at
	// sample i*Hop, except a last window aligned to the end of the audio.
	PerWindow []float64
}

// Score runs the network over audio of any length: one window (repeated to
// fill it) for audio up to Config().Samples long, otherwise windows every
// Hop samples plus one ending at the last sample, so that all audio is seen.
func (m *Model) Score(samples []float32) Result {
	var r Result
	if len(samples) == 0 {
		return r
	}
	n := m.cfg.Samples
	var starts []int
	if len(samples) <= n {
		starts = []int{0}
	} else {
		for s := 0; s+n <= len(samples); s += Hop {
			starts = append(starts, s)
		}
		if last := starts[len(starts)-1]; last+n < len(samples) {
			starts = append(starts, len(samples)-n)
		}
	}
	r.Windows = len(starts)
	r.PerWindow = make([]float64, len(starts))
	r.Min = math.Inf(1)
	var sum float64
	for i, s := range starts {
		l := m.Logits(samples[s:min(s+n, len(samples))])
		v := float64(l[1]) - float64(l[0])
		r.PerWindow[i] = v
		sum += v
		r.Min = min(r.Min, v)
	}
	r.Score = sum / float64(len(starts))
	return r
}

// Package vad finds speech in 16 kHz mono audio with a pure-Go port of the
// Silero VAD v5 network, and turns its per-chunk speech probabilities into
// speech segments.
//
// The network reads audio in chunks of 512 samples (32 ms) and gives one
// speech probability per chunk. Each chunk is prefixed with the last 64
// samples of the previous one (zeros before the first) and goes through a
// 256-point Hann STFT (hop 128), four Conv1d+ReLU layers, an LSTM cell whose
// state carries over to the next chunk, and a sigmoid output. Model holds
// the read-only weights; every call to Probs and every Stream has its own
// recurrent state, so one Model serves many goroutines.
package vad

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"voxgate/safetensors"
	"voxgate/tensor"
)

const (
	// SampleRate is the only rate the model accepts, in Hz.
	SampleRate = 16000
	// ChunkSize is the number of new samples per probability (32 ms).
	ChunkSize = 512
	// ContextSize is how many samples of the previous chunk each chunk sees.
	ContextSize = 64

	nFFT      = 256                     // STFT window length, samples
	hop       = 128                     // STFT hop, samples
	nBins     = nFFT/2 + 1              // 129 magnitude bins
	windowLen = ContextSize + ChunkSize // 576 samples fed to the STFT
	padLen    = windowLen + nFFT/4      // 640: reflection-padded on the right by 64
	nFrames   = (padLen-nFFT)/hop + 1   // 4 STFT frames per chunk
	hidden    = 128                     // LSTM cell size
)

// Model is a loaded Silero VAD v5 (16 kHz) network. It is read-only after
// Load and safe for concurrent use.
type Model struct {
	basis []float32 // STFT basis [258][256]: rows 0..128 real, 129..257 imaginary
	fft   *fft      // non-nil when basis is the Hann-windowed DFT, used instead of basis

	convs [4]conv

	// LSTM cell (PyTorch gate order i, f, g, o), with the input and
	// recurrent weights side by side so the gates are one product:
	// gates[512] = [x; h] · lstm + bias, lstm being [256][512] packed.
	lstm *tensor.Packed
	bias []float32

	outW []float32 // [128] output Conv1d 128->1, kernel 1
	outB float32

	pool sync.Pool // *state
}

// Load reads the model from a safetensors file (tensor names stft_conv.weight,
// conv1..conv4.{weight,bias}, lstm_cell.{weight_ih,weight_hh,bias_ih,bias_hh},
// final_conv.{weight,bias}) or, when the name ends in .onnx, from the
// upstream silero_vad.onnx file (its 16 kHz branch).
func Load(path string) (*Model, error) {
	var weights map[string]*tensor.Tensor
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		w, err := readONNX(path)
		if err != nil {
			return nil, err
		}
		weights = w
	} else {
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		weights = make(map[string]*tensor.Tensor)
		for _, name := range f.Names() {
			if in, _ := f.Info(name); in.DType != safetensors.F32 && in.DType != safetensors.F16 &&
				in.DType != safetensors.BF16 && in.DType != safetensors.F64 {
				continue // not a weight of this network; New reports what is missing
			}
			t, err := f.Tensor(name)
			if err != nil {
				return nil, err
			}
			weights[name] = t
		}
	}
	m, err := New(weights)
	if err != nil {
		return nil, fmt.Errorf("vad: %s: %w", path, err)
	}
	return m, nil
}

// New builds a Model from named weights (the safetensors names listed at
// Load). The tensors are copied into the layouts the kernels want.
func New(weights map[string]*tensor.Tensor) (*Model, error) {
	get := func(name string, shape ...int) ([]float32, error) {
		t, ok := weights[name]
		if !ok {
			return nil, fmt.Errorf("missing weight %s", name)
		}
		if len(t.Shape) != len(shape) || tensor.Numel(t.Shape) != len(t.Data) {
			return nil, fmt.Errorf("weight %s has shape %v, want %v", name, t.Shape, shape)
		}
		for i := range shape {
			if t.Shape[i] != shape[i] {
				return nil, fmt.Errorf("weight %s has shape %v, want %v", name, t.Shape, shape)
			}
		}
		return t.Data, nil
	}
	m := &Model{}
	basis, err := get("stft_conv.weight", 2*nBins, 1, nFFT)
	if err != nil {
		return nil, err
	}
	m.basis = append([]float32(nil), basis...)
	if isHannDFT(m.basis) {
		m.fft = newFFT()
	}
	// Input frames per chunk: 4 STFT frames, halved (rounding up) by
	// each stride-2 layer.
	specs := [4]struct{ in, out, stride, tIn int }{{nBins, 128, 1, nFrames}, {128, 64, 2, 4}, {64, 64, 2, 2}, {64, 128, 1, 1}}
	for i, s := range specs {
		w, err := get(fmt.Sprintf("conv%d.weight", i+1), s.out, s.in, 3)
		if err != nil {
			return nil, err
		}
		b, err := get(fmt.Sprintf("conv%d.bias", i+1), s.out)
		if err != nil {
			return nil, err
		}
		m.convs[i] = newConv(s.in, s.out, s.stride, s.tIn, w, b)
	}
	wih, err := get("lstm_cell.weight_ih", 4*hidden, hidden)
	if err != nil {
		return nil, err
	}
	whh, err := get("lstm_cell.weight_hh", 4*hidden, hidden)
	if err != nil {
		return nil, err
	}
	bih, err := get("lstm_cell.bias_ih", 4*hidden)
	if err != nil {
		return nil, err
	}
	bhh, err := get("lstm_cell.bias_hh", 4*hidden)
	if err != nil {
		return nil, err
	}
	// wCat [512][256] = [weight_ih | weight_hh], the transposed B.
	wCat := make([]float32, 4*hidden*2*hidden)
	m.bias = make([]float32, 4*hidden)
	for r := 0; r < 4*hidden; r++ {
		copy(wCat[r*2*hidden:], wih[r*hidden:(r+1)*hidden])
		copy(wCat[r*2*hidden+hidden:], whh[r*hidden:(r+1)*hidden])
		m.bias[r] = bih[r] + bhh[r]
	}
	m.lstm = tensor.Pack(true, 2*hidden, 4*hidden, 1, wCat, 2*hidden)
	ow, err := get("final_conv.weight", 1, hidden, 1)
	if err != nil {
		return nil, err
	}
	ob, err := get("final_conv.bias", 1)
	if err != nil {
		return nil, err
	}
	m.outW = append([]float32(nil), ow...)
	m.outB = ob[0]
	return m, nil
}

// Probs returns one speech probability per 512-sample chunk of samples
// (16 kHz mono, -1..1), the last partial chunk zero-padded. Each call starts
// from a fresh state, as if the audio were a file of its own.
func (m *Model) Probs(samples []float32) []float32 {
	probs := make([]float32, 0, (len(samples)+ChunkSize-1)/ChunkSize)
	s := m.getState()
	defer m.pool.Put(s)
	for len(samples) > 0 {
		n := min(len(samples), ChunkSize)
		probs = append(probs, m.step(s, samples[:n]))
		samples = samples[n:]
	}
	return probs
}

// Stream computes probabilities for audio that arrives in pieces. It keeps
// the recurrent state and any partial chunk between calls. A Stream is not
// safe for concurrent use; make one per audio stream.
type Stream struct {
	m       *Model
	s       *state
	pending []float32 // < ChunkSize samples waiting for the rest of their chunk
}

// NewStream returns a Stream starting from a fresh state.
func (m *Model) NewStream() *Stream {
	return &Stream{m: m, s: m.getState(), pending: make([]float32, 0, ChunkSize)}
}

// Push feeds samples (16 kHz mono) and appends to probs one probability per
// chunk completed, returning the extended slice.
func (st *Stream) Push(probs, samples []float32) []float32 {
	if len(st.pending) > 0 {
		n := min(ChunkSize-len(st.pending), len(samples))
		st.pending = append(st.pending, samples[:n]...)
		samples = samples[n:]
		if len(st.pending) < ChunkSize {
			return probs
		}
		probs = append(probs, st.m.step(st.s, st.pending))
		st.pending = st.pending[:0]
	}
	for len(samples) >= ChunkSize {
		probs = append(probs, st.m.step(st.s, samples[:ChunkSize]))
		samples = samples[ChunkSize:]
	}
	st.pending = append(st.pending, samples...)
	return probs
}

// Flush zero-pads a pending partial chunk, appends its probability to probs
// and returns the extended slice; with nothing pending it returns probs.
// The recurrent state is kept, so more audio may follow.
func (st *Stream) Flush(probs []float32) []float32 {
	if len(st.pending) == 0 {
		return probs
	}
	probs = append(probs, st.m.step(st.s, st.pending))
	st.pending = st.pending[:0]
	return probs
}

// Reset discards the recurrent state and any pending samples.
func (st *Stream) Reset() {
	st.s.reset()
	st.pending = st.pending[:0]
}

package vad

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"voxgate/internal/testaudio"

	"voxgate/internal/shared"
	"voxgate/tensor"
)

// need returns path, failing under CI and skipping elsewhere when missing.
func need(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("missing %s: %v", path, err)
		}
		t.Skipf("missing %s: %v", path, err)
	}
	return path
}

type reference struct {
	Protocol string `json:"protocol"`
	Results  []struct {
		Path  string    `json:"path"`
		Probs []float32 `json:"probs"`
	} `json:"results"`
}

func loadReference(t testing.TB) (root string, ref reference) {
	t.Helper()
	root = shared.Dir(t)
	b, err := os.ReadFile(need(t, filepath.Join(root, "models/silero-vad/reference-outputs.json")))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Results) == 0 {
		t.Fatal("reference-outputs.json lists no results")
	}
	return root, ref
}

func loadModel(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load(need(t, filepath.Join(shared.Dir(t), "models/silero-vad", name)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// maxDiff returns the largest |a[i]-b[i]|, or +Inf when lengths differ.
func maxDiff(a, b []float32) (float64, int) {
	if len(a) != len(b) {
		return math.Inf(1), -1
	}
	worst, at := 0.0, -1
	for i := range a {
		if d := math.Abs(float64(a[i]) - float64(b[i])); d > worst {
			worst, at = d, i
		}
	}
	return worst, at
}

// TestProbsMatchReference checks every probability of upstream's reference
// outputs within 1e-4. The reference was made with upstream's model, whose
// weights are those of silero_vad.onnx; both STFT paths (FFT and the conv
// basis product) are checked.
func TestProbsMatchReference(t *testing.T) {
	root, ref := loadReference(t)
	m := loadModel(t, "silero_vad.onnx")
	if m.fft == nil {
		t.Fatal("upstream STFT basis not recognised as a Hann DFT")
	}
	// The same weights computing the STFT as a product with the basis.
	basis := &Model{basis: m.basis, convs: m.convs, lstm: m.lstm, bias: m.bias, outW: m.outW, outB: m.outB}
	const tol = 1e-4
	for _, r := range ref.Results {
		t.Run(filepath.Base(r.Path), func(t *testing.T) {
			x := testaudio.Sox(t, need(t, filepath.Join(root, "voice-data", r.Path)))
			for _, c := range []struct {
				name string
				m    *Model
			}{{"fft", m}, {"basis", basis}} {
				got := c.m.Probs(x)
				d, at := maxDiff(got, r.Probs)
				t.Logf("%s: %d chunks, max |diff| %.2g", c.name, len(got), d)
				if len(got) != len(r.Probs) {
					t.Fatalf("%s: %d probabilities, want %d", c.name, len(got), len(r.Probs))
				}
				if d > tol {
					t.Errorf("%s: chunk %d: prob %.6f, want %.6f (|diff| %.2g > %g)", c.name, at, got[at], r.Probs[at], d, tol)
				}
			}
		})
	}
}

// TestSafetensorsModelRuns loads the safetensors weights and checks that
// they form a working detector: every reference file has speech where
// upstream's model finds it. (The file's weights differ from the ONNX
// model's, so exact parity is only checked with the latter.)
func TestSafetensorsModelRuns(t *testing.T) {
	root, ref := loadReference(t)
	m := loadModel(t, "silero_vad_16k.safetensors")
	for _, r := range ref.Results {
		x := testaudio.Sox(t, need(t, filepath.Join(root, "voice-data", r.Path)))
		got := m.Probs(x)
		if len(got) != len(r.Probs) {
			t.Fatalf("%s: %d probabilities, want %d", r.Path, len(got), len(r.Probs))
		}
		agree := 0
		for i := range got {
			if (got[i] >= 0.5) == (r.Probs[i] >= 0.5) {
				agree++
			}
		}
		t.Logf("%s: speech/non-speech agreement %d/%d", r.Path, agree, len(got))
		if float64(agree) < 0.8*float64(len(got)) {
			t.Errorf("%s: agrees with the reference on only %d of %d chunks", r.Path, agree, len(got))
		}
	}
}

func TestStreamMatchesProbs(t *testing.T) {
	m := syntheticModel(t)
	x := syntheticAudio(20*ChunkSize + 300)
	want := m.Probs(x)
	st := m.NewStream()
	for _, piece := range []int{1, 100, 511, 512, 513, 1000, len(x)} {
		st.Reset()
		var got []float32
		for rest := x; len(rest) > 0; {
			n := min(piece, len(rest))
			got = st.Push(got, rest[:n])
			rest = rest[n:]
		}
		got = st.Flush(got)
		if d, at := maxDiff(got, want); d != 0 {
			t.Fatalf("pieces of %d: chunk %d differs by %g (len %d vs %d)", piece, at, d, len(got), len(want))
		}
	}
	// Without Reset the state carries on, so the same audio scores differently.
	again := st.Flush(st.Push(nil, x))
	if d, _ := maxDiff(again, want); d == 0 {
		t.Error("a stream that was not reset gave fresh-state results")
	}
}

func TestProbsIsSafeForConcurrentUse(t *testing.T) {
	m := syntheticModel(t)
	inputs := [][]float32{syntheticAudio(30 * ChunkSize), syntheticAudio(17*ChunkSize + 5)}
	want := [][]float32{m.Probs(inputs[0]), m.Probs(inputs[1])}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 3; rep++ {
				i := (g + rep) % 2
				if d, at := maxDiff(m.Probs(inputs[i]), want[i]); d != 0 {
					errs <- fmt.Sprintf("goroutine %d: input %d chunk %d differs by %g", g, i, at, d)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestProbsAllocatesOnlyTheResult(t *testing.T) {
	m := syntheticModel(t)
	x := syntheticAudio(10 * ChunkSize)
	m.Probs(x) // warm the pool
	if n := testing.AllocsPerRun(20, func() { m.Probs(x) }); n > 1 {
		t.Errorf("Probs made %v allocations per call, want 1 (the result)", n)
	}
}

func TestProbsHandlesShortInput(t *testing.T) {
	m := loadModel(t, "silero_vad.onnx")
	if got := m.Probs([]float32{0.1}); len(got) != 1 {
		t.Errorf("Probs of 1 sample gave %d probabilities, want 1", len(got))
	}
	if got := m.Probs(nil); len(got) != 0 {
		t.Errorf("Probs(nil) = %v, want none", got)
	}
	got := m.Probs(make([]float32, 513))
	if len(got) != 2 {
		t.Fatalf("Probs of 513 samples gave %d probabilities, want 2", len(got))
	}
	for _, p := range got {
		if !(p >= 0 && p < 0.5) {
			t.Errorf("silence probability %v, want in [0, 0.5)", p)
		}
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil {
		t.Error("Load of a garbage safetensors file succeeded")
	}
	badONNX := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(badONNX, []byte{0x3a, 0x05, 0x0a, 0x03, 'a'}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(badONNX); err == nil {
		t.Error("Load of a garbage ONNX file succeeded")
	}
	if _, err := Load(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	if _, err := New(nil); err == nil {
		t.Error("New without weights succeeded")
	}
}

// syntheticModel builds a Model with upstream's STFT basis and random
// weights of the right shapes: the cost of a step does not depend on the
// weight values, so benchmarks and state-handling tests need no model file.
func syntheticModel(t testing.TB) *Model {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	w := map[string]*tensor.Tensor{}
	rnd := func(name string, scale float64, shape ...int) {
		x := tensor.New(shape...)
		for i := range x.Data {
			x.Data[i] = float32(scale * r.NormFloat64())
		}
		w[name] = x
	}
	basis := tensor.New(2*nBins, 1, nFFT)
	for k := 0; k < nBins; k++ {
		for n := 0; n < nFFT; n++ {
			win := 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/nFFT)
			ph := 2 * math.Pi * float64(k*n%nFFT) / nFFT
			basis.Data[k*nFFT+n] = float32(win * math.Cos(ph))
			basis.Data[(nBins+k)*nFFT+n] = float32(-win * math.Sin(ph))
		}
	}
	w["stft_conv.weight"] = basis
	specs := [4]struct{ in, out int }{{nBins, 128}, {128, 64}, {64, 64}, {64, 128}}
	for i, sp := range specs {
		rnd(fmt.Sprintf("conv%d.weight", i+1), 1/math.Sqrt(float64(3*sp.in)), sp.out, sp.in, 3)
		rnd(fmt.Sprintf("conv%d.bias", i+1), 0.1, sp.out)
	}
	rnd("lstm_cell.weight_ih", 0.1, 4*hidden, hidden)
	rnd("lstm_cell.weight_hh", 0.1, 4*hidden, hidden)
	rnd("lstm_cell.bias_ih", 0.1, 4*hidden)
	rnd("lstm_cell.bias_hh", 0.1, 4*hidden)
	rnd("final_conv.weight", 0.1, 1, hidden, 1)
	rnd("final_conv.bias", 0.1, 1)
	m, err := New(w)
	if err != nil {
		t.Fatal(err)
	}
	if m.fft == nil {
		t.Fatal("synthetic Hann basis not recognised")
	}
	return m
}

// syntheticAudio returns n samples of a deterministic amplitude-modulated
// tone with a little noise: enough structure to exercise every layer.
func syntheticAudio(n int) []float32 {
	r := rand.New(rand.NewPCG(3, 5))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(0.3*math.Sin(float64(i)*0.05)*math.Sin(float64(i)*0.0007) + 0.01*r.NormFloat64())
	}
	return x
}

// BenchmarkProbs10s times Probs on 10 s of audio; x_realtime is audio
// seconds per wall-clock second, x_realtime_cpu per second of this
// process's CPU time (less sensitive to a busy machine). Run with
// GOMAXPROCS=1 for the one-core figure.
func BenchmarkProbs10s(b *testing.B) {
	m := syntheticModel(b)
	x := syntheticAudio(10 * SampleRate)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		m.Probs(x)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(10*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
	if cpu > 0 {
		b.ReportMetric(10*float64(b.N)/cpu.Seconds(), "x_realtime_cpu")
	}
}

// FuzzParseONNX checks that no input makes the ONNX weight reader panic.
func FuzzParseONNX(f *testing.F) {
	f.Add([]byte{0x3a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'})
	// graph { node { op_type "Constant" output "x" attribute { t { dims 2 data_type 1 float_data [1, 2] } } } }
	tensorMsg := []byte{0x08, 0x02, 0x10, 0x01, 0x22, 0x08, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}
	attr := append([]byte{0x2a, byte(len(tensorMsg))}, tensorMsg...)
	node := append([]byte{0x12, 0x01, 'x', 0x22, 0x08, 'C', 'o', 'n', 's', 't', 'a', 'n', 't', 0x2a, byte(len(attr))}, attr...)
	graph := append([]byte{0x0a, byte(len(node))}, node...)
	f.Add(append([]byte{0x3a, byte(len(graph))}, graph...))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := parseONNX(b)
		if err == nil && len(w) == 0 {
			t.Fatal("no error and no weights")
		}
	})
}

package antispoof

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"voxgate/internal/testaudio"

	"voxgate/internal/shared"
)

func loadModel(t testing.TB, name string) *Model {
	t.Helper()
	dir := filepath.Join(shared.Dir(t), "models", "aasist")
	m, err := Load(filepath.Join(dir, name+".pth"), filepath.Join(dir, name+".conf"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type reference struct {
	Models map[string]struct {
		Results []struct {
			Path   string     `json:"path"`
			Logits [2]float64 `json:"logits"`
		} `json:"results"`
	} `json:"models"`
}

// loadReference reads the authors' PyTorch logits for the reference files.
func loadReference(t *testing.T) (root string, ref reference) {
	t.Helper()
	root = shared.Dir(t)
	b, err := os.ReadFile(filepath.Join(root, "models", "aasist", "reference-outputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return root, ref
}

func TestLogitsMatchAuthorsPyTorch(t *testing.T) {
	root, ref := loadReference(t)
	audio := map[string][]float32{}
	for _, name := range []string{"AASIST", "AASIST-L"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name).FP32()
			results := ref.Models[name].Results
			if len(results) == 0 {
				t.Fatal("no reference results")
			}
			if testing.Short() {
				results = results[:1]
			}
			var worst float64
			for _, r := range results {
				x, ok := audio[r.Path]
				if !ok {
					x = testaudio.Sox(t, filepath.Join(root, "voice-data", r.Path))
					audio[r.Path] = x
				}
				got := m.Logits(x)
				for i := range got {
					d := math.Abs(float64(got[i]) - r.Logits[i])
					worst = max(worst, d)
					if d > 1e-3 {
						t.Errorf("%s: logits %v, want %v", r.Path, got, r.Logits)
						break
					}
				}
			}
			t.Logf("%s: max |logit error| %.2g over %d files", name, worst, len(results))
		})
	}
}

// The INT8 encoder (the default where the CPU has AVX-512 VNNI) stays
// within a stated tolerance of the authors' FP32 logits on the reference
// files, and keeps each file's verdict (the sign of spoof minus bona fide
// logit) unless FP32 itself is within the tolerance of the boundary.
func TestINT8AgreesWithFP32(t *testing.T) {
	const tolerance = 0.5 // |logit error|; the logits span about ±8
	root, ref := loadReference(t)
	m := loadModel(t, "AASIST")
	if !m.INT8() {
		t.Skip("no AVX-512 VNNI here: the model runs in FP32")
	}
	results := ref.Models["AASIST"].Results
	if testing.Short() {
		results = results[:2]
	}
	var worst float64
	for _, r := range results {
		got := m.Logits(testaudio.Sox(t, filepath.Join(root, "voice-data", r.Path)))
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i])-r.Logits[i]))
		}
		margin := r.Logits[1] - r.Logits[0]
		if gm := float64(got[1] - got[0]); gm*margin < 0 && math.Abs(margin) > tolerance {
			t.Errorf("%s: INT8 margin %.3f, FP32 %.3f: verdict flipped", r.Path, gm, margin)
		}
	}
	t.Logf("INT8: max |logit error| %.3g over %d files", worst, len(results))
	if worst > tolerance {
		t.Errorf("INT8 logits differ from the reference by up to %.3g (tolerance %g)", worst, tolerance)
	}
}

func benchWindow(b *testing.B, name string) {
	fp32 := strings.HasSuffix(name, "-FP32")
	m := loadModel(b, strings.TrimSuffix(name, "-FP32"))
	if fp32 {
		m = m.FP32()
	}
	x := make([]float32, m.Config().Samples)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.01)) * 0.3
	}
	m.Logits(x) // allocate the workspace outside the timing
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		m.Logits(x)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/window")
	// CPU time is what a loaded machine cannot hide: wall time on idle cores
	// is about cpu-s/window divided by GOMAXPROCS.
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/window")
}

// BenchmarkAASISTWindow times one 4 s window (about 19 GFLOP).
func BenchmarkAASISTWindow(b *testing.B) { benchWindow(b, "AASIST") }

// BenchmarkAASISTWindowFP32 is BenchmarkAASISTWindow without the INT8
// encoder.
func BenchmarkAASISTWindowFP32(b *testing.B) { benchWindow(b, "AASIST-FP32") }

// BenchmarkAASISTLWindow times one window of the light model.
func BenchmarkAASISTLWindow(b *testing.B) { benchWindow(b, "AASIST-L") }

// testAudio is a deterministic non-silent signal: a chirp plus noise.
func testAudio(n int, seed uint64) []float32 {
	x := make([]float32, n)
	s := seed*2654435761 + 1
	for i := range x {
		s = s*6364136223846793005 + 1442695040888963407
		noise := float64(int64(s>>11)%2000-1000) / 1e4
		f := 200 + float64(i)/float64(n)*3000
		x[i] = float32(0.3*math.Sin(2*math.Pi*f*float64(i)/SampleRate) + noise)
	}
	return x
}

func TestLogitsRepeatsShortInputToFillTheWindow(t *testing.T) {
	m := loadModel(t, "AASIST-L")
	short := testAudio(20000, 1)
	tiled := make([]float32, m.Config().Samples)
	for i := range tiled {
		tiled[i] = short[i%len(short)]
	}
	if got, want := m.Logits(short), m.Logits(tiled); got != want {
		t.Fatalf("short input gave %v, explicitly tiled %v", got, want)
	}
	long := append(append([]float32(nil), tiled...), testAudio(5000, 2)...)
	if got, want := m.Logits(long), m.Logits(tiled); got != want {
		t.Fatalf("samples past the window changed the logits: %v vs %v", got, want)
	}
}

func TestLogitsIsSafeForConcurrentUse(t *testing.T) {
	m := loadModel(t, "AASIST-L")
	inputs := [][]float32{testAudio(30000, 3), testAudio(64600, 4), testAudio(70000, 5)}
	if testing.Short() {
		inputs = inputs[:2]
	}
	want := make([][2]float32, len(inputs))
	for i, x := range inputs {
		want[i] = m.Logits(x)
	}
	got := make([][2]float32, len(inputs))
	var wg sync.WaitGroup
	for i, x := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = m.Logits(x)
		}()
	}
	wg.Wait()
	for i := range inputs {
		if got[i] != want[i] {
			t.Errorf("input %d: concurrent %v, sequential %v", i, got[i], want[i])
		}
	}
}

func TestScoreSlidesWindowsOverLongAudio(t *testing.T) {
	if testing.Short() {
		t.Skip("runs six windows")
	}
	m := loadModel(t, "AASIST-L")
	n := m.Config().Samples
	x := testAudio(n+40000, 6)
	r := m.Score(x)
	// Windows at 0 and Hop, then one aligned to the end (start 40000).
	starts := []int{0, Hop, len(x) - n}
	if r.Windows != len(starts) || len(r.PerWindow) != len(starts) {
		t.Fatalf("got %d windows (%v), want %d", r.Windows, r.PerWindow, len(starts))
	}
	var sum float64
	lowest := math.Inf(1)
	for i, s := range starts {
		l := m.Logits(x[s : s+n])
		want := float64(l[1]) - float64(l[0])
		if r.PerWindow[i] != want {
			t.Errorf("window %d: %v, want %v", i, r.PerWindow[i], want)
		}
		sum += want
		lowest = min(lowest, want)
	}
	if math.Abs(r.Score-sum/3) > 1e-12 || r.Min != lowest {
		t.Errorf("Score %v Min %v, want %v %v", r.Score, r.Min, sum/3, lowest)
	}
}

func TestScoreOfEmptyAudioHasNoWindows(t *testing.T) {
	m := loadModel(t, "AASIST-L")
	if r := m.Score(nil); r.Windows != 0 || r.Score != 0 || r.PerWindow != nil {
		t.Fatalf("got %+v", r)
	}
	if r := m.Score(testAudio(8000, 7)); r.Windows != 1 {
		t.Fatalf("half a second gave %d windows, want 1", r.Windows)
	}
}

func TestLoadRejectsCheckpointOfAnotherSize(t *testing.T) {
	dir := filepath.Join(shared.Dir(t), "models", "aasist")
	_, err := Load(filepath.Join(dir, "AASIST.pth"), filepath.Join(dir, "AASIST-L.conf"))
	if err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("got %v, want a shape mismatch", err)
	}
}

func TestParseConfigRejectsBadHyperParameters(t *testing.T) {
	good := `{"model_config": {"architecture": "AASIST", "nb_samp": 64600, "first_conv": 128,
		"filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]], "gat_dims": [64, 32],
		"pool_ratios": [0.5, 0.7, 0.5, 0.5], "temperatures": [2.0, 2.0, 100.0, 100.0]}}`
	if _, err := ParseConfig([]byte(good)); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"other architecture", `"AASIST"`, `"RawNet2"`},
		{"unchained blocks", `[32, 64], [64, 64]`, `[32, 64], [48, 64]`},
		{"first block not mono", `[1, 32]`, `[2, 32]`},
		{"zero pool ratio", `[0.5, 0.7`, `[0, 0.7`},
		{"short window", `64600`, `100`},
		{"missing temperatures", `, "temperatures": [2.0, 2.0, 100.0, 100.0]`, ``},
		{"filter pair not a pair", `[1, 32]`, `[1, 32, 3]`},
		{"not json", `{"model_config"`, `{"model_config`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.from, tc.to, 1)
			if bad == good {
				t.Fatal("test case did not change the config")
			}
			if _, err := ParseConfig([]byte(bad)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestLogitsTreatsNonFiniteSamplesAsSilence(t *testing.T) {
	m := loadModel(t, "AASIST-L")
	x := testAudio(m.Config().Samples, 8)
	clean := append([]float32(nil), x...)
	for _, i := range []int{10, 1000, 20000} {
		x[i] = float32(math.NaN())
		clean[i] = 0
	}
	x[30000] = float32(math.Inf(-1))
	clean[30000] = 0
	got, want := m.Logits(x), m.Logits(clean)
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

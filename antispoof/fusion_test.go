package antispoof

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"voxgate/internal/testaudio"

	"voxgate/internal/shared"
)

func TestDetectorFusesBothCheckpointsWhenPresent(t *testing.T) {
	d := loadDetector(t)
	if d.second == nil || d.fusion == nil || d.Warning() != "" || !strings.Contains(d.Name(), "fusion") {
		t.Fatalf("shared models hold both checkpoints, detector %q warning %q", d.Name(), d.Warning())
	}
	x := testaudio.Decode(t, filepath.Join(shared.Dir(t), "voice-data", "corpora", "ravdess/Actor_03/03-01-01-01-01-01-03.flac"))
	v, err := d.Detail(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Checked || v.ASVspoof5 == nil || len(v.Windows) != d.fusion.f.Windows || v.Windows[0].ASVspoof5 == nil {
		t.Fatalf("%+v", v)
	}
	// The verdict's score is the fusion of the two raw scores it reports.
	if got := d.fusion.logit(v.AASIST, *v.ASVspoof5); len(v.Windows) == 1 && (got-v.Score > 1e-9 || v.Score-got > 1e-9) {
		t.Errorf("score %v, fusion of the reported raw scores %v", v.Score, got)
	}
	if v.Threshold != d.fusion.f.Threshold {
		t.Errorf("threshold %v, want the fusion's %v", v.Threshold, d.fusion.f.Threshold)
	}
}

func TestDetectorFallsBackWithWarningWithoutSecondCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(shared.Dir(t), "models", "aasist"), filepath.Join(dir, "aasist")); err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.second != nil || d.fusion != nil || !strings.Contains(d.Warning(), SecondDir) || d.Name() != "aasist+backend" {
		t.Fatalf("detector %q, warning %q", d.Name(), d.Warning())
	}
	if d.Threshold() != d.backend.f.Threshold {
		t.Error("fallback threshold is not the back-end's")
	}
	if len(d.OperatingPoints()) != 0 {
		t.Error("the older back-end offers operating points it was not measured at")
	}
	v, err := d.Detail(context.Background(), testAudio(2*SampleRate, 3))
	if err != nil || !v.Checked || v.ASVspoof5 != nil {
		t.Fatalf("%+v %v", v, err)
	}
}

func TestNewDetectorFailsOnBrokenSecondCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(shared.Dir(t), "models", "aasist"), filepath.Join(dir, "aasist")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, SecondDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SecondDir, "AASIST.pth"), []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDetector(dir); err == nil {
		t.Error("a present but broken second checkpoint was accepted")
	}
}

func TestParseFusionRejectsInconsistentWeights(t *testing.T) {
	if _, err := parseFusion(fusionJSON); err != nil {
		t.Fatalf("shipped fusion.json: %v", err)
	}
	for name, js := range map[string]string{
		"lengths":       `{"inputs":["aasist","asvspoof5"],"mean":[0],"scale":[1,1],"weights":[1,1],"threshold":0.5,"windows":1}`,
		"unknown input": `{"inputs":["aasist","x"],"mean":[0,0],"scale":[1,1],"weights":[1,1],"threshold":0.5,"windows":1}`,
		"zero scale":    `{"inputs":["aasist","asvspoof5"],"mean":[0,0],"scale":[1,0],"weights":[1,1],"threshold":0.5,"windows":1}`,
		"threshold":     `{"inputs":["aasist","asvspoof5"],"mean":[0,0],"scale":[1,1],"weights":[1,1],"threshold":1,"windows":1}`,
		"no windows":    `{"inputs":["aasist","asvspoof5"],"mean":[0,0],"scale":[1,1],"weights":[1,1],"threshold":0.5}`,
		"no asvspoof5":  `{"inputs":["aasist"],"mean":[0],"scale":[1],"weights":[1],"threshold":0.5,"windows":1}`,
		"not json":      `{`,
		"combine":       `{"inputs":["aasist","asvspoof5"],"mean":[0,0],"scale":[1,1],"weights":[1,1],"threshold":0.5,"windows":1,"combine":"min"}`,
	} {
		if _, err := parseFusion([]byte(js)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkLiveness4s times the whole synthetic-speech check of a 4 s
// recording as the service runs it (both checkpoints and the fusion):
//
//	GOMAXPROCS=2 go test -run '^$' -bench Liveness4s -benchtime 10x ./antispoof
func BenchmarkLiveness4s(b *testing.B) {
	d := loadDetector(b)
	x := testAudio(4*SampleRate, 5)
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := d.Spoof(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

func TestFusionCombinesStandardisedScores(t *testing.T) {
	base := fusionFile{Inputs: []string{InputAASIST, InputASVspoof5}, Mean: []float64{1, 10}, Scale: []float64{2, 5},
		Weights: []float64{-1, -1}, Bias: 0.5, Threshold: 0.5, Windows: 1}
	for _, c := range []struct {
		combine           string
		aasist, asvspoof5 float64
		want              float64
	}{
		// z = (-(x-mean)/scale): aasist -3 -> 2, asvspoof5 20 -> -2
		{"max", -3, 20, 0.5 + 2},
		{"max", 5, 0, 0.5 + 2}, // z -2 and 2: the second decides
		{"sum", -3, 20, 0.5 + 0},
		{"", 1, 10, 0.5},
	} {
		f := base
		f.Combine = c.combine
		b, _ := json.Marshal(f)
		u, err := parseFusion(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.logit(c.aasist, c.asvspoof5); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%q (%v, %v): %v, want %v", c.combine, c.aasist, c.asvspoof5, got, c.want)
		}
		if p := u.probability(0); p != 0.5 {
			t.Errorf("uncalibrated P(spoof) at 0: %v", p)
		}
	}
}

func TestShippedFusionOffersOperatingPointsFromTrainingRealSpeech(t *testing.T) {
	u, err := parseFusion(fusionJSON)
	if err != nil {
		t.Fatal(err)
	}
	pts := u.f.OperatingPoints
	if len(pts) < 2 {
		t.Fatalf("operating points: %+v", pts)
	}
	// The default threshold is one of the table's points: the first, at the
	// rule's BPCER of 1 %.
	if pts[0].BPCER != 0.01 || pts[0].Threshold != u.f.Threshold {
		t.Errorf("first point %+v, default threshold %v", pts[0], u.f.Threshold)
	}
	for _, p := range pts {
		if p.BPCEROutOfFold <= 0 || p.APCERTraining <= 0 || p.APCERTraining >= 1 {
			t.Errorf("point without its measured rates: %+v", p)
		}
	}
}

func TestFusionRefusesOperatingPointsOutOfOrder(t *testing.T) {
	for name, pts := range map[string]string{
		"bpcer descending":   `[{"bpcer":0.05,"threshold":0.2},{"bpcer":0.02,"threshold":0.25}]`,
		"threshold rising":   `[{"bpcer":0.01,"threshold":0.2},{"bpcer":0.02,"threshold":0.25}]`,
		"bpcer out of range": `[{"bpcer":0,"threshold":0.2}]`,
		"threshold of one":   `[{"bpcer":0.01,"threshold":1}]`,
	} {
		var f map[string]any
		if err := json.Unmarshal(fusionJSON, &f); err != nil {
			t.Fatal(err)
		}
		var p any
		json.Unmarshal([]byte(pts), &p)
		f["operating_points"] = p
		b, _ := json.Marshal(f)
		if _, err := parseFusion(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Files written before the table still load.
	var f map[string]any
	json.Unmarshal(fusionJSON, &f)
	delete(f, "operating_points")
	b, _ := json.Marshal(f)
	if u, err := parseFusion(b); err != nil || len(u.f.OperatingPoints) != 0 {
		t.Errorf("file without operating points: %v", err)
	}
}

package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"voxgate/internal/shared"
)

// BenchmarkAnalyze10s measures the audio front on 10 s of 48 kHz stereo
// speech: decode, resample to 16 kHz mono, Silero VAD, quality measures.
// The x_realtime metric is seconds of audio per second of work.
func BenchmarkAnalyze10s(b *testing.B) {
	an := testAnalyzer(b)
	root := shared.Dir(b)
	corp := filepath.Join(root, "voice-data/corpora/ravdess/Actor_01")
	path := filepath.Join(b.TempDir(), "10s.wav")
	cmd := exec.Command("sox", filepath.Join(corp, "03-01-01-01-01-01-01.flac"), filepath.Join(corp, "03-01-01-01-01-02-01.flac"),
		filepath.Join(corp, "03-01-01-01-02-01-01.flac"), filepath.Join(corp, "03-01-01-01-02-02-01.flac"),
		"-r", "48000", "-c", "2", path, "trim", "0", "10")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("sox: %v %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := an.Analyze(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(10*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
}

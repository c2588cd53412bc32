// Package testaudio reads audio files for tests, as 16 kHz mono float32:
// through the service's own decoder (package audio) or through sox, the
// decoder that reference outputs made with Python tools were computed from.
// It is the one copy of a helper several packages' tests need.
package testaudio

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"voxgate/audio"
)

// Decode reads path with the service's decoder (audio.Decoder), failing t
// on any error.
func Decode(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clip, err := (&audio.Decoder{}).Decode(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return clip.Samples
}

// Sox reads path through sox (16 kHz, mono, 32-bit float), the decoder of
// the Python reference protocols. Without sox the test skips, or fails when
// CI is set.
func Sox(t testing.TB, path string) []float32 {
	t.Helper()
	sox, err := exec.LookPath("sox")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sox not installed")
		}
		t.Skip("sox not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sox, path, "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", "16000", "-").Output()
	if err != nil {
		t.Fatalf("sox %s: %v", path, err)
	}
	x := make([]float32, len(out)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
	}
	return x
}

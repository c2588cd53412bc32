package antispoof

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"testing"
	"voxgate/internal/testaudio"

	"voxgate/internal/shared"
)

// TestINT8FlipsNoVerdictOnSpoofPool scores every file of the dev spoof pool
// with the default (INT8 where the CPU has VNNI) and the FP32 detector and
// counts verdicts that differ. It takes minutes, so it runs only when
// VOXGATE_POOL_PARITY=1 (docs/PERFORMANCE.md records its figures):
//
//	VOXGATE_POOL_PARITY=1 go test -run INT8FlipsNoVerdict -v ./antispoof
func TestINT8FlipsNoVerdictOnSpoofPool(t *testing.T) {
	if os.Getenv("VOXGATE_POOL_PARITY") != "1" {
		t.Skip("set VOXGATE_POOL_PARITY=1 to score the whole spoof pool twice (minutes)")
	}
	root := shared.Dir(t)
	d, err := NewDetector(filepath.Join(root, "models"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.model.INT8() {
		t.Skip("no AVX-512 VNNI here: the detector runs in FP32")
	}
	ref := d.FP32()
	set := filepath.Join(root, "voice-data", "sets", "spoof-pool")
	f, err := os.Open(filepath.Join(set, "spoof.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var flips, n int
	var worst, sumDiff float64
	for _, row := range rows[1:] {
		x := testaudio.Sox(t, filepath.Join(set, row[0]))
		p8, thr, err := d.Spoof(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		p32, _, err := ref.Spoof(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		n++
		diff := math.Abs(p8 - p32)
		worst, sumDiff = max(worst, diff), sumDiff+diff
		if (p8 >= thr) != (p32 >= thr) {
			flips++
			t.Logf("%s (%s): INT8 %.4f, FP32 %.4f, threshold %.4f", row[0], row[1], p8, p32, thr)
		}
	}
	t.Logf("%d files: %d verdicts flipped; spoof probability differs by %.4f on average, %.4f at most", n, flips, sumDiff/float64(n), worst)
	if flips > 0 {
		t.Errorf("INT8 flipped %d of %d verdicts", flips, n)
	}
}

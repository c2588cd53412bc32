package engine

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"voxgate"
	"voxgate/internal/shared"
)

// TestDevSetsPassTheGates runs every recording of the speaker dev sets
// through the analyzer and both gates (VOXGATE_LONG=1: it takes minutes).
// The default gates must pass all of them: the sets are real, usable speech.
func TestDevSetsPassTheGates(t *testing.T) {
	if os.Getenv("VOXGATE_LONG") == "" {
		t.Skip("set VOXGATE_LONG=1 to scan every dev-set recording")
	}
	an := testAnalyzer(t)
	root := shared.Dir(t)
	sets := []string{"ravdess", "librispeech", "fsdd", "audiomnist_az", "tortoise-spoof"}
	if s := os.Getenv("VOXGATE_SETS"); s != "" {
		sets = strings.Split(s, ",")
	}
	for _, set := range sets {
		files := map[string]string{} // path -> gate
		for _, name := range []string{"enroll.csv", "trials.csv"} {
			csvPath := filepath.Join(root, "voice-data/sets", set, name)
			f, err := os.Open(csvPath)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(f).ReadAll()
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows[1:] {
				p := filepath.Join(filepath.Dir(csvPath), row[1])
				if name == "enroll.csv" {
					files[p] = "enroll"
				} else if _, ok := files[p]; !ok && (len(row) < 3 || row[2] != "spoof") {
					files[p] = "verify"
				}
			}
		}
		var minSpeech, minSNR, minDur = 1e9, 1e9, 1e9
		var maxClip float64
		var fails []string
		var snrs []float64
		codes := map[string]int{}
		for p, which := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			a, err := an.Analyze(context.Background(), data)
			if err != nil {
				fails = append(fails, fmt.Sprintf("%s: %v", p, err))
				continue
			}
			snrs = append(snrs, a.Quality.SNRdB)
			minSpeech, minSNR, minDur = min(minSpeech, a.SpeechSeconds), min(minSNR, a.Quality.SNRdB), min(minDur, a.Clip.Duration)
			maxClip = max(maxClip, a.Quality.Clipping)
			g := VerifyGate
			if which == "enroll" {
				g = EnrollGate
			}
			if err := g.Check(a); err != nil {
				codes[which+":"+voxgate.ErrorCode(err)]++
				fails = append(fails, fmt.Sprintf("%s (%s): %v", p, which, err))
			}
		}
		sort.Strings(fails)
		sort.Float64s(snrs)
		t.Logf("%s: SNR percentiles 1%%: %.1f 5%%: %.1f 50%%: %.1f dB", set, snrs[len(snrs)/100], snrs[len(snrs)/20], snrs[len(snrs)/2])
		t.Logf("%s: %d files, min duration %.2fs, min speech %.2fs, min SNR %.1f dB, max clipping %.4f, %d fail %v",
			set, len(files), minDur, minSpeech, minSNR, maxClip, len(fails), codes)
		for i, f := range fails {
			if i == 10 && os.Getenv("VOXGATE_ALL") == "" {
				t.Logf("  ... %d more", len(fails)-10)
				break
			}
			t.Logf("  %s", f)
		}
	}
}

package eval_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"voxgate/audio"
	"voxgate/eval"
	"voxgate/speaker"
)

// TestSpeakerDevSets measures the shipped speaker model on the dev sets with
// the same calls the service makes. It decodes every recording (minutes of
// CPU), so it runs only with VOXGATE_LONG=1:
//
//	VOXGATE_LONG=1 go test ./eval -run TestSpeakerDevSets -v -timeout 60m
//
// VOXGATE_SETS overrides the comma-free list with one set folder name.
func TestSpeakerDevSets(t *testing.T) {
	if os.Getenv("VOXGATE_LONG") == "" {
		t.Skip("set VOXGATE_LONG=1 to measure the dev sets")
	}
	shared := os.Getenv("VOXGATE_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "shared")
	}
	sets := []string{"ravdess", "librispeech", "fsdd", "audiomnist_az"}
	if s := os.Getenv("VOXGATE_SETS"); s != "" {
		sets = []string{s}
	}
	m, err := speaker.Load()
	if err != nil {
		t.Fatal(err)
	}
	sys := eval.ModelSystem(m, &audio.Decoder{}, speaker.DefaultTargetFAR)
	out := map[string]eval.SpeakerResult{}
	for _, name := range sets {
		set, err := eval.ReadSet(filepath.Join(shared, "voice-data", "sets", name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := eval.Speaker(context.Background(), set, sys, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = res
		t.Logf("%s: EER %.4f minDCF %.4f FAR %.4f FRR %.4f at %.3f (%d/%d trials) RTF %.4f",
			name, res.EER, res.MinDCF, res.FAR, res.FRR, res.Threshold, res.TargetTrials, res.NontargetTrials, res.RTF())
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	t.Logf("%s", b)
}

package eval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSet(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "toy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadSetResolvesPathsAgainstTheCSVFolder(t *testing.T) {
	dir := writeSet(t, map[string]string{
		"enroll.csv":  "model,path\nalice,a/1.flac\nbob,b/1.flac\nalice,a/2.flac\n",
		"trials.csv":  "model,path,label\nalice,a/3.flac,target\nbob,a/3.flac,nontarget\nalice,x.mp3,spoof\n",
		"phrases.csv": "path,prompt,label\na/3.flac,\"one, two\",match\n",
		"spoof.csv":   "path,label\nx.mp3,spoof\na/1.flac,bonafide\n",
	})
	s, err := ReadSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "toy" {
		t.Errorf("Name = %q", s.Name)
	}
	if len(s.Enroll) != 2 || s.Enroll[0].Model != "alice" || len(s.Enroll[0].Paths) != 2 {
		t.Fatalf("Enroll = %+v", s.Enroll)
	}
	if want := filepath.Join(dir, "a/2.flac"); s.Enroll[0].Paths[1] != want {
		t.Errorf("path = %q, want %q", s.Enroll[0].Paths[1], want)
	}
	if len(s.Trials) != 3 || s.Trials[2].Label != Spoof {
		t.Errorf("Trials = %+v", s.Trials)
	}
	if len(s.Phrases) != 1 || s.Phrases[0].Prompt != "one, two" || !s.Phrases[0].Match {
		t.Errorf("Phrases = %+v", s.Phrases)
	}
	if len(s.Spoofs) != 2 || s.Spoofs[0].Bonafide || !s.Spoofs[1].Bonafide {
		t.Errorf("Spoofs = %+v", s.Spoofs)
	}
}

func TestReadSetRejectsMalformedFiles(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no csv", map[string]string{"x.txt": ""}, "holds no"},
		{"bad label", map[string]string{"enroll.csv": "model,path\na,1\n", "trials.csv": "model,path,label\na,1,maybe\n"}, "unknown trial label"},
		{"bad header", map[string]string{"enroll.csv": "speaker,path\na,1\n"}, "header"},
		{"unknown model", map[string]string{"enroll.csv": "model,path\na,1\n", "trials.csv": "model,path,label\nb,1,target\n"}, "not enrolled"},
		{"short row", map[string]string{"spoof.csv": "path,label\nx\n"}, "wrong number of fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSet(writeSet(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSpeakerScoresEveryTrialOnceEmbedded(t *testing.T) {
	dir := writeSet(t, map[string]string{
		"enroll.csv": "model,path\nA,a1\nA,a2\nB,b1\n",
		"trials.csv": "model,path,label\nA,a3,target\nB,a3,nontarget\nB,b2,target\nA,b2,nontarget\nA,s,spoof\n",
	})
	s, err := ReadSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	sys := SpeakerSystem{
		Embed: func(_ context.Context, p string) (Embedding, error) {
			calls[filepath.Base(p)]++
			v := float32(1)
			if strings.HasPrefix(filepath.Base(p), "b") {
				v = -1
			}
			return Embedding{Vector: []float32{v}, AudioSeconds: 2}, nil
		},
		Enroll: func(e []Embedding) []float32 { return e[0].Vector },
		Score:  func(t, p []float32) float64 { return float64(t[0] * p[0]) },
	}
	res, err := Speaker(context.Background(), s, sys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.TargetTrials != 2 || res.NontargetTrials != 2 || res.EER != 0 || res.FAR != 0 || res.FRR != 0 {
		t.Errorf("result %+v", res)
	}
	if res.AudioSeconds != 10 || calls["s"] != 0 || calls["a3"] != 1 {
		t.Errorf("audio %v, calls %v", res.AudioSeconds, calls)
	}
}

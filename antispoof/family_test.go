package antispoof

import (
	"context"
	"path/filepath"
	"testing"

	"voxgate/internal/shared"
)

func TestFamilyNamesTheFolderBelowCorpora(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{"../../corpora/tortoise/cloned/angie/autoregressive_ml.mp3", "tortoise"},
		{"../../corpora/ravdess/Actor_01/03-01-01-01-01-01-01.flac", "ravdess"},
		{"../../corpora/librispeech/test-other/3005/3005-163389-0005.flac", "librispeech"},
		{"/work/shared/voice-data/corpora/asterisk_en/vm-intro.wav", "asterisk_en"},
		{`..\..\corpora\fsdd\jackson\0_jackson_0.wav`, "fsdd"},
		{"espeak/en-us/one.wav", "espeak"},
		{"./xtts/voice1/a.wav", "xtts"},
		{"../clones/b.wav", "clones"},
		{"corpora/c.wav", "corpora"}, // nothing below corpora: the first folder
		{"d.wav", ""},
		{"../d.wav", ""},
	} {
		if got := Family(c.path); got != c.want {
			t.Errorf("Family(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}

func TestEvalSetReportsFamiliesAndCorpora(t *testing.T) {
	d := loadDetector(t)
	corp := filepath.Join(shared.Dir(t), "voice-data", "corpora")
	p := spoofCSV(t,
		filepath.Join(corp, "ravdess/Actor_05/03-01-02-01-01-01-05.flac")+",bonafide",
		filepath.Join(corp, "librispeech/test-other/3005/3005-163389-0000.flac")+",bonafide",
		filepath.Join(corp, "tortoise/cloned/tom/autoregressive_ml.mp3")+",spoof",
		filepath.Join(corp, "tortoise/cloned/emma/frost_road_not_taken.mp3")+",spoof",
	)
	r, err := EvalSet(context.Background(), d, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		label, name string
		n           int
	}{{"spoof", "tortoise", 2}, {"bonafide", "librispeech", 1}, {"bonafide", "ravdess", 1}}
	if len(r.Groups) != len(want) {
		t.Fatalf("groups %+v", r.Groups)
	}
	for i, w := range want {
		g := r.Groups[i]
		if g.Label != w.label || g.Name != w.name || g.N != w.n || g.EER == nil {
			t.Errorf("group %d: %+v, want %+v", i, g, w)
		}
		// The group's rate is its share of wrong verdicts.
		wrong := 0
		for _, f := range r.Files {
			if Family(f.Path) == g.Name && f.Spoof != f.Verdict.Spoofed {
				wrong++
			}
		}
		if g.Rate != float64(wrong)/float64(g.N) {
			t.Errorf("%s: rate %v, want %d/%d", g.Name, g.Rate, wrong, g.N)
		}
	}
}

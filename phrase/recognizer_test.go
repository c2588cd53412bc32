//go:build cgo

package phrase

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"voxgate/audio"
	"voxgate/challenge"
	"voxgate/internal/shared"
)

// openRecognizer opens the default model, skipping (or failing under CI)
// when pocketsphinx-en-us is not installed.
func openRecognizer(t testing.TB, opts Options) *Recognizer {
	t.Helper()
	requireModel(t)
	r, err := Open("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// requireModel skips the test, or fails it under CI, when
// pocketsphinx-en-us is not installed.
func requireModel(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(DefaultModelDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pocketsphinx-en-us not installed: %v", err)
		}
		t.Skipf("pocketsphinx-en-us not installed (%v); apt-get install pocketsphinx-en-us", err)
	}
}

// common is one Recognizer for the tests that neither close it nor need
// special options: opening one loads the model (about 2 s).
var common struct {
	once sync.Once
	r    *Recognizer
	err  error
}

// sharedRecognizer returns the tests' common Recognizer (two decoders).
func sharedRecognizer(t testing.TB) *Recognizer {
	t.Helper()
	requireModel(t)
	common.once.Do(func() { common.r, common.err = Open("", Options{Decoders: 2}) })
	if common.err != nil {
		t.Fatal(common.err)
	}
	return common.r
}

// loadClip decodes a corpus file with package audio.
func loadClip(t testing.TB, path string) *audio.Clip {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clip, err := (&audio.Decoder{}).Decode(context.Background(), data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return clip
}

// realTrials are a handful of rows of the ravdess and asterisk-phrases
// sets: each file with its own prompt (match) and the set's competitor
// prompt (mismatch).
var realTrials = []struct {
	file            string
	match, mismatch string
}{
	{"ravdess/Actor_01/03-01-05-01-02-02-01.flac", "dogs are sitting by the door", "kids are talking by the door"},
	{"ravdess/Actor_01/03-01-03-02-01-01-01.flac", "kids are talking by the door", "dogs are sitting by the door"},
	{"ravdess/Actor_01/03-01-07-01-02-02-01.flac", "dogs are sitting by the door", "kids are talking by the door"},
	{"asterisk_en/conf-invalidpin.wav", "That pin is invalid for this conference.", "You will now be placed into the conference."},
	{"asterisk_en/confbridge-has-joined.wav", "...has joined the conference.", "...to exit the menu."},
	{"asterisk_en/auth-incorrect.wav", "Password incorrect.  Please enter your password followed by the pound key.",
		"You have been kicked from this conference"},
}

func TestCheckAcceptsSpokenPromptAndRejectsAnother(t *testing.T) {
	corpora := filepath.Join(shared.Dir(t), "voice-data", "corpora")
	r := sharedRecognizer(t)
	ctx := context.Background()
	for _, tt := range realTrials {
		path := filepath.Join(corpora, tt.file)
		clip := loadClip(t, path)
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			start := time.Now()
			m, err := r.Check(ctx, clip.Samples, clip.SourceRate, tt.match)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			mm, err := r.Check(ctx, clip.Samples, clip.SourceRate, tt.mismatch)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("match %.3f (%q), mismatch %.3f; %v for %.1f s", m.Score, m.Recognized, mm.Score, took.Round(time.Millisecond), float64(len(clip.Samples))/16000)
			if !m.Match || m.Score < m.Threshold {
				t.Errorf("spoken prompt %q rejected: score %.3f < %.3f", tt.match, m.Score, m.Threshold)
			}
			if mm.Match {
				t.Errorf("other prompt %q accepted: score %.3f", tt.mismatch, mm.Score)
			}
			if m.Confidence <= 0.5 || mm.Confidence >= 0.5 {
				t.Errorf("confidence %.2f / %.2f, want > 0.5 for the match and < 0.5 for the mismatch", m.Confidence, mm.Confidence)
			}
			if m.Normalized != Normalize(tt.match, false) {
				t.Errorf("Normalized = %q", m.Normalized)
			}
		})
	}
}

func TestCheckRejectsSilenceAndNoise(t *testing.T) {
	r := sharedRecognizer(t)
	silence := make([]float32, 32000)
	noise := make([]float32, 32000)
	x := uint32(1)
	for i := range noise {
		x = x*1664525 + 1013904223
		noise[i] = (float32(x>>8)/float32(1<<24) - 0.5) * 0.2
	}
	for name, s := range map[string][]float32{"silence": silence, "noise": noise, "empty": nil} {
		res, err := r.Check(context.Background(), s, 16000, "silver bridge 19")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Match {
			t.Errorf("%s accepted as %q: score %.3f", name, res.Normalized, res.Score)
		}
	}
}

func TestCheckFailsOnEmptyPromptAndCancelledContext(t *testing.T) {
	r := openRecognizer(t, Options{Decoders: 1})
	if _, err := r.Check(context.Background(), make([]float32, 16000), 16000, " ... "); err == nil {
		t.Error("empty prompt accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Check(ctx, make([]float32, 16000), 16000, "hello"); err == nil {
		t.Error("cancelled context ignored")
	}
	r.Close()
	if _, err := r.Check(context.Background(), make([]float32, 16000), 16000, "hello"); err == nil {
		t.Error("Check after Close succeeded")
	}
}

func TestSpeakable(t *testing.T) {
	r := sharedRecognizer(t)
	tests := []struct {
		prompt string
		ok     bool
	}{
		{"kids are talking by the door", true},
		{"silver bridge 19", true},
		{"4 7 1 9 0 2", true},
		{"Sorry you're having problems.", true},
		{"Un-indentified or witheld", false},
		{"...", false},
	}
	for _, tt := range tests {
		err := r.Speakable(tt.prompt)
		if (err == nil) != tt.ok {
			t.Errorf("Speakable(%q) = %v, want ok=%v", tt.prompt, err, tt.ok)
		}
	}
	if err := r.Speakable("the zorblax"); err == nil || !strings.Contains(err.Error(), "zorblax") {
		t.Errorf("error %v should name the missing word", err)
	}
}

func TestCheckIsSafeForConcurrentUse(t *testing.T) {
	corpora := filepath.Join(shared.Dir(t), "voice-data", "corpora")
	r := sharedRecognizer(t)
	clip := loadClip(t, filepath.Join(corpora, realTrials[0].file))
	want, err := r.Check(context.Background(), clip.Samples, clip.SourceRate, realTrials[0].match)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := r.Check(context.Background(), clip.Samples, clip.SourceRate, realTrials[0].match)
			if err != nil {
				errs <- err
				return
			}
			if got.Match != want.Match || math.Abs(got.Score-want.Score) > 0.25 {
				errs <- fmt.Errorf("concurrent check scored %.3f, alone %.3f", got.Score, want.Score)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestEvalSets measures the phrase check on the development sets. It takes
// minutes, so it runs only with VOXGATE_LONG=1; VOXGATE_PHRASE_SETS picks
// sets (comma-separated, default ravdess,asterisk-phrases,fsdd) and
// VOXGATE_PHRASE_OUT names a folder for per-trial TSV files.
func TestEvalSets(t *testing.T) {
	if os.Getenv("VOXGATE_LONG") == "" {
		t.Skip("set VOXGATE_LONG=1 to evaluate the phrase sets")
	}
	sets := "ravdess,asterisk-phrases,fsdd"
	if s := os.Getenv("VOXGATE_PHRASE_SETS"); s != "" {
		sets = s
	}
	root := filepath.Join(shared.Dir(t), "voice-data", "sets")
	r := openRecognizer(t, Options{})
	stride := 1
	if s := os.Getenv("VOXGATE_PHRASE_STRIDE"); s != "" {
		if _, err := fmt.Sscan(s, &stride); err != nil || stride < 1 {
			t.Fatalf("VOXGATE_PHRASE_STRIDE=%q: want a positive integer", s)
		}
	}
	for _, set := range strings.Split(sets, ",") {
		csvPath := filepath.Join(root, set, "phrases.csv")
		if stride > 1 {
			csvPath = strideSet(t, csvPath, stride)
		}
		ev, err := EvalSet(context.Background(), r, csvPath)
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		t.Logf("%s: EER %.3f at %.3f; at threshold %.2f FRR %.3f FAR %.3f; %d match %d mismatch; %.0f ms per s of audio",
			set, ev.EER, ev.EERThreshold, ev.Threshold, ev.FRR, ev.FAR, ev.Match, ev.Mismatch, ev.MillisPerSecond())
		if dir := os.Getenv("VOXGATE_PHRASE_OUT"); dir != "" {
			writeTrials(t, filepath.Join(dir, set+".tsv"), ev.Trials)
		}
	}
}

// strideSet writes a copy of a phrases.csv that keeps the rows of every
// stride-th audio file (all prompts of each kept file), for quicker runs.
func strideSet(t *testing.T, csvPath string, stride int) string {
	rows, err := readPhraseSet(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "phrases.csv")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"path", "prompt", "label"})
	files := map[string]int{}
	for _, r := range rows {
		if _, ok := files[r.Path]; !ok {
			files[r.Path] = len(files)
		}
		if files[r.Path]%stride != 0 {
			continue
		}
		label := "mismatch"
		if r.Match {
			label = "match"
		}
		w.Write([]string{r.Path, r.Prompt, label})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeTrials(t *testing.T, path string, trials []Trial) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, tr := range trials {
		fmt.Fprintf(w, "%v\t%.4f\t%.3f\t%.3f\t%s\t%q\t%q\n", tr.Match, tr.Result.Score, tr.Took, tr.Audio, tr.Path, tr.Result.Normalized, tr.Result.Recognized)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkCheck(b *testing.B) {
	corpora := filepath.Join(shared.Dir(b), "voice-data", "corpora")
	r := openRecognizer(b, Options{Decoders: 1})
	clip := loadClip(b, filepath.Join(corpora, realTrials[0].file))
	ctx := context.Background()
	for b.Loop() {
		if _, err := r.Check(ctx, clip.Samples, clip.SourceRate, realTrials[0].match); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/(float64(len(clip.Samples))/16000), "ms/s-audio")
}

func BenchmarkCheckDigits(b *testing.B) {
	corpora := filepath.Join(shared.Dir(b), "voice-data", "corpora")
	r := openRecognizer(b, Options{Decoders: 1})
	clip := loadClip(b, filepath.Join(corpora, "fsdd/george/test/6289_0.wav"))
	ctx := context.Background()
	for b.Loop() {
		if _, err := r.Check(ctx, clip.Samples, clip.SourceRate, "6 2 8 9"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/(float64(len(clip.Samples))/16000), "ms/s-audio")
}

// TestChallengesAreSpeakable checks that what package challenge generates
// in every mode can be verified by the recogniser.
func TestChallengesAreSpeakable(t *testing.T) {
	r := sharedRecognizer(t)
	for _, w := range challenge.WordList() {
		if err := r.Speakable(w); err != nil {
			t.Errorf("challenge word %q: %v", w, err)
		}
	}
	for _, mode := range []challenge.Mode{challenge.Words, challenge.Digits} {
		for range 50 {
			c, err := challenge.Generate(mode, challenge.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Speakable(c); err != nil {
				t.Errorf("%s challenge %q: %v", mode, c, err)
			}
		}
	}
	phrases := []string{"Kids are talking by the door", "Dogs are sitting by the door"}
	if err := challenge.ValidatePhrases(phrases, r.Speakable); err != nil {
		t.Error(err)
	}
	if err := challenge.ValidatePhrases([]string{"kids are talking", "the zorblax sings"}, r.Speakable); err == nil {
		t.Error("unspeakable tenant phrase accepted")
	}
}

func TestTranscribeFillsRecognizedWithFreeText(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the 27 MB language model")
	}
	corpora := filepath.Join(shared.Dir(t), "voice-data", "corpora")
	r := openRecognizer(t, Options{Decoders: 1, Transcribe: true})
	clip := loadClip(t, filepath.Join(corpora, realTrials[0].file))
	res, err := r.Check(context.Background(), clip.Samples, clip.SourceRate, "silver bridge 19")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("heard %q, score %.3f", res.Recognized, res.Score)
	if !strings.Contains(res.Recognized, "door") {
		t.Errorf("transcript %q lacks %q", res.Recognized, "door")
	}
	if res.Match {
		t.Errorf("%q accepted for a recording of %q", res.Normalized, realTrials[0].match)
	}
}

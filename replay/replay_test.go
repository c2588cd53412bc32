package replay

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"voxgate/internal/testaudio"
)

// speechLike returns seconds of a synthetic voiced signal at 16 kHz: a
// harmonic series on a wandering pitch, shaped by wandering formants and
// gated into syllables, so that its spectrogram has speech-like peaks.
func speechLike(seed uint64, seconds float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	n := int(seconds * SampleRate)
	x := make([]float32, n)
	f0, phase := 120+60*r.Float64(), 0.0
	formant := [2]float64{500 + 300*r.Float64(), 1500 + 800*r.Float64()}
	for i := range x {
		if i%800 == 0 { // every 50 ms the voice drifts
			f0 = min(260, max(80, f0+r.NormFloat64()*8))
			formant[0] = min(900, max(300, formant[0]+r.NormFloat64()*40))
			formant[1] = min(2600, max(900, formant[1]+r.NormFloat64()*80))
		}
		phase += 2 * math.Pi * f0 / SampleRate
		var v float64
		for h := 1; float64(h)*f0 < 3800; h++ {
			f := float64(h) * f0
			a := math.Exp(-sq((f-formant[0])/200)) + 0.5*math.Exp(-sq((f-formant[1])/300)) + 0.02
			v += a * math.Sin(float64(h)*phase)
		}
		syll := 0.5 + 0.5*math.Sin(2*math.Pi*4*float64(i)/SampleRate+float64(seed))
		x[i] = float32(0.05 * v * syll)
	}
	return x
}

func sq(x float64) float64 { return x * x }

func TestComputeYieldsEmptyFingerprintForSilenceAndShortInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    []float32
	}{
		{"nil", nil},
		{"shorter than a frame", speechLike(1, 0.01)},
		{"digital silence", make([]float32, SampleRate)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Compute(tc.x)
			if f.Len() != 0 {
				t.Errorf("Len = %d, want 0", f.Len())
			}
			if got, want := f.Duration(), float64(len(tc.x))/SampleRate; got != want {
				t.Errorf("Duration = %v, want %v", got, want)
			}
			if m := Compare(f, f); m.Replay || m.Similarity != 0 {
				t.Errorf("empty fingerprint matched itself: %+v", m)
			}
		})
	}
}

func TestCompareFindsSyntheticReplayAndItsOffset(t *testing.T) {
	x := speechLike(1, 4)
	orig := Compute(x)
	if orig.Len() < 100 {
		t.Fatalf("only %d landmarks in 4 s", orig.Len())
	}
	if m := Compare(orig, orig); !m.Replay || m.Similarity != 1 || m.OffsetSeconds != 0 {
		t.Errorf("self comparison = %+v, want replay, similarity 1, offset 0", m)
	}
	cut := Compute(x[SampleRate:])
	m := Compare(orig, cut)
	if !m.Replay {
		t.Fatalf("recording without its first second not a replay: %+v", m)
	}
	if math.Abs(m.OffsetSeconds-1) > 0.02 {
		t.Errorf("OffsetSeconds = %.3f, want 1", m.OffsetSeconds)
	}
	if back := Compare(cut, orig); math.Abs(back.OffsetSeconds+m.OffsetSeconds) > 1e-9 || back.Similarity != m.Similarity {
		t.Errorf("Compare not symmetric: %+v vs %+v", back, m)
	}
	if other := Compare(orig, Compute(speechLike(2, 4))); other.Replay {
		t.Errorf("different synthetic voices matched: %+v", other)
	}
}

func TestMarshalBinaryRoundTrips(t *testing.T) {
	for _, f := range []Fingerprint{{}, Compute(speechLike(3, 0.5)), Compute(speechLike(4, 4))} {
		b, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != Version {
			t.Errorf("first byte %d, want Version %d", b[0], Version)
		}
		var g Fingerprint
		if err := g.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary: %v", err)
		}
		if g.samples != f.samples || !slices.Equal(g.marks, f.marks) {
			t.Fatalf("round trip changed the fingerprint")
		}
		if f.Len() > 0 {
			t.Logf("%.1f s: %d landmarks in %d bytes (%.2f bytes each)", f.Duration(), f.Len(), len(b), float64(len(b))/float64(f.Len()))
		}
	}
}

func TestUnmarshalBinaryRejectsMalformedInput(t *testing.T) {
	good, _ := Compute(speechLike(5, 1)).MarshalBinary()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other version", append([]byte{Version + 1}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(slices.Clone(good), 0)},
		{"count beyond data", []byte{Version, 10, 200, 1, 1, 1}},
		{"unterminated varint", []byte{Version, 0x80}},
		{"length out of range", []byte{Version, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}},
		{"hash out of range", []byte{Version, 0x80, 0x7d, 1, 0x80, 0x80, 0x80, 1, 0}},
		{"repeated landmark", []byte{Version, 0x80, 0x7d, 2, 5, 3, 0, 0}},
		{"time beyond recording", []byte{Version, 0x80, 0x7d, 1, 5, 0x80, 0x80, 0x04}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Compute(speechLike(6, 1))
			before := slices.Clone(f.marks)
			err := f.UnmarshalBinary(tc.b)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
			if !slices.Equal(f.marks, before) {
				t.Error("failed UnmarshalBinary modified the fingerprint")
			}
		})
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, s := range []float64{0, 0.3, 2} {
		b, _ := Compute(speechLike(9, s)).MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{Version, 0x80, 0x7d, 2, 5, 3, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fp Fingerprint
		if err := fp.UnmarshalBinary(b); err != nil {
			return
		}
		// A decoded fingerprint must re-encode to an equal one and be
		// comparable without panicking.
		again, err := fp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Fingerprint
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded fingerprint rejected: %v", err)
		}
		if back.samples != fp.samples || !slices.Equal(back.marks, fp.marks) {
			t.Fatal("re-encoding changed the fingerprint")
		}
		if m := Compare(fp, fp); fp.Len() > 0 && m.Similarity != 1 {
			t.Fatalf("self similarity %v", m.Similarity)
		}
	})
}

// decodeAll decodes paths two at a time (sox runs as a separate process).
func decodeAll(t testing.TB, paths []string) [][]float32 {
	out := make([][]float32, len(paths))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, p := range paths {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = testaudio.Sox(t, p)
		})
	}
	wg.Wait()
	return out
}

// replaySources are real recordings the transform test disguises: one per
// sex and statement, quiet and loud, calm and angry. VOXGATE_LONG=1 uses
// four takes of every actor instead.
var replaySources = []string{
	"Actor_01/03-01-01-01-01-01-01.flac",
	"Actor_02/03-01-05-02-02-01-02.flac",
	"Actor_07/03-01-03-01-02-02-07.flac",
	"Actor_12/03-01-08-02-01-02-12.flac",
}

func TestCompareDetectsTransformedReplays(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the codec and transform round trips")
	}
	dir := ravdessDir(t)
	needTool(t, "sox")
	var paths []string
	if os.Getenv("VOXGATE_LONG") != "" {
		for i, tk := range ravdessTakes(t, 0) {
			if i%15 == 0 {
				paths = append(paths, tk.path)
			}
		}
	} else {
		for _, s := range replaySources {
			paths = append(paths, filepath.Join(dir, s))
		}
	}
	audio := decodeAll(t, paths)
	orig := make([]Fingerprint, len(audio))
	for i, x := range audio {
		orig[i] = Compute(x)
	}
	minSim := 1.0
	for _, tr := range transforms {
		t.Run(tr.name, func(t *testing.T) {
			for _, tool := range tr.tools {
				needTool(t, tool)
			}
			lowest, found := 1.0, 0
			for i, x := range audio {
				m := Compare(orig[i], Compute(tr.apply(t, x)))
				lowest = min(lowest, m.Similarity)
				switch {
				case m.Replay:
					found++
				case tr.optional:
					t.Logf("%s: not detected (not required): %+v", filepath.Base(paths[i]), m)
				default:
					t.Errorf("%s: not detected as a replay: %+v", filepath.Base(paths[i]), m)
				}
			}
			if !tr.optional {
				minSim = min(minSim, lowest)
			}
			t.Logf("%d of %d detected, lowest similarity %.3f", found, len(audio), lowest)
		})
	}
	t.Logf("lowest similarity of a required transformed copy: %.3f (threshold %.2f)", minSim, defaults.threshold)
}

// distinctTakes fingerprints RAVDESS takes (the first actors unless
// VOXGATE_LONG is set) and compares every pair of one sentence: same speaker
// pairs must not be replays, nor may cross-speaker pairs.
func TestCompareRejectsDistinctTakes(t *testing.T) {
	actors := 2
	if os.Getenv("VOXGATE_LONG") != "" {
		actors = 0
	} else if testing.Short() {
		t.Skip("-short: skipping the RAVDESS take comparison")
	}
	needTool(t, "sox")
	takes := ravdessTakes(t, actors)
	paths := make([]string, len(takes))
	for i, tk := range takes {
		paths[i] = tk.path
	}
	audio := decodeAll(t, paths)
	fps := make([]Fingerprint, len(takes))
	for i, x := range audio {
		fps[i] = Compute(x)
	}
	var same, cross, sameFalse, crossFalse, duplicates int
	var sameMax, crossMax float64
	for i := range takes {
		for j := i + 1; j < len(takes); j++ {
			if takes[i].statement != takes[j].statement {
				continue
			}
			m := Compare(fps[i], fps[j])
			if takes[i].actor != takes[j].actor {
				cross++
				crossMax = max(crossMax, m.Similarity)
				if m.Replay {
					crossFalse++
					t.Errorf("different speakers matched: %s %s %+v", takes[i].path, takes[j].path, m)
				}
				continue
			}
			if m.Replay && sameRecording(audio[i], audio[j]) {
				// RAVDESS holds a few files that are one recording under
				// two names (samples within 2 LSB); finding them is right.
				duplicates++
				t.Logf("corpus duplicate found: %s = %s (similarity %.3f)",
					filepath.Base(takes[i].path), filepath.Base(takes[j].path), m.Similarity)
				continue
			}
			same++
			sameMax = max(sameMax, m.Similarity)
			if m.Replay {
				sameFalse++
				t.Logf("distinct takes matched: %s %s %+v", takes[i].path, takes[j].path, m)
			}
		}
	}
	rate := float64(sameFalse) / float64(max(1, same))
	t.Logf("same speaker, same sentence: %d pairs (+%d corpus duplicates), %d false replays (%.3f%%), max similarity %.3f",
		same, duplicates, sameFalse, 100*rate, sameMax)
	t.Logf("different speakers, same sentence: %d pairs, %d false replays, max similarity %.3f", cross, crossFalse, crossMax)
	if rate > 0.005 {
		t.Errorf("false replay rate %.3f%% exceeds 0.5%%", 100*rate)
	}
}

// sameRecording reports whether x and y are one recording: equal length and
// every sample within -60 dB of full scale of its counterpart.
func sameRecording(x, y []float32) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Abs(float64(x[i]-y[i])) > 1e-3 {
			return false
		}
	}
	return true
}

func BenchmarkCompute4s(b *testing.B) {
	x := speechLike(1, 4)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		Compute(x)
	}
}

func BenchmarkCompare(b *testing.B) {
	for _, bc := range []struct {
		name string
		a, c Fingerprint
	}{
		{"distinct", Compute(speechLike(1, 4)), Compute(speechLike(2, 4))},
		{"replay", Compute(speechLike(1, 4)), Compute(speechLike(1, 4)[4000:])},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Compare(bc.a, bc.c)
			}
		})
	}
}

func ExampleCompare() {
	// A stand-in for a voice recording, and the same recording with its
	// first half second cut and its level lowered by 10 dB.
	x := speechLike(1, 3)
	y := make([]float32, 0, len(x))
	for _, v := range x[SampleRate/2:] {
		y = append(y, v*0.316)
	}
	enrolled, submitted := Compute(x), Compute(y)

	// Fingerprints, not audio, are what a profile keeps.
	b, _ := enrolled.MarshalBinary()
	var stored Fingerprint
	_ = stored.UnmarshalBinary(b)

	m := Compare(stored, submitted)
	fmt.Printf("replay: %v, submitted starts %.1f s into the enrolled recording\n", m.Replay, m.OffsetSeconds)
	// Output: replay: true, submitted starts 0.5 s into the enrolled recording
}

package replay

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"voxgate/internal/shared"
)

// needTool skips (or under CI fails) when an external program is missing.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed; skipping", name)
	}
}

// ravdessDir returns the RAVDESS corpus folder.
func ravdessDir(t testing.TB) string {
	return filepath.Join(shared.Dir(t), "voice-data", "corpora", "ravdess")
}

// take is one RAVDESS recording: Actor_XX/03-01-EMO-INT-STMT-REP-ACTOR.flac.
type take struct {
	path      string
	actor     string
	statement string
}

// ravdessTakes lists the corpus, sorted by path; actors limits it to the
// first n actors (0: all).
func ravdessTakes(t testing.TB, n int) []take {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(ravdessDir(t), "Actor_*", "03-01-*.flac"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no RAVDESS recordings found")
	}
	sort.Strings(paths)
	var takes []take
	actors := map[string]bool{}
	for _, p := range paths {
		f := strings.Split(strings.TrimSuffix(filepath.Base(p), ".flac"), "-")
		if len(f) != 7 {
			t.Fatalf("unexpected RAVDESS name %s", p)
		}
		if !actors[f[6]] {
			if n > 0 && len(actors) == n {
				continue
			}
			actors[f[6]] = true
		}
		takes = append(takes, take{path: p, actor: f[6], statement: f[4]})
	}
	return takes
}

func fromBytes(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

func toBytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// rawArgs are the sox arguments for headerless 16-bit-free float32 mono.
func rawArgs(rate int) []string {
	return []string{"-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", fmt.Sprint(rate)}
}

// pipe runs name with args, feeding in on stdin and returning stdout.
func pipe(t testing.TB, in []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

// transform is one way a recording may come back as a replay.
type transform struct {
	name     string
	tools    []string
	apply    func(t testing.TB, x []float32) []float32
	optional bool // measured and logged, but a miss does not fail the test
}

// codec re-encodes x with ffmpeg's encoder at bitrate and decodes it back
// to 16 kHz mono float32.
func codec(encoder, format, bitrate string) func(testing.TB, []float32) []float32 {
	return func(t testing.TB, x []float32) []float32 {
		enc := pipe(t, toBytes(x), "ffmpeg", "-hide_banner", "-loglevel", "error",
			"-f", "f32le", "-ar", "16000", "-ac", "1", "-i", "pipe:0",
			"-c:a", encoder, "-b:a", bitrate, "-f", format, "pipe:1")
		return fromBytes(pipe(t, enc, "ffmpeg", "-hide_banner", "-loglevel", "error",
			"-i", "pipe:0", "-f", "f32le", "-ar", "16000", "-ac", "1", "pipe:1"))
	}
}

// resample8k passes x through an 8 kHz sox round trip.
func resample8k(t testing.TB, x []float32) []float32 {
	down := pipe(t, toBytes(x), "sox", append(append(rawArgs(16000), "-"), append(rawArgs(8000), "-")...)...)
	return fromBytes(pipe(t, down, "sox", append(append(rawArgs(8000), "-"), append(rawArgs(16000), "-")...)...))
}

func gain(db float64) func(testing.TB, []float32) []float32 {
	g := float32(math.Pow(10, db/20))
	return func(_ testing.TB, x []float32) []float32 {
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = v * g
		}
		return y
	}
}

// whiteNoise adds Gaussian white noise snr dB below the recording's mean
// power, with a fixed seed.
func whiteNoise(snr float64) func(testing.TB, []float32) []float32 {
	return func(_ testing.TB, x []float32) []float32 {
		var p float64
		for _, v := range x {
			p += float64(v) * float64(v)
		}
		p /= float64(max(1, len(x)))
		sd := math.Sqrt(p / math.Pow(10, snr/10))
		r := rand.New(rand.NewPCG(1, uint64(len(x))))
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = v + float32(r.NormFloat64()*sd)
		}
		return y
	}
}

func trim(start, end float64) func(testing.TB, []float32) []float32 {
	return func(_ testing.TB, x []float32) []float32 {
		a, b := int(start*SampleRate), len(x)-int(end*SampleRate)
		if b <= a {
			return nil
		}
		return append([]float32(nil), x[a:b]...)
	}
}

// transforms are the replay disguises the fingerprint must see through.
// 0.502 s is a trim that lands between the analysis grids' sample phases;
// Opus at 8 kbit/s (narrowband SILK) is beyond what the fingerprint promises.
var transforms = []transform{
	{"mp3-32k", []string{"ffmpeg"}, codec("libmp3lame", "mp3", "32k"), false},
	{"mp3-16k", []string{"ffmpeg"}, codec("libmp3lame", "mp3", "16k"), false},
	{"opus-16k", []string{"ffmpeg"}, codec("libopus", "ogg", "16k"), false},
	{"opus-12k", []string{"ffmpeg"}, codec("libopus", "ogg", "12k"), false},
	{"opus-8k", []string{"ffmpeg"}, codec("libopus", "ogg", "8k"), true},
	{"resample-8k", []string{"sox"}, resample8k, false},
	{"gain+10dB", nil, gain(10), false},
	{"gain-10dB", nil, gain(-10), false},
	{"noise-20dB", nil, whiteNoise(20), false},
	{"trim-start-0.5s", nil, trim(0.5, 0), false},
	{"trim-end-0.5s", nil, trim(0, 0.5), false},
	{"trim-start-0.502s", nil, trim(0.502, 0), false},
}

package engine

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"voxgate"
	"voxgate/audio"
	"voxgate/internal/shared"
	"voxgate/vad"
)

var (
	vadOnce  sync.Once
	vadModel *vad.Model
	vadErr   error
)

// testAnalyzer returns an Analyzer with the real Silero VAD.
func testAnalyzer(t testing.TB) *Analyzer {
	t.Helper()
	path := shared.Path(t, "models/silero-vad/silero_vad.onnx")
	vadOnce.Do(func() { vadModel, vadErr = vad.Load(path) })
	if vadErr != nil {
		t.Fatal(vadErr)
	}
	return &Analyzer{Decoder: &audio.Decoder{}, VAD: vadModel}
}

func readShared(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(shared.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGateCodes(t *testing.T) {
	an := testAnalyzer(t)
	ctx := context.Background()
	speech, err := an.Analyze(ctx, readShared(t, "voice-data/corpora/ravdess/Actor_01/03-01-01-01-01-01-01.flac"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyGate.Check(speech); err != nil {
		t.Fatalf("clean speech fails the verify gate: %v (%+v)", err, speech.Report())
	}
	if err := EnrollGate.Check(speech); err != nil {
		t.Fatalf("clean speech fails the enroll gate: %v (%+v)", err, speech.Report())
	}
	x := speech.Clip.Samples
	r := rand.New(rand.NewPCG(7, 7))

	loud := make([]float32, len(x))
	for i, v := range x {
		loud[i] = v * 300
	}
	var power float64
	for _, v := range x {
		power += float64(v) * float64(v)
	}
	sigma := 5 * math.Sqrt(power/float64(len(x))) // noise louder than the speech
	noisy := make([]float32, len(x))
	for i, v := range x {
		noisy[i] = v + float32(r.NormFloat64()*sigma)
	}

	tiled := append(append(append([]float32{}, x...), x...), x...)

	cases := []struct {
		name string
		data []byte
		gate Gate
		code string
		msg  string
	}{
		{"short", audio.EncodeWAV(tiled[:8500*16], audio.Rate), Gate{MinDuration: 10}, voxgate.EAUDIOTOOSHORT, "Audio file too short: 8.5s (minimum 10.0s required)"},
		{"silence", audio.EncodeWAV(make([]float32, 3*16000), audio.Rate), VerifyGate, voxgate.ENOSPEECH, "Not enough speech"},
		{"clipped", audio.EncodeWAV(loud, audio.Rate), VerifyGate, voxgate.ECLIPPED, "clipped"},
		{"noisy", audio.EncodeWAV(noisy, audio.Rate), VerifyGate, voxgate.ETOONOISY, "background noise"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := an.Analyze(ctx, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.gate.Check(a)
			if voxgate.ErrorCode(err) != tc.code || !strings.Contains(voxgate.ErrorMessage(err), tc.msg) {
				t.Fatalf("Check = %v, want %s containing %q (report %+v)", err, tc.code, tc.msg, a.Report())
			}
		})
	}
}

func TestAnalyzeMapsDecodeErrors(t *testing.T) {
	an := &Analyzer{Decoder: &audio.Decoder{MaxBytes: 1 << 20}}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		data []byte
		code string
	}{
		{"garbage", []byte("this is not audio at all, just text"), voxgate.EUNSUPPORTEDFORMAT},
		{"truncated wav", audio.EncodeWAV(make([]float32, 100), audio.Rate)[:30], voxgate.EUNSUPPORTEDFORMAT},
		{"too large", append(audio.EncodeWAV(make([]float32, 10), audio.Rate), make([]byte, 2<<20)...), voxgate.EPAYLOADTOOLARGE},
	} {
		_, err := an.Analyze(ctx, tc.data)
		if voxgate.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	long := &Analyzer{Decoder: &audio.Decoder{MaxDuration: 2e9}}
	if _, err := long.Analyze(ctx, audio.EncodeWAV(make([]float32, 3*16000), audio.Rate)); voxgate.ErrorCode(err) != voxgate.EPAYLOADTOOLARGE {
		t.Errorf("3 s over a 2 s bound: %v", err)
	}
}

func TestReportOfRealFile(t *testing.T) {
	an := testAnalyzer(t)
	a, err := an.Analyze(context.Background(), readShared(t, "voice-data/corpora/fsdd/theo/test/0357_0.wav"))
	if err != nil {
		t.Fatal(err)
	}
	r := a.Report()
	if r.Format != "wav" || r.SampleRate != 8000 || r.Channels != 1 || r.DurationS <= 0 || r.SpeechS <= 0 || r.SpeechS > r.DurationS {
		t.Fatalf("report %+v", r)
	}
}

func TestEnergyFallbackFindsSpeech(t *testing.T) {
	an := testAnalyzer(t)
	a, err := an.Analyze(context.Background(), readShared(t, "voice-data/corpora/ravdess/Actor_01/03-01-01-01-01-01-01.flac"))
	if err != nil {
		t.Fatal(err)
	}
	fb := (&Analyzer{}).Measure(a.Clip)
	if math.Abs(fb.SpeechSeconds-a.SpeechSeconds) > 0.6 {
		t.Fatalf("energy fallback found %.2fs of speech, Silero %.2fs", fb.SpeechSeconds, a.SpeechSeconds)
	}
}

// TestDecodeErrorsKeepLibraryInternalsForTheLog sends a FLAC whose first
// metadata block has a reserved type: the client's message is voxgate's
// own, and the parser's words stay in the error's Cause, for the log.
func TestDecodeErrorsKeepLibraryInternalsForTheLog(t *testing.T) {
	data := append([]byte("fLaC\x87\x00\x00\x04"), make([]byte, 200)...)
	_, err := (&Analyzer{}).Analyze(context.Background(), data)
	if voxgate.ErrorCode(err) != voxgate.EUNSUPPORTEDFORMAT {
		t.Fatalf("code %q (%v), want %s", voxgate.ErrorCode(err), err, voxgate.EUNSUPPORTEDFORMAT)
	}
	msg := voxgate.ErrorMessage(err)
	for _, internal := range []string{"meta.", "Block", "reserved", "FLAC header", "audio:"} {
		if strings.Contains(msg, internal) {
			t.Errorf("client message %q exposes %q", msg, internal)
		}
	}
	var e *voxgate.Error
	if !errors.As(err, &e) || e.Cause == nil || !strings.Contains(e.Cause.Error(), "reserved") {
		t.Fatalf("the parser's detail is lost for the log: %#v", err)
	}
}

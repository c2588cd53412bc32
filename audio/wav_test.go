package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// noFFmpeg is a Decoder that never runs a subprocess.
func noFFmpeg() *Decoder { return &Decoder{FFmpeg: "/nonexistent/ffmpeg"} }

func TestDecodeWAVFormats(t *testing.T) {
	sig := tone(1600, 440, Rate, 0.5) // 0.1 s at 16 kHz: no resampling
	for _, tc := range []struct {
		name  string
		spec  wavSpec
		gains []float64 // per channel; nil = mono
		codec string
		tol   float64
	}{
		{"pcm8", wavSpec{tag: wavePCM, bits: 8}, nil, "pcm_u8", 1.0 / 127},
		{"pcm16", wavSpec{tag: wavePCM, bits: 16}, nil, "pcm_s16le", 1e-4},
		{"pcm24", wavSpec{tag: wavePCM, bits: 24}, nil, "pcm_s24le", 1e-6},
		{"pcm32", wavSpec{tag: wavePCM, bits: 32}, nil, "pcm_s32le", 1e-6},
		{"float32", wavSpec{tag: waveFloat, bits: 32}, nil, "pcm_f32le", 1e-7},
		{"float64", wavSpec{tag: waveFloat, bits: 64}, nil, "pcm_f64le", 1e-7},
		{"mulaw", wavSpec{tag: waveMuLaw, bits: 8}, nil, "pcm_mulaw", 0.02},
		{"alaw", wavSpec{tag: waveALaw, bits: 8}, nil, "pcm_alaw", 0.02},
		{"extensible pcm24", wavSpec{tag: wavePCM, bits: 24, extensible: true}, nil, "pcm_s24le", 1e-6},
		{"extensible float", wavSpec{tag: waveFloat, bits: 32, extensible: true}, nil, "pcm_f32le", 1e-7},
		{"rifx pcm16", wavSpec{tag: wavePCM, bits: 16, riff: "RIFX"}, nil, "pcm_s16be", 1e-4},
		{"rifx pcm24", wavSpec{tag: wavePCM, bits: 24, riff: "RIFX"}, nil, "pcm_s24be", 1e-6},
		{"rf64", wavSpec{tag: wavePCM, bits: 16, riff: "RF64", dataSize: u32(0xffffffff)}, nil, "pcm_s16le", 1e-4},
		{"streamed size ffffffff", wavSpec{tag: wavePCM, bits: 16, dataSize: u32(0xffffffff)}, nil, "pcm_s16le", 1e-4},
		{"streamed size 0", wavSpec{tag: wavePCM, bits: 16, dataSize: u32(0)}, nil, "pcm_s16le", 1e-4},
		{"size past end", wavSpec{tag: wavePCM, bits: 16, dataSize: u32(1 << 30)}, nil, "pcm_s16le", 1e-4},
		{"odd chunk before fmt", wavSpec{tag: wavePCM, bits: 16, extraFirst: true}, nil, "pcm_s16le", 1e-4},
		{"odd chunk without pad byte", wavSpec{tag: wavePCM, bits: 16, extraFirst: true, noPad: true}, nil, "pcm_s16le", 1e-4},
		{"data before fmt", wavSpec{tag: wavePCM, bits: 16, dataFirst: true}, nil, "pcm_s16le", 1e-4},
		{"stereo mixed", wavSpec{tag: wavePCM, bits: 16}, []float64{1.5, 0.5}, "pcm_s16le", 1e-4},
		{"6 channels", wavSpec{tag: waveFloat, bits: 32, extensible: true}, []float64{1, 1, 2, 0, 1, 1}, "pcm_f32le", 1e-6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gains := tc.gains
			if gains == nil {
				gains = []float64{1}
			}
			tc.spec.channels, tc.spec.rate = len(gains), Rate
			data := makeWAV(tc.spec, interleave(sig, gains...))
			clip, err := noFFmpeg().Decode(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			if clip.Format != WAV || clip.Codec != tc.codec || clip.Channels != len(gains) || clip.SourceRate != Rate {
				t.Fatalf("got %s %s %d ch %d Hz, want wav %s %d ch %d Hz",
					clip.Format, clip.Codec, clip.Channels, clip.SourceRate, tc.codec, len(gains), Rate)
			}
			if len(clip.Samples) != len(sig) || math.Abs(clip.Duration-0.1) > 1e-9 {
				t.Fatalf("got %d samples, %.4f s; want %d, 0.1 s", len(clip.Samples), clip.Duration, len(sig))
			}
			for i, want := range sig {
				if d := math.Abs(float64(clip.Samples[i]) - want); d > tc.tol {
					t.Fatalf("sample %d = %.6f, want %.6f (tolerance %g)", i, clip.Samples[i], want, tc.tol)
				}
			}
		})
	}
}

func TestDecodeWAV48kStereoFloatTo16k(t *testing.T) {
	x := interleave(tone(48000, 1000, 48000, 0.5), 1, 1)
	data := makeWAV(wavSpec{tag: waveFloat, bits: 32, channels: 2, rate: 48000}, x)
	clip, err := noFFmpeg().Decode(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if clip.SourceRate != 48000 || clip.Channels != 2 || len(clip.Samples) != 16000 || clip.Duration != 1 {
		t.Fatalf("got %d Hz %d ch %d samples %.3f s", clip.SourceRate, clip.Channels, len(clip.Samples), clip.Duration)
	}
	if got := dBratio(levelAt(clip.Samples, 1000, Rate), 0.5); math.Abs(got) > 0.05 {
		t.Fatalf("1 kHz level changed by %.3f dB", got)
	}
}

func TestDecodeWAVRejects(t *testing.T) {
	sig := tone(1600, 440, Rate, 0.5)
	good := makeWAV(wavSpec{tag: wavePCM, bits: 16, channels: 1, rate: Rate}, sig)
	patch := func(b []byte, off int, v uint16) []byte {
		c := append([]byte(nil), b...)
		binary.LittleEndian.PutUint16(c[off:], v)
		return c
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"rate below 8 kHz", makeWAV(wavSpec{tag: wavePCM, bits: 16, channels: 1, rate: 4000}, sig), ErrUnsupportedFormat, "below the 8000 Hz minimum"},
		{"rate above 192 kHz", makeWAV(wavSpec{tag: wavePCM, bits: 16, channels: 1, rate: 384000}, sig), ErrUnsupportedFormat, "above"},
		{"zero channels", patch(good, 22, 0), ErrCorrupt, "0 channels"},
		{"ADPCM without ffmpeg", patch(good, 20, 0x11), ErrUnsupportedFormat, "WAV codec"},
		{"header only", good[:36], ErrCorrupt, "no data chunk"},
		{"no fmt", append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00"), 1, 2), ErrCorrupt, "no fmt chunk"},
		{"half a sample", good[:45], ErrCorrupt, "no audio"},
		{"40-bit float", patch(good, 34, 40), ErrUnsupportedFormat, "float"},
		{"empty", nil, ErrCorrupt, "empty"},
		{"unknown magic", []byte("hello, this is not audio"), ErrUnsupportedFormat, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if tc.name == "40-bit float" {
				data = patch(patch(good, 20, waveFloat), 34, 40)
			}
			_, err := noFFmpeg().Decode(context.Background(), data)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestDecodeEnforcesLimits(t *testing.T) {
	data := makeWAV(wavSpec{tag: wavePCM, bits: 16, channels: 1, rate: 8000}, tone(16000, 440, 8000, 0.5)) // 2 s
	d := &Decoder{FFmpeg: "/nonexistent", MaxDuration: time.Second}
	if _, err := d.Decode(context.Background(), data); !errors.Is(err, ErrTooLong) {
		t.Fatalf("2 s with a 1 s limit: got %v, want ErrTooLong", err)
	}
	d = &Decoder{FFmpeg: "/nonexistent", MaxBytes: 1000}
	if _, err := d.Decode(context.Background(), data); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("32 kB with a 1000 byte limit: got %v, want ErrTooLarge", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := noFFmpeg().Decode(ctx, data); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

// TestDecodeWAVBoundsBeforeAllocating checks that the duration
// bound is applied from the header: a 25 MB 8 kHz file claims 26 minutes,
// and rejecting it must not allocate its samples. It bounds the bytes
// allocated, not the count of allocations: the error message's formatting
// and the race detector's bookkeeping vary the count (11 under -race once
// failed CI) without coming near the 50 MB the samples would take.
func TestDecodeWAVBoundsBeforeAllocating(t *testing.T) {
	const body = 25 << 20
	data := makeWAV(wavSpec{tag: wavePCM, bits: 16, channels: 1, rate: 8000, dataSize: u32(body)}, nil)
	data = append(data, make([]byte, body)...)
	const runs = 3
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := decodeWAV(data, limits{maxDuration: 120 * time.Second}); !errors.Is(err, ErrTooLong) {
			t.Fatalf("got %v, want ErrTooLong", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 64<<10 {
		t.Fatalf("%d bytes allocated rejecting a long file, want under 64 KiB", per)
	}
}

// TestDecodeWAVMatchesSox decodes WAV files written by sox in the formats
// telephony and studio tools produce and compares them with sox's own
// decoding, sample by sample, at the original rate.
func TestDecodeWAVMatchesSox(t *testing.T) {
	sox := needTool(t, "sox")
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string // sox output options
		codec string
		ch    int
		rate  int
	}{
		{"mulaw 8k", []string{"-r", "8000", "-e", "mu-law", "-c", "1"}, "pcm_mulaw", 1, 8000},
		{"alaw 8k", []string{"-r", "8000", "-e", "a-law", "-c", "1"}, "pcm_alaw", 1, 8000},
		{"pcm24 44.1k extensible", []string{"-r", "44100", "-b", "24", "-c", "1"}, "pcm_s24le", 1, 44100},
		{"float 48k stereo", []string{"-r", "48000", "-e", "floating-point", "-b", "32", "-c", "2"}, "pcm_f32le", 2, 48000},
		{"pcm16 22.05k 4ch extensible", []string{"-r", "22050", "-b", "16", "-c", "4"}, "pcm_s16le", 4, 22050},
		{"pcm8 11.025k", []string{"-r", "11025", "-b", "8", "-c", "1"}, "pcm_u8", 1, 11025},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".wav")
			args := append([]string{"-n"}, tc.args...)
			// Different tones per channel so that mixing is checked too.
			args = append(args, path, "synth", "0.5", "sine", "300", "sine", "700", "sine", "1100", "sine", "1900", "vol", "0.4")
			if out, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
				t.Fatalf("sox: %v\n%s", err, out)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := decodeWAV(data, limits{maxDuration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if p.codec != tc.codec || p.channels != tc.ch || p.rate != tc.rate {
				t.Fatalf("got %s %d ch %d Hz, want %s %d ch %d Hz", p.codec, p.channels, p.rate, tc.codec, tc.ch, tc.rate)
			}
			want := soxDecode(t, path, tc.ch)
			if len(p.samples) != len(want) {
				t.Fatalf("got %d samples, sox %d", len(p.samples), len(want))
			}
			for i := range want {
				if d := math.Abs(float64(p.samples[i] - want[i])); d > 1e-6 {
					t.Fatalf("sample %d = %.7f, sox %.7f", i, p.samples[i], want[i])
				}
			}
		})
	}
}

// soxDecode decodes path with sox to float32 at its own rate, averaging
// its ch channels.
func soxDecode(t testing.TB, path string, ch int) []float32 {
	t.Helper()
	out, err := exec.Command("sox", path, "-t", "raw", "-e", "floating-point", "-b", "32", "-").Output()
	if err != nil {
		t.Fatalf("sox decode %s: %v", path, err)
	}
	n := len(out) / 4 / ch
	x := make([]float32, n)
	for i := range x {
		var s float32
		for c := range ch {
			s += math.Float32frombits(binary.LittleEndian.Uint32(out[4*(i*ch+c):]))
		}
		x[i] = s / float32(ch)
	}
	return x
}

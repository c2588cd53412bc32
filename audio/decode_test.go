package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"voxgate/internal/shared"
)

// corpusFiles returns up to n files of shared/voice-data/corpora matching
// pattern, in sorted order.
func corpusFiles(t testing.TB, pattern string, n int) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(shared.Dir(t), "voice-data", "corpora", pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("no shared files match %s", pattern)
		}
		t.Skipf("no shared files match %s", pattern)
	}
	slices.Sort(paths)
	return paths[:min(n, len(paths))]
}

// soxi runs `sox --i FLAG path` and returns its trimmed output.
func soxi(t testing.TB, flag, path string) string {
	t.Helper()
	out, err := exec.Command("sox", "--i", flag, path).Output()
	if err != nil {
		t.Fatalf("sox --i %s %s: %v", flag, path, err)
	}
	return strings.TrimSpace(string(out))
}

func soxiFloat(t testing.TB, flag, path string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(soxi(t, flag, path), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func decodeFile(t testing.TB, d *Decoder, path string) *Clip {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clip, err := d.Decode(context.Background(), data)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return clip
}

// TestDecodeRealFilesAgreeWithSox decodes real corpus files in the formats
// that need no ffmpeg and checks duration (within 1%), rate and channels
// against sox's reading of the same file.
func TestDecodeRealFilesAgreeWithSox(t *testing.T) {
	needTool(t, "sox")
	for _, tc := range []struct {
		pattern string
		format  Format
		codec   string // for WAV: from sox's bits per sample
	}{
		{"ravdess/*/*.flac", FLAC, "flac"},
		{"librispeech/*/*/*.flac", FLAC, "flac"},
		{"audiomnist_az/*/*/*.flac", FLAC, "flac"},
		{"tortoise/cloned/*/*.mp3", MP3, "mp3"},
		{"train-pool/speech-accent-archive/*.mp3", MP3, "mp3"},
		{"train-pool/librispeech-*/*.mp3", MP3, "mp3"},
		{"fsdd/*/*/*.wav", WAV, ""},
		{"fsdd/yweweler/*/*.wav", WAV, ""},
		{"asterisk_en/*.wav", WAV, ""},
	} {
		for _, path := range corpusFiles(t, tc.pattern, 2) {
			name := strings.TrimPrefix(path, filepath.Join(shared.Dir(t), "voice-data", "corpora")+"/")
			t.Run(name, func(t *testing.T) {
				clip := decodeFile(t, noFFmpeg(), path)
				want := soxiFloat(t, "-D", path)
				codec := tc.codec
				if tc.format == WAV {
					codec = "pcm_s" + soxi(t, "-b", path) + "le"
				}
				if clip.Format != tc.format || clip.Codec != codec {
					t.Errorf("got %s/%s, want %s/%s", clip.Format, clip.Codec, tc.format, codec)
				}
				if rel := math.Abs(clip.Duration-want) / want; rel > 0.01 {
					t.Errorf("duration %.4f s, sox %.4f s (%.2f%% off)", clip.Duration, want, 100*rel)
				}
				if r := int(soxiFloat(t, "-r", path)); clip.SourceRate != r {
					t.Errorf("source rate %d, sox %d", clip.SourceRate, r)
				}
				if c := int(soxiFloat(t, "-c", path)); clip.Channels != c {
					t.Errorf("channels %d, sox %d", clip.Channels, c)
				}
				if got, want := len(clip.Samples), int(math.Ceil(clip.Duration*Rate-1e-9)); got != want {
					t.Errorf("%d samples at 16 kHz, want %d", got, want)
				}
			})
		}
	}
}

// TestDecodeFLACMatchesSoxSamples compares decoded 16 kHz FLAC (no
// resampling) with sox's decoding sample by sample.
func TestDecodeFLACMatchesSoxSamples(t *testing.T) {
	needTool(t, "sox")
	for _, path := range append(corpusFiles(t, "librispeech/*/*/*.flac", 1), corpusFiles(t, "ravdess/*/*.flac", 1)...) {
		clip := decodeFile(t, noFFmpeg(), path)
		out, err := exec.Command("sox", path, "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", "16000", "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		want := f32le(out)
		if len(clip.Samples) != len(want) {
			t.Fatalf("%s: %d samples, sox %d", path, len(clip.Samples), len(want))
		}
		for i := range want {
			if d := math.Abs(float64(clip.Samples[i] - want[i])); d > 1e-4 {
				t.Fatalf("%s: sample %d = %.6f, sox %.6f", path, i, clip.Samples[i], want[i])
			}
		}
	}
}

// TestDecodeMP3MatchesFFmpeg checks the MP3 path, gapless trimming included,
// against ffmpeg's decoding at the original rate: same length, same samples
// within the decoders' rounding.
func TestDecodeMP3MatchesFFmpeg(t *testing.T) {
	ffmpeg := needTool(t, "ffmpeg")
	paths := append(corpusFiles(t, "tortoise/cloned/*/*.mp3", 2), corpusFiles(t, "train-pool/librispeech-*/*.mp3", 1)...)
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodeMP3(context.Background(), data, limits{maxDuration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-i", path, "-ac", "1", "-f", "f32le", "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		want := f32le(out)
		if len(p.samples) != len(want) {
			t.Fatalf("%s: %d samples, ffmpeg %d", filepath.Base(path), len(p.samples), len(want))
		}
		var errE, sigE float64
		for i := range want {
			d := float64(p.samples[i] - want[i])
			errE += d * d
			sigE += float64(want[i]) * float64(want[i])
		}
		// go-mp3 rounds to 16 bits and its synthesis differs slightly from
		// ffmpeg's float decoder: typically 40-90 dB apart.
		snr := 10 * math.Log10(sigE/errE)
		t.Logf("%s: go-mp3 vs ffmpeg SNR %.1f dB", filepath.Base(path), snr)
		if snr < 35 {
			t.Fatalf("%s: go-mp3 vs ffmpeg SNR %.1f dB, want >= 35", filepath.Base(path), snr)
		}
	}
}

// TestDecodeThroughFFmpeg encodes a real FLAC into every container that
// needs ffmpeg and checks what Decode makes of each.
func TestDecodeThroughFFmpeg(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes seven files with ffmpeg; skipped in -short mode")
	}
	ffmpeg := needTool(t, "ffmpeg")
	needTool(t, "sox")
	src := corpusFiles(t, "librispeech/*/*/*.flac", 1)[0]
	ref := decodeFile(t, noFFmpeg(), src)
	refLevel := rms(ref.Samples)
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		format Format
		codec  string
		rate   int
		extra  float64 // seconds the codec may add (ADTS keeps AAC priming)
	}{
		{"vorbis.ogg", []string{"-c:a", "libvorbis"}, Ogg, "vorbis", 16000, 0},
		{"opus.ogg", []string{"-c:a", "libopus", "-b:a", "32k"}, Ogg, "opus", 48000, 0},
		{"opus.webm", []string{"-c:a", "libopus", "-b:a", "32k"}, WebM, "opus", 48000, 0},
		{"stereo44k.m4a", []string{"-c:a", "aac", "-ac", "2", "-ar", "44100"}, MP4, "aac", 44100, 0},
		{"aac.aac", []string{"-c:a", "aac"}, AAC, "aac", 16000, 1024.0 / 16000},
		{"layer2.mp2", []string{"-c:a", "mp2", "-ar", "32000"}, MP3, "mp2", 32000, 0},
		{"adpcm.wav", []string{"-c:a", "adpcm_ima_wav"}, WAV, "adpcm_ima_wav", 16000, 0.04},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			args := append([]string{"-nostdin", "-loglevel", "error", "-i", src}, tc.args...)
			if out, err := exec.Command(ffmpeg, append(args, path)...).CombinedOutput(); err != nil {
				t.Skipf("ffmpeg cannot encode %s here: %v\n%s", tc.name, err, out)
			}
			clip := decodeFile(t, &Decoder{}, path)
			if clip.Format != tc.format || clip.Codec != tc.codec || clip.SourceRate != tc.rate {
				t.Errorf("got %s/%s %d Hz, want %s/%s %d Hz", clip.Format, clip.Codec, clip.SourceRate, tc.format, tc.codec, tc.rate)
			}
			wantCh := 1
			if strings.HasPrefix(tc.name, "stereo") {
				wantCh = 2
			}
			if clip.Channels != wantCh {
				t.Errorf("channels %d, want %d", clip.Channels, wantCh)
			}
			want := soxiFloat(t, "-D", src)
			if d := clip.Duration - want; d < -0.01*want || d > 0.01*want+tc.extra {
				t.Errorf("duration %.4f s, source %.4f s", clip.Duration, want)
			}
			if got := dBratio(rms(clip.Samples), refLevel); math.Abs(got) > 1 {
				t.Errorf("level %.2f dB off the source", got)
			}
		})
	}
}

func TestDecodeFFmpegFailures(t *testing.T) {
	ffmpeg := needTool(t, "ffmpeg")
	src := corpusFiles(t, "librispeech/*/*/*.flac", 1)[0]
	path := filepath.Join(t.TempDir(), "x.ogg")
	if out, err := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-i", src, "-c:a", "libopus", path).CombinedOutput(); err != nil {
		t.Skipf("no libopus: %v\n%s", err, out)
	}
	ogg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		dec  *Decoder
		data []byte
		want error
	}{
		{"without ffmpeg", noFFmpeg(), ogg, ErrUnsupportedFormat},
		{"too long", &Decoder{MaxDuration: 2 * time.Second}, ogg, ErrTooLong},
		{"timeout", &Decoder{Timeout: time.Nanosecond}, ogg, context.DeadlineExceeded},
		{"garbage after magic", &Decoder{}, append([]byte("OggS"), make([]byte, 4000)...), ErrUnsupportedFormat},
		{"truncated ogg header", &Decoder{}, ogg[:100], ErrUnsupportedFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.dec.Decode(ctx, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeSynthesisedFLACAndMP3(t *testing.T) {
	x := interleave(tone(48000, 1000, 48000, 0.5), 1, 0.5) // 1 s, stereo
	clip, err := noFFmpeg().Decode(context.Background(), makeFLAC(t, x, 2, 48000))
	if err != nil {
		t.Fatal(err)
	}
	if clip.Format != FLAC || clip.Channels != 2 || clip.SourceRate != 48000 || clip.Duration != 1 || len(clip.Samples) != Rate {
		t.Fatalf("FLAC: got %s %d ch %d Hz %.3f s %d samples", clip.Format, clip.Channels, clip.SourceRate, clip.Duration, len(clip.Samples))
	}
	if got := dBratio(levelAt(clip.Samples, 1000, Rate), 0.375); math.Abs(got) > 0.05 {
		t.Fatalf("FLAC: 1 kHz level off by %.3f dB after mixing and resampling", got)
	}

	clip, err = noFFmpeg().Decode(context.Background(), silentMP3(10))
	if err != nil {
		t.Fatal(err)
	}
	if clip.Format != MP3 || clip.Channels != 1 || clip.SourceRate != 44100 || math.Abs(clip.Duration-10*1152/44100.0) > 1e-9 {
		t.Fatalf("MP3: got %s %d ch %d Hz %.4f s", clip.Format, clip.Channels, clip.SourceRate, clip.Duration)
	}
	if q := Measure(clip.Samples, nil, 0); q.PeakdBFS != floordB {
		t.Fatalf("silent MP3 decoded to peak %.1f dBFS", q.PeakdBFS)
	}
}

func TestParseFFmpegStream(t *testing.T) {
	for _, tc := range []struct {
		log  string
		want ffmpegStream
	}{
		{"  Stream #0:0(eng): Audio: opus, 48000 Hz, stereo, fltp\n", ffmpegStream{"opus", 48000, 2}},
		{"  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 70 kb/s (default)\n", ffmpegStream{"aac", 44100, 1}},
		{"  Stream #0:1: Audio: vorbis, 22050 Hz, 5.1(side), fltp\n", ffmpegStream{"vorbis", 22050, 6}},
		{"  Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 8000 Hz, 3 channels, s16\n", ffmpegStream{"pcm_s16le", 8000, 3}},
		{"  Stream #0:0: Video: h264\n  Stream #0:1: Audio: aac (LC), 48000 Hz, 7.1, fltp\nOutput #0, f32le:\n  Stream #0:0: Audio: pcm_f32le, 16000 Hz, mono\n", ffmpegStream{"aac", 48000, 8}},
		{"nothing useful", ffmpegStream{}},
	} {
		if got := parseFFmpegStream(tc.log); got != tc.want {
			t.Errorf("parseFFmpegStream(%q) = %+v, want %+v", tc.log, got, tc.want)
		}
	}
}

func f32le(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

// BenchmarkDecode measures decoding plus resampling to 16 kHz, reported as
// multiples of real time (seconds of audio per second of CPU).
func BenchmarkDecode(b *testing.B) {
	const secs = 10
	wav48 := makeWAV(wavSpec{tag: wavePCM, bits: 16, channels: 2, rate: 48000}, interleave(tone(secs*48000, 440, 48000, 0.5), 1, 0.5))
	flac48 := makeFLAC(b, interleave(tone(secs*48000, 440, 48000, 0.5), 1), 1, 48000)
	cases := []struct {
		name string
		data []byte
	}{
		{"wav-48k-stereo-s16-10s", wav48},
		{"flac-48k-10s", flac48},
	}
	for _, c := range []struct{ name, pattern string }{
		{"flac-16k-librispeech", "librispeech/*/*/*.flac"},
		{"mp3-16k-train-pool", "train-pool/speech-accent-archive/*.mp3"},
		{"mp3-24k-tortoise", "tortoise/cloned/*/*.mp3"},
	} {
		if paths, _ := filepath.Glob(filepath.Join(shared.Find(), "voice-data", "corpora", c.pattern)); len(paths) > 0 {
			slices.Sort(paths)
			data, err := os.ReadFile(paths[0])
			if err == nil {
				cases = append(cases, struct {
					name string
					data []byte
				}{c.name, data})
			}
		}
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := noFFmpeg()
			clip, err := d.Decode(context.Background(), c.data)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := d.Decode(context.Background(), c.data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(clip.Duration*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
			b.SetBytes(int64(len(c.data)))
		})
	}
}

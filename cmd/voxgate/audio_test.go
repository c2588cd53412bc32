package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"voxgate/internal/shared"
)

// soxDuration is what `sox --i -D` says of a file, in seconds.
func soxDuration(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("sox", "--i", "-D", path).Output()
	if err != nil {
		t.Fatalf("sox --i -D %s: %v", path, err)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
}

// TestAudioInspectAgreesWithSox runs the real binary on corpus files and on
// Ogg/Opus, M4A/AAC and WebM files made from them with ffmpeg.
func TestAudioInspectAgreesWithSox(t *testing.T) {
	needTool(t, "sox")
	needTool(t, "ffmpeg")
	root := shared.Dir(t)
	src := filepath.Join(root, "voice-data/corpora/librispeech/test-other/1688/1688-142285-0000.flac")
	dir := t.TempDir()
	files := map[string]string{
		"flac":       src,
		"mp3":        filepath.Join(root, "voice-data/corpora/train-pool/librispeech-train-clean-100/103-1240-0000.mp3"),
		"wav 8 kHz":  filepath.Join(root, "voice-data/corpora/fsdd/theo/test/0357_0.wav"),
		"ogg opus":   filepath.Join(dir, "x.ogg"),
		"ogg vorbis": filepath.Join(dir, "v.ogg"),
		"m4a aac":    filepath.Join(dir, "x.m4a"),
		"webm opus":  filepath.Join(dir, "x.webm"),
	}
	for name, args := range map[string][]string{
		"ogg opus":   {"-c:a", "libopus", "-b:a", "32k"},
		"ogg vorbis": {"-c:a", "libvorbis"},
		"m4a aac":    {"-c:a", "aac", "-b:a", "64k"},
		"webm opus":  {"-c:a", "libopus", "-b:a", "32k"},
	} {
		cmd := exec.Command("ffmpeg", append(append([]string{"-nostdin", "-loglevel", "error", "-i", src}, args...), files[name])...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v\n%s", name, err, out)
		}
	}
	srcDur := soxDuration(t, src)
	for name, path := range files {
		t.Run(name, func(t *testing.T) {
			out := runCLI(t, "audio", "inspect", path, "--json", "--models", filepath.Join(root, "models"))
			var r struct {
				Format     string  `json:"format"`
				Codec      string  `json:"codec"`
				SampleRate int     `json:"sample_rate"`
				Channels   int     `json:"channels"`
				DurationS  float64 `json:"duration_s"`
				SpeechS    float64 `json:"speech_s"`
				SNRdB      float64 `json:"snr_db"`
				Clipping   float64 `json:"clipping"`
				RMSdBFS    float64 `json:"rms_dbfs"`
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			// Ogg, M4A and WebM: sox cannot read them all, so the reference
			// is the source file they were made from.
			want := srcDur
			if name == "flac" || name == "mp3" || name == "wav 8 kHz" {
				want = soxDuration(t, path)
			}
			if math.Abs(r.DurationS-want) > 0.01*want {
				t.Errorf("duration %.3f s, sox %.3f s", r.DurationS, want)
			}
			if r.SpeechS <= 0 || r.SpeechS > r.DurationS || r.SampleRate < 8000 || r.Channels < 1 || r.Codec == "" || r.Format == "" {
				t.Errorf("implausible report %+v", r)
			}
		})
	}
}

package audio

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMP4DecodesWithoutWritingAudio decodes M4A files that ffmpeg made from
// real speech, with the index (moov) first and last, while TMPDIR names a
// folder that does not exist: a decoder that spilled the upload to a
// temporary file would fail, and none may appear.
func TestMP4DecodesWithoutWritingAudio(t *testing.T) {
	ffmpeg := needTool(t, "ffmpeg")
	needTool(t, "sox")
	src := corpusFiles(t, "librispeech/*/*/*.flac", 1)[0]
	want := soxiFloat(t, "-D", src)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	for _, tc := range []struct {
		name      string
		faststart bool
	}{{"moov-last.m4a", false}, {"faststart.m4a", true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			args := []string{"-nostdin", "-loglevel", "error", "-i", src, "-c:a", "aac"}
			if tc.faststart {
				args = append(args, "-movflags", "+faststart")
			}
			if out, err := exec.Command(ffmpeg, append(args, path)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if moovFirst := bytes.Index(data, []byte("moov")) < bytes.Index(data, []byte("mdat")); moovFirst != tc.faststart {
				t.Fatalf("moov before mdat = %v, want %v: the test file is not what it claims", moovFirst, tc.faststart)
			}
			t.Setenv("TMPDIR", tmp)
			clip, err := (&Decoder{}).Decode(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			if clip.Format != MP4 || clip.Codec != "aac" {
				t.Errorf("decoded as %s/%s", clip.Format, clip.Codec)
			}
			if d := clip.Duration - want; d < -0.01*want || d > 0.01*want {
				t.Errorf("duration %.3f s, source %.3f s", clip.Duration, want)
			}
			if _, err := os.Stat(tmp); !os.IsNotExist(err) {
				t.Errorf("something made %s during the decode (%v)", tmp, err)
			}
		})
	}
}

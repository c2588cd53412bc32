package audio

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestDetectRecognisesMagicBytes(t *testing.T) {
	id3 := []byte("ID3\x04\x00\x00\x00\x00\x00\x0a" + "0123456789")
	for _, tc := range []struct {
		name string
		head []byte
		want Format
	}{
		{"riff wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), WAV},
		{"rifx wave", []byte("RIFX\x00\x00\x00\x24WAVEfmt "), WAV},
		{"rf64 wave", []byte("RF64\xff\xff\xff\xffWAVEds64"), WAV},
		{"riff avi", []byte("RIFF\x24\x00\x00\x00AVI LIST"), Unknown},
		{"flac", []byte("fLaC\x00\x00\x00\x22"), FLAC},
		{"ogg", []byte("OggS\x00\x02\x00\x00"), Ogg},
		{"webm", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81"), WebM},
		{"m4a", []byte("\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00"), MP4},
		{"mp4 moov first", []byte("\x00\x00\x01\x00moov\x00\x00"), MP4},
		{"mp3 frame", []byte{0xff, 0xfb, 0x90, 0xc0}, MP3},
		{"mpeg2 layer3", []byte{0xff, 0xf3, 0x84, 0xc4}, MP3},
		{"mp3 after id3", append(append([]byte{}, id3...), 0xff, 0xfb, 0x90, 0xc0), MP3},
		{"id3 longer than head", []byte("ID3\x03\x00\x00\x00\x01\x00\x00"), MP3},
		{"flac after id3", append(append([]byte{}, id3...), "fLaC"...), FLAC},
		{"adts", []byte{0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc}, AAC},
		{"mpeg bad bitrate", []byte{0xff, 0xfb, 0xf0, 0xc0}, Unknown},
		{"mpeg bad rate", []byte{0xff, 0xfb, 0x9c, 0xc0}, Unknown},
		{"text", []byte("hello world"), Unknown},
		{"html", []byte("<!DOCTYPE html>"), Unknown},
		{"empty", nil, Unknown},
		{"short riff", []byte("RIFF"), Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect(tc.head); got != tc.want {
				t.Fatalf("Detect(% x) = %s, want %s", tc.head, got, tc.want)
			}
		})
	}
}

// TestDetectFilesMadeByFFmpeg checks Detect on the first bytes of files that
// ffmpeg writes in every container the decoder accepts.
func TestDetectFilesMadeByFFmpeg(t *testing.T) {
	ffmpeg := needTool(t, "ffmpeg")
	dir := t.TempDir()
	for _, tc := range []struct {
		ext  string
		args []string
		want Format
	}{
		{"wav", nil, WAV},
		{"flac", nil, FLAC},
		{"mp3", nil, MP3},
		{"ogg", []string{"-c:a", "libvorbis"}, Ogg},
		{"opus", []string{"-c:a", "libopus"}, Ogg},
		{"webm", []string{"-c:a", "libopus"}, WebM},
		{"mka", nil, WebM},
		{"m4a", []string{"-c:a", "aac"}, MP4},
		{"aac", []string{"-c:a", "aac"}, AAC},
	} {
		t.Run(tc.ext, func(t *testing.T) {
			out := filepath.Join(dir, "x."+tc.ext)
			args := append([]string{"-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.2"}, tc.args...)
			if b, err := exec.Command(ffmpeg, append(args, out)...).CombinedOutput(); err != nil {
				t.Skipf("ffmpeg cannot write %s here: %v\n%s", tc.ext, err, b)
			}
			head := readHead(t, out, 64)
			if got := Detect(head); got != tc.want {
				t.Fatalf("Detect(%s) = %s, want %s; head % x", tc.ext, got, tc.want, head[:16])
			}
		})
	}
}

func readHead(t *testing.T, path string, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[:min(n, len(b))]
}

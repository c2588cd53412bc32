package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// stderrCap bounds how much of ffmpeg's log is kept; the stream description
// comes in the first few hundred bytes.
const stderrCap = 32 << 10

// decodeFFmpeg decodes data through an ffmpeg subprocess (no shell): the
// input goes in on stdin, mono 16 kHz float32 comes out on stdout. The
// upload never reaches the disk: MP4, whose index (moov) may sit at the end
// where a pipe cannot seek back to it, goes through an anonymous memory file
// (see memInput) that ffmpeg opens and seeks like a file. The run is bounded by d.Timeout, one thread,
// and an output cap of MaxDuration worth of samples past which ffmpeg is
// killed and ErrTooLong returned. Codec, rate and channel count of the
// original come from ffmpeg's description of the input stream on stderr.
func (d *Decoder) decodeFFmpeg(ctx context.Context, data []byte, format Format) (*pcm, error) {
	bin := d.ffmpeg()
	if bin == "" {
		return nil, fmt.Errorf("%w: decoding %s needs ffmpeg, which is not installed", ErrUnsupportedFormat, format)
	}
	timeout := d.timeout()
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	input := "pipe:0"
	var stdin io.Reader = bytes.NewReader(data)
	var extra []*os.File
	if format == MP4 {
		f, err := memInput(data)
		if err != nil {
			return nil, fmt.Errorf("audio: memory file for ffmpeg: %w", err)
		}
		if f != nil { // nil: no memory files here; MP4 with its index first still streams
			defer f.Close()
			// The child gets f as descriptor 3 and reopens it through
			// /proc, which gives ffmpeg its own offset to seek with.
			input, stdin, extra = "file:/proc/self/fd/3", nil, []*os.File{f}
		}
	}
	// The demuxer is forced to the detected container and only the pipe and
	// file protocols are allowed, so no input can steer ffmpeg into playlist
	// or network demuxers that would open other files or URLs.
	cmd := exec.CommandContext(runCtx, bin,
		"-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
		"-protocol_whitelist", "file,pipe", "-f", ffmpegDemuxer(format),
		"-threads", "1", "-i", input,
		"-map", "0:a:0", "-vn", "-sn", "-dn",
		"-ac", "1", "-ar", strconv.Itoa(Rate), "-f", "f32le", "-threads", "1", "pipe:1")
	cmd.Stdin = stdin
	cmd.ExtraFiles = extra
	stderr := &capWriter{max: stderrCap}
	cmd.Stderr = stderr
	cmd.WaitDelay = time.Second
	cmd.Env = []string{"LC_ALL=C"} // nothing of ours leaks to the child
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("audio: ffmpeg pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if runCtx.Err() != nil {
			return nil, fmt.Errorf("%w: ffmpeg did not finish decoding %s within %v (%w)", ErrCorrupt, format, timeout, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("%w: starting ffmpeg: %v", ErrUnsupportedFormat, err)
	}
	lim := d.limits()
	maxOut := lim.maxFrames(Rate) * 4 // bytes of f32le
	var out []float32
	buf := make([]byte, 64<<10)
	var pending int // bytes of buf holding a partial sample
	tooLong := false
	for {
		n, rerr := stdout.Read(buf[pending:])
		n += pending
		whole := n - n%4
		if int64(len(out))*4+int64(whole) > maxOut {
			tooLong = true
			cancel() // kill ffmpeg; Wait reaps it
			break
		}
		for i := 0; i < whole; i += 4 {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(buf[i:])))
		}
		pending = copy(buf, buf[whole:n])
		if rerr != nil {
			break
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	switch {
	case tooLong:
		return nil, fmt.Errorf("%w: more than %v of audio", ErrTooLong, lim.maxDuration)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("%w: ffmpeg did not finish decoding %s within %v (%w)", ErrCorrupt, format, timeout, context.DeadlineExceeded)
	case werr != nil:
		return nil, fmt.Errorf("%w: ffmpeg could not decode %s: %s", ErrUnsupportedFormat, format, lastLine(stderr.String()))
	}
	info := parseFFmpegStream(stderr.String())
	p := &pcm{samples: out, rate: Rate, srcRate: info.rate, channels: info.channels, codec: info.codec}
	if info.rate > 0 {
		if err := checkRate(info.rate); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ffmpegDemuxer names ffmpeg's demuxer for a container.
func ffmpegDemuxer(f Format) string {
	switch f {
	case WebM:
		return "matroska"
	case MP4:
		return "mov"
	}
	return string(f) // wav, flac, mp3, ogg, aac
}

// ffmpegStream is ffmpeg's description of the decoded input stream.
type ffmpegStream struct {
	codec    string
	rate     int
	channels int
}

// streamLine matches ffmpeg's input stream description, e.g.
//
//	Stream #0:0(eng): Audio: opus, 48000 Hz, stereo, fltp
//	Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 70 kb/s
var streamLine = regexp.MustCompile(`Stream #\d+:\d+\S*: Audio: ([A-Za-z0-9_]+)[^,\n]*, (\d+) Hz, ([^,\n]+)`)

// parseFFmpegStream reads codec, rate and channels of the first audio stream
// of input #0 from ffmpeg's log. Fields it cannot find stay zero.
func parseFFmpegStream(log string) ffmpegStream {
	var s ffmpegStream
	if i := strings.Index(log, "Output #0"); i >= 0 {
		log = log[:i]
	}
	m := streamLine.FindStringSubmatch(log)
	if m == nil {
		return s
	}
	s.codec = m[1]
	s.rate, _ = strconv.Atoi(m[2])
	s.channels = layoutChannels(strings.TrimSpace(m[3]))
	return s
}

// layoutChannels maps an ffmpeg channel layout name to its channel count:
// "mono", "stereo", "5.1(side)", "7.1", "quad", "4 channels"...
func layoutChannels(layout string) int {
	if i := strings.IndexByte(layout, '('); i > 0 {
		layout = layout[:i]
	}
	switch layout {
	case "mono":
		return 1
	case "stereo", "downmix":
		return 2
	case "quad":
		return 4
	case "hexagonal":
		return 6
	case "octagonal", "cube":
		return 8
	case "hexadecagonal":
		return 16
	}
	if n, ok := strings.CutSuffix(layout, " channels"); ok {
		c, _ := strconv.Atoi(n)
		return c
	}
	// "X.Y" or "X.Y.Z": full-range + LFE (+ height) channels.
	total := 0
	for _, part := range strings.Split(layout, ".") {
		c, err := strconv.Atoi(part)
		if err != nil {
			return 0
		}
		total += c
	}
	return total
}

// capWriter keeps the first max bytes written to it and drops the rest.
type capWriter struct {
	buf bytes.Buffer
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (w *capWriter) String() string { return w.buf.String() }

// lastLine returns the last non-empty line of s, trimmed, for error messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

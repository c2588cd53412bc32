package audio

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// Rate is the sample rate of every decoded [Clip], in Hz.
const Rate = 16000

// Sample-rate bounds accepted from any source. Below 8 kHz speech loses the
// formants the models rely on; above 192 kHz the buffers grow needlessly.
const (
	minRate = 8000
	maxRate = 192000
)

// Defaults for the zero [Decoder].
const (
	DefaultMaxBytes    = 25 << 20
	DefaultMaxDuration = 120 * time.Second
	DefaultTimeout     = 20 * time.Second
)

// Sentinel errors returned (wrapped, with details) by [Decoder.Decode].
// Test them with errors.Is.
var (
	// ErrUnsupportedFormat: the container or codec is not recognised, its
	// parameters are out of range (e.g. a sample rate below 8 kHz), or it
	// needs ffmpeg and ffmpeg is missing or could not decode it.
	ErrUnsupportedFormat = errors.New("audio: unsupported format")
	// ErrTooLarge: the input is larger than Decoder.MaxBytes.
	ErrTooLarge = errors.New("audio: input too large")
	// ErrTooLong: the audio lasts longer than Decoder.MaxDuration.
	ErrTooLong = errors.New("audio: audio too long")
	// ErrCorrupt: the container was recognised but its contents are broken
	// or hold no audio.
	ErrCorrupt = errors.New("audio: corrupt audio")
)

// Clip is decoded audio ready for the engine: mono, [Rate] Hz, -1..1, with
// the facts about the original that the engine reports or checks.
type Clip struct {
	Samples    []float32 // mono, Rate Hz, -1..1
	SourceRate int       // sample rate of the original, Hz
	Channels   int       // channel count of the original
	Format     Format
	Codec      string  // e.g. "pcm_s16le", "pcm_f32le", "pcm_mulaw", "flac", "mp3", "opus", "aac"
	Duration   float64 // seconds of the original, before resampling
}

// Decoder turns uploaded bytes into a [Clip]. The zero value is ready to use
// with the defaults; set fields to change them. A Decoder is safe for
// concurrent use once its fields are set, and must not be copied after first
// use.
type Decoder struct {
	// FFmpeg is the path of the ffmpeg binary used for Ogg, WebM, MP4 and
	// AAC. Empty means look "ffmpeg" up in PATH (once per Decoder). A path
	// that does not exist disables the subprocess: WAV, FLAC and MP3 still
	// decode, the others fail with ErrUnsupportedFormat.
	FFmpeg string
	// MaxBytes bounds the input size; default DefaultMaxBytes (25 MiB).
	MaxBytes int64
	// MaxDuration bounds the audio duration; default DefaultMaxDuration (120 s).
	MaxDuration time.Duration
	// Timeout bounds one ffmpeg run; default DefaultTimeout (20 s).
	Timeout time.Duration

	lookOnce   sync.Once
	ffmpegPath string // resolved FFmpeg, "" when unavailable
}

// limits is what a format decoder needs to know about the Decoder's bounds.
type limits struct {
	maxDuration time.Duration
}

// maxFrames returns how many sample frames at rate fit in the duration bound.
func (l limits) maxFrames(rate int) int64 {
	return int64(l.maxDuration.Seconds()*float64(rate)) + 1
}

// checkFrames fails with ErrTooLong when frames at rate exceed the bound.
func (l limits) checkFrames(frames int64, rate int) error {
	if frames > l.maxFrames(rate) {
		return fmt.Errorf("%w: %.1f s exceeds the %v limit", ErrTooLong, float64(frames)/float64(rate), l.maxDuration)
	}
	return nil
}

func (d *Decoder) limits() limits {
	l := limits{maxDuration: d.MaxDuration}
	if l.maxDuration <= 0 {
		l.maxDuration = DefaultMaxDuration
	}
	return l
}

func (d *Decoder) maxBytes() int64 {
	if d.MaxBytes > 0 {
		return d.MaxBytes
	}
	return DefaultMaxBytes
}

func (d *Decoder) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultTimeout
}

// ffmpeg returns the ffmpeg binary to run, or "" when there is none.
func (d *Decoder) ffmpeg() string {
	d.lookOnce.Do(func() {
		name := d.FFmpeg
		if name == "" {
			name = "ffmpeg"
		}
		if p, err := exec.LookPath(name); err == nil {
			d.ffmpegPath = p
		}
	})
	return d.ffmpegPath
}

// errNeedsFFmpeg marks a well-formed file whose codec this package does not
// decode natively (ADPCM or GSM in WAV, MPEG layer I/II); Decode hands it to
// ffmpeg when there is one.
var errNeedsFFmpeg = fmt.Errorf("%w: codec needs ffmpeg", ErrUnsupportedFormat)

// pcm is audio decoded at its original rate and mixed to mono.
type pcm struct {
	samples  []float32 // mono, rate Hz
	rate     int       // rate of samples, Hz
	srcRate  int       // rate of the original when samples were resampled already (ffmpeg), else 0
	channels int
	codec    string
}

// Decode detects the container of data, decodes it, mixes it to mono and
// resamples it to [Rate]. It returns ErrTooLarge, ErrTooLong, ErrCorrupt or
// ErrUnsupportedFormat (wrapped with details), or ctx's error when ctx ends
// first. It never panics, whatever the bytes.
func (d *Decoder) Decode(ctx context.Context, data []byte) (*Clip, error) {
	if int64(len(data)) > d.maxBytes() {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrTooLarge, len(data), d.maxBytes())
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrCorrupt)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	format := Detect(data)
	lim := d.limits()
	var (
		p   *pcm
		err error
	)
	switch format {
	case WAV:
		p, err = decodeWAV16k(data, lim)
	case FLAC:
		p, err = decodeFLAC(ctx, data, lim)
	case MP3:
		p, err = decodeMP3(ctx, data, lim)
	case Ogg, WebM, MP4, AAC:
		p, err = d.decodeFFmpeg(ctx, data, format)
	default:
		return nil, fmt.Errorf("%w: unrecognised file signature % x", ErrUnsupportedFormat, head(data, 12))
	}
	if err != nil && (errors.Is(err, errNeedsFFmpeg) || errors.Is(err, ErrCorrupt) && (format == FLAC || format == MP3)) {
		// ffmpeg knows more codecs (ADPCM in WAV, MPEG layer I/II) and
		// tolerates more damage; when it fails too, the first error stands.
		p, err = d.decodeWithFallback(ctx, data, format, err)
	}
	if err != nil {
		return nil, err
	}
	if len(p.samples) == 0 {
		return nil, fmt.Errorf("%w: %s file holds no audio samples", ErrCorrupt, format)
	}
	if err := lim.checkFrames(int64(len(p.samples)), p.rate); err != nil {
		return nil, err
	}
	out := p.samples
	if p.rate != Rate {
		out = Resample(p.samples, p.rate, Rate)
	}
	clampUnit(out)
	return &Clip{
		Samples:    out,
		SourceRate: cmp.Or(p.srcRate, p.rate),
		Channels:   p.channels,
		Format:     format,
		Codec:      p.codec,
		Duration:   float64(len(p.samples)) / float64(p.rate),
	}, nil
}

// decodeWithFallback retries a pure-Go failure through ffmpeg. When ffmpeg
// is unavailable or fails too, the first error stands.
func (d *Decoder) decodeWithFallback(ctx context.Context, data []byte, format Format, first error) (*pcm, error) {
	if d.ffmpeg() == "" || ctx.Err() != nil {
		return nil, first
	}
	p, err := d.decodeFFmpeg(ctx, data, format)
	if err != nil {
		if errors.Is(err, ErrTooLong) || ctx.Err() != nil {
			return nil, err
		}
		return nil, first
	}
	return p, nil
}

// checkRate rejects sample rates the engine cannot use.
func checkRate(rate int) error {
	switch {
	case rate < minRate:
		return fmt.Errorf("%w: sample rate %d Hz is below the %d Hz minimum", ErrUnsupportedFormat, rate, minRate)
	case rate > maxRate:
		return fmt.Errorf("%w: sample rate %d Hz is above the %d Hz maximum", ErrUnsupportedFormat, rate, maxRate)
	}
	return nil
}

// clampUnit maps x into -1..1 in place; NaN becomes 0.
func clampUnit(x []float32) {
	for i, v := range x {
		switch {
		case v > 1:
			x[i] = 1
		case v < -1:
			x[i] = -1
		case v != v:
			x[i] = 0
		}
	}
}

func head(b []byte, n int) []byte {
	return b[:min(n, len(b))]
}

// guard turns a panic inside a third-party decoder into ErrCorrupt.
func guard(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s decoder failed: %v", ErrCorrupt, what, r)
	}
}

// Package engine is voxgate's signal pipeline, from uploaded bytes to
// evidence: decode and resample (audio), voice activity (vad), quality
// measures and the quality gate, then speaker embedding, anti-spoofing,
// replay fingerprints and the spoken-phrase check. It knows nothing about
// storage or HTTP: the service layer feeds it bytes and templates and stores
// what it returns.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"voxgate"
	"voxgate/audio"
	"voxgate/timing"
	"voxgate/vad"
)

// Analysis is what the engine measures of one recording before judging it.
type Analysis struct {
	Clip *audio.Clip
	// Speech holds the voiced segments found by the VAD, in seconds.
	Speech []vad.Segment
	// SpeechSeconds is the net speech: the sum of the segments.
	SpeechSeconds float64
	// Detector names what found the speech: "silero", or "energy" when no
	// VAD model is loaded or Silero missed clearly voiced audio.
	Detector string
	Quality  audio.Quality
}

// Report is the JSON form of an Analysis, printed by `voxgate audio inspect`
// and returned in enrollment diagnostics.
type Report struct {
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

// Report summarises a for clients, rounded to what the measures can tell.
func (a *Analysis) Report() Report {
	return Report{
		Format: string(a.Clip.Format), Codec: a.Clip.Codec, SampleRate: a.Clip.SourceRate, Channels: a.Clip.Channels,
		DurationS: round(a.Clip.Duration, 3), SpeechS: round(a.SpeechSeconds, 3), SNRdB: round(a.Quality.SNRdB, 1),
		Clipping: round(a.Quality.Clipping, 5), RMSdBFS: round(a.Quality.RMSdBFS, 1),
	}
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// frameLen is the quality-measure frame: 20 ms at 16 kHz.
const frameLen = audio.Rate / 50

// Analyzer decodes and measures recordings. It is safe for concurrent use.
type Analyzer struct {
	Decoder *audio.Decoder
	// VAD finds speech. Nil falls back to an energy detector, which is
	// cruder: the service reports that in /readyz.
	VAD *vad.Model
	// VADOptions tune segment hysteresis and padding (zero: Silero's defaults).
	VADOptions vad.Options
}

// Analyze decodes data and measures it. Errors carry voxgate codes:
// EUNSUPPORTEDFORMAT for undecodable audio, EPAYLOADTOOLARGE for audio over
// the size or duration bounds.
func (an *Analyzer) Analyze(ctx context.Context, data []byte) (*Analysis, error) {
	dec := an.Decoder
	if dec == nil {
		dec = &audio.Decoder{}
	}
	end := timing.Start(ctx, timing.Decode)
	clip, err := dec.Decode(ctx, data)
	end()
	if err != nil {
		return nil, decodeError(err, dec)
	}
	defer timing.Start(ctx, timing.VAD)()
	return an.Measure(clip), nil
}

// Measure runs voice activity detection and the quality measures on a
// decoded clip. It removes the clip's DC offset in place first (after
// measuring peak and clipping on the samples as recorded), so everything
// downstream (VAD, SNR, embeddings, spoof and phrase checks) hears the
// recording without it.
func (an *Analyzer) Measure(clip *audio.Clip) *Analysis {
	q := audio.Measure(clip.Samples, nil, frameLen)
	audio.RemoveDC(clip.Samples)
	q.RMSdBFS = audio.Measure(clip.Samples, nil, frameLen).RMSdBFS
	segs, detector := energySegments(clip.Samples), "energy"
	if an.VAD != nil {
		silero := vad.Segments(an.VAD.Probs(clip.Samples), an.VADOptions)
		// Silero misses some loud, laughing or shouted speech entirely
		// (RAVDESS actor 6's strong takes score 0.03), and some quiet
		// narrowband speech too (one FSDD speaker's 8 kHz digit strings
		// at -39 dBFS and 15-38 dB SNR: nothing in 10 of his 40, which the
		// quality gate then refused as "no speech"). When it finds under a
		// quarter of what a strict energy detector finds, and that is at
		// least a second, or it finds nothing at all where the detector
		// does, the energy segments are the better account.
		e, s := vad.SpeechSeconds(segs), vad.SpeechSeconds(silero)
		if s >= 0.25*e || (e < 1 && s > 0) {
			segs, detector = silero, "silero"
		}
	}
	q.SNRdB = estimateSNR(clip.Samples, segs)
	return &Analysis{
		Clip:          clip,
		Speech:        segs,
		SpeechSeconds: vad.SpeechSeconds(segs),
		Detector:      detector,
		Quality:       q,
	}
}

// decodeError maps the audio package's errors to application codes.
func decodeError(err error, dec *audio.Decoder) error {
	switch {
	case errors.Is(err, audio.ErrTooLarge):
		return voxgate.Errorf(voxgate.EPAYLOADTOOLARGE, "audio file larger than %d MB", maxBytes(dec)>>20)
	case errors.Is(err, audio.ErrTooLong):
		return voxgate.Errorf(voxgate.EPAYLOADTOOLARGE, "audio longer than %.0f s", maxDuration(dec).Seconds())
	case errors.Is(err, audio.ErrUnsupportedFormat):
		return &voxgate.Error{Code: voxgate.EUNSUPPORTEDFORMAT, Message: "Unsupported audio format. Send WAV, FLAC, MP3, OGG/Opus, AAC/M4A or WebM.", Cause: err}
	case errors.Is(err, audio.ErrCorrupt) && errors.Is(err, context.DeadlineExceeded):
		return &voxgate.Error{Code: voxgate.EUNSUPPORTEDFORMAT, Message: "The audio could not be decoded in time: the file is damaged or too complex.", Cause: err}
	case errors.Is(err, audio.ErrCorrupt):
		// The decoders' own words ("meta.Block.Parse: reserved block
		// type") go to the log through Cause, not to the client.
		return &voxgate.Error{Code: voxgate.EUNSUPPORTEDFORMAT, Message: "The audio could not be decoded: the file is damaged or holds no audio.", Cause: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("decode audio: %w", err)
	}
}

func maxBytes(d *audio.Decoder) int64 {
	if d.MaxBytes > 0 {
		return d.MaxBytes
	}
	return audio.DefaultMaxBytes
}

func maxDuration(d *audio.Decoder) time.Duration {
	if d.MaxDuration > 0 {
		return d.MaxDuration
	}
	return audio.DefaultMaxDuration
}

// energySegments is the energy voice detector, used when no VAD model is
// loaded and as a check on Silero: 32 ms frames more than 20 dB above the
// recording's quietest decile and above -50 dBFS count as speech, then
// Silero's segment rules (minimum speech and silence, padding) apply.
func energySegments(x []float32) []vad.Segment {
	const hop = vad.ChunkSize
	n := len(x) / hop
	if n == 0 {
		return nil
	}
	energies := make([]float64, n)
	for i := range energies {
		var s float64
		for _, v := range x[i*hop : (i+1)*hop] {
			s += float64(v) * float64(v)
		}
		energies[i] = 10 * math.Log10(s/float64(hop)+1e-12)
	}
	sorted := append([]float64(nil), energies...)
	slices.Sort(sorted)
	floor := sorted[len(sorted)/10]
	probs := make([]float32, n)
	for i, e := range energies {
		if e > floor+20 && e > -50 {
			probs[i] = 1
		}
	}
	return vad.Segments(probs, vad.Options{})
}

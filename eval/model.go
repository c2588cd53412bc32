package eval

import (
	"context"
	"fmt"
	"os"

	"voxgate/audio"
	"voxgate/speaker"
)

// ModelSystem adapts a speaker model to a SpeakerSystem: recordings are read
// from disk and decoded with dec, embedded with the model's built-in speech
// detector (pass a mask-aware Embed of your own to use an external VAD),
// enrolled weighted by net speech seconds, and scored on the normalised
// score against the model's threshold for targetFAR.
func ModelSystem(m *speaker.Model, dec *audio.Decoder, targetFAR float64) SpeakerSystem {
	cal := m.Calibrate(targetFAR)
	return SpeakerSystem{
		Embed: func(ctx context.Context, path string) (Embedding, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return Embedding{}, err
			}
			clip, err := dec.Decode(ctx, b)
			if err != nil {
				return Embedding{}, fmt.Errorf("decode: %w", err)
			}
			v, speech, err := m.EmbedSpeech(clip.Samples, nil)
			if err != nil {
				return Embedding{}, err
			}
			return Embedding{Vector: v, AudioSeconds: float64(len(clip.Samples)) / audio.Rate, SpeechSeconds: speech}, nil
		},
		Enroll: func(embs []Embedding) []float32 {
			vs := make([][]float32, len(embs))
			ws := make([]float64, len(embs))
			for i, e := range embs {
				vs[i], ws[i] = e.Vector, e.SpeechSeconds
			}
			return m.Enroll(vs, ws).Vector
		},
		Score: func(t, p []float32) float64 {
			return cal.Score(m, t, p).Normalized
		},
		Threshold: cal.Threshold,
	}
}

package service

import (
	"context"

	"voxgate/engine"
	"voxgate/replay"
	"voxgate/timing"
)

// The engine calls of the request paths, each timed as its stage of the
// request (see package timing) so that `voxgate bench` can say where the
// server's time goes.

func (s *Service) embed(ctx context.Context, an *engine.Analysis) ([]float32, error) {
	defer timing.Start(ctx, timing.Embed)()
	return s.engine.Embed(an)
}

func (s *Service) fingerprint(ctx context.Context, an *engine.Analysis) replay.Fingerprint {
	defer timing.Start(ctx, timing.Replay)()
	return s.engine.Fingerprint(an)
}

func (s *Service) spoofScore(ctx context.Context, an *engine.Analysis) (probability, threshold float64, err error) {
	defer timing.Start(ctx, timing.Liveness)()
	return s.engine.Spoof.Spoof(ctx, an.Clip.Samples)
}

func (s *Service) checkPhrase(ctx context.Context, an *engine.Analysis, prompt string) (engine.PhraseResult, error) {
	defer timing.Start(ctx, timing.Phrase)()
	return s.engine.Phrase.Check(ctx, an.Clip.Samples, an.Clip.SourceRate, prompt)
}

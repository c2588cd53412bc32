// Package enginetest gives tests the real voxgate engine, loaded once per
// test binary from ../shared/models: Silero VAD, the shipped speaker model,
// the pocketsphinx recogniser and, for the tests where liveness must pass,
// the AASIST detector with its back-end. Without ../shared the test is
// skipped, or fails when CI is set (see package shared).
package enginetest

import (
	"path/filepath"
	"sync"
	"testing"

	"voxgate/antispoof"
	"voxgate/audio"
	"voxgate/engine"
	"voxgate/internal/shared"
	"voxgate/phrase"
)

var (
	baseOnce sync.Once
	base     *engine.Engine
	baseErr  error

	spoofOnce sync.Once
	spoof     *engine.Engine
	spoofErr  error
)

// Engine returns the engine without the deepfake check (it costs about half
// a second per verification on two cores), at a 1% target false-accept rate.
func Engine(t testing.TB) *engine.Engine {
	t.Helper()
	models := filepath.Join(shared.Dir(t), "models")
	baseOnce.Do(func() {
		vadModel, err := engine.LoadVAD(models)
		if err != nil {
			baseErr = err
			return
		}
		e, err := engine.New(engine.Analyzer{Decoder: &audio.Decoder{}, VAD: vadModel}, 0.01)
		if err != nil {
			baseErr = err
			return
		}
		r, err := phrase.Open("", phrase.Options{})
		if err != nil {
			baseErr = err
			return
		}
		e.Phrase = r
		base = e
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
	return base
}

// WithSpoof returns a copy of Engine with the anti-spoofing detector, so
// that liveness can reach "high" and spoofs are checked.
func WithSpoof(t testing.TB) *engine.Engine {
	t.Helper()
	e := Engine(t)
	models := filepath.Join(shared.Dir(t), "models")
	spoofOnce.Do(func() {
		d, err := antispoof.NewDetector(models)
		if err != nil {
			spoofErr = err
			return
		}
		copied := *e
		copied.Spoof = d
		spoof = &copied
	})
	if spoofErr != nil {
		t.Fatal(spoofErr)
	}
	return spoof
}

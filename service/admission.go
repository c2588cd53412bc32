package service

import (
	"context"
	"errors"
	"runtime"
	"time"

	"voxgate"
	"voxgate/audio"
	"voxgate/budget"
	"voxgate/timing"
)

// BudgetConfig bounds the audio work one node holds at once, so that a
// burst of large uploads queues briefly and is then refused with
// EUNAVAILABLE (503 with Retry-After) instead of growing the process
// without bound. Zero fields take the defaults named on each.
type BudgetConfig struct {
	// AudioBytes bounds the audio held in memory by requests in flight:
	// each upload is charged its size plus the largest decoded clip
	// (DefaultMaxDuration at 16 kHz, float32: 7.7 MB) before its body is
	// read (default 256 MiB).
	AudioBytes int64
	// Analyses bounds the CPU-bound engine runs (decode, voice activity,
	// embedding, liveness, phrase) at once (default 2 per CPU core).
	Analyses int
	// Wait is how long a request may queue for either budget before it is
	// refused (default 5 s).
	Wait time.Duration
	// RetryAfter is what a refused client is told to wait (default 2 s).
	RetryAfter time.Duration
}

func (c BudgetConfig) withDefaults() BudgetConfig {
	if c.AudioBytes <= 0 {
		c.AudioBytes = 256 << 20
	}
	if c.Analyses <= 0 {
		c.Analyses = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Wait <= 0 {
		c.Wait = 5 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 2 * time.Second
	}
	return c
}

// decodedBytes is the largest decoded clip: mono float32 at audio.Rate for
// the decoder's duration bound. Decoders never hold more than that plus a
// block of the source (audio.Decoder resamples as it decodes).
const decodedBytes = int64(audio.Rate * 4 * (audio.DefaultMaxDuration / time.Second))

// admission holds the node's budgets.
type admission struct {
	cfg      BudgetConfig
	bytes    *budget.Pool
	analyses *budget.Pool
}

func newAdmission(c BudgetConfig) admission {
	c = c.withDefaults()
	return admission{cfg: c, bytes: budget.New(c.AudioBytes, c.Wait), analyses: budget.New(int64(c.Analyses), c.Wait)}
}

// busy is the refusal of a request that found the budget spent.
func (ad admission) busy(what string) error {
	return &voxgate.Error{Code: voxgate.EUNAVAILABLE, Message: "The server is busy with other " + what + ": try again shortly",
		RetryAfter: ad.cfg.RetryAfter, Scope: "capacity"}
}

func (ad admission) refusal(err error, what string) error {
	if errors.Is(err, budget.ErrBusy) {
		return ad.busy(what)
	}
	return err
}

// AdmitAudio reserves memory for an upload of size bytes (the declared
// length, or the largest allowed when unknown) and its decoded clip,
// before the body is read. The HTTP layer calls it for every route that
// carries audio and calls release when the request is done. Returns
// EUNAVAILABLE (with RetryAfter) when the node's audio budget stays spent
// for the queue wait.
func (s *Service) AdmitAudio(ctx context.Context, size int64) (release func(), err error) {
	end := timing.Start(ctx, timing.Queue)
	release, err = s.admit.bytes.Acquire(ctx, size+decodedBytes)
	end()
	if err != nil {
		return nil, s.admit.refusal(err, "recordings")
	}
	return release, nil
}

// analysis reserves one of the node's engine slots for the caller's
// decode and analysis; call release when the engine work is done.
func (s *Service) analysis(ctx context.Context) (release func(), err error) {
	end := timing.Start(ctx, timing.Queue)
	release, err = s.admit.analyses.Acquire(ctx, 1)
	end()
	if err != nil {
		return nil, s.admit.refusal(err, "analyses")
	}
	return release, nil
}

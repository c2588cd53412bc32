// Package timing records how long each stage of one request took (decode,
// VAD, embedding, liveness, phrase, store), so that a load benchmark can
// say where the server's time goes. A Recorder travels in the request's
// context; code that does a stage's work brackets it with Start, which is a
// no-op when the context carries no Recorder, so the cost is one context
// lookup per stage when nobody asked.
package timing

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Stage names used across voxgate. They are the Server-Timing metric names.
const (
	Decode   = "decode"
	VAD      = "vad"
	Embed    = "embed"
	Liveness = "liveness"
	Phrase   = "phrase"
	Store    = "store"
	Replay   = "replay"
	// Queue is the wait for the node's admission budget (memory for the
	// upload, an engine slot): time under load spent not working.
	Queue = "queue"
)

// Recorder accumulates durations per stage. Stages that run in parallel
// within one request add up, so the sum can exceed the wall time; that is
// the CPU-ish share a capacity planner wants. Safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	order []string
	total map[string]time.Duration
}

type ctxKey struct{}

// With returns a context carrying a new Recorder, and the Recorder.
func With(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{total: map[string]time.Duration{}}
	return context.WithValue(ctx, ctxKey{}, r), r
}

// From returns the context's Recorder, or nil.
func From(ctx context.Context) *Recorder {
	r, _ := ctx.Value(ctxKey{}).(*Recorder)
	return r
}

// Start begins timing stage and returns the function that ends it:
//
//	defer timing.Start(ctx, timing.Embed)()
func Start(ctx context.Context, stage string) func() {
	r := From(ctx)
	if r == nil {
		return func() {}
	}
	t0 := time.Now()
	return func() { r.Add(stage, time.Since(t0)) }
}

// Add adds d to stage. A nil Recorder ignores it.
func (r *Recorder) Add(stage string, d time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.total[stage]; !ok {
		r.order = append(r.order, stage)
	}
	r.total[stage] += d
}

// Stages returns each recorded stage's total, in first-seen order.
func (r *Recorder) Stages() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Span, len(r.order))
	for i, name := range r.order {
		out[i] = Span{Name: name, Duration: r.total[name]}
	}
	return out
}

// Span is one stage's total duration.
type Span struct {
	Name     string
	Duration time.Duration
}

// Header formats spans as a Server-Timing header value (W3C Server
// Timing), durations in milliseconds: "decode;dur=1.234, embed;dur=5.6".
func Header(spans []Span) string {
	var b strings.Builder
	for i, s := range spans {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s;dur=%.3f", s.Name, float64(s.Duration.Microseconds())/1000)
	}
	return b.String()
}

// ParseHeader reads a Server-Timing header value back into stage durations
// in milliseconds, ignoring metrics without a dur parameter.
func ParseHeader(v string) map[string]float64 {
	out := map[string]float64{}
	for _, metric := range strings.Split(v, ",") {
		parts := strings.Split(strings.TrimSpace(metric), ";")
		name := strings.TrimSpace(parts[0])
		if name == "" {
			continue
		}
		for _, p := range parts[1:] {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || k != "dur" {
				continue
			}
			var ms float64
			if _, err := fmt.Sscanf(strings.Trim(val, `"`), "%g", &ms); err == nil {
				out[name] += ms
			}
		}
	}
	return out
}

// Package trace carries a request's identity (its W3C trace context and
// voxgate's correlation ID) through a context, across the asynchronous
// queue, and onto every log line written with that context.
//
// A request arriving with a valid `traceparent` header
// (https://www.w3.org/TR/trace-context/) keeps its trace ID and gets a span
// of its own; one without starts a new trace. An asynchronous job stores
// the submitting request's IDs, so that the lines the worker logs later,
// on any node, carry the same trace_id and correlation_id as the request
// that queued it.
package trace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
)

// IDs identify one unit of work: a request, or a job it queued.
type IDs struct {
	// TraceID is 32 lowercase hex digits, never all zero.
	TraceID string
	// SpanID is this unit's 16 hex digits; ParentID the caller's span
	// ("" when the trace started here).
	SpanID, ParentID string
	// Sampled is the caller's sampled flag, passed on unchanged.
	Sampled bool
	// CorrelationID is the request's X-Correlation-ID (a UUID).
	CorrelationID string
}

// Parse reads a traceparent header value ("00-<trace>-<span>-<flags>").
// It returns false for anything malformed, including the all-zero IDs and
// version ff the specification forbids; a later version is read by its
// first four fields, as the specification asks.
func Parse(traceparent string) (IDs, bool) {
	parts := strings.Split(strings.TrimSpace(traceparent), "-")
	if len(parts) < 4 {
		return IDs{}, false
	}
	version, traceID, parent, flags := parts[0], parts[1], parts[2], parts[3]
	if !isHex(version, 2) || version == "ff" || (version == "00" && len(parts) != 4) {
		return IDs{}, false
	}
	if !isHex(traceID, 32) || !isHex(parent, 16) || !isHex(flags, 2) || allZero(traceID) || allZero(parent) {
		return IDs{}, false
	}
	b, _ := hex.DecodeString(flags)
	return IDs{TraceID: traceID, ParentID: parent, Sampled: b[0]&1 == 1}, true
}

// Traceparent formats the IDs as a traceparent value naming SpanID as the
// parent of whatever comes next.
func (id IDs) Traceparent() string {
	if id.TraceID == "" || id.SpanID == "" {
		return ""
	}
	flags := "00"
	if id.Sampled {
		flags = "01"
	}
	return "00-" + id.TraceID + "-" + id.SpanID + "-" + flags
}

// Start returns the IDs of a new unit of work under the given traceparent
// (a request's header, or a job's stored value): the same trace with a new
// span, or a new trace when traceparent is empty or malformed.
func Start(traceparent, correlationID string) IDs {
	id, ok := Parse(traceparent)
	if !ok {
		id = IDs{TraceID: randomHex(16)}
	}
	id.SpanID = randomHex(8)
	id.CorrelationID = correlationID
	return id
}

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id IDs) context.Context { return context.WithValue(ctx, ctxKey{}, id) }

// From returns the IDs ctx carries (zero when none).
func From(ctx context.Context) IDs {
	id, _ := ctx.Value(ctxKey{}).(IDs)
	return id
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool { return strings.Trim(s, "0") == "" }

func randomHex(n int) string {
	b := make([]byte, n)
	for {
		rand.Read(b)
		if s := hex.EncodeToString(b); !allZero(s) {
			return s
		}
	}
}

// handler adds the context's IDs to each record.
type handler struct{ slog.Handler }

// Logger returns l with its records carrying trace_id, span_id and
// correlation_id whenever they are logged with a context that has them
// (slog's ...Context methods). A logger already wrapped is returned as is.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	if _, ok := l.Handler().(handler); ok {
		return l
	}
	return slog.New(handler{l.Handler()})
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := From(ctx); id.TraceID != "" || id.CorrelationID != "" {
			r = r.Clone()
			if id.CorrelationID != "" {
				r.AddAttrs(slog.String("correlation_id", id.CorrelationID))
			}
			if id.TraceID != "" {
				r.AddAttrs(slog.String("trace_id", id.TraceID), slog.String("span_id", id.SpanID))
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler { return handler{h.Handler.WithAttrs(as)} }
func (h handler) WithGroup(name string) slog.Handler    { return handler{h.Handler.WithGroup(name)} }

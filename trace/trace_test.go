package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestParseFollowsTheW3CSpecification(t *testing.T) {
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name, in string
		ok       bool
		sampled  bool
	}{
		{"sampled", "00-" + trace + "-" + span + "-01", true, true},
		{"not sampled", "00-" + trace + "-" + span + "-00", true, false},
		{"surrounding spaces", " 00-" + trace + "-" + span + "-01 ", true, true},
		{"later version with more fields", "01-" + trace + "-" + span + "-01-extra", true, true},
		{"version 00 with more fields", "00-" + trace + "-" + span + "-01-extra", false, false},
		{"version ff", "ff-" + trace + "-" + span + "-01", false, false},
		{"all-zero trace", "00-00000000000000000000000000000000-" + span + "-01", false, false},
		{"all-zero span", "00-" + trace + "-0000000000000000-01", false, false},
		{"uppercase", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + span + "-01", false, false},
		{"short trace", "00-4bf92f35-" + span + "-01", false, false},
		{"empty", "", false, false},
		{"garbage", "not a traceparent", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := Parse(tc.in)
			if ok != tc.ok {
				t.Fatalf("Parse(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if ok && (id.TraceID != trace || id.ParentID != span || id.Sampled != tc.sampled) {
				t.Fatalf("Parse(%q) = %+v", tc.in, id)
			}
		})
	}
}

func TestStartKeepsTheCallersTraceAndMakesANewSpan(t *testing.T) {
	caller := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	id := Start(caller, "c0ffee00-0000-4000-8000-000000000000")
	if id.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || id.ParentID != "00f067aa0ba902b7" || id.SpanID == id.ParentID || len(id.SpanID) != 16 {
		t.Fatalf("Start = %+v", id)
	}
	next, ok := Parse(id.Traceparent())
	if !ok || next.TraceID != id.TraceID || next.ParentID != id.SpanID || !next.Sampled {
		t.Fatalf("Traceparent() = %q does not name this span as parent", id.Traceparent())
	}
	fresh := Start("bogus", "")
	if _, ok := Parse("00-" + fresh.TraceID + "-" + fresh.SpanID + "-00"); !ok || fresh.ParentID != "" {
		t.Fatalf("a new trace is not well formed: %+v", fresh)
	}
}

func TestLoggerAddsTheContextsIDs(t *testing.T) {
	var buf bytes.Buffer
	log := Logger(slog.New(slog.NewJSONHandler(&buf, nil)))
	if Logger(log) != log {
		t.Fatal("wrapping twice")
	}
	id := Start("", "c0ffee00-0000-4000-8000-000000000000")
	log.With("job_id", "j1").InfoContext(With(context.Background(), id), "async job done")
	log.Info("no context")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	var first, second map[string]any
	json.Unmarshal(lines[0], &first)
	json.Unmarshal(lines[1], &second)
	if first["trace_id"] != id.TraceID || first["span_id"] != id.SpanID || first["correlation_id"] != id.CorrelationID || first["job_id"] != "j1" {
		t.Fatalf("line with context: %s", lines[0])
	}
	if _, ok := second["trace_id"]; ok {
		t.Fatalf("line without context: %s", lines[1])
	}
}

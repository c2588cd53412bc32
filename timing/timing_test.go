package timing_test

import (
	"context"
	"testing"
	"time"

	"voxgate/timing"
)

func TestStartWithoutRecorderIsNoop(t *testing.T) {
	timing.Start(context.Background(), timing.Embed)() // must not panic
	if timing.From(context.Background()) != nil {
		t.Fatal("background context has a recorder")
	}
}

func TestRecorderAddsStagesAndRoundTripsHeader(t *testing.T) {
	ctx, r := timing.With(context.Background())
	r.Add(timing.Decode, 2*time.Millisecond)
	r.Add(timing.Embed, 5*time.Millisecond)
	r.Add(timing.Decode, 1500*time.Microsecond)
	end := timing.Start(ctx, timing.Store)
	end()
	spans := r.Stages()
	if len(spans) != 3 || spans[0].Name != timing.Decode || spans[0].Duration != 3500*time.Microsecond {
		t.Fatalf("stages = %+v", spans)
	}
	h := timing.Header(spans)
	got := timing.ParseHeader(h)
	if got[timing.Decode] != 3.5 || got[timing.Embed] != 5 {
		t.Fatalf("ParseHeader(%q) = %v", h, got)
	}
	if _, ok := got[timing.Store]; !ok {
		t.Fatalf("store stage missing from %q", h)
	}
}

func TestParseHeaderToleratesOtherServers(t *testing.T) {
	got := timing.ParseHeader(`cache;desc="Cache Read";dur=23.2, db;dur=53, missedCache`)
	if got["cache"] != 23.2 || got["db"] != 53 || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

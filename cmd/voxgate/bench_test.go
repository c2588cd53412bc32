package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"voxgate/internal/pgtest"
	"voxgate/internal/shared"
)

// The load benchmark drives a server it starts itself with real recordings
// and reports where the server's time went; a short run checks the
// plumbing (the figures themselves are docs/PERFORMANCE.md's business).
func TestBenchVerifyReportsThroughputCPUAndStages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server with every model")
	}
	dir := shared.Dir(t)
	audioDir := shared.Path(t, "voice-data/corpora/train-pool/speech-accent-archive")
	out := runCLI(t, "bench", "verify", "-n", "4", "-c", "2", "--warmup", "1", "--json",
		"--audio", audioDir, "--models", filepath.Join(dir, "models"))
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, out)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(rep.Runs))
	}
	r := rep.Runs[0]
	if r.OK != 4 || r.Failed != 0 {
		t.Fatalf("ok/failed = %d/%d (%s)", r.OK, r.Failed, r.FirstError)
	}
	if r.Throughput <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms || r.CPUPerRequestS <= 0 {
		t.Errorf("figures missing: %+v", r)
	}
	for _, stage := range []string{"decode", "vad", "embed", "liveness", "replay", "store", "other"} {
		if _, ok := r.StagesMs[stage]; !ok {
			t.Errorf("stage %q missing from %v", stage, r.StagesMs)
		}
	}
	if r.StagesMs["liveness"] <= 0 || r.StagesMs["embed"] <= 0 {
		t.Errorf("engine stages not timed: %v", r.StagesMs)
	}
	if n := r.Decisions["accept"] + r.Decisions["reject"] + r.Decisions["retry"]; n != 4 {
		t.Errorf("decisions = %v, want 4 scored answers", r.Decisions)
	}
	if rep.PeakRSSBytes <= 0 {
		t.Errorf("no peak RSS for the started server")
	}
}

// TestBenchSpreadsOverNodesOnPostgres starts two nodes on one PostgreSQL
// database: the requests are spread over both and the store is timed.
func TestBenchSpreadsOverNodesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers with every model")
	}
	store := pgtest.Fresh(t)
	dir := shared.Dir(t)
	audioDir := shared.Path(t, "voice-data/corpora/train-pool/speech-accent-archive")
	out := runCLI(t, "bench", "verify", "-n", "4", "-c", "2", "--warmup", "0", "--json", "--nodes", "2", "--store", store,
		"--audio", audioDir, "--models", filepath.Join(dir, "models"))
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, out)
	}
	r := rep.Runs[0]
	if rep.Nodes != 2 || strings.Count(rep.URL, ",") != 1 || r.OK != 4 || r.Failed != 0 || r.StagesMs["store"] <= 0 || r.CPUPerRequestS <= 0 {
		t.Fatalf("two-node run: nodes %d (%s), %+v", rep.Nodes, rep.URL, r)
	}
}

func TestBenchEnrollCountsEnrollments(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server with every model")
	}
	dir := shared.Dir(t)
	audioDir := shared.Path(t, "voice-data/corpora/train-pool/speech-accent-archive")
	out := runCLI(t, "bench", "enroll", "-n", "2", "-c", "2", "--warmup", "0", "--json",
		"--audio", audioDir, "--models", filepath.Join(dir, "models"))
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, out)
	}
	if r := rep.Runs[0]; r.OK != 2 || r.Failed != 0 || r.StagesMs["embed"] <= 0 {
		t.Fatalf("enroll run: %+v", r)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "fly"},
		{"bench", "verify", "-n", "0"},
		{"bench", "verify", "--url", "http://127.0.0.1:1"},
	} {
		if err := run(t.Context(), args, new(discard), new(discard)); err == nil {
			t.Errorf("voxgate %v: no error", args)
		}
	}
}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }

// Stage timings are for the operator's load tests: a server sends them only
// when started with --server-timing.
func TestServerTimingOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  bool
	}{{nil, false}, {[]string{"--server-timing"}, true}} {
		url, _, _ := startServerArgs(t, t.TempDir(), tc.flags...)
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Server-Timing") != ""; got != tc.want {
			t.Errorf("flags %v: Server-Timing sent = %v, want %v (%q)", tc.flags, got, tc.want, resp.Header.Get("Server-Timing"))
		}
	}
}

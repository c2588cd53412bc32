package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"voxgate"
	"voxgate/internal/enginetest"
	"voxgate/seal"
	"voxgate/service"
	"voxgate/store/sqlite"
)

func TestUserIDHasOneSpellingAndNoInvisibleCharacters(t *testing.T) {
	e := newEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	st, body, _ := e.do("POST", "/create-profile", key, map[string]string{"user_id": "jose\u0301"}) // e + combining acute
	if st != 201 || body["user_id"] != "jos\u00e9" {
		t.Fatalf("decomposed id: %d %v; want 201 with the composed id", st, body)
	}
	if st, body, _ = e.do("POST", "/create-profile", key, map[string]string{"user_id": "jos\u00e9"}); st != 200 || body["created"] != false {
		t.Fatalf("composed id after decomposed: %d %v; want the same profile", st, body)
	}
	if st, body, _ = e.do("GET", "/v1/profiles/"+url.PathEscape("jose\u0301"), key, nil); st != 200 || body["user_id"] != "jos\u00e9" {
		t.Fatalf("lookup by the decomposed id: %d %v", st, body)
	}
	for _, id := range []string{"alice\u202e", "ali\u200bce", "\u2067alice", "alice\u0007"} {
		st, body, hdr := e.do("POST", "/create-profile", key, map[string]string{"user_id": id})
		assertError(t, st, body, hdr, 400, voxgate.EINVALIDUSERID)
	}
}

// TestAnswersWithSecretsOrResultsAreNotCached checks Cache-Control on the
// answers that carry a client token, a sandbox key, a profile and an error;
// the voice token's answer is checked in the challenge flow tests.
func TestAnswersWithSecretsOrResultsAreNotCached(t *testing.T) {
	e := newTokenEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/v1/client-tokens", map[string]any{"user_id": "alice", "flow": "enroll"}, 201},
		{"POST", "/create-profile", map[string]any{"user_id": "alice"}, 201},
		{"GET", "/v1/profiles/alice", nil, 200},
		{"GET", "/v1/usage", nil, 200},
		{"POST", "/v1/keys/demo", nil, 403},
		{"GET", "/v1/profiles/nobody", nil, 404},
	} {
		st, body, hdr := e.do(tc.method, tc.path, key, tc.body)
		if st != tc.want {
			t.Fatalf("%s %s: %d %v", tc.method, tc.path, st, body)
		}
		if cc := hdr.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", tc.method, tc.path, cc)
		}
	}
}

// metricsEnv serves a server built with opt on a random loopback port, and
// its metrics handler on another.
func metricsEnv(t *testing.T, opt Options) (api, metrics string) {
	t.Helper()
	e := newEnv(t)
	s := New(e.svc, opt)
	a := httptest.NewServer(s.Handler())
	m := httptest.NewServer(s.MetricsHandler())
	t.Cleanup(func() { a.Close(); m.Close() })
	return a.URL, m.URL
}

func getMetrics(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsNeedTheirTokenOrTheirOwnAddress(t *testing.T) {
	const exposition = "voxgate_http_requests_total"
	t.Run("open by default", func(t *testing.T) {
		api, _ := metricsEnv(t, Options{})
		if st, body := getMetrics(t, api, ""); st != 200 || !strings.Contains(body, "go_goroutines") {
			t.Fatalf("%d %.200s", st, body)
		}
	})
	t.Run("token", func(t *testing.T) {
		api, _ := metricsEnv(t, Options{MetricsToken: "metrics-secret-0123456789"})
		getMetrics(t, api, "") // one request to count
		for _, tok := range []string{"", "wrong", "metrics-secret-012345678", "metrics-secret-0123456789x"} {
			if st, body := getMetrics(t, api, tok); st != 401 || strings.Contains(body, exposition) {
				t.Errorf("token %q: %d %.200s", tok, st, body)
			}
		}
		if st, body := getMetrics(t, api, "metrics-secret-0123456789"); st != 200 || !strings.Contains(body, exposition) {
			t.Fatalf("right token: %d %.200s", st, body)
		}
	})
	t.Run("own address", func(t *testing.T) {
		api, private := metricsEnv(t, Options{MetricsApart: true})
		if st, body := getMetrics(t, api, ""); st != 404 || strings.Contains(body, exposition) {
			t.Errorf("API address still serves metrics: %d %.200s", st, body)
		}
		if st, body := getMetrics(t, private, ""); st != 200 || !strings.Contains(body, exposition) {
			t.Fatalf("metrics address: %d %.200s", st, body)
		}
	})
}

// TestDecodeErrorsNameNoLibraryInternals uploads a FLAC whose first
// metadata block has a reserved type to the native and voice-ID routes: the
// client reads voxgate's own message, the operator's log the parser's.
func TestDecodeErrorsNameNoLibraryInternals(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{7}, 32))
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	cfg := service.DefaultConfig()
	cfg.Degraded = true // enginetest.Engine has no deepfake detector
	svc := service.New(db, service.Options{Engine: enginetest.Engine(t), Sealer: sealer, Logger: log, Config: cfg})
	api := New(svc, Options{Logger: log})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() { srv.Close(); db.Close() })
	e := &testEnv{t: t, svc: svc, api: api, srv: srv, logs: logs}
	key := e.key("acme", voxgate.ScopeAdmin)
	if st, body, _ := e.do("POST", "/create-profile", key, map[string]string{"user_id": "alice"}); st != 201 {
		t.Fatalf("create-profile: %d %v", st, body)
	}
	badFLAC := append([]byte("fLaC\x87\x00\x00\x04"), make([]byte, 200)...)
	for _, tc := range []struct{ path, field string }{{"/enroll", "audio"}, {"/v1/voiceid/enroll", "audio_file"}} {
		st, body := e.upload(tc.path, key, map[string]string{"user_id": "alice"}, tc.field, badFLAC)
		msg, _ := body["message"].(string)
		if st != 422 || body["error"] != voxgate.EUNSUPPORTEDFORMAT || msg == "" {
			t.Errorf("%s: %d %v; want 422 unsupported_format", tc.path, st, body)
		}
		for _, internal := range []string{"meta.", "Block", "reserved", "FLAC header", "audio:"} {
			if strings.Contains(msg, internal) {
				t.Errorf("%s: message %q exposes %q", tc.path, msg, internal)
			}
		}
	}
	if n := strings.Count(logs.String(), "meta.Block.Parse: reserved block type"); n != 2 {
		t.Errorf("the parser's detail is in %d request log lines, want 2:\n%s", n, logs)
	}
}

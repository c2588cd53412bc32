package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"voxgate"
	"voxgate/ids"
	"voxgate/service"
	"voxgate/store/sqlite"
)

// testEnv is a real voxgate server on a random loopback port over a real
// SQLite file.
type testEnv struct {
	t    *testing.T
	svc  *service.Service
	api  *Server
	srv  *httptest.Server
	logs *syncBuffer
	// header is the last upload's response header.
	header http.Header
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	svc := service.New(db, service.Options{Logger: log})
	api := New(svc, Options{Logger: log})
	srv := conformingServer(t, api)
	t.Cleanup(func() { srv.Close(); db.Close() })
	return &testEnv{t: t, svc: svc, api: api, srv: srv, logs: logs}
}

func (e *testEnv) key(tenant string, scope voxgate.Scope) string {
	e.t.Helper()
	nk, err := e.svc.CreateKey(context.Background(), tenant, scope, "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return nk.Key
}

// do sends a request and decodes the JSON answer.
func (e *testEnv) do(method, path, key string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// assertError checks the common error body.
func assertError(t *testing.T, status int, body map[string]any, hdr http.Header, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Fatalf("got %d %v, want %d %s", status, body, wantStatus, wantCode)
	}
	if body["status"] != float64(wantStatus) {
		t.Fatalf("body status = %v, want %d", body["status"], wantStatus)
	}
	id, _ := body["correlation_id"].(string)
	if !ids.IsUUID(id) || hdr.Get("X-Correlation-ID") != id {
		t.Fatalf("correlation id %q (header %q) is not one UUID", id, hdr.Get("X-Correlation-ID"))
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Fatal("empty message")
	}
}

func TestCreateProfileWithKeyIsIdempotent(t *testing.T) {
	e := newEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	st, body, _ := e.do("POST", "/create-profile", key, map[string]string{"user_id": "alice"})
	if st != 201 || body["user_id"] != "alice" || body["created"] != true || body["enrolled"] != false {
		t.Fatalf("first create: %d %v", st, body)
	}
	st, body, _ = e.do("POST", "/create-profile", key, map[string]string{"user_id": "alice"})
	if st != 200 || body["created"] != false {
		t.Fatalf("second create: %d %v", st, body)
	}
}

func TestBearerAndCurlFormEncodedJSONAreAccepted(t *testing.T) {
	e := newEnv(t)
	key := e.key("acme", voxgate.ScopeVerify)
	// Exactly what `curl -H "Authorization: Bearer $KEY" -d '{"user_id":"bob"}'` sends.
	req, _ := http.NewRequest("POST", e.srv.URL+"/create-profile", strings.NewReader(`{"user_id":"bob"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestMissingOrBadKeyIs401WithErrorBody(t *testing.T) {
	e := newEnv(t)
	for _, key := range []string{"", "vg_nope", "not-a-key"} {
		st, body, hdr := e.do("POST", "/create-profile", key, map[string]string{"user_id": "alice"})
		assertError(t, st, body, hdr, 401, "unauthorized")
		if body["message"] != "Invalid or inactive API key" {
			t.Fatalf("message %q", body["message"])
		}
	}
}

func TestBadBodiesAreValidationErrors(t *testing.T) {
	e := newEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	for _, raw := range []string{``, `{`, `[]`, `{"user_id": 5}`, `{"user_id":""}`, `{"user_id":"a"} {"x":1}`,
		`{"user_id":"` + strings.Repeat("x", 129) + `"}`} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/create-profile", strings.NewReader(raw))
		req.Header.Set("x-api-key", key)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		assertError(t, resp.StatusCode, body, resp.Header, 400, "validation_error")
	}
}

func TestProfileOfTenantAIsInvisibleToTenantB(t *testing.T) {
	e := newEnv(t)
	a := e.key("tenant-a", voxgate.ScopeAdmin)
	b := e.key("tenant-b", voxgate.ScopeAdmin)
	if st, _, _ := e.do("POST", "/create-profile", a, map[string]string{"user_id": "alice"}); st != 201 {
		t.Fatalf("create: %d", st)
	}
	st, body, hdr := e.do("GET", "/v1/profiles/alice", b, nil)
	assertError(t, st, body, hdr, 404, "profile_not_found")
	st, body, hdr = e.do("DELETE", "/v1/profiles/alice", b, nil)
	assertError(t, st, body, hdr, 404, "profile_not_found")
	if st, body, _ := e.do("GET", "/v1/profiles/alice", a, nil); st != 200 || body["user_id"] != "alice" {
		t.Fatalf("tenant a lost its profile: %d %v", st, body)
	}
	// Tenant b's own "alice" is a separate, new profile.
	if st, body, _ := e.do("POST", "/create-profile", b, map[string]string{"user_id": "alice"}); st != 201 || body["created"] != true {
		t.Fatalf("tenant b create: %d %v", st, body)
	}
	if st, _, _ := e.do("DELETE", "/v1/profiles/alice", a, nil); st != 200 {
		t.Fatal("tenant a delete failed")
	}
	if st, _, _ := e.do("GET", "/v1/profiles/alice", b, nil); st != 200 {
		t.Fatal("tenant a's delete removed tenant b's profile")
	}
}

func TestConcurrentCreateProfileOverHTTP(t *testing.T) {
	e := newEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[string]int{}
	var failures []string
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := "same-user"
			if i%2 == 0 {
				id = fmt.Sprintf("user-%03d", i)
			}
			b, _ := json.Marshal(map[string]string{"user_id": id})
			req, _ := http.NewRequest("POST", e.srv.URL+"/create-profile", bytes.NewReader(b))
			req.Header.Set("x-api-key", key)
			resp, err := e.srv.Client().Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode >= 500 || (resp.StatusCode != 200 && resp.StatusCode != 201) {
				raw, _ := io.ReadAll(resp.Body)
				failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, raw))
				return
			}
			if resp.StatusCode == 201 {
				created[id]++
			}
		}(i)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %s", len(failures), failures[0])
	}
	if len(created) != 51 {
		t.Fatalf("%d distinct profiles created, want 51", len(created))
	}
	for id, n := range created {
		if n != 1 {
			t.Fatalf("%s created %d times", id, n)
		}
	}
}

func TestPanicBecomes500WithCorrelationIDAndNoStack(t *testing.T) {
	e := newEnv(t)
	h := e.api.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom in handler") }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body map[string]any
	json.Unmarshal(raw, &body)
	assertError(t, resp.StatusCode, body, resp.Header, 500, "internal_error")
	if strings.Contains(string(raw), "boom") || strings.Contains(string(raw), "goroutine") {
		t.Fatalf("panic details leaked to client: %s", raw)
	}
	if !strings.Contains(e.logs.String(), "boom in handler") || !strings.Contains(e.logs.String(), body["correlation_id"].(string)) {
		t.Fatal("panic not logged with its correlation id")
	}
}

func TestRequestLogHasContextAndNoSecrets(t *testing.T) {
	e := newEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	_, _, hdr := e.do("POST", "/create-profile", key, map[string]string{"user_id": "carol"})
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["correlation_id"] == hdr.Get("X-Correlation-ID") {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no log line for the request: %s", e.logs.String())
	}
	for _, f := range []string{"tenant", "route", "status", "latency_ms"} {
		if _, ok := line[f]; !ok {
			t.Errorf("log line lacks %q: %v", f, line)
		}
	}
	if strings.Contains(e.logs.String(), key) || strings.Contains(e.logs.String(), key[16:]) {
		t.Fatal("API key secret appears in logs")
	}
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	e := newEnv(t)
	st, body, hdr := e.do("GET", "/no/such/route", "", nil)
	assertError(t, st, body, hdr, 404, "not_found")
	st, body, hdr = e.do("GET", "/create-profile", "", nil)
	assertError(t, st, body, hdr, 405, "method_not_allowed")
	if hdr.Get("Allow") != "POST" {
		t.Fatalf("Allow = %q", hdr.Get("Allow"))
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if st, body, _ := e.do("GET", "/healthz", "", nil); st != 200 || body["status"] != "ok" {
		t.Fatalf("healthz %d %v", st, body)
	}
	if st, body, _ := e.do("GET", "/readyz", "", nil); st != 200 || body["status"] != "ok" {
		t.Fatalf("readyz %d %v", st, body)
	}
	notReady := New(e.svc, Options{Ready: map[string]func(context.Context) error{"vad": func(context.Context) error { return fmt.Errorf("models not loaded") }}})
	srv := conformingServer(t, notReady)
	defer srv.Close()
	resp, _ := http.Get(srv.URL + "/readyz")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("readyz with a failing check: %d", resp.StatusCode)
	}
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/service"
	"voxgate/webhook"
)

// receiver is a webhook endpoint on loopback that checks each delivery's
// signature, answers with status(), and records the accepted ones.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret atomic.Value // string
	status atomic.Value // func(n int) int, n counting attempts from 1
	calls  atomic.Int32
	mu     sync.Mutex
	// attempts lists the delivery ID of every request, accepted or not.
	attempts []string
	events   chan map[string]any
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, events: make(chan map[string]any, 100)}
	rc.status.Store(func(int) int { return http.StatusNoContent })
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		secret, _ := rc.secret.Load().(string)
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("delivery with a bad signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		n := int(rc.calls.Add(1))
		rc.mu.Lock()
		rc.attempts = append(rc.attempts, r.Header.Get(webhook.HeaderID))
		rc.mu.Unlock()
		code := rc.status.Load().(func(int) int)(n)
		if code/100 == 2 {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("delivery body is not JSON: %s", body)
			}
			if r.Header.Get(webhook.HeaderEvent) != m["event_type"] {
				t.Errorf("event header %q, body %v", r.Header.Get(webhook.HeaderEvent), m["event_type"])
			}
			m["_delivery"] = r.Header.Get(webhook.HeaderID)
			rc.events <- m
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) event(timeout time.Duration) map[string]any {
	rc.t.Helper()
	select {
	case m := <-rc.events:
		return m
	case <-time.After(timeout):
		rc.t.Fatal("no webhook delivery arrived")
		return nil
	}
}

func (rc *receiver) none(wait time.Duration) {
	rc.t.Helper()
	select {
	case m := <-rc.events:
		rc.t.Fatalf("unexpected delivery %v", m)
	case <-time.After(wait):
	}
}

func asyncConfig(a service.AsyncConfig) service.Config {
	cfg := ravdessConfig()
	// Attempt limits have their own tests; here several genuine takes
	// in a row must not run into a cooldown.
	cfg.DisableLimits = true
	a.AllowPrivate = true
	if a.Poll == 0 {
		a.Poll = 20 * time.Millisecond
	}
	cfg.Async = a
	return cfg
}

// asyncEnv starts a server with the workers running, an organisation
// "acme" with an admin key, and its webhook pointing at a receiver.
func asyncEnv(t *testing.T, a service.AsyncConfig) (*bioEnv, string, *receiver) {
	t.Helper()
	e := newBioEnv(t, asyncConfig(a))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.RunAsync(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	key := e.key("acme", voxgate.ScopeAdmin)
	rc := newReceiver(t)
	st, body, _ := e.do("PUT", "/organisations/acme/webhook", key, map[string]string{"url": rc.srv.URL + "/voxgate"})
	secret, _ := body["secret"].(string)
	if st != 200 || body["url"] != rc.srv.URL+"/voxgate" || len(secret) < 32 {
		t.Fatalf("PUT webhook: %d %v", st, body)
	}
	rc.secret.Store(secret)
	return e, key, rc
}

func submission(user string, clip []byte, extra map[string]any) map[string]any {
	m := map[string]any{"voice_data": base64.StdEncoding.EncodeToString(clip), "request_uuid": ids.UUID(), "external_id": user}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func wantAccepted(t *testing.T, st int, body map[string]any, callback string) {
	t.Helper()
	if st != 202 || body["message"] != "Your request has been accepted and is being processed" || body["callback_url"] != callback || len(body) != 2 {
		t.Fatalf("submission: %d %v", st, body)
	}
}

func TestAsyncEnrollAndVerifyReachSignedWebhook(t *testing.T) {
	e, key, rc := asyncEnv(t, service.AsyncConfig{})
	callback := rc.srv.URL + "/voxgate"
	var last map[string]any
	for statement := 1; statement <= 2; statement++ {
		for rep := 1; rep <= 2; rep++ {
			st, body, _ := e.do("POST", "/organisations/acme/enrollments", key, submission("actor1", ravdess(t, 1, 1, 1, statement, rep),
				map[string]any{"device_fingerprint": "phone-1", "device_type": 1}))
			wantAccepted(t, st, body, callback)
			last = rc.event(60 * time.Second)
			if last["event_type"] != "enrollment.completed" || last["result"] != "enrolled" || last["external_id"] != "actor1" {
				t.Fatalf("enrollment event %v", last)
			}
		}
	}
	if last["enrollment_complete"] != true || last["samples"] != float64(4) {
		t.Fatalf("after four samples: %v", last)
	}

	// The seed's example, with the bearer header and the organisation's ID.
	tenant, _ := e.svc.Tenant(context.Background(), voxgate.Actor{TenantID: orgIDOf(t, e, key)})
	// Genuine calm takes until one is verified (the model accepts most).
	var req, ev map[string]any
	for _, take := range [][3]int{{1, 1, 1}, {1, 2, 1}, {1, 1, 2}, {1, 2, 2}, {2, 1, 1}, {2, 2, 1}, {2, 1, 2}, {2, 2, 2}} {
		req = submission("actor1", ravdess(t, 1, 2, take[0], take[1], take[2]), map[string]any{"language": "en-UK", "device_fingerprint": "phone-1"})
		st, body := e.postBearer("/organisations/"+tenant.ID+"/verifications", key, req)
		wantAccepted(t, st, body, callback)
		if ev = rc.event(60 * time.Second); ev["result"] == "verified" {
			break
		}
		t.Logf("genuine take %v: %v", take, ev)
	}
	for _, f := range []string{"event_type", "request_uuid", "external_id", "result", "match_score", "deepfake_detected", "latency_ms"} {
		if _, ok := ev[f]; !ok {
			t.Fatalf("payload lacks %q: %v", f, ev)
		}
	}
	score, _ := ev["match_score"].(float64)
	if ev["event_type"] != "verification.completed" || ev["request_uuid"] != req["request_uuid"] || ev["external_id"] != "actor1" ||
		ev["result"] != "verified" || score < 0.5 || score > 1 || ev["deepfake_detected"] != false ||
		ev["device_fingerprint_mismatch"] != false || ev["latency_ms"].(float64) < 0 {
		t.Fatalf("genuine verification event %v", ev)
	}

	// Another actor from another device: not verified, and the device is flagged.
	st, body, _ := e.do("POST", "/organisations/acme/verifications", key, submission("actor1", ravdess(t, 2, 2, 1, 1, 1),
		map[string]any{"device_fingerprint": "laptop-9", "device_type": 2}))
	wantAccepted(t, st, body, callback)
	ev = rc.event(60 * time.Second)
	if ev["result"] == "verified" || ev["device_fingerprint_mismatch"] != true {
		t.Fatalf("impostor event %v", ev)
	}
	a, _ := e.svc.Authenticate(context.Background(), key)
	if n, err := e.svc.DeviceMismatches(context.Background(), a, time.Now().Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("device mismatches = %d, %v", n, err)
	}
}

// postBearer posts JSON with the key as a bearer token, as seed 002 does.
func (e *testEnv) postBearer(path, key string, body any) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func orgIDOf(t *testing.T, e *bioEnv, key string) string {
	t.Helper()
	a, err := e.svc.Authenticate(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return a.TenantID
}

func TestAsyncSameRequestUUIDIsOneJob(t *testing.T) {
	e, key, rc := asyncEnv(t, service.AsyncConfig{})
	req := submission("ghost", ravdess(t, 1, 2, 1, 1, 1), nil)
	for range 3 {
		st, body, _ := e.do("POST", "/organisations/acme/verifications", key, req)
		wantAccepted(t, st, body, rc.srv.URL+"/voxgate")
	}
	ev := rc.event(30 * time.Second)
	if ev["result"] != "rejected" || ev["reason"] != "profile_not_found" || ev["request_uuid"] != req["request_uuid"] {
		t.Fatalf("event %v", ev)
	}
	rc.none(500 * time.Millisecond)
	// After the job is done, the same UUID still answers 202 and does nothing.
	st, body, _ := e.do("POST", "/organisations/acme/verifications", key, req)
	wantAccepted(t, st, body, rc.srv.URL+"/voxgate")
	rc.none(300 * time.Millisecond)
}

func TestAsyncDeliveryIsRetriedAfterReceiverErrors(t *testing.T) {
	e, key, rc := asyncEnv(t, service.AsyncConfig{Backoff: webhook.Backoff{Base: 20 * time.Millisecond, Cap: 80 * time.Millisecond}})
	rc.status.Store(func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	st, body, _ := e.do("POST", "/organisations/acme/verifications", key, submission("ghost", ravdess(t, 1, 2, 1, 1, 1), nil))
	wantAccepted(t, st, body, rc.srv.URL+"/voxgate")
	ev := rc.event(30 * time.Second)
	rc.mu.Lock()
	attempts := append([]string(nil), rc.attempts...)
	rc.mu.Unlock()
	if len(attempts) != 3 || attempts[0] != attempts[1] || attempts[1] != attempts[2] || attempts[2] != ev["_delivery"] {
		t.Fatalf("attempts %v for delivery %v: want three with one delivery ID", attempts, ev["_delivery"])
	}
	// The worker records the success just after the receiver answers.
	var list []any
	for deadline := time.Now().Add(10 * time.Second); len(list) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st, body, _ = e.do("GET", "/organisations/acme/webhook/deliveries?status=delivered", key, nil)
		if st != 200 {
			t.Fatalf("delivered list: %d %v", st, body)
		}
		list, _ = body["deliveries"].([]any)
	}
	if len(list) != 1 {
		t.Fatalf("delivered list: %v", list)
	}
	d := list[0].(map[string]any)
	if d["id"] != ev["_delivery"] || d["attempts"] != float64(3) || d["status"] != "delivered" || d["event_type"] != "verification.completed" {
		t.Fatalf("delivery %v", d)
	}
}

func TestAsyncDeliveryIsDeadLetteredAfterItsWindowAndRedeliverable(t *testing.T) {
	e, key, rc := asyncEnv(t, service.AsyncConfig{
		Backoff: webhook.Backoff{Base: 10 * time.Millisecond, Cap: 40 * time.Millisecond},
		Window:  400 * time.Millisecond,
	})
	var failing atomic.Bool
	failing.Store(true)
	rc.status.Store(func(int) int {
		if failing.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	req := submission("ghost", ravdess(t, 1, 2, 1, 1, 1), nil)
	st, body, _ := e.do("POST", "/organisations/acme/verifications", key, req)
	wantAccepted(t, st, body, rc.srv.URL+"/voxgate")
	var dead map[string]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body, _ := e.do("GET", "/organisations/acme/webhook/deliveries?status=dead", key, nil)
		if list, _ := body["deliveries"].([]any); len(list) == 1 {
			dead = list[0].(map[string]any)
			break
		}
	}
	if dead == nil {
		t.Fatal("delivery not dead-lettered")
	}
	if dead["last_status"] != float64(503) || dead["attempts"].(float64) < 2 || dead["next_attempt_at"] != nil {
		t.Fatalf("dead delivery %v", dead)
	}
	if p, _ := dead["payload"].(map[string]any); p["request_uuid"] != req["request_uuid"] {
		t.Fatalf("dead delivery payload %v", dead["payload"])
	}
	calls := rc.calls.Load()
	time.Sleep(200 * time.Millisecond)
	if rc.calls.Load() != calls {
		t.Fatal("a dead delivery was still attempted")
	}

	failing.Store(false)
	id := dead["id"].(string)
	other := e.key("globex", voxgate.ScopeAdmin)
	st, body, hdr := e.do("POST", "/organisations/acme/webhook/deliveries/"+id+"/redeliver", other, nil)
	assertError(t, st, body, hdr, 404, "not_found")
	st, body, hdr = e.do("POST", "/organisations/globex/webhook/deliveries/"+id+"/redeliver", other, nil)
	assertError(t, st, body, hdr, 404, "not_found")
	st, body, _ = e.do("POST", "/organisations/acme/webhook/deliveries/"+id+"/redeliver", key, nil)
	if st != 202 || body["status"] != "pending" || body["attempts"] != float64(0) {
		t.Fatalf("redeliver: %d %v", st, body)
	}
	ev := rc.event(30 * time.Second)
	if ev["_delivery"] != id || ev["request_uuid"] != req["request_uuid"] {
		t.Fatalf("redelivered event %v", ev)
	}
}

func TestAsyncRoutesHideOtherOrganisations(t *testing.T) {
	e := newBioEnv(t, asyncConfig(service.AsyncConfig{}))
	acme := e.key("acme", voxgate.ScopeAdmin)
	globex := e.key("globex", voxgate.ScopeAdmin)
	e.do("PUT", "/organisations/acme/webhook", acme, map[string]string{"url": "http://127.0.0.1:9/hook"})
	acmeID := orgIDOf(t, e, acme)
	clip := ravdess(t, 1, 2, 1, 1, 1)
	for _, org := range []string{"acme", acmeID, "nosuchorg"} {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/organisations/" + org + "/verifications", submission("actor1", clip, nil)},
			{"POST", "/organisations/" + org + "/enrollments", submission("actor1", clip, nil)},
			{"PUT", "/organisations/" + org + "/webhook", map[string]string{"url": "http://127.0.0.1:9/x"}},
			{"GET", "/organisations/" + org + "/webhook", nil},
			{"GET", "/organisations/" + org + "/webhook/deliveries", nil},
			{"POST", "/organisations/" + org + "/webhook/deliveries/" + ids.UUID() + "/redeliver", nil},
		} {
			st, body, hdr := e.do(c.method, c.path, globex, c.body)
			assertError(t, st, body, hdr, 404, "not_found")
			if body["message"] != "organisation not found" {
				t.Fatalf("%s %s: %v", c.method, c.path, body)
			}
		}
	}
	// Without a key: 401 before anything else.
	st, body, hdr := e.do("POST", "/organisations/acme/verifications", "", submission("actor1", clip, nil))
	assertError(t, st, body, hdr, 401, "unauthorized")
	// The organisation's own ID works like its name.
	st, body, _ = e.do("GET", "/organisations/"+acmeID+"/webhook", acme, nil)
	if st != 200 || body["url"] != "http://127.0.0.1:9/hook" || body["secret"] != nil {
		t.Fatalf("GET webhook by ID: %d %v", st, body)
	}
}

func TestAsyncSubmissionValidation(t *testing.T) {
	e := newBioEnv(t, asyncConfig(service.AsyncConfig{}))
	key := e.key("acme", voxgate.ScopeAdmin)
	clip := ravdess(t, 1, 2, 1, 1, 1)
	path := "/organisations/acme/verifications"
	st, body, hdr := e.do("POST", path, key, submission("actor1", clip, nil))
	assertError(t, st, body, hdr, 409, "conflict") // no webhook yet
	e.do("PUT", "/organisations/acme/webhook", key, map[string]string{"url": "http://127.0.0.1:9/hook"})
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no request_uuid", map[string]any{"voice_data": "UklGRg==", "external_id": "a"}, 400, "validation_error"},
		{"bad request_uuid", submission("a", clip, map[string]any{"request_uuid": "42"}), 400, "validation_error"},
		{"no external_id", submission("", clip, nil), 400, "validation_error"},
		{"no voice_data", map[string]any{"request_uuid": ids.UUID(), "external_id": "a"}, 400, "validation_error"},
		{"not base64", submission("a", clip, map[string]any{"voice_data": "%%%not base64%%%"}), 400, "validation_error"},
		{"not audio", submission("a", []byte("this is not a recording at all"), nil), 422, "unsupported_format"},
		{"device_type out of range", submission("a", clip, map[string]any{"device_type": 7}), 400, "validation_error"},
		{"device_type not a number", submission("a", clip, map[string]any{"device_type": "mobile"}), 400, "validation_error"},
		{"bad language", submission("a", clip, map[string]any{"language": "en UK; drop"}), 400, "validation_error"},
		{"not JSON", "voice_data=x", 400, "validation_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body, hdr := e.do("POST", path, key, c.body)
			assertError(t, st, body, hdr, c.status, c.code)
		})
	}
	// Unpadded URL-safe base64 with a data: prefix is accepted.
	raw := "data:audio/flac;base64," + base64.RawURLEncoding.EncodeToString(clip)
	st, body, _ = e.do("POST", path, key, submission("a", clip, map[string]any{"voice_data": raw}))
	if st != 202 {
		t.Fatalf("data URL base64: %d %v", st, body)
	}
}

func TestAsyncWebhookConfiguration(t *testing.T) {
	cfg := asyncConfig(service.AsyncConfig{})
	cfg.Async.AllowPrivate = false
	e := newBioEnv(t, cfg)
	key := e.key("acme", voxgate.ScopeAdmin)
	st, body, hdr := e.do("GET", "/organisations/acme/webhook", key, nil)
	assertError(t, st, body, hdr, 404, "not_found")
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data", "http://10.0.0.8/hook",
		"http://[::1]:80/", "http://localhost/hook", "gopher://example.com/", "https://user:pw@93.184.216.34/"} {
		st, body, hdr := e.do("PUT", "/organisations/acme/webhook", key, map[string]string{"url": u})
		assertError(t, st, body, hdr, 400, "validation_error")
	}
	verifier := e.key("acme", voxgate.ScopeVerify)
	st, body, hdr = e.do("PUT", "/organisations/acme/webhook", verifier, map[string]string{"url": "https://93.184.216.34/hook"})
	assertError(t, st, body, hdr, 403, "forbidden")
	st, body, hdr = e.do("PUT", "/organisations/acme/webhook", key, map[string]string{"url": "https://93.184.216.34/hook", "secret": "my-own-signing-secret-123"})
	assertError(t, st, body, hdr, 400, "validation_error") // not a Standard Webhooks secret
	st, body, hdr = e.do("PUT", "/organisations/acme/webhook", key, map[string]string{"url": "https://93.184.216.34/hook", "secret": "my-own-signing-secret-123", "signature_scheme": "legacy"})
	if st != 200 || body["secret"] != nil || body["url"] != "https://93.184.216.34/hook" || hdr.Get("Cache-Control") != "no-store" || body["signature_scheme"] != "legacy" {
		t.Fatalf("PUT with a legacy secret: %d %v", st, body)
	}
	st, body, hdr = e.do("PUT", "/organisations/acme/webhook", key, map[string]any{"url": "https://93.184.216.34/hook", "signature_scheme": "both", "secret_overlap_seconds": -1})
	assertError(t, st, body, hdr, 400, "validation_error")
	// Moving to the standard: a generated secret, the legacy one signing beside it for an hour.
	st, body, _ = e.do("PUT", "/organisations/acme/webhook", key, map[string]any{"url": "https://93.184.216.34/hook", "signature_scheme": "both", "secret_overlap_seconds": 3600})
	if st != 200 || body["signature_scheme"] != "both" || body["previous_secret_expires_at"] == nil || !strings.HasPrefix(fmt.Sprint(body["secret"]), "whsec_") {
		t.Fatalf("PUT moving to both schemes: %d %v", st, body)
	}
	if sig, _ := body["signature"].(map[string]any); sig["id_header"] == nil || sig["legacy_signature_header"] == nil {
		t.Fatalf("signature description of both schemes: %v", body["signature"])
	}
	st, body, _ = e.do("PUT", "/organisations/acme/webhook", key, map[string]string{"url": "https://93.184.216.34/v2", "signature_scheme": "standard"})
	secret, _ := body["secret"].(string)
	if _, err := webhook.ParseSecret(secret); st != 200 || err != nil || body["signature_scheme"] != "standard" {
		t.Fatalf("PUT generating a secret: %d %v", st, body)
	}
	st, body, _ = e.do("GET", "/organisations/acme/webhook", key, nil)
	if st != 200 || body["url"] != "https://93.184.216.34/v2" || body["secret"] != nil {
		t.Fatalf("GET webhook: %d %v", st, body)
	}
}

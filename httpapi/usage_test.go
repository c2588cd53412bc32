package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"voxgate"
)

func TestRateLimitAnswers429WithRetryAfterAndIsCountedInUsage(t *testing.T) {
	cfg := ravdessConfig()
	cfg.RatePerMinute = 3
	// The limit counts per calendar minute. On the real clock the minute
	// turned during the requests once in CI (under the race detector) and
	// the fourth went through, so the service's clock stands still in the
	// middle of a minute.
	at := time.Now().Truncate(time.Minute).Add(30 * time.Second)
	e := newBioEnvAt(t, cfg, func() time.Time { return at })
	key := e.key("acme", voxgate.ScopeAdmin)
	e.do("POST", "/create-profile", key, map[string]string{"user_id": "actor1"})
	audioData := ravdess(t, 1, 1, 1, 1, 1)
	var last map[string]any
	var st int
	for i := 0; i < 4; i++ {
		st, last = e.upload("/enroll", key, map[string]string{"user_id": "actor1"}, "audio", audioData)
	}
	if st != 429 || last["error"] != "rate_limited" || last["scope"] != "minute" {
		t.Fatalf("fourth request in a minute: %d %v", st, last)
	}
	if ms, _ := last["retryAfterMs"].(float64); ms <= 0 || ms > 60000 {
		t.Fatalf("retryAfterMs %v", last["retryAfterMs"])
	}
	// The header too, in whole seconds.
	req, _ := http.NewRequest("POST", e.srv.URL+"/start-auth", nil)
	req.Header.Set("x-api-key", key)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 { // the body is checked before the limit: a bad body costs nothing
		t.Fatalf("start-auth without a body: %d", resp.StatusCode)
	}
	st, body, hdr := e.do("POST", "/start-auth", key, map[string]string{"user_id": "actor1"})
	if st != 429 {
		t.Fatalf("start-auth over the limit: %d %v", st, body)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	st, u, _ := e.do("GET", "/v1/usage?window=1h", key, nil)
	if st != 200 {
		t.Fatalf("usage: %d %v", st, u)
	}
	if thr, _ := u["throttled"].(float64); thr < 2 {
		t.Fatalf("throttled %v, want at least 2: %v", u["throttled"], u)
	}
	if totals, _ := u["totals"].(map[string]any); totals["enroll"] == nil {
		t.Fatalf("totals %v", u["totals"])
	}
	if ws, _ := u["windows"].([]any); len(ws) == 0 {
		t.Fatalf("no per-minute windows: %v", u)
	}
}

func TestUsageAuditAndLearningViews(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	admin := e.key("acme", voxgate.ScopeAdmin)
	verifyKey := e.key("acme", voxgate.ScopeVerify)
	enrollNeutral(t, e.testEnv, admin, "actor1", 1)
	for _, actor := range []int{1, 1, 2} {
		if st, body := e.upload("/v1/voice/verify", admin, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, actor, 2, 2, 1, 2)); st != 200 {
			t.Fatalf("verify: %d %v", st, body)
		}
	}
	st, u, _ := e.do("GET", "/v1/usage", admin, nil)
	if st != 200 {
		t.Fatalf("usage: %d", st)
	}
	dec, _ := u["decisions"].(map[string]any)
	var n float64
	for _, v := range dec {
		n += v.(float64)
	}
	if n < 7 { // 4 enrollments + 3 verifications
		t.Fatalf("decision mix %v", dec)
	}
	lat, _ := u["latency_ms"].(map[string]any)
	if p50, _ := lat["p50"].(float64); p50 <= 0 || lat["p99"].(float64) < p50 {
		t.Fatalf("latency percentiles %v", lat)
	}
	if _, ok := u["reasons"].(map[string]any); !ok {
		t.Fatalf("reasons: %v", u)
	}

	st, a, _ := e.do("GET", "/v1/audit?user_id=actor1&limit=50", admin, nil)
	entries, _ := a["attempts"].([]any)
	if st != 200 || len(entries) != 7 {
		t.Fatalf("audit: %d %d entries", st, len(entries))
	}
	first := entries[0].(map[string]any)
	detail, _ := first["detail"].(map[string]any)
	if first["kind"] != "verify" || detail["calibration"] == nil || detail["signals"] == nil {
		t.Fatalf("newest audit entry %v", first)
	}
	for _, raw := range entries {
		for _, f := range []string{"embedding", "template", "audio"} {
			if _, ok := raw.(map[string]any)[f]; ok {
				t.Fatalf("audit entry carries %q", f)
			}
		}
	}
	if st, body, _ := e.do("GET", "/v1/audit", verifyKey, nil); st != 403 || body["error"] != "forbidden" {
		t.Fatalf("audit with a verify key: %d %v", st, body)
	}
	other := e.key("other", voxgate.ScopeAdmin)
	if _, a, _ := e.do("GET", "/v1/audit?user_id=actor1", other, nil); len(a["attempts"].([]any)) != 0 {
		t.Fatal("another tenant reads the audit log")
	}

	st, l, _ := e.do("GET", "/v1/user-learning/actor1", admin, nil)
	if st != 200 || l["samples"] != float64(4) || l["enrolled"] != true || l["threshold"].(float64) < l["threshold_floor"].(float64) {
		t.Fatalf("learning: %d %v", st, l)
	}
	for _, f := range []string{"learning_progress", "scores", "recent_updates", "cosine_to_enrolled", "standing"} {
		if _, ok := l[f]; !ok {
			t.Fatalf("learning view lacks %q: %v", f, l)
		}
	}
	if st, _, _ := e.do("GET", "/v1/user-learning/actor1", other, nil); st != 404 {
		t.Fatalf("another tenant reads the learning view: %d", st)
	}
}

func TestLockedProfileNeedsAdminReset(t *testing.T) {
	cfg := ravdessConfig()
	cfg.Limits.LockAfter = 2
	cfg.Limits.FreeFailures = 5
	e := newBioEnv(t, cfg)
	admin := e.key("acme", voxgate.ScopeAdmin)
	verifyKey := e.key("acme", voxgate.ScopeVerify)
	enrollNeutral(t, e.testEnv, admin, "actor1", 1)
	for _, actor := range []int{2, 3} {
		e.upload("/v1/voice/verify", admin, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, actor, 2, 1, 1, 1))
	}
	st, body := e.upload("/v1/voice/verify", admin, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, 1, 2, 1, 1, 1))
	if st != 423 || body["error"] != "locked" {
		t.Fatalf("after the lock-out count: %d %v", st, body)
	}
	if st, body, _ := e.do("POST", "/v1/profiles/actor1/reset-attempts", verifyKey, nil); st != 403 {
		t.Fatalf("reset with a verify key: %d %v", st, body)
	}
	if st, body, _ := e.do("POST", "/v1/profiles/actor1/reset-attempts", admin, nil); st != 200 {
		t.Fatalf("reset: %d %v", st, body)
	}
	if st, body := e.upload("/v1/voice/verify", admin, map[string]string{"user_id": "actor1"}, "audio", ravdess(t, 1, 2, 1, 1, 1)); st != 200 || body["decision"] == "cooldown" {
		t.Fatalf("after reset: %d %v", st, body)
	}
}

func TestDemoKeysOnlyWhenEnabledAndRateLimited(t *testing.T) {
	e := newBioEnv(t, ravdessConfig())
	if st, body, _ := e.do("POST", "/v1/keys/demo", "", nil); st != 403 || body["error"] != "forbidden" {
		t.Fatalf("demo key while disabled: %d %v", st, body)
	}
	cfg := ravdessConfig()
	cfg.DemoKeys = true
	e = newBioEnv(t, cfg)
	st, body, _ := e.do("POST", "/v1/keys/demo", "", nil)
	if st != 201 || body["scope"] != "verify" || body["expires_at"] == nil {
		t.Fatalf("demo key: %d %v", st, body)
	}
	demo := body["key"].(string)
	if st, _, _ := e.do("POST", "/create-profile", demo, map[string]string{"user_id": "trial"}); st != 201 {
		t.Fatalf("demo key cannot create a profile: %d", st)
	}
	if st, _, _ := e.do("GET", "/v1/audit", demo, nil); st != 403 {
		t.Fatalf("demo key reads the audit log: %d", st)
	}
	a, err := e.svc.Authenticate(context.Background(), demo)
	if err != nil {
		t.Fatal(err)
	}
	admin := e.key("acme", voxgate.ScopeAdmin)
	if aa, _ := e.svc.Authenticate(context.Background(), admin); aa.TenantID == a.TenantID {
		t.Fatal("demo key shares a tenant with a real one")
	}
	for i := 0; i < 5; i++ {
		st, body, _ = e.do("POST", "/v1/keys/demo", "", nil)
	}
	if st != 429 || body["error"] != "rate_limited" {
		t.Fatalf("sixth demo key in an hour from one address: %d %v", st, body)
	}
}

package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"voxgate"
	"voxgate/service"
	"voxgate/store/sqlite"
	"voxgate/voicetoken"
)

// tokenEnv is a server without the voice engine but with a token signer
// whose private key the test holds, and with one allowed CORS origin.
type tokenEnv struct {
	*testEnv
	priv ed25519.PrivateKey
}

const allowedOrigin = "https://shop.example"

func newTokenEnv(t *testing.T) *tokenEnv {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	svc := service.New(db, service.Options{Tokens: voicetoken.New(priv)})
	api := New(svc, Options{CORSOrigins: []string{allowedOrigin}})
	srv := conformingServer(t, api)
	t.Cleanup(func() { srv.Close(); db.Close() })
	return &tokenEnv{testEnv: &testEnv{t: t, svc: svc, api: api, srv: srv, logs: &syncBuffer{}}, priv: priv}
}

// mint asks for a client token with key and returns it.
func (e *tokenEnv) mint(key, user, flow string) string {
	e.t.Helper()
	st, body, _ := e.do("POST", "/v1/client-tokens", key, map[string]any{"user_id": user, "flow": flow})
	if st != 201 {
		e.t.Fatalf("mint %s/%s: %d %v", user, flow, st, body)
	}
	return body["client_token"].(string)
}

// call sends a request with a bearer credential; the body is JSON, or a
// multipart form with a small audio part when form is set.
func (e *tokenEnv) call(method, path, bearer string, body any, form map[string]string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch {
	case form != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range form {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("audio", "voice.wav")
		fw.Write([]byte("RIFF not really audio"))
		mw.Close()
		rd, ct = &buf, mw.FormDataContentType()
	case body != nil:
		b, _ := json.Marshal(body)
		rd, ct = bytes.NewReader(b), "application/json"
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestClientTokenMinting(t *testing.T) {
	e := newTokenEnv(t)
	admin := e.key("acme", voxgate.ScopeAdmin)
	verify := e.key("acme", voxgate.ScopeVerify)
	for _, tc := range []struct {
		name string
		key  string
		body map[string]any
		want int
		code string
	}{
		{"verify key, enroll flow", verify, map[string]any{"user_id": "alice", "flow": "enroll"}, 201, ""},
		{"admin key, challenge flow, ttl", admin, map[string]any{"user_id": "alice", "flow": "challenge", "ttl_seconds": 60}, 201, ""},
		{"unknown flow", admin, map[string]any{"user_id": "alice", "flow": "admin"}, 400, "validation_error"},
		{"no user", admin, map[string]any{"flow": "enroll"}, 400, "validation_error"},
		{"ttl over an hour", admin, map[string]any{"user_id": "alice", "flow": "enroll", "ttl_seconds": 3601}, 400, "validation_error"},
		{"ttl zero", admin, map[string]any{"user_id": "alice", "flow": "enroll", "ttl_seconds": 0}, 400, "validation_error"},
		{"no key", "", map[string]any{"user_id": "alice", "flow": "enroll"}, 401, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := e.do("POST", "/v1/client-tokens", tc.key, tc.body)
			if st != tc.want || (tc.code != "" && body["error"] != tc.code) {
				t.Fatalf("%d %v, want %d %s", st, body, tc.want, tc.code)
			}
			if st != 201 {
				return
			}
			if body["user_id"] != "alice" || body["flow"] != tc.body["flow"] || strings.Count(body["client_token"].(string), ".") != 2 {
				t.Fatalf("mint body %v", body)
			}
			exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
			ttl := 300.0
			if v, ok := tc.body["ttl_seconds"]; ok {
				ttl = float64(v.(int))
			}
			if d := time.Until(exp).Seconds(); err != nil || d < ttl-5 || d > ttl+1 {
				t.Fatalf("expires_at %v (%v), want about %v s from now", body["expires_at"], err, ttl)
			}
		})
	}
	// A client token cannot mint more tokens.
	ct := e.mint(admin, "alice", "enroll")
	if st, body := e.call("POST", "/v1/client-tokens", ct, map[string]any{"user_id": "alice", "flow": "challenge"}, nil); st != 403 {
		t.Fatalf("client token minting: %d %v", st, body)
	}
}

// TestClientTokenReachesOnlyItsFlowAndUser calls every API-key route with
// enroll and challenge tokens: their own flow's routes for their own user
// get past authentication (into whatever the engine-less server answers),
// everything else is 403.
func TestClientTokenReachesOnlyItsFlowAndUser(t *testing.T) {
	e := newTokenEnv(t)
	admin := e.key("acme", voxgate.ScopeAdmin)
	enrollTok := e.mint(admin, "alice", "enroll")
	challengeTok := e.mint(admin, "alice", "challenge")
	type req struct {
		method, path string
		body         any
		form         map[string]string
	}
	alice := map[string]string{"user_id": "alice"}
	routes := map[string]req{
		"create-profile":      {"POST", "/create-profile", alice, nil},
		"get-profile":         {"GET", "/v1/profiles/alice", nil, nil},
		"enroll":              {"POST", "/enroll", nil, alice},
		"start-auth":          {"POST", "/start-auth", alice, nil},
		"verify-voice":        {"POST", "/verify-voice", nil, map[string]string{"user_id": "alice", "session_id": "00000000-0000-4000-8000-000000000000"}},
		"verify-token":        {"POST", "/verify-token", map[string]string{"token": "x.y.z"}, nil},
		"verify":              {"POST", "/v1/voice/verify", nil, alice},
		"usage":               {"GET", "/v1/usage", nil, nil},
		"audit":               {"GET", "/v1/audit", nil, nil},
		"learning":            {"GET", "/v1/user-learning/alice", nil, nil},
		"delete-profile":      {"DELETE", "/v1/profiles/alice", nil, nil},
		"reset-attempts":      {"POST", "/v1/profiles/alice/reset-attempts", nil, nil},
		"challenge-phrases":   {"GET", "/v1/challenge-phrases", nil, nil},
		"voiceid-enroll":      {"POST", "/v1/voiceid/enroll", nil, alice},
		"create-profile(bob)": {"POST", "/create-profile", map[string]string{"user_id": "bob"}, nil},
		"get-profile(bob)":    {"GET", "/v1/profiles/bob", nil, nil},
		"start-auth(bob)":     {"POST", "/start-auth", map[string]string{"user_id": "bob"}, nil},
	}
	allowed := map[string][]string{
		"enroll":    {"create-profile", "get-profile", "enroll"},
		"challenge": {"start-auth", "verify-voice"},
	}
	for flow, tok := range map[string]string{"enroll": enrollTok, "challenge": challengeTok} {
		for name, rq := range routes {
			t.Run(flow+"/"+name, func(t *testing.T) {
				st, body := e.call(rq.method, rq.path, tok, rq.body, rq.form)
				ok := false
				for _, a := range allowed[flow] {
					ok = ok || a == name
				}
				if ok && (st == 401 || st == 403) {
					t.Fatalf("own flow refused: %d %v", st, body)
				}
				if !ok && st != 403 && st != 401 {
					t.Fatalf("reached outside its flow or user: %d %v", st, body)
				}
				if st == 401 || st == 403 {
					if _, has := body["correlation_id"]; !has {
						t.Fatalf("refusal without the error shape: %v", body)
					}
				}
			})
		}
	}
}

func TestClientTokenRefusesForgedExpiredAndRevoked(t *testing.T) {
	e := newTokenEnv(t)
	admin := e.key("acme", voxgate.ScopeAdmin)
	good := e.mint(admin, "alice", "enroll")
	_, list, _ := e.svc.ListKeys(context.Background(), "acme")
	keyID, tenantID := list[0].ID, list[0].TenantID

	sign := func(priv ed25519.PrivateKey, c voicetoken.ClientClaims, method jwt.SigningMethod) string {
		tk := jwt.NewWithClaims(method, c)
		tk.Header["kid"] = voicetoken.KeyID(priv.Public().(ed25519.PublicKey))
		var s string
		var err error
		if method == jwt.SigningMethodNone {
			s, err = tk.SignedString(jwt.UnsafeAllowNoneSignatureType)
		} else {
			s, err = tk.SignedString(priv)
		}
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	claims := func(aud string, iat, exp time.Time) voicetoken.ClientClaims {
		return voicetoken.ClientClaims{Tenant: tenantID, Key: keyID, Flow: "enroll", RegisteredClaims: jwt.RegisteredClaims{
			Issuer: voicetoken.Issuer, Subject: "alice", Audience: jwt.ClaimStrings{aud}, ID: "j1",
			IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp)}}
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	parts := strings.Split(good, ".")
	tamperedClaims := strings.Replace(parts[1], parts[1][:4], "eyJz", 1) // a different payload, same signature
	voiceTok, _, err := voicetoken.New(e.priv).Issue("alice", tenantID, "sid", "jti", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
	}{
		{"expired", sign(e.priv, claims(voicetoken.ClientAudience, now.Add(-time.Hour), now.Add(-time.Minute)), jwt.SigningMethodEdDSA)},
		{"issued in the future", sign(e.priv, claims(voicetoken.ClientAudience, now.Add(time.Hour), now.Add(2*time.Hour)), jwt.SigningMethodEdDSA)},
		{"voice-token audience", sign(e.priv, claims(voicetoken.Audience, now, now.Add(time.Minute)), jwt.SigningMethodEdDSA)},
		{"a real voice token", voiceTok},
		{"signed by another key", sign(other, claims(voicetoken.ClientAudience, now, now.Add(time.Minute)), jwt.SigningMethodEdDSA)},
		{"alg none", sign(e.priv, claims(voicetoken.ClientAudience, now, now.Add(time.Minute)), jwt.SigningMethodNone)},
		{"tampered payload", parts[0] + "." + tamperedClaims + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := e.call("POST", "/create-profile", tc.token, map[string]string{"user_id": "alice"}, nil)
			if st != 401 || body["error"] != "unauthorized" {
				t.Fatalf("%d %v", st, body)
			}
		})
	}
	// A client token is no voice token either.
	if st, body, _ := e.do("POST", "/verify-token", admin, map[string]string{"token": good}); st != 200 || body["valid"] != false {
		t.Fatalf("client token as voice token: %d %v", st, body)
	}
	// The genuine token works until its key is revoked.
	if st, body := e.call("POST", "/create-profile", good, map[string]string{"user_id": "alice"}, nil); st != 201 {
		t.Fatalf("genuine token: %d %v", st, body)
	}
	if err := e.svc.RevokeKey(context.Background(), "acme", keyID); err != nil {
		t.Fatal(err)
	}
	if st, body := e.call("GET", "/v1/profiles/alice", good, nil, nil); st != 401 {
		t.Fatalf("token of a revoked key: %d %v", st, body)
	}
}

func TestClientTokenActsOnlyInItsTenant(t *testing.T) {
	e := newTokenEnv(t)
	acme := e.key("acme", voxgate.ScopeAdmin)
	globex := e.key("globex", voxgate.ScopeAdmin)
	e.do("POST", "/create-profile", globex, map[string]string{"user_id": "alice"})
	tok := e.mint(acme, "alice", "enroll")
	// acme's alice does not exist: the token cannot see globex's.
	if st, body := e.call("GET", "/v1/profiles/alice", tok, nil, nil); st != 404 || body["error"] != "profile_not_found" {
		t.Fatalf("other tenant's profile: %d %v", st, body)
	}
}

func TestCORSAllowsOnlyConfiguredOrigins(t *testing.T) {
	e := newTokenEnv(t)
	preflight := func(origin, path string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", e.srv.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(allowedOrigin, "/enroll")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != allowedOrigin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("allowed preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("https://evil.example", "/enroll"); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// Actual responses carry the header for allowed origins only.
	for origin, want := range map[string]string{allowedOrigin: allowedOrigin, "https://evil.example": ""} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/usage", nil)
		req.Header.Set("Origin", origin)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want || !strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Fatalf("origin %s: allow-origin %q vary %q", origin, got, resp.Header.Get("Vary"))
		}
	}
}

func TestWebAssetsServed(t *testing.T) {
	e := newTokenEnv(t)
	for _, tc := range []struct {
		path, ctype, header, value string
	}{
		{"/sdk/voiceauthorize.js", "text/javascript", "Access-Control-Allow-Origin", "*"},
		{"/sdk/voiceauthorize.mjs", "text/javascript", "Access-Control-Allow-Origin", "*"},
		{"/sdk/recorder-worklet.js", "text/javascript", "Access-Control-Allow-Origin", "*"},
		{"/sdk/voiceauthorize.d.ts", "text/plain", "Access-Control-Allow-Origin", "*"},
		{"/console", "text/html", "Content-Security-Policy", "default-src 'none'"},
		{"/console/", "text/html", "X-Frame-Options", "DENY"},
		{"/console/app.js", "text/javascript", "Content-Security-Policy", "script-src 'self'"},
		{"/console/console.css", "text/css", "X-Content-Type-Options", "nosniff"},
	} {
		resp, err := http.Get(e.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(resp.Header.Get(tc.header), tc.value) || len(b) == 0 {
			t.Errorf("%s: %d %q %s=%q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.header, resp.Header.Get(tc.header))
		}
		etag := resp.Header.Get("ETag")
		req, _ := http.NewRequest("GET", e.srv.URL+tc.path, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if etag == "" || resp.StatusCode != 304 {
			t.Errorf("%s: revalidation with ETag %q: %d", tc.path, etag, resp.StatusCode)
		}
	}
	for _, p := range []string{"/sdk/nope.js", "/sdk/../go.mod", "/console/nope.js"} {
		resp, err := http.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

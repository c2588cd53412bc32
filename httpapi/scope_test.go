package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/jwtauth"
	"voxgate/service"
	"voxgate/store/sqlite"
	"voxgate/voicetoken"
)

// The credentials of the route x scope table, each for tenant "acme" and,
// where it is confined to a user, for "alice".
const (
	credNone        = "none"
	credAdminKey    = "admin key"
	credVerifyKey   = "verify key"
	credEnrollCT    = "client token (enroll)"
	credChallengeCT = "client token (challenge)"
	credAdminJWT    = "uflow admin JWT"
	credUserJWT     = "uflow user JWT"
)

var allCreds = []string{credNone, credAdminKey, credVerifyKey, credEnrollCT, credChallengeCT, credAdminJWT, credUserJWT}

// Who may call a route: the credentials allowed; every other credential is
// refused with 401 (a credential of the wrong kind for the route, or none)
// or 403 (the right kind without the scope, flow or role).
var (
	public     = allCreds
	anyKey     = []string{credAdminKey, credVerifyKey}
	adminOnly  = []string{credAdminKey}
	enrollFlow = []string{credAdminKey, credVerifyKey, credEnrollCT}
	challenge  = []string{credAdminKey, credVerifyKey, credChallengeCT}
)

// routeAccess is every registered route's expected access. A route missing
// here fails the test: a new route must say who may call it.
var routeAccess = map[string][]string{
	"GET /healthz":                                  public,
	"GET /readyz":                                   public,
	"GET /metrics":                                  public, // behind --metrics-token or --metrics-addr when configured (metrics_test.go)
	"GET /openapi.json":                             public,
	"GET /sdk/{file}":                               public,
	"GET /console":                                  public,
	"GET /console/{file...}":                        public,
	"POST /v1/keys/demo":                            public, // only with --demo-keys
	"POST /create-profile":                          enrollFlow,
	"POST /enroll":                                  enrollFlow,
	"GET /v1/profiles/{user_id}":                    enrollFlow,
	"DELETE /v1/profiles/{user_id}":                 adminOnly,
	"POST /v1/voice/verify":                         anyKey,
	"GET /v1/usage":                                 anyKey,
	"GET /v1/audit":                                 adminOnly,
	"GET /v1/user-learning/{user_id}":               adminOnly,
	"POST /v1/user-learning/{user_id}/revert":       adminOnly,
	"POST /v1/profiles/{user_id}/reset-attempts":    adminOnly,
	"POST /start-auth":                              challenge,
	"POST /verify-voice":                            challenge,
	"POST /verify-token":                            anyKey,
	"PUT /v1/challenge-phrases":                     adminOnly,
	"GET /v1/challenge-phrases":                     anyKey,
	"POST /v1/client-tokens":                        anyKey,
	"POST /v1/voiceid/enroll":                       anyKey,
	"POST /v1/voiceid/verify":                       anyKey,
	"POST /organisations/{orgId}/enrollments":       anyKey,
	"POST /organisations/{orgId}/verifications":     anyKey,
	"PUT /organisations/{orgId}/webhook":            adminOnly,
	"GET /organisations/{orgId}/webhook":            adminOnly,
	"GET /organisations/{orgId}/webhook/deliveries": adminOnly,
	"POST /organisations/{orgId}/webhook/deliveries/{id}/redeliver": adminOnly,
	"POST /v1/voice/identify":                             anyKey,
	"POST /organisations/{orgId}/identifications":         anyKey,
	"PUT /v1/groups/{group}/members":                      adminOnly,
	"GET /v1/groups/{group}":                              adminOnly,
	"PUT /v1/settings/identification":                     adminOnly,
	"GET /v1/settings/identification":                     adminOnly,
	"PUT /v1/settings/verification":                       adminOnly,
	"GET /v1/settings/verification":                       adminOnly,
	"POST /uflow/admin/auth/voice/enroll":                 {credAdminJWT},
	"POST /uflow/admin/auth/voice/verify":                 {credAdminJWT},
	"GET /uflow/admin/auth/voice/status/{user_id}":        {credAdminJWT},
	"DELETE /uflow/admin/auth/voice/enrollment/{user_id}": {credAdminJWT},
	"POST /uflow/user/auth/voice/enroll":                  {credUserJWT},
	"POST /uflow/user/auth/voice/verify":                  {credUserJWT},
	"GET /uflow/user/auth/voice/status":                   {credUserJWT},
	"DELETE /uflow/user/auth/voice/enrollment":            {credUserJWT},
}

// scopeEnv is a server with token signing, a JWT verifier and demo keys,
// without the voice engine: the table asks who gets past authorisation,
// which the service decides before it touches audio (an allowed audio
// route answers 503 service_unavailable here, a refused one 401 or 403).
type scopeEnv struct {
	*testEnv
	creds map[string]string
}

func newScopeEnv(t *testing.T) *scopeEnv {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cfg := service.DefaultConfig()
	cfg.DemoKeys = true
	cfg.RatePerMinute, cfg.RatePerHour = 0, 0
	svc := service.New(db, service.Options{Tokens: voicetoken.New(priv), Config: cfg})
	v, err := jwtauth.NewHMAC(uflowSecret, jwtauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The table makes hundreds of refused calls from one address on
	// purpose: the failed-authentication throttle (throttle_test.go) is
	// off here, or it would answer 429 in place of the 401s checked.
	api := New(svc, Options{JWT: v, AuthThrottle: AuthThrottle{PerAddress: -1, PerKey: -1}})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() { srv.Close(); db.Close() })
	e := &scopeEnv{testEnv: &testEnv{t: t, svc: svc, api: api, srv: srv, logs: &syncBuffer{}}, creds: map[string]string{}}
	e.creds[credAdminKey] = e.key("acme", voxgate.ScopeAdmin)
	e.creds[credVerifyKey] = e.key("acme", voxgate.ScopeVerify)
	for cred, flow := range map[string]string{credEnrollCT: service.FlowEnroll, credChallengeCT: service.FlowChallenge} {
		st, body, _ := e.do("POST", "/v1/client-tokens", e.creds[credAdminKey], map[string]any{"user_id": "alice", "flow": flow})
		if st != 201 {
			t.Fatalf("mint %s: %d %v", flow, st, body)
		}
		e.creds[cred] = body["client_token"].(string)
	}
	signer, err := jwtauth.HMACKey(uflowSecret)
	if err != nil {
		t.Fatal(err)
	}
	for cred, role := range map[string]jwtauth.Role{credAdminJWT: jwtauth.RoleAdmin, credUserJWT: jwtauth.RoleUser} {
		tok, err := signer.Sign(jwtauth.Mint{Subject: "alice", Tenant: "acme", Role: role, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		e.creds[cred] = tok
	}
	return e
}

// request builds a plausible request for the route: its path parameters
// filled for alice of acme, and a body of the shape the route reads.
func (e *scopeEnv) request(method, path, cred string) *http.Request {
	path = strings.NewReplacer("{user_id}", "alice", "{orgId}", "acme", "{id}", ids.UUID(), "{group}", "watchlist",
		"{file}", "voiceauthorize.js", "{file...}", "index.html").Replace(path)
	clip := base64.StdEncoding.EncodeToString([]byte("RIFF not really audio"))
	var body io.Reader
	ct := ""
	jsonOf := func(v any) {
		b, _ := json.Marshal(v)
		body, ct = bytes.NewReader(b), "application/json"
	}
	formOf := func(file string, fields map[string]string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile(file, "voice.wav")
		fw.Write([]byte("RIFF not really audio"))
		mw.Close()
		body, ct = &buf, mw.FormDataContentType()
	}
	switch {
	case path == "/create-profile":
		jsonOf(map[string]any{"user_id": "alice"})
	case path == "/enroll", path == "/v1/voice/verify", path == "/v1/voice/identify":
		formOf("audio", map[string]string{"user_id": "alice"})
	case path == "/verify-voice":
		formOf("audio", map[string]string{"user_id": "alice", "session_id": ids.UUID()})
	case path == "/start-auth":
		jsonOf(map[string]any{"user_id": "alice"})
	case path == "/verify-token":
		jsonOf(map[string]any{"token": "not.a.token"})
	case path == "/v1/challenge-phrases" && method == "PUT":
		jsonOf(map[string]any{"phrases": []string{"open the door", "close the door"}})
	case path == "/v1/client-tokens":
		jsonOf(map[string]any{"user_id": "alice", "flow": "enroll"})
	case strings.HasPrefix(path, "/v1/voiceid/"):
		formOf("audio_file", map[string]string{"user_id": "alice", "embedding": "[0.5]"})
	case strings.HasSuffix(path, "/enrollments"), strings.HasSuffix(path, "/verifications"), strings.HasSuffix(path, "/identifications"):
		jsonOf(map[string]any{"voice_data": clip, "request_uuid": ids.UUID(), "external_id": "alice"})
	case strings.HasSuffix(path, "/members"):
		jsonOf(map[string]any{"add": []string{"alice"}})
	case path == "/v1/settings/identification" && method == "PUT":
		jsonOf(map[string]any{"watchlist_policy": "flag"})
	case path == "/v1/settings/verification" && method == "PUT":
		jsonOf(map[string]any{"target_far": 0.001, "liveness": map[string]any{"mode": "flag"}})
	case strings.HasSuffix(path, "/webhook") && method == "PUT":
		jsonOf(map[string]any{"url": "https://hooks.example/voxgate"})
	case strings.HasPrefix(path, "/uflow/") && method == "POST":
		v := map[string]any{"voice_data": clip}
		if strings.HasPrefix(path, "/uflow/admin/") {
			v["user_id"] = "alice"
		}
		jsonOf(v)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if tok := e.creds[cred]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req
}

// TestEveryRouteChecksItsScope walks every registered route with every kind
// of credential through the real server and checks who gets in: 401 for a
// missing or wrong kind of credential, 403 for one without the scope (a
// verify key deleting a profile or reading learning data), anything else
// for one allowed.
func TestEveryRouteChecksItsScope(t *testing.T) {
	e := newScopeEnv(t)
	acme := voxgate.Actor{TenantID: mustTenantID(t, e.testEnv, "acme"), Scope: voxgate.ScopeAdmin}
	for _, rt := range e.api.routes {
		pattern := rt.method + " " + rt.path
		allowed, ok := routeAccess[pattern]
		if !ok {
			t.Errorf("%s: not in routeAccess; say who may call it", pattern)
			continue
		}
		for _, cred := range allCreds {
			// alice exists before every request, so that a refusal cannot
			// hide behind profile_not_found, nor an allowed delete starve
			// the next credential.
			if _, _, err := e.svc.CreateProfile(context.Background(), acme, "alice"); err != nil {
				t.Fatal(err)
			}
			resp, err := e.srv.Client().Do(e.request(rt.method, rt.path, cred))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := "allowed"
			switch {
			case slices.Contains(allowed, cred):
			case cred == credNone, rt.op.auth == authAPIKey && (cred == credAdminJWT || cred == credUserJWT),
				(rt.op.auth == authAdminJWT || rt.op.auth == authUserJWT) && cred != credAdminJWT && cred != credUserJWT:
				want = "401"
			default:
				want = "403"
			}
			got := "allowed"
			if resp.StatusCode == 401 || resp.StatusCode == 403 {
				got = strconv.Itoa(resp.StatusCode)
			}
			if got != want {
				t.Errorf("%s with %s: %d %s; want %s", pattern, cred, resp.StatusCode, bytes.TrimSpace(raw), want)
			}
		}
	}
	for pattern := range routeAccess {
		if !e.registered(pattern) {
			t.Errorf("routeAccess names %s, which the server does not register", pattern)
		}
	}
}

func (e *scopeEnv) registered(pattern string) bool {
	for _, rt := range e.api.routes {
		if rt.method+" "+rt.path == pattern {
			return true
		}
	}
	return false
}

package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"voxgate"
	"voxgate/audio"
	"voxgate/jwtauth"
	"voxgate/policy"
	"voxgate/service"
)

var uflowSecret = []byte("uflow-test-secret-0123456789abcdef")

// uflowEnv is a bioEnv's service served with a JWT verifier configured.
type uflowEnv struct {
	*bioEnv
	url    string
	client *http.Client
	signer jwtauth.SigningKey
}

func newUflowEnv(t *testing.T) *uflowEnv {
	t.Helper()
	cfg := ravdessConfig()
	// Attempt limits off: the contract tests try several genuine takes and
	// must not run into a cooldown whatever the model's accuracy.
	cfg.DisableLimits = true
	b := newBioEnv(t, cfg)
	v, err := jwtauth.NewHMAC(uflowSecret, jwtauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := conformingServer(t, New(b.svc, Options{JWT: v}))
	t.Cleanup(srv.Close)
	signer, err := jwtauth.HMACKey(uflowSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		b.testEnv.key(tenant, voxgate.ScopeAdmin) // makes the tenant
	}
	return &uflowEnv{bioEnv: b, url: srv.URL, client: srv.Client(), signer: signer}
}

func (e *uflowEnv) token(role jwtauth.Role, sub, tenant string) string {
	e.t.Helper()
	tok, err := e.signer.Sign(jwtauth.Mint{Subject: sub, Tenant: tenant, Role: role, TTL: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// call sends a JSON request with a bearer token ("" for none) and decodes
// the JSON answer.
func (e *uflowEnv) call(method, path, token string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
	}
	return resp.StatusCode, out, resp.Header
}

// assertShape checks that body has exactly the fields named, with the JSON
// types given ("string", "boolean", "number").
func assertShape(t *testing.T, what string, body map[string]any, fields map[string]string) {
	t.Helper()
	var got, want []string
	for k := range body {
		got = append(got, k)
	}
	for k, typ := range fields {
		want = append(want, k)
		ok := false
		switch typ {
		case "string":
			_, ok = body[k].(string)
		case "boolean":
			_, ok = body[k].(bool)
		case "number":
			_, ok = body[k].(float64)
		}
		if !ok {
			t.Fatalf("%s: field %q is %T (%v), want a %s; body %v", what, k, body[k], body[k], typ, body)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s: fields %v, want exactly %v", what, got, want)
	}
}

var (
	enrollShape = map[string]string{"enrollment_id": "string", "status": "string", "message": "string"}
	verifyShape = map[string]string{"verified": "boolean", "confidence": "number", "message": "string"}
	deleteShape = map[string]string{"message": "string"}
)

// voiceData encodes audio the n-th of several ways clients send it.
func voiceData(n int, b []byte) string {
	switch n % 4 {
	case 0:
		return base64.StdEncoding.EncodeToString(b)
	case 1:
		return base64.RawURLEncoding.EncodeToString(b)
	case 2:
		return "data:audio/flac;base64," + base64.StdEncoding.EncodeToString(b)
	default: // MIME-style, wrapped at 76 characters
		s := base64.StdEncoding.EncodeToString(b)
		var sb strings.Builder
		for len(s) > 76 {
			sb.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		sb.WriteString(s)
		return sb.String()
	}
}

// enrollTakes enrolls the four neutral takes of a RAVDESS actor through
// path and returns the answers.
func (e *uflowEnv) enrollTakes(path, token, userID string, actor int) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	n := 0
	for statement := 1; statement <= 2; statement++ {
		for rep := 1; rep <= 2; rep++ {
			body := map[string]string{"voice_data": voiceData(n, ravdess(e.t, actor, 1, 1, statement, rep))}
			if userID != "" {
				body["user_id"] = userID
			}
			st, resp, _ := e.call("POST", path, token, body)
			if st != 200 {
				e.t.Fatalf("enroll take %d: %d %v", n, st, resp)
			}
			assertShape(e.t, "enroll", resp, enrollShape)
			out = append(out, resp)
			n++
		}
	}
	return out
}

// checkEnrollProgress checks a run of enrollment answers: in progress first,
// enrolled last, one enrollment_id throughout.
func checkEnrollProgress(t *testing.T, answers []map[string]any) {
	t.Helper()
	first, last := answers[0], answers[len(answers)-1]
	if first["status"] != "in_progress" || !strings.Contains(first["message"].(string), "more speech") {
		t.Fatalf("first sample: %v", first)
	}
	if last["status"] != "enrolled" {
		t.Fatalf("last sample: %v", last)
	}
	for _, a := range answers {
		if a["enrollment_id"] != first["enrollment_id"] {
			t.Fatalf("enrollment_id changed: %v vs %v", a, first)
		}
	}
}

func TestUflowAdminEnrollVerifyStatusDelete(t *testing.T) {
	e := newUflowEnv(t)
	admin := e.token(jwtauth.RoleAdmin, "ops-1", "acme")

	st, body, _ := e.call("GET", "/uflow/admin/auth/voice/status/actor1", admin, nil)
	if st != 200 {
		t.Fatalf("status before enrollment: %d %v", st, body)
	}
	assertShape(t, "status", body, map[string]string{"enrolled": "boolean", "enrollment_date": "string", "user_id": "string"})
	if body["enrolled"] != false || body["enrollment_date"] != "" || body["user_id"] != "actor1" {
		t.Fatalf("status before enrollment: %v", body)
	}

	answers := e.enrollTakes("/uflow/admin/auth/voice/enroll", admin, "actor1", 1)
	checkEnrollProgress(t, answers)

	st, body, _ = e.call("GET", "/uflow/admin/auth/voice/status/actor1", admin, nil)
	assertShape(t, "status", body, map[string]string{"enrolled": "boolean", "enrollment_date": "string", "user_id": "string"})
	date, err := time.Parse(time.RFC3339, body["enrollment_date"].(string))
	if st != 200 || body["enrolled"] != true || err != nil || time.Since(date) > time.Minute {
		t.Fatalf("status after enrollment: %d %v (%v)", st, body, err)
	}

	// Genuine calm takes: at least one is accepted (accuracy is measured
	// elsewhere; this checks the face).
	verified := 0
	for take := 0; take < 8 && verified == 0; take++ {
		st, body, _ = e.call("POST", "/uflow/admin/auth/voice/verify", admin, map[string]string{
			"user_id": "actor1", "voice_data": voiceData(take, ravdess(t, 1, 2, 1+take/4, 1+take/2%2, 1+take%2))})
		if st != 200 {
			t.Fatalf("verify genuine: %d %v", st, body)
		}
		assertShape(t, "verify", body, verifyShape)
		if c := body["confidence"].(float64); c < 0 || c > 1 {
			t.Fatalf("confidence %v outside [0, 1]", c)
		}
		if body["verified"] == true {
			verified++
			if body["message"] != "Voice verified" {
				t.Fatalf("accepted with message %v", body)
			}
		}
	}
	if verified == 0 {
		t.Fatal("no genuine calm take verified")
	}
	st, body, _ = e.call("POST", "/uflow/admin/auth/voice/verify", admin, map[string]string{
		"user_id": "actor1", "voice_data": voiceData(0, ravdess(t, 2, 2, 1, 1, 1))})
	if st != 200 || body["verified"] != false {
		t.Fatalf("verify impostor: %d %v", st, body)
	}
	assertShape(t, "verify", body, verifyShape)
	if msg := body["message"].(string); !strings.Contains(msg, "not verified") && !strings.Contains(msg, "could not be verified") {
		t.Fatalf("impostor message %q", msg)
	}

	// Tenant isolation: an admin of another tenant sees nothing of actor1.
	globex := e.token(jwtauth.RoleAdmin, "ops-1", "globex")
	st, body, _ = e.call("GET", "/uflow/admin/auth/voice/status/actor1", globex, nil)
	if st != 200 || body["enrolled"] != false {
		t.Fatalf("cross-tenant status: %d %v", st, body)
	}
	st, body, hdr := e.call("POST", "/uflow/admin/auth/voice/verify", globex, map[string]string{
		"user_id": "actor1", "voice_data": voiceData(0, ravdess(t, 1, 2, 2, 1, 1))})
	assertError(t, st, body, hdr, 404, "profile_not_found")
	st, body, hdr = e.call("DELETE", "/uflow/admin/auth/voice/enrollment/actor1", globex, nil)
	assertError(t, st, body, hdr, 404, "profile_not_found")
	st, body, _ = e.call("GET", "/uflow/admin/auth/voice/status/actor1", admin, nil)
	if body["enrolled"] != true {
		t.Fatalf("actor1 after the other tenant's attempts: %d %v", st, body)
	}

	// An end-user token of the same tenant cannot reach actor1 at all.
	mallory := e.token(jwtauth.RoleUser, "mallory", "acme")
	st, body, hdr = e.call("DELETE", "/uflow/admin/auth/voice/enrollment/actor1", mallory, nil)
	assertError(t, st, body, hdr, 403, "forbidden")
	st, body, hdr = e.call("POST", "/uflow/user/auth/voice/verify", mallory, map[string]string{
		"user_id": "actor1", "voice_data": voiceData(0, ravdess(t, 1, 2, 2, 1, 1))})
	assertError(t, st, body, hdr, 403, "forbidden")

	st, body, _ = e.call("DELETE", "/uflow/admin/auth/voice/enrollment/actor1", admin, nil)
	if st != 200 {
		t.Fatalf("delete: %d %v", st, body)
	}
	assertShape(t, "delete", body, deleteShape)
	if body["message"] != "Voice enrollment deleted successfully" {
		t.Fatalf("delete message %v", body)
	}
	st, body, _ = e.call("GET", "/uflow/admin/auth/voice/status/actor1", admin, nil)
	if st != 200 || body["enrolled"] != false || body["enrollment_date"] != "" {
		t.Fatalf("status after delete: %d %v", st, body)
	}
	st, body, hdr = e.call("DELETE", "/uflow/admin/auth/voice/enrollment/actor1", admin, nil)
	assertError(t, st, body, hdr, 404, "profile_not_found")
	if body["message"] != "Voice enrollment not found" {
		t.Fatalf("second delete: %v", body)
	}
	st, body, hdr = e.call("POST", "/uflow/admin/auth/voice/verify", admin, map[string]string{
		"user_id": "actor1", "voice_data": voiceData(0, ravdess(t, 1, 2, 2, 1, 1))})
	assertError(t, st, body, hdr, 404, "profile_not_found")
	if body["message"] != "No voiceprint enrolled for user" {
		t.Fatalf("verify after delete: %v", body)
	}
}

func TestUflowEndUserActsOnlyOnItself(t *testing.T) {
	e := newUflowEnv(t)
	alice := e.token(jwtauth.RoleUser, "alice", "acme")

	st, body, _ := e.call("GET", "/uflow/user/auth/voice/status", alice, nil)
	if st != 200 {
		t.Fatalf("status: %d %v", st, body)
	}
	assertShape(t, "user status", body, map[string]string{"enrolled": "boolean", "enrollment_date": "string"})
	if body["enrolled"] != false {
		t.Fatalf("status before enrollment: %v", body)
	}

	// One sample is not enough: verification finds no voiceprint yet.
	st, body, _ = e.call("POST", "/uflow/user/auth/voice/enroll", alice, map[string]string{"voice_data": voiceData(0, ravdess(t, 2, 1, 1, 1, 1))})
	if st != 200 || body["status"] != "in_progress" {
		t.Fatalf("first sample: %d %v", st, body)
	}
	st, body, hdr := e.call("POST", "/uflow/user/auth/voice/verify", alice, map[string]string{"voice_data": voiceData(0, ravdess(t, 2, 2, 1, 1, 1))})
	assertError(t, st, body, hdr, 404, "not_found")
	if msg := body["message"].(string); !strings.HasPrefix(msg, "No voiceprint enrolled for user") {
		t.Fatalf("half-enrolled verify: %v", body)
	}
	st, body, _ = e.call("DELETE", "/uflow/user/auth/voice/enrollment", alice, nil)
	if st != 200 || body["message"] != "Voice enrollment deleted successfully" {
		t.Fatalf("delete half enrollment: %d %v", st, body)
	}

	answers := e.enrollTakes("/uflow/user/auth/voice/enroll", alice, "", 2)
	checkEnrollProgress(t, answers)
	st, body, _ = e.call("GET", "/uflow/user/auth/voice/status", alice, nil)
	assertShape(t, "user status", body, map[string]string{"enrolled": "boolean", "enrollment_date": "string"})
	if st != 200 || body["enrolled"] != true {
		t.Fatalf("status after enrollment: %d %v", st, body)
	}
	// The admin sees the same enrollment under the token's subject.
	admin := e.token(jwtauth.RoleAdmin, "ops", "acme")
	if _, body, _ = e.call("GET", "/uflow/admin/auth/voice/status/alice", admin, nil); body["enrolled"] != true {
		t.Fatalf("admin view of alice: %v", body)
	}

	st, body, _ = e.call("POST", "/uflow/user/auth/voice/verify", alice, map[string]string{"voice_data": voiceData(2, ravdess(t, 2, 2, 1, 1, 1))})
	if st != 200 {
		t.Fatalf("verify: %d %v", st, body)
	}
	assertShape(t, "user verify", body, verifyShape)

	// Bob's token cannot act on alice: naming her is refused, and his own
	// routes only ever reach bob.
	bob := e.token(jwtauth.RoleUser, "bob", "acme")
	for _, path := range []string{"/uflow/user/auth/voice/enroll", "/uflow/user/auth/voice/verify"} {
		st, body, hdr = e.call("POST", path, bob, map[string]string{"user_id": "alice", "voice_data": voiceData(0, ravdess(t, 2, 2, 2, 1, 1))})
		assertError(t, st, body, hdr, 403, "forbidden")
	}
	st, body, _ = e.call("GET", "/uflow/user/auth/voice/status", bob, nil)
	if st != 200 || body["enrolled"] != false {
		t.Fatalf("bob's status: %d %v", st, body)
	}
	st, body, hdr = e.call("DELETE", "/uflow/user/auth/voice/enrollment", bob, nil)
	assertError(t, st, body, hdr, 404, "profile_not_found")
	// Alice's token of another tenant is another alice.
	otherAlice := e.token(jwtauth.RoleUser, "alice", "globex")
	if _, body, _ = e.call("GET", "/uflow/user/auth/voice/status", otherAlice, nil); body["enrolled"] != false {
		t.Fatalf("alice of globex sees acme's alice: %v", body)
	}
	if _, body, _ = e.call("GET", "/uflow/user/auth/voice/status", alice, nil); body["enrolled"] != true {
		t.Fatalf("alice after bob's attempts: %v", body)
	}

	st, body, _ = e.call("DELETE", "/uflow/user/auth/voice/enrollment", alice, nil)
	if st != 200 {
		t.Fatalf("self delete: %d %v", st, body)
	}
	assertShape(t, "user delete", body, deleteShape)
	if _, body, _ = e.call("GET", "/uflow/admin/auth/voice/status/alice", admin, nil); body["enrolled"] != false {
		t.Fatalf("alice after self delete: %v", body)
	}
}

func TestUflowRefusesBadTokens(t *testing.T) {
	e := newUflowEnv(t)
	admin := e.token(jwtauth.RoleAdmin, "ops", "acme")
	user := e.token(jwtauth.RoleUser, "alice", "acme")
	expired, _ := e.signer.Sign(jwtauth.Mint{Subject: "ops", Tenant: "acme", Role: jwtauth.RoleAdmin, TTL: time.Minute, Now: time.Now().Add(-time.Hour)})
	edKey, _ := jwtauth.PrivateKey("", ed25519.NewKeyFromSeed(make([]byte, 32)))
	foreign, _ := edKey.Sign(jwtauth.Mint{Subject: "ops", Tenant: "acme", Role: jwtauth.RoleAdmin, TTL: time.Minute})
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"ops","tenant":"acme","role":"admin","exp":4102444800}`)) + "."
	unknownTenant := e.token(jwtauth.RoleAdmin, "ops", "initech")

	adminRoutes := [][2]string{
		{"POST", "/uflow/admin/auth/voice/enroll"}, {"POST", "/uflow/admin/auth/voice/verify"},
		{"GET", "/uflow/admin/auth/voice/status/alice"}, {"DELETE", "/uflow/admin/auth/voice/enrollment/alice"},
	}
	userRoutes := [][2]string{
		{"POST", "/uflow/user/auth/voice/enroll"}, {"POST", "/uflow/user/auth/voice/verify"},
		{"GET", "/uflow/user/auth/voice/status"}, {"DELETE", "/uflow/user/auth/voice/enrollment"},
	}
	body := map[string]string{"user_id": "alice", "voice_data": "UklGRg"}
	for _, tc := range []struct {
		name     string
		routes   [][2]string
		token    string
		status   int
		code     string
		msgMatch string
	}{
		{"no token", append(adminRoutes, userRoutes...), "", 401, "unauthorized", "Missing Authorization"},
		{"garbage token", adminRoutes, "not-a-jwt", 401, "unauthorized", "Malformed token"},
		{"expired", adminRoutes, expired, 401, "unauthorized", "expired"},
		{"alg none", adminRoutes, none, 401, "unauthorized", "not accepted"},
		{"signed by an unconfigured key", adminRoutes, foreign, 401, "unauthorized", "not accepted"},
		{"unknown tenant", adminRoutes, unknownTenant, 401, "unauthorized", "unknown tenant"},
		{"API key instead of JWT", adminRoutes, e.testEnv.key("acme", voxgate.ScopeAdmin), 401, "unauthorized", "Malformed token"},
		{"user token on admin routes", adminRoutes, user, 403, "forbidden", "admin token"},
		{"admin token on user routes", userRoutes, admin, 403, "forbidden", "end-user token"},
	} {
		for _, rt := range tc.routes {
			var b any
			if rt[0] == "POST" {
				b = body
			}
			st, resp, hdr := e.call(rt[0], rt[1], tc.token, b)
			assertError(t, st, resp, hdr, tc.status, tc.code)
			if !strings.Contains(resp["message"].(string), tc.msgMatch) {
				t.Errorf("%s, %s %s: message %q lacks %q", tc.name, rt[0], rt[1], resp["message"], tc.msgMatch)
			}
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s, %s %s: no WWW-Authenticate", tc.name, rt[0], rt[1])
			}
		}
	}

	// A server without JWT keys refuses every token.
	srv := conformingServer(t, New(e.svc, Options{}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/uflow/user/auth/voice/status", nil)
	req.Header.Set("Authorization", "Bearer "+user)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	assertError(t, resp.StatusCode, out, resp.Header, 401, "unauthorized")
}

func TestUflowPublicKeyTokens(t *testing.T) {
	e := newUflowEnv(t)
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	sk, _ := jwtauth.PrivateKey("idp-1", priv)
	pk, _ := sk.Public()
	v, err := jwtauth.NewPublic([]jwtauth.PublicKey{pk}, jwtauth.Options{Issuer: "https://idp.example", Audience: "voxgate"})
	if err != nil {
		t.Fatal(err)
	}
	srv := conformingServer(t, New(e.svc, Options{JWT: v}))
	defer srv.Close()
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/uflow/user/auth/voice/status", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good, _ := sk.Sign(jwtauth.Mint{Subject: "alice", Tenant: "acme", Role: jwtauth.RoleUser, TTL: time.Minute, Issuer: "https://idp.example", Audience: "voxgate"})
	wrongAud, _ := sk.Sign(jwtauth.Mint{Subject: "alice", Tenant: "acme", Role: jwtauth.RoleUser, TTL: time.Minute, Issuer: "https://idp.example", Audience: "billing"})
	// The HS256 secret of the other server means nothing here.
	hs := e.token(jwtauth.RoleUser, "alice", "acme")
	if st := get(good); st != 200 {
		t.Fatalf("EdDSA token: %d", st)
	}
	if st := get(wrongAud); st != 401 {
		t.Fatalf("wrong audience: %d", st)
	}
	if st := get(hs); st != 401 {
		t.Fatalf("HS256 token on a public-key server: %d", st)
	}
}

func TestUflowBodyErrors(t *testing.T) {
	e := newUflowEnv(t)
	admin := e.token(jwtauth.RoleAdmin, "ops", "acme")
	user := e.token(jwtauth.RoleUser, "alice", "acme")
	tooBig := base64.StdEncoding.EncodeToString(make([]byte, audio.DefaultMaxBytes+3))
	for _, tc := range []struct {
		name   string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"missing user_id", "/uflow/admin/auth/voice/enroll", admin, map[string]string{"voice_data": "UklGRg"}, 400, "validation_error"},
		{"missing voice_data", "/uflow/admin/auth/voice/enroll", admin, map[string]string{"user_id": "alice"}, 400, "validation_error"},
		{"voice_data not base64", "/uflow/admin/auth/voice/verify", admin, map[string]string{"user_id": "alice", "voice_data": "%%%not base64%%%"}, 400, "validation_error"},
		{"voice_data of the wrong type", "/uflow/user/auth/voice/enroll", user, map[string]any{"voice_data": 12}, 400, "validation_error"},
		{"data URI without base64", "/uflow/user/auth/voice/enroll", user, map[string]string{"voice_data": "data:audio/wav,RIFF"}, 400, "validation_error"},
		{"not JSON", "/uflow/user/auth/voice/verify", user, "just a string", 400, "validation_error"},
		{"not audio", "/uflow/user/auth/voice/enroll", user, map[string]string{"voice_data": base64.StdEncoding.EncodeToString([]byte("this is not audio at all"))}, 422, "unsupported_format"},
		{"unknown user", "/uflow/admin/auth/voice/verify", admin, map[string]string{"user_id": "ghost", "voice_data": "UklGRg"}, 404, "profile_not_found"},
		{"over 25 MiB decoded", "/uflow/admin/auth/voice/enroll", admin, map[string]string{"user_id": "alice", "voice_data": tooBig}, 413, "payload_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, hdr := e.call("POST", tc.path, tc.token, tc.body)
			assertError(t, st, body, hdr, tc.status, tc.code)
		})
	}
	// A body far beyond any audio is cut off while reading.
	req, _ := http.NewRequest("POST", e.url+"/uflow/admin/auth/voice/enroll", io.MultiReader(
		strings.NewReader(`{"user_id":"alice","voice_data":"`), bytes.NewReader(bytes.Repeat([]byte("A"), int(maxUflowBody)+10))))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	assertError(t, resp.StatusCode, out, resp.Header, 413, "payload_too_large")
}

func TestDecodeVoiceData(t *testing.T) {
	want := []byte{0xfb, 0xff, 0xfe, 'R', 'I', 'F', 'F', 0}
	std := base64.StdEncoding.EncodeToString(want) // has '+', '/' and padding
	for _, in := range []string{
		std,
		strings.TrimRight(std, "="),
		base64.URLEncoding.EncodeToString(want),
		base64.RawURLEncoding.EncodeToString(want),
		"data:audio/wav;base64," + std,
		"DATA:audio/x-wav;codecs=1;BASE64," + base64.RawURLEncoding.EncodeToString(want),
		"  " + std[:4] + "\n" + std[4:] + "\r\n",
	} {
		got, err := decodeVoiceData(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "   ", "====", "a", "ab+c-d", "data:audio/wav,abcd", "data:;base64", "abc$"} {
		if _, err := decodeVoiceData(in); voxgate.ErrorCode(err) != voxgate.EINVALID {
			t.Errorf("%q: %v, want %s", in, err, voxgate.EINVALID)
		}
	}
}

func TestEnrollmentIDIsStablePerProfile(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	p := &voxgate.Profile{UserID: "alice", CreatedAt: created}
	a := enrollmentID("T1", p)
	if a != enrollmentID("T1", &voxgate.Profile{UserID: "alice", CreatedAt: created.Add(999 * time.Microsecond)}) {
		t.Fatal("enrollment ID depends on sub-millisecond time (stores keep milliseconds)")
	}
	for _, other := range []string{
		enrollmentID("T2", p),
		enrollmentID("T1", &voxgate.Profile{UserID: "bob", CreatedAt: created}),
		enrollmentID("T1", &voxgate.Profile{UserID: "alice", CreatedAt: created.Add(time.Second)}),
	} {
		if other == a {
			t.Fatal("enrollment IDs collide")
		}
	}
	if len(a) != 36 || a[14] != '8' {
		t.Fatalf("not a version-8 UUID: %s", a)
	}
}

func TestVerifyMessageExplainsEachDecision(t *testing.T) {
	for _, tc := range []struct {
		res  service.VerifyResult
		want string
	}{
		{service.VerifyResult{Decision: policy.Decision{Decision: policy.Accept}}, "Voice verified"},
		{service.VerifyResult{Decision: policy.Decision{Decision: policy.Reject, Reason: policy.ReasonSpoof, Insights: []string{"Synthetic speech suspected"}}},
			"Voice not verified (spoof_suspected): Synthetic speech suspected"},
		{service.VerifyResult{Decision: policy.Decision{Decision: policy.Retry, Reason: policy.ReasonTooNoisy}},
			"Voice could not be verified (too_noisy); please try again"},
		{service.VerifyResult{Decision: policy.Decision{Decision: policy.Cooldown, Reason: policy.ReasonCooldown}, RetryAfter: 1500 * time.Millisecond},
			"Too many failed attempts: try again in 2 s"},
	} {
		if got := verifyMessage(&tc.res); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.res.Decision.Decision, got, tc.want)
		}
	}
}

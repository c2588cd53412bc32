package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"voxgate/internal/nodetest"
)

// TestJWKSURLVerifiesTokensMintedWithJose plays a Keycloak realm with the
// jose npm package: its ES256, EdDSA and (after a rotation) RS256 keys are
// served as a JWKS from a URL on loopback, and Keycloak-shaped tokens
// (realm_access.roles, a custom tenant claim) reach a real server started
// with --jwt-jwks-url and the claim flags. Genuine tokens are accepted, a
// key published later is fetched when its kid first appears, and forged,
// unknown-kid, expired, role-less and wrong-tenant tokens are refused.
func TestJWKSURLVerifiesTokensMintedWithJose(t *testing.T) {
	const issuer, audience = "https://keycloak.example/realms/acme", "voxgate"
	in, _ := json.Marshal(map[string]string{"issuer": issuer, "audience": audience, "tenant": "acme"})
	out, err := nodetest.Run(t, "mint-jose.mjs", in)
	if err != nil {
		t.Fatal(err)
	}
	var idp struct {
		Initial json.RawMessage   `json:"jwks_initial"`
		Rotated json.RawMessage   `json:"jwks_rotated"`
		Tokens  map[string]string `json:"tokens"`
	}
	if err := json.Unmarshal(out, &idp); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		served  = idp.Initial
		fetches atomic.Int32
	)
	certs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/realms/acme/protocol/openid-connect/certs" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache") // as Keycloak answers: voxgate keeps it for a minute
		w.Write(served)
	}))
	defer certs.Close()

	data := filepath.Join(t.TempDir(), "data")
	runCLI(t, "keys", "create", "--tenant", "acme", "--data", data)
	base, _, logs := startServerArgs(t, data,
		"--jwt-jwks-url", certs.URL+"/realms/acme/protocol/openid-connect/certs",
		"--jwt-jwks-min-refresh", "1s",
		"--jwt-issuer", issuer, "--jwt-audience", audience,
		"--jwt-role-claim", "realm_access.roles", "--jwt-admin-role", "voxgate-admin", "--jwt-user-role", "voxgate-user",
		"--jwt-tenant-claim", "voxgate_tenant")
	get := func(path, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if !strings.Contains(logs.String(), "JWT keys (JWKS) fetched") {
		t.Fatalf("the server did not fetch the JWKS at start:\n%s", logs)
	}

	adminPath, userPath := "/uflow/admin/auth/voice/status/alice", "/uflow/user/auth/voice/status"
	if st, body := get(adminPath, idp.Tokens["admin_es256"]); st != 200 || body["enrolled"] != false {
		t.Fatalf("ES256 admin token: %d %v", st, body)
	}
	if st, body := get(userPath, idp.Tokens["user_eddsa"]); st != 200 {
		t.Fatalf("EdDSA user token: %d %v", st, body)
	}
	if st, body := get(adminPath, idp.Tokens["user_eddsa"]); st != 403 {
		t.Fatalf("user token on an admin route: %d %v", st, body)
	}
	refused := []struct{ token, message string }{
		{"forged_kid", "signature"},
		{"unknown_kid", "Unknown token key id"},
		{"expired", "expired"},
		{"no_role", "no role"},
		{"other_tenant", "unknown tenant"},
		{"user_rs256_rotated", "Unknown token key id"}, // not published yet
	}
	for _, c := range refused {
		if st, body := get(adminPath, idp.Tokens[c.token]); st != 401 || !strings.Contains(body["message"].(string), c.message) {
			t.Errorf("%s: %d %v, want 401 saying %q", c.token, st, body, c.message)
		}
	}
	// Unknown kids do not make the server hammer the provider.
	before := fetches.Load()
	for range 20 {
		get(adminPath, idp.Tokens["unknown_kid"])
	}
	if n := fetches.Load() - before; n > 2 {
		t.Errorf("20 tokens with an unknown kid caused %d JWKS fetches", n)
	}

	// The realm rotates in an RS256 key: its tokens work once it is
	// published, without a restart.
	mu.Lock()
	served = idp.Rotated
	mu.Unlock()
	time.Sleep(1100 * time.Millisecond) // --jwt-jwks-min-refresh
	if st, body := get(userPath, idp.Tokens["user_rs256_rotated"]); st != 200 {
		t.Fatalf("token of the newly published RS256 key: %d %v\n%s", st, body, logs)
	}
	if st, _ := get(adminPath, idp.Tokens["forged_kid"]); st != 401 {
		t.Fatalf("forged token accepted after the rotation: %d", st)
	}
}

// TestKeygenPublicKeysReadInJoseAndNodeCrypto: the .pub files keygen
// writes are plain PEM that Node's crypto and jose import.
func TestKeygenPublicKeysReadInJoseAndNodeCrypto(t *testing.T) {
	nodetest.Require(t)
	dir := t.TempDir()
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		key := filepath.Join(dir, alg)
		if _, stderr, err := tokensCLI(t, "keygen", "--alg", alg, "--out", key, "--kid", "k-"+alg); err != nil {
			t.Fatalf("keygen %s: %v %s", alg, err, stderr)
		}
		pem, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nodetest.Run(t, "import-pem.mjs", pem, alg); err != nil {
			t.Errorf("%s public key refused: %v", alg, err)
		}
	}
}

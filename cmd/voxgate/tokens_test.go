package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tokensCLI runs `voxgate tokens ARGS...` in process.
func tokensCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"tokens"}, args...), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestTokensKeygenMintVerify(t *testing.T) {
	for _, alg := range []string{"HS256", "EdDSA", "RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "key")
			if _, stderr, err := tokensCLI(t, "keygen", "--alg", alg, "--out", key, "--kid", "k1"); err != nil {
				t.Fatalf("keygen: %v %s", err, stderr)
			}
			if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", st, err)
			}
			mint := []string{"mint", "--role", "user", "--sub", "alice", "--tenant", "acme", "--ttl", "10m", "--aud", "voxgate"}
			verify := []string{"verify", "--jwt-audience", "voxgate"}
			if alg == "HS256" {
				mint = append(mint, "--secret-file", key)
				verify = append(verify, "--jwt-hs256-secret-file", key)
			} else {
				mint = append(mint, "--key", key)
				verify = append(verify, "--jwt-public-keys", key+".pub")
			}
			out, stderr, err := tokensCLI(t, mint...)
			if err != nil {
				t.Fatalf("mint: %v %s", err, stderr)
			}
			tok := strings.TrimSpace(out)
			if strings.Count(tok, ".") != 2 {
				t.Fatalf("not a JWT: %q", out)
			}
			out, stderr, err = tokensCLI(t, append(verify, tok)...)
			if err != nil {
				t.Fatalf("verify: %v %s", err, stderr)
			}
			if alg != "HS256" {
				// The JWKS file verifies too, and names the key.
				if _, stderr, err := tokensCLI(t, "verify", "--jwt-audience", "voxgate", "--jwt-public-keys", key+".jwks", tok); err != nil {
					t.Fatalf("verify with the JWKS file: %v %s", err, stderr)
				}
				pub, _ := os.ReadFile(key + ".pub")
				if strings.Contains(string(pub), "kid") || !strings.HasPrefix(string(pub), "-----BEGIN PUBLIC KEY-----\n") {
					t.Fatalf("public key file is not plain PEM:\n%s", pub)
				}
			}
			var claims map[string]any
			if err := json.Unmarshal([]byte(out), &claims); err != nil {
				t.Fatal(err)
			}
			if claims["sub"] != "alice" || claims["tenant"] != "acme" || claims["role"] != "user" || claims["valid"] != true {
				t.Fatalf("claims %v", claims)
			}
			if alg != "HS256" && claims["kid"] != "k1" {
				t.Fatalf("kid %v", claims["kid"])
			}
			// Another audience is refused.
			wrong := []string{"verify", "--jwt-audience", "billing", verify[len(verify)-2], verify[len(verify)-1], tok}
			if _, _, err := tokensCLI(t, wrong...); err == nil || !strings.Contains(err.Error(), "audience") {
				t.Fatalf("wrong audience: %v", err)
			}
		})
	}
}

// Without --kid, keygen names the key by its RFC 7638 thumbprint in the
// JWKS, and mint puts that name in the token's kid.
func TestTokensKeygenNamesKeysByThumbprint(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	if _, stderr, err := tokensCLI(t, "keygen", "--alg", "ES256", "--out", key); err != nil {
		t.Fatalf("keygen: %v %s", err, stderr)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	b, _ := os.ReadFile(key + ".jwks")
	if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) != 1 || len(set.Keys[0]["kid"]) != 43 ||
		set.Keys[0]["alg"] != "ES256" || set.Keys[0]["use"] != "sig" || set.Keys[0]["d"] != "" {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	out, stderr, err := tokensCLI(t, "mint", "--role", "admin", "--sub", "ops", "--tenant", "acme", "--key", key)
	if err != nil {
		t.Fatalf("mint: %v %s", err, stderr)
	}
	out, stderr, err = tokensCLI(t, "verify", "--jwt-public-keys", key+".jwks", strings.TrimSpace(out))
	if err != nil || !strings.Contains(out, `"kid":"`+set.Keys[0]["kid"]+`"`) {
		t.Fatalf("verify: %s %v %s", out, err, stderr)
	}
}

func TestTokensUsageErrors(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
	for name, args := range map[string][]string{
		"no action":          {},
		"unknown action":     {"frobnicate"},
		"no role":            {"mint", "--sub", "a", "--tenant", "acme", "--secret-file", secret},
		"bad role":           {"mint", "--role", "root", "--sub", "a", "--tenant", "acme", "--secret-file", secret},
		"no tenant":          {"mint", "--role", "user", "--sub", "a", "--secret-file", secret},
		"no key":             {"mint", "--role", "user", "--sub", "a", "--tenant", "acme"},
		"negative ttl":       {"mint", "--role", "user", "--sub", "a", "--tenant", "acme", "--ttl", "-1h", "--secret-file", secret},
		"verify without key": {"verify", "x.y.z"},
		"keygen bad alg":     {"keygen", "--alg", "HS512", "--out", filepath.Join(dir, "k")},
	} {
		t.Setenv("VOXGATE_JWT_HS256_SECRET_FILE", "")
		if _, _, err := tokensCLI(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	if _, _, err := tokensCLI(t, "verify", "--jwt-hs256-secret-file", secret, "--jwt-public-keys", secret, "x.y.z"); err == nil {
		t.Error("both key kinds accepted")
	}
	if _, _, err := tokensCLI(t, "keygen", "--alg", "HS256", "--out", secret); err == nil {
		t.Error("keygen overwrote an existing file")
	}
}

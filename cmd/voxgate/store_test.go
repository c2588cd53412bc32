package main

import (
	"encoding/json"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"voxgate/internal/pgtest"
)

// TestStoreFlagExplainsBadStores runs `voxgate keys list` and `voxgate
// serve` against stores they must refuse: each exits non-zero with a clear
// message that does not show the password.
func TestStoreFlagExplainsBadStores(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cases := []struct {
		name, store, want string
	}{
		{"unknown kind", "mysql://voxgate:hunter2@db/voxgate", "unknown kind of store"},
		{"unreachable server", "postgres://voxgate:hunter2@" + closed + "/voxgate?connect_timeout=5", "connection refused"},
		{"sqlite without a path", "sqlite:", "needs a PATH"},
	}
	if pgURL := pgtestURLOrEmpty(t); pgURL != "" {
		u, _ := url.Parse(pgURL)
		u.User = url.UserPassword(u.User.Username(), "hunter2")
		cases = append(cases, struct{ name, store, want string }{"wrong password", u.String(), "password authentication failed"})
		newer := pgtest.Fresh(t)
		runCLI(t, "keys", "create", "--tenant", "acme", "--store", newer)
		pgtest.Exec(t, newer, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`)
		cases = append(cases, struct{ name, store, want string }{"schema newer than the binary", newer, "newer than this voxgate knows"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			runCLI(t, "secrets", "init", "--data", data)
			for _, args := range [][]string{
				{"keys", "list", "--tenant", "acme", "--store", tc.store},
				{"serve", "--addr", "127.0.0.1:0", "--data", data, "--store", tc.store},
			} {
				cmd := exec.Command(binary, args...)
				cmd.Dir = t.TempDir()
				out, err := cmd.CombinedOutput()
				if err == nil {
					t.Fatalf("voxgate %s succeeded: %s", args[0], out)
				}
				if !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "hunter2") {
					t.Fatalf("voxgate %s: %s\nwant a message with %q and no password", args[0], out, tc.want)
				}
			}
		})
	}
}

// TestSharedStoreNodeRefusesToMakeItsOwnKeys: a node of a PostgreSQL store
// without the deployment's secrets would seal voiceprints no other node can
// open, so it does not start.
func TestSharedStoreNodeRefusesToMakeItsOwnKeys(t *testing.T) {
	store := pgtest.Fresh(t)
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--store", store)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "voxgate secrets init") {
		t.Fatalf("serve on a shared store without secrets: %v %s", err, out)
	}
}

// pgtestURLOrEmpty is the test server's URL, "" without one (outside CI).
func pgtestURLOrEmpty(t *testing.T) string {
	var u string
	t.Run("postgres", func(t *testing.T) { u = pgtest.URL(t) })
	return u
}

// TestTokensVerifyLooksTheTenantUpInTheStore: with --store, `tokens verify`
// resolves the token's tenant as the server would, on SQLite and PostgreSQL.
func TestTokensVerifyLooksTheTenantUpInTheStore(t *testing.T) {
	stores := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "voxgate.db")}
	if u := pgtestURLOrEmpty(t); u != "" {
		stores["postgres"] = pgtest.Fresh(t)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	runCLI(t, "tokens", "keygen", "--alg", "HS256", "--out", secret)
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			var created struct {
				TenantID string `json:"tenant_id"`
			}
			if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--store", store), &created); err != nil {
				t.Fatal(err)
			}
			for tenant, want := range map[string]string{"acme": created.TenantID, "nobody": ""} {
				tok := strings.TrimSpace(string(runCLI(t, "tokens", "mint", "--role", "admin", "--sub", "ops", "--tenant", tenant, "--secret-file", secret)))
				out, err := exec.Command(binary, "tokens", "verify", "--jwt-hs256-secret-file", secret, "--store", store, tok).CombinedOutput()
				var claims map[string]any
				json.Unmarshal(out, &claims)
				switch {
				case want != "" && (err != nil || claims["tenant_id"] != want):
					t.Fatalf("verify a token of %s: %v %s", tenant, err, out)
				case want == "" && (err == nil || !strings.Contains(string(out), "not found")):
					t.Fatalf("verify a token of an unknown tenant: %v %s", err, out)
				}
			}
		})
	}
}

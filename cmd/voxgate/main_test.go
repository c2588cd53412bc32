package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"voxgate/ids"
)

// binary is the voxgate binary built once for the tests in this package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "voxgate-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "voxgate")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runCLI(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("voxgate %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestQuickStartAsANewUserWould(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var created struct{ Key, Tenant, Scope, ID string }
	if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--data", data), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Key, "vg_") || created.Tenant != "acme" || created.Scope != "admin" || created.ID == "" {
		t.Fatalf("keys create --json printed %+v", created)
	}
	if st, err := os.Stat(data); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode: %v %v", st.Mode(), err)
	}
	base, cmd, logs := startServerArgs(t, data)

	// curl -H "x-api-key: $KEY" -d '{"user_id":"alice"}' .../create-profile
	req, _ := http.NewRequest("POST", base+"/create-profile", strings.NewReader(`{"user_id":"alice"}`))
	req.Header.Set("x-api-key", created.Key)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(raw), `"user_id":"alice"`) {
		t.Fatalf("create-profile: %d %s", resp.StatusCode, raw)
	}

	// Without a key: 401 with the error body and a UUID correlation id.
	resp, err = http.Post(base+"/create-profile", "application/json", strings.NewReader(`{"user_id":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 401 || body["error"] != "unauthorized" || body["message"] != "Invalid or inactive API key" ||
		!ids.IsUUID(body["correlation_id"].(string)) || body["status"] != float64(401) {
		t.Fatalf("no key: %d %v", resp.StatusCode, body)
	}

	// keys list shows the key; revoke makes it fail.
	if out := runCLI(t, "keys", "list", "--tenant", "acme", "--data", data); !strings.Contains(string(out), created.ID) {
		t.Fatalf("keys list: %s", out)
	}
	runCLI(t, "keys", "revoke", "--tenant", "acme", "--id", created.ID, "--data", data)
	req, _ = http.NewRequest("POST", base+"/create-profile", strings.NewReader(`{"user_id":"bob"}`))
	req.Header.Set("Authorization", "Bearer "+created.Key)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("revoked key: %d", resp.StatusCode)
	}

	// SIGTERM: a clean, logged shutdown with exit status 0.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30 s after SIGTERM")
	}
}

func TestServeRejectsMissingModelsDir(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--models", "/nonexistent/models")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "models directory") {
		t.Fatalf("serve with a missing models dir: %v %s", err, out)
	}
}

func TestKeysCreateRejectsBadInput(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"keys", "create", "--data", data},
		{"keys", "create", "--tenant", "bad name", "--data", data},
		{"keys", "create", "--tenant", "acme", "--scope", "root", "--data", data},
		{"keys", "frobnicate"},
		{"nonsense"},
	} {
		if out, err := exec.Command(binary, args...).CombinedOutput(); err == nil {
			t.Errorf("voxgate %v succeeded: %s", args, out)
		}
	}
}

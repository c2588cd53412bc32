package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// metricsAddr waits for the server's "metrics listening" log line.
func metricsAddr(t *testing.T, logs *syncLog) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "metrics listening" {
				return "http://" + m["addr"].(string)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no metrics listener:\n%s", logs)
	return ""
}

func get(t *testing.T, url, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsServedOnTheirOwnAddressWithToken(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	api, _, logs := startServerArgs(t, data, "--metrics-addr", "127.0.0.1:0", "--metrics-token", "scrape-secret-0123456789")
	private := metricsAddr(t, logs)
	for _, tc := range []struct {
		url, token string
		want       int
	}{
		{api + "/metrics", "scrape-secret-0123456789", 404},
		{private + "/metrics", "", 401},
		{private + "/metrics", "wrong", 401},
		{private + "/metrics", "scrape-secret-0123456789", 200},
		{private + "/v1/usage", "scrape-secret-0123456789", 404},
	} {
		if got := get(t, tc.url, tc.token); got != tc.want {
			t.Errorf("GET %s (token %q): %d, want %d", tc.url, tc.token, got, tc.want)
		}
	}
}

// TestDatabaseFilesArePrivateInAnExistingFolder starts the server in a data
// folder that already exists with mode 0755 under a permissive umask: the
// database and its WAL files must still be readable by the owner only.
func TestDatabaseFilesArePrivateInAnExistingFolder(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	startServerArgs(t, data)
	matches, _ := filepath.Glob(filepath.Join(data, "voxgate.db*"))
	if len(matches) == 0 {
		t.Fatal("no database files")
	}
	for _, p := range matches {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
}

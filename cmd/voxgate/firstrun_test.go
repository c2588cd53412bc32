package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"voxgate/internal/shared"
)

// key creates an admin key for tenant acme in data.
func adminKey(t *testing.T, data string) string {
	t.Helper()
	var created struct{ Key string }
	if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--data", data), &created); err != nil {
		t.Fatal(err)
	}
	return created.Key
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func uploadAudio(t *testing.T, url, key, user string, wav []byte) (int, map[string]any) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("user_id", user)
	fw, _ := mw.CreateFormFile("audio", "take.wav")
	fw.Write(wav)
	mw.Close()
	req, _ := http.NewRequest("POST", url, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// TestServerWithoutModelsIsNotReadyUnlessDegraded runs the binary where
// there is no models folder at all, as on a fresh machine without
// ../shared.
func TestServerWithoutModelsIsNotReadyUnlessDegraded(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	key := adminKey(t, data)

	base, cmd, logs := startServerArgs(t, data)
	st, ready := getJSON(t, base+"/readyz")
	checks, _ := ready["checks"].(map[string]any)
	if st != 503 || ready["status"] != "unavailable" || !strings.Contains(checks["vad"].(string), "voxgate models pull") ||
		!strings.Contains(checks["antispoof"].(string), "--degraded") {
		t.Fatalf("readyz without models: %d %v", st, ready)
	}
	if !strings.Contains(logs.String(), "not ready") {
		t.Fatalf("no log line says the server is not ready:\n%s", logs)
	}
	st, body := uploadAudio(t, base+"/v1/voice/verify", key, "alice", toneWAV())
	if st != 503 || body["error"] != "models_missing" || !strings.Contains(body["message"].(string), "deepfake") {
		t.Fatalf("verify without models: %d %v", st, body)
	}
	cmd.Process.Kill()
	cmd.Wait()

	// Degraded, with a 3-second enrollment: ready, and saying so.
	base, _, _ = startServerArgs(t, data, "--degraded", "--enroll-speech", "3")
	st, ready = getJSON(t, base+"/readyz")
	checks, _ = ready["checks"].(map[string]any)
	if st != 200 || ready["status"] != "degraded" || !strings.HasPrefix(checks["antispoof"].(string), "degraded: ") || checks["store"] != "ok" {
		t.Fatalf("readyz degraded: %d %v", st, ready)
	}
	doJSON(t, "POST", base+"/create-profile", key, map[string]string{"user_id": "alice"})
	st, body = uploadAudio(t, base+"/v1/voice/verify", key, "alice", toneWAV())
	if st != 409 || body["error"] != "enrollment_incomplete" || !strings.Contains(body["message"].(string), "of 3.0s") {
		t.Fatalf("verify before enrollment, 3 s required: %d %v", st, body)
	}
}

func TestModelsPullCopiesFromSharedWithoutNetwork(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "models")
	from := filepath.Join(shared.Dir(t), "models")
	stdout, stderr, code := cli(t, "models", "pull", "--dir", dir, "--from", from, "--mirror", "http://127.0.0.1:1")
	if code != 0 || !strings.Contains(stdout, "copied") {
		t.Fatalf("pull --from: exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout, _, code := cli(t, "models", "verify", "--dir", dir); code != 0 || !strings.Contains(stdout, "right SHA-256") {
		t.Fatalf("verify after pull: exit %d %s", code, stdout)
	}
	_, stderr, code = cli(t, "models", "pull", "--dir", filepath.Join(t.TempDir(), "m"), "--mirror", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "no network?") {
		t.Fatalf("pull without network: exit %d %s", code, stderr)
	}
}

func TestEnrollSpeechFlagIsBounded(t *testing.T) {
	for _, v := range []string{"0", "1", "500", "ten"} {
		if _, stderr, code := cli(t, "serve", "--enroll-speech", v, "--data", t.TempDir()); code != 2 {
			t.Errorf("--enroll-speech %s: exit %d %s", v, code, stderr)
		}
	}
}

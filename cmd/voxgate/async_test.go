package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	le "encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"voxgate/ids"
	"voxgate/webhook"
)

// startServerArgs runs `voxgate serve` on a random port, in an empty
// working folder (no ./models or ../shared/models: not ready for verdicts
// unless the flags say --degraded), with extra flags, and returns its base
// URL, the running command and its log lines.
func startServerArgs(t *testing.T, data string, extra ...string) (string, *exec.Cmd, *syncLog) {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := &syncLog{}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			logs.write(line)
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["msg"] == "voxgate listening" {
				addr <- m["addr"].(string)
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("server exited before listening:\n%s", logs)
		}
		return "http://" + a, cmd, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start in 30 s:\n%s", logs)
	}
	return "", nil, nil
}

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) write(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(line)
	l.b.WriteByte('\n')
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// toneWAV is 3 s of a 200 Hz tone as 16 kHz 16-bit mono WAV.
func toneWAV() []byte {
	const rate, n = 16000, 3 * 16000
	var b bytes.Buffer
	b.WriteString("RIFF")
	le.Write(&b, le.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(2 * rate), uint16(2), uint16(16)} {
		le.Write(&b, le.LittleEndian, v)
	}
	b.WriteString("data")
	le.Write(&b, le.LittleEndian, uint32(2*n))
	for i := range n {
		le.Write(&b, le.LittleEndian, int16(8000*math.Sin(2*math.Pi*200*float64(i)/rate)))
	}
	return b.Bytes()
}

func doJSON(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// TestWebhookSurvivesKillDuringDelivery kills the server with SIGKILL while
// the receiver holds the first delivery attempt open, restarts it over the
// same data directory, and expects the delivery to arrive, signed, with
// the same delivery ID: the queue lives in the database.
func TestWebhookSurvivesKillDuringDelivery(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var created struct{ Key string }
	if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--data", data), &created); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		secret   string
		stalling = true
	)
	firstAttempt := make(chan string, 1)
	release := make(chan struct{})
	arrived := make(chan map[string]any, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		key, stall := secret, stalling
		stalling = false
		mu.Unlock()
		if err := webhook.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("bad signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if stall {
			firstAttempt <- r.Header.Get(webhook.HeaderID)
			<-release // the server dies while this request is open
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		m["_delivery"] = r.Header.Get(webhook.HeaderID)
		arrived <- m
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	defer close(release)

	// No models in the test's working folder: the verdicts run degraded.
	flags := []string{"--webhook-allow-private", "--webhook-timeout", "2s", "--degraded"}
	base, cmd, logs := startServerArgs(t, data, flags...)
	st, body := doJSON(t, "PUT", base+"/organisations/acme/webhook", created.Key, map[string]string{"url": recv.URL + "/hook"})
	if st != 200 {
		t.Fatalf("PUT webhook: %d %v", st, body)
	}
	mu.Lock()
	secret = body["secret"].(string)
	mu.Unlock()
	reqUUID := ids.UUID()
	st, body = doJSON(t, "POST", base+"/organisations/acme/verifications", created.Key, map[string]any{
		"voice_data": base64.StdEncoding.EncodeToString(toneWAV()), "request_uuid": reqUUID, "external_id": "user_98765", "language": "en-UK",
	})
	if st != 202 || body["callback_url"] != recv.URL+"/hook" {
		t.Fatalf("submission: %d %v", st, body)
	}
	var deliveryID string
	select {
	case deliveryID = <-firstAttempt:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery attempt:\n%s", logs)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	start := time.Now()
	startServerArgs(t, data, flags...)
	select {
	case m := <-arrived:
		if m["_delivery"] != deliveryID || m["request_uuid"] != reqUUID || m["event_type"] != "verification.completed" ||
			m["external_id"] != "user_98765" || m["result"] != "rejected" {
			t.Fatalf("delivery after restart: %v (first attempt was %s)", m, deliveryID)
		}
		t.Logf("delivered %v after the restart", time.Since(start).Round(100*time.Millisecond))
	case <-time.After(45 * time.Second):
		t.Fatalf("the delivery was lost across a SIGKILL")
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the webhook secret reached the logs")
	}
}

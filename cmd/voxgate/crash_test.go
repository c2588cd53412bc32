package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"voxgate/ids"
	"voxgate/internal/shared"
	"voxgate/webhook"
)

// crashPoints are every named write point of enrollment, verification and
// the asynchronous API (the calls of Service.crash): before and after each
// step's one transaction, between a verification's reservation and its
// outcome, and around a job's completion.
var crashPoints = []string{
	"enroll.outcome", "enroll.done",
	"verify.reserved", "verify.outcome", "verify.done",
	"async.submit", "async.queued",
	"job.enrolled", "job.processed", "job.completed",
}

// TestKillAtEveryWritePointKeepsProfilesWhole runs a real `voxgate serve`
// that kills itself with SIGKILL at one write point (VOXGATE_CRASH_AT),
// restarts it over the same data, retries what the client saw fail, and
// checks the invariants in the database: no profile enrolled without a
// voiceprint; as many enrollment fingerprints and accepted audit rows as
// samples; one verification fingerprint per audited verification; a retry
// of an enrolled recording refused as a replay; the async job's webhook
// delivered, once per delivery ID, and its device remembered.
func TestKillAtEveryWritePointKeepsProfilesWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server about 20 times")
	}
	dir := shared.Path(t, "voice-data/corpora/librispeech/test-other/3005")
	read := func(n int) []byte {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("3005-163389-%04d.flac", n)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	enrollFiles := [][]byte{read(3), read(0), read(6), read(9)}
	probe, asyncFile := read(5), read(1)
	for _, point := range crashPoints {
		t.Run(point, func(t *testing.T) {
			crashScenario(t, point, enrollFiles, probe, asyncFile)
		})
	}
}

// crashServer is one `voxgate serve` process and the channel closed when it
// exits.
type crashServer struct {
	base   string
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *syncLog
}

func startCrashServer(t *testing.T, data string, env []string) *crashServer {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data", data,
		"--webhook-allow-private", "--webhook-timeout", "2s", "--job-lease", "2s", "--rate-minute", "0", "--rate-hour", "0",
		"--degraded") // no VAD or deepfake model here
	cmd.Dir = t.TempDir() // no models folder: the embedded speaker model only
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &crashServer{cmd: cmd, exited: make(chan struct{}), logs: &syncLog{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.write(line)
			var m map[string]any
			if json.Unmarshal(line, &m) == nil && m["msg"] == "voxgate listening" {
				addr <- m["addr"].(string)
			}
		}
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-s.exited })
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-s.exited:
		t.Fatalf("server exited before listening:\n%s", s.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start in 60 s:\n%s", s.logs)
	}
	return s
}

// killedAt reports whether the server died by SIGKILL at point, waiting a
// little for the exit to be seen.
func (s *crashServer) killedAt(point string) bool {
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		return false
	}
	ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL &&
		strings.Contains(s.logs.String(), `"point":"`+point+`"`)
}

func crashScenario(t *testing.T, point string, enrollFiles [][]byte, probe, asyncFile []byte) {
	data := filepath.Join(t.TempDir(), "data")
	var created struct{ Key string }
	if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--data", data), &created); err != nil {
		t.Fatal(err)
	}
	key := created.Key
	srv := startCrashServer(t, data, []string{"VOXGATE_CRASH_AT=" + point})
	crashed := false
	// call runs one request; when the server dies at the crash point on the
	// way, it restarts the server (without the crash point) and reports
	// that the request's outcome is unknown to the client.
	call := func(req func(base string) (int, map[string]any, error)) (int, map[string]any, bool) {
		t.Helper()
		st, body, err := req(srv.base)
		if err == nil {
			return st, body, false
		}
		if crashed || !srv.killedAt(point) {
			t.Fatalf("request failed without the planned crash: %v\n%s", err, srv.logs)
		}
		crashed = true
		srv = startCrashServer(t, data, nil)
		return 0, nil, true
	}

	// Enrollment, retrying a recording whose answer was lost.
	postJSON(t, srv.base+"/create-profile", key, map[string]string{"user_id": "alice"})
	enrolled := false
	for i, f := range enrollFiles {
		st, body, lost := call(func(base string) (int, map[string]any, error) {
			return postAudio(base+"/enroll", key, "alice", f)
		})
		if lost {
			checkInvariants(t, data)
			st, body, _ = call(func(base string) (int, map[string]any, error) { return postAudio(base+"/enroll", key, "alice", f) })
			if st == http.StatusConflict {
				// It was enrolled before the crash: the retry is a replay.
				st, body = http.StatusOK, map[string]any{"enrolled": profileEnrolled(t, srv.base, key, "alice")}
			}
		}
		if st != http.StatusOK {
			t.Fatalf("enroll file %d: %d %v", i, st, body)
		}
		// The same recording again is refused as a replay, crash or not.
		if st, body, _ := call(func(base string) (int, map[string]any, error) { return postAudio(base+"/enroll", key, "alice", f) }); st != http.StatusConflict {
			t.Fatalf("re-enrolling file %d: %d %v, want 409", i, st, body)
		}
		if enrolled, _ = body["enrolled"].(bool); enrolled {
			break
		}
	}
	if !enrolled {
		t.Fatal("alice not enrolled after every file")
	}
	checkInvariants(t, data)

	// Verification (with learning on an accept).
	st, body, lost := call(func(base string) (int, map[string]any, error) {
		return postAudio(base+"/v1/voice/verify", key, "alice", probe)
	})
	if !lost && st != http.StatusOK {
		t.Fatalf("verify: %d %v", st, body)
	}
	checkInvariants(t, data)

	// The asynchronous API: an enrollment job for bob from a known device.
	recv := newWebhookLog(t)
	st, body = doJSON(t, "PUT", srv.base+"/organisations/acme/webhook", key, map[string]string{"url": recv.srv.URL + "/hook"})
	if st != http.StatusOK {
		t.Fatalf("PUT webhook: %d %v", st, body)
	}
	recv.setSecret(body["secret"].(string))
	reqUUID := ids.UUID()
	submit := func(base string) (int, map[string]any, error) {
		return postJSONErr(base+"/organisations/acme/enrollments", key, map[string]any{
			"voice_data": base64.StdEncoding.EncodeToString(asyncFile), "request_uuid": reqUUID,
			"external_id": "bob", "device_fingerprint": "phone-1", "device_type": 1,
		})
	}
	st, body, lost = call(submit)
	if lost {
		st, body, _ = call(submit) // the client retries with the same request_uuid
	}
	if st != http.StatusAccepted {
		t.Fatalf("async submission: %d %v", st, body)
	}
	// A job-side crash happens in the background: restart when it does.
	deadline := time.After(90 * time.Second)
	var ev map[string]any
	for ev == nil {
		select {
		case ev = <-recv.events:
		case <-srv.exited:
			if crashed || !srv.killedAt(point) {
				t.Fatalf("server died without the planned crash:\n%s", srv.logs)
			}
			crashed = true
			srv = startCrashServer(t, data, nil)
		case <-deadline:
			t.Fatalf("no webhook for the async enrollment (crash at %s: %v):\n%s", point, crashed, srv.logs)
		}
	}
	if ev["request_uuid"] != reqUUID || ev["event_type"] != "enrollment.completed" || ev["external_id"] != "bob" {
		t.Fatalf("webhook: %v", ev)
	}
	if !crashed {
		t.Fatalf("the server never reached the crash point %s", point)
	}
	time.Sleep(500 * time.Millisecond) // any duplicate delivery
	if ids := recv.deliveryIDs(); len(ids) != 1 {
		t.Fatalf("deliveries for one job: %v, want one delivery ID", ids)
	}
	checkInvariants(t, data)
	db := openDB(t, data)
	var devices int
	db.QueryRow(`SELECT COUNT(*) FROM device_fingerprints WHERE user_id = 'bob'`).Scan(&devices)
	if devices != 1 {
		t.Fatalf("bob's enrolled devices: %d, want 1", devices)
	}
}

func openDB(t *testing.T, data string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "voxgate.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkInvariants reads the database as the restarted server left it, with
// the soak's invariants (profileInvariants).
func checkInvariants(t *testing.T, data string) {
	t.Helper()
	_, broken, err := checkProfiles(filepath.Join(data, "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(broken) > 0 {
		t.Fatalf("broken profiles: %v", broken)
	}
}

func profileEnrolled(t *testing.T, base, key, user string) bool {
	t.Helper()
	st, body := doJSON(t, "GET", base+"/v1/profiles/"+user, key, nil)
	if st != http.StatusOK {
		t.Fatalf("GET profile: %d %v", st, body)
	}
	e, _ := body["enrolled"].(bool)
	return e
}

func postJSON(t *testing.T, url, key string, body any) (int, map[string]any) {
	t.Helper()
	st, out, err := postJSONErr(url, key, body)
	if err != nil {
		t.Fatal(err)
	}
	return st, out
}

func postJSONErr(url, key string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "application/json")
	return send(req)
}

// postAudio sends a multipart user_id and audio; the error is a transport
// error (the server died), never an HTTP status.
func postAudio(url, key, user string, audio []byte) (int, map[string]any, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("user_id", user)
	fw, _ := mw.CreateFormFile("audio", "take.flac")
	fw.Write(audio)
	mw.Close()
	req, _ := http.NewRequest("POST", url, &b)
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return send(req)
}

func send(req *http.Request) (int, map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// webhookLog is a loopback webhook receiver that checks signatures and
// keeps every delivery ID it saw.
type webhookLog struct {
	srv    *httptest.Server
	events chan map[string]any
	mu     sync.Mutex
	secret string
	seen   map[string]int
}

func newWebhookLog(t *testing.T) *webhookLog {
	l := &webhookLog{events: make(chan map[string]any, 16), seen: map[string]int{}}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		key := l.secret
		l.mu.Unlock()
		if err := webhook.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("bad signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhook.HeaderID)
		l.mu.Lock()
		l.seen[id]++
		first := l.seen[id] == 1
		l.mu.Unlock()
		if first {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("webhook body: %v", err)
			}
			l.events <- m
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *webhookLog) setSecret(b string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secret = b
}

func (l *webhookLog) deliveryIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id := range l.seen {
		out = append(out, id)
	}
	return out
}

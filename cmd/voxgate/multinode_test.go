package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"voxgate/ids"
	"voxgate/internal/pgtest"
	"voxgate/internal/shared"
	"voxgate/webhook"
)

// cluster is several `voxgate serve` processes on one PostgreSQL database,
// each with its own data folder holding the same copied secrets.
type cluster struct {
	nodes []*node
	store string // the store URL the nodes use (through relay)
	relay *pgtest.Relay
}

type node struct {
	base string
	cmd  *exec.Cmd
	logs *syncLog
}

const (
	kidsPhrase = "kids are talking by the door"
	dogsPhrase = "dogs are sitting by the door"
	// nodeRatePerMinute is each node's per-key limit; the rate case shows
	// it is counted across the nodes.
	nodeRatePerMinute = 30
)

// startCluster runs n nodes. The nodes reach the database through a relay
// that the test can cut, and load the shared models (the anti-spoofing
// detector included: adaptation needs high liveness). The job lease is
// short (a working node renews it), so that a killed node's jobs move on
// within the test.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	models := filepath.Join(shared.Dir(t), "models")
	u, err := url.Parse(pgtest.Fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	relay := pgtest.NewRelay(t, u.Host)
	u.Host = relay.Addr
	c := &cluster{store: u.String(), relay: relay}

	// The operator makes the secrets once and copies them to every node.
	first := filepath.Join(t.TempDir(), "data0")
	files := strings.Fields(string(runCLI(t, "secrets", "init", "--data", first)))
	if len(files) < 2 {
		t.Fatalf("secrets init printed %q", files)
	}
	for i := range n {
		data := first
		if i > 0 {
			data = filepath.Join(t.TempDir(), fmt.Sprintf("data%d", i))
			if err := os.MkdirAll(data, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(data, filepath.Base(f)), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		base, cmd, logs := startServerArgs(t, data, "--store", c.store, "--models", models,
			"--rate-minute", strconv.Itoa(nodeRatePerMinute), "--rate-hour", "0",
			"--job-lease", "5s", "--webhook-allow-private", "--webhook-timeout", "2s")
		c.nodes = append(c.nodes, &node{base: base, cmd: cmd, logs: logs})
	}
	return c
}

// key creates an admin key of tenant acme with the CLI, on the shared store.
func (c *cluster) key(t *testing.T) string {
	t.Helper()
	var created struct{ Key string }
	if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--store", c.store), &created); err != nil {
		t.Fatal(err)
	}
	return created.Key
}

// ravdessTake reads a RAVDESS recording of actor (emotion, intensity,
// statement, repetition).
func ravdessTake(t *testing.T, actor, emotion, intensity, statement, rep int) []byte {
	t.Helper()
	name := fmt.Sprintf("03-01-%02d-%02d-%02d-%02d-%02d.flac", emotion, intensity, statement, rep, actor)
	b, err := os.ReadFile(filepath.Join(shared.Dir(t), "voice-data/corpora/ravdess", fmt.Sprintf("Actor_%02d", actor), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// postForm posts a multipart form with fields and an audio file.
func postForm(t *testing.T, url, key string, fields map[string]string, audio []byte) (int, map[string]any, http.Header) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("audio", "voice.flac")
	fw.Write(audio)
	mw.Close()
	req, _ := http.NewRequest("POST", url, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

// TestThreeNodesShareOneDatabase runs three `voxgate serve` processes on one
// PostgreSQL database and spreads one user's requests over them: every
// answer that must be unique or cumulative is decided by the database, not
// by a node's memory.
func TestThreeNodesShareOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("three servers with the full engine: not under -short")
	}
	c := startCluster(t, 3)
	enrollKey, key := c.key(t), c.key(t)

	// One user enrolled across the three nodes: samples add up.
	if st, body := doJSON(t, "POST", c.nodes[0].base+"/create-profile", enrollKey, map[string]string{"user_id": "actor1"}); st != 201 {
		t.Fatalf("create-profile: %d %v", st, body)
	}
	takes := [][4]int{{1, 1, 1, 1}, {1, 1, 1, 2}, {1, 1, 2, 1}, {1, 1, 2, 2}, {2, 2, 1, 1}, {2, 2, 1, 2}, {2, 2, 2, 1}, {2, 2, 2, 2}, {3, 1, 1, 1}, {3, 1, 2, 1}}
	var last map[string]any
	for i, tk := range takes {
		st, body, _ := postForm(t, c.nodes[i%3].base+"/enroll", enrollKey, map[string]string{"user_id": "actor1"}, ravdessTake(t, 1, tk[0], tk[1], tk[2], tk[3]))
		if st != 200 {
			t.Fatalf("enroll take %d on node %d: %d %v", i, i%3, st, body)
		}
		last = body
	}
	if last["enrolled"] != true || last["samples"] != float64(len(takes)) {
		t.Fatalf("after %d samples on three nodes: %v", len(takes), last)
	}

	t.Run("ReadinessFollowsTheDatabase", func(t *testing.T) { testReadiness(t, c) })
	t.Run("VerificationSettingsChangedOnOneNodeApplyOnEvery", func(t *testing.T) { testSettingsAcrossNodes(t, c, enrollKey) })
	t.Run("ChallengeAnsweredOnAllNodesIsScoredOnceAndItsTokenValidOnce", func(t *testing.T) { testChallengeOnce(t, c, key) })
	t.Run("TemplateAdaptedOnOneNodeIsScoredOnAnother", func(t *testing.T) { testAdaptation(t, c, key) })
	t.Run("FailuresOnDifferentNodesAddUpToOneCooldown", func(t *testing.T) { testCooldown(t, c, key) })
	t.Run("RateLimitIsCountedAcrossNodes", func(t *testing.T) { testRateLimit(t, c, c.key(t)) })
	t.Run("AsyncJobsSurviveANodeKilledMidWay", func(t *testing.T) { testAsyncKill(t, c, c.key(t)) })
}

// testSettingsAcrossNodes changes the tenant's verification settings on one
// node and reads the operating point every node applies from the next
// request on (the learning view reports the threshold verification uses),
// then puts the defaults back for the other subtests.
func testSettingsAcrossNodes(t *testing.T, c *cluster, key string) {
	applied := func(n int) (any, any) {
		st, body := doJSON(t, "GET", c.nodes[n].base+"/v1/user-learning/actor1", key, nil)
		if st != 200 {
			t.Fatalf("node %d learning view: %d %v", n, st, body)
		}
		return body["target_far"], body["threshold"]
	}
	if st, body := doJSON(t, "PUT", c.nodes[0].base+"/v1/settings/verification", key, map[string]any{"target_far": 0.001}); st != 200 {
		t.Fatalf("set on node 0: %d %v", st, body)
	}
	for n := range c.nodes {
		if far, thr := applied(n); far != 0.001 || thr != 4.8917 {
			t.Fatalf("node %d applies target %v, threshold %v after node 0 set 0.001", n, far, thr)
		}
	}
	if st, body := doJSON(t, "PUT", c.nodes[2].base+"/v1/settings/verification", key, map[string]any{}); st != 200 || body["target_far"] != 0.01 {
		t.Fatalf("reset on node 2: %d %v", st, body)
	}
	for n := range c.nodes {
		if far, thr := applied(n); far != 0.01 || thr != 3.342 {
			t.Fatalf("node %d applies target %v, threshold %v after node 2 reset it", n, far, thr)
		}
	}
}

func testReadiness(t *testing.T, c *cluster) {
	ready := func(n *node) int {
		resp, err := http.Get(n.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	c.relay.Cut()
	for i, n := range c.nodes {
		if st := ready(n); st != 503 {
			c.relay.Restore()
			t.Fatalf("node %d /readyz with the database unreachable: %d, want 503", i, st)
		}
	}
	c.relay.Restore()
	deadline := time.Now().Add(30 * time.Second)
	for i, n := range c.nodes {
		for ready(n) != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("node %d did not become ready again after the database came back", i)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func testChallengeOnce(t *testing.T, c *cluster, key string) {
	if st, body := doJSON(t, "PUT", c.nodes[0].base+"/v1/challenge-phrases", key, map[string]any{"phrases": []string{kidsPhrase, dogsPhrase}}); st != 200 {
		t.Fatalf("set phrases: %d %v", st, body)
	}
	st, body := doJSON(t, "POST", c.nodes[1].base+"/start-auth", key, map[string]string{"user_id": "actor1", "mode": "phrases"})
	if st != 200 {
		t.Fatalf("start-auth: %d %v", st, body)
	}
	sid, challenge := body["session_id"].(string), body["challenge"].(string)
	statement := 1
	if challenge == dogsPhrase {
		statement = 2
	}
	answer := ravdessTake(t, 1, 2, 1, statement, 1) // calm, not enrolled

	// The same answer to all three nodes at once.
	type result struct {
		node int
		st   int
		body map[string]any
	}
	results := make(chan result, 3)
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body, _ := postForm(t, n.base+"/verify-voice", key, map[string]string{"session_id": sid, "user_id": "actor1"}, answer)
			results <- result{i, st, body}
		}()
	}
	wg.Wait()
	close(results)
	winner := -1
	var token string
	for r := range results {
		switch {
		case r.st == 200:
			if winner >= 0 {
				t.Fatalf("nodes %d and %d both scored the answer", winner, r.node)
			}
			winner = r.node
			if r.body["decision"] != "accept" || r.body["voiceToken"] == nil {
				t.Fatalf("node %d scored the genuine answer: %v", r.node, r.body)
			}
			token = r.body["voiceToken"].(string)
		case r.st == 410 && r.body["error"] == "session_expired":
		default:
			t.Fatalf("node %d: %d %v", r.node, r.st, r.body)
		}
	}
	if winner < 0 {
		t.Fatal("no node scored the answer")
	}

	// The token validated 100 times at once across the nodes: valid once.
	var valid atomic.Int32
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body := doJSONNoFatal(c.nodes[i%3].base+"/verify-token", key, map[string]string{"token": token})
			if st != 200 {
				t.Errorf("verify-token on node %d: %d %v", i%3, st, body)
			}
			if body["valid"] == true {
				valid.Add(1)
			}
		}()
	}
	wg.Wait()
	if valid.Load() != 1 {
		t.Fatalf("%d of 100 concurrent validations on three nodes were valid, want 1", valid.Load())
	}

	// The answer replayed to a node that did not see it.
	other := c.nodes[(winner+1)%3]
	st, body, _ = postForm(t, other.base+"/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, answer)
	if st != 200 || body["decision"] != "reject" || body["reason"] != "replay_detected" {
		t.Fatalf("replay on node %d after node %d saw the recording: %d %v", (winner+1)%3, winner, st, body)
	}
	resetAttempts(t, c.nodes[2], key)
}

func resetAttempts(t *testing.T, n *node, key string) {
	t.Helper()
	if st, body := doJSON(t, "POST", n.base+"/v1/profiles/actor1/reset-attempts", key, nil); st != 200 {
		t.Fatalf("reset-attempts: %d %v", st, body)
	}
}

func learning(t *testing.T, n *node, key string) map[string]any {
	t.Helper()
	st, body := doJSON(t, "GET", n.base+"/v1/user-learning/actor1", key, nil)
	if st != 200 {
		t.Fatalf("user-learning: %d %v", st, body)
	}
	return body
}

func testAdaptation(t *testing.T, c *cluster, key string) {
	before := learning(t, c.nodes[1], key)
	st, body, _ := postForm(t, c.nodes[0].base+"/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, ravdessTake(t, 1, 3, 1, 1, 2))
	if st != 200 || body["decision"] != "accept" || body["learned"] != true {
		t.Fatalf("a high-confidence genuine take on node 0 did not adapt the template: %d %v", st, body)
	}
	after := learning(t, c.nodes[1], key)
	if after["adaptations"].(float64) != before["adaptations"].(float64)+1 || after["cosine_to_enrolled"] == before["cosine_to_enrolled"] {
		t.Fatalf("node 1 reads the template as before node 0 adapted it: before %v, after %v", before, after)
	}
	// Node 2 scores the next probe against the adapted template: its
	// learning progress is the adapted template's.
	st, body, _ = postForm(t, c.nodes[2].base+"/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, ravdessTake(t, 1, 3, 1, 2, 2))
	if st != 200 || body["decision"] != "accept" || body["learning_progress"] != after["learning_progress"] {
		t.Fatalf("node 2 after node 0's adaptation (progress %v): %d %v", after["learning_progress"], st, body)
	}
}

func testCooldown(t *testing.T, c *cluster, key string) {
	resetAttempts(t, c.nodes[0], key)
	// Five different impostors (actor 3), one node after another.
	impostors := [][4]int{{1, 1, 1, 1}, {1, 1, 2, 1}, {2, 1, 1, 1}, {2, 1, 2, 1}, {3, 1, 1, 1}}
	for i, tk := range impostors {
		n := c.nodes[i%3]
		st, body, _ := postForm(t, n.base+"/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, ravdessTake(t, 3, tk[0], tk[1], tk[2], tk[3]))
		if st != 200 || body["decision"] != "reject" {
			t.Fatalf("impostor %d on node %d: %d %v", i, i%3, st, body)
		}
	}
	n := c.nodes[len(impostors)%3]
	st, body, _ := postForm(t, n.base+"/v1/voice/verify", key, map[string]string{"user_id": "actor1"}, ravdessTake(t, 1, 4, 1, 1, 1))
	if body["decision"] != "cooldown" || body["retryAfterMs"] == nil {
		t.Fatalf("after five failures spread over three nodes, node %d answered %d %v", len(impostors)%3, st, body)
	}
	if s := learning(t, c.nodes[1], key)["standing"].(map[string]any); s["consecutive_failures"] != float64(len(impostors)) {
		t.Fatalf("standing on node 1: %v", s)
	}
	resetAttempts(t, c.nodes[1], key)
}

func testRateLimit(t *testing.T, c *cluster, key string) {
	// Keep the burst inside one minute window.
	if now := time.Now(); now.Truncate(time.Minute).Add(time.Minute).Sub(now) < 15*time.Second {
		time.Sleep(now.Truncate(time.Minute).Add(time.Minute).Sub(now) + time.Second)
	}
	perNode := make([]int, 3)
	for i := range nodeRatePerMinute + 6 {
		// Counted before the audio is looked at: no engine work.
		st, body, hdr := postForm(t, c.nodes[i%3].base+"/v1/voice/verify", key, map[string]string{"user_id": "nobody"}, []byte("not audio"))
		limited := st == 429 && body["error"] == "rate_limited" && hdr.Get("Retry-After") != ""
		if i < nodeRatePerMinute && limited || i >= nodeRatePerMinute && !limited {
			t.Fatalf("request %d (node %d; the nodes had served %v): %d %v", i+1, i%3, perNode, st, body)
		}
		perNode[i%3]++
	}
}

func testAsyncKill(t *testing.T, c *cluster, key string) {
	var (
		mu       sync.Mutex
		secret   string
		held     bool
		seen     = map[string]map[string]bool{} // request_uuid -> delivery ids
		arrivals = make(chan string, 64)
	)
	holding := make(chan int, 1) // the remote port of the held delivery
	release := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		key := secret
		hold := !held
		held = true
		mu.Unlock()
		if err := webhook.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("bad signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		req, _ := m["request_uuid"].(string)
		mu.Lock()
		if seen[req] == nil {
			seen[req] = map[string]bool{}
		}
		seen[req][r.Header.Get(webhook.HeaderID)] = true
		mu.Unlock()
		if hold {
			_, port, _ := net.SplitHostPort(r.RemoteAddr)
			p, _ := strconv.Atoi(port)
			holding <- p
			<-release // its sender is killed while this request is open
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		arrivals <- req
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	defer close(release)

	st, body := doJSON(t, "PUT", c.nodes[0].base+"/organisations/acme/webhook", key, map[string]string{"url": recv.URL + "/hook"})
	if st != 200 {
		t.Fatalf("PUT webhook: %d %v", st, body)
	}
	mu.Lock()
	secret = body["secret"].(string)
	mu.Unlock()

	// Nine verifications, three submitted to each node.
	want := map[string]bool{}
	for i := range 9 {
		req := ids.UUID()
		want[req] = true
		audio := ravdessTake(t, 1, 5+i%4, 1+i/4%2, 1+i%2, 1)
		st, body := doJSON(t, "POST", c.nodes[i%3].base+"/organisations/acme/verifications", key, map[string]any{
			"voice_data": base64.StdEncoding.EncodeToString(audio), "request_uuid": req, "external_id": "actor1", "language": "en-UK",
		})
		if st != 202 {
			t.Fatalf("submission %d to node %d: %d %v", i, i%3, st, body)
		}
	}

	// Kill the node whose delivery the receiver is holding.
	var port int
	select {
	case port = <-holding:
	case <-time.After(2 * time.Minute):
		t.Fatal("no webhook delivery within 2 minutes")
	}
	victim := -1
	for i, n := range c.nodes {
		if ownsLocalPort(n.cmd.Process.Pid, port) {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("no node owns the delivery connection from port %d", port)
	}
	if err := c.nodes[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node %d while it delivered a webhook", victim)

	done := map[string]bool{}
	deadline := time.After(3 * time.Minute) // nine verifications on a loaded machine, and a lease
	for len(done) < len(want) {
		select {
		case req := <-arrivals:
			if !want[req] {
				t.Fatalf("a webhook for an unknown request %q", req)
			}
			done[req] = true
		case <-deadline:
			t.Fatalf("%d of %d webhooks never arrived after node %d was killed", len(want)-len(done), len(want), victim)
		}
	}
	// How many jobs a node lost and another took over (informational: it
	// depends on which jobs the killed node held at that moment).
	if conn, err := pgx.Connect(context.Background(), c.store); err == nil {
		var retaken int
		conn.QueryRow(context.Background(), `SELECT COUNT(*) FROM async_jobs WHERE attempts > 1`).Scan(&retaken)
		conn.Close(context.Background())
		t.Logf("%d of %d jobs were claimed again after node %d died", retaken, len(want), victim)
	}
	mu.Lock()
	defer mu.Unlock()
	for req, deliveries := range seen {
		if len(deliveries) != 1 {
			t.Errorf("request %s arrived under %d delivery ids: %v", req, len(deliveries), deliveries)
		}
	}
}

// doJSONNoFatal is doJSON for goroutines: errors are reported, not fatal.
func doJSONNoFatal(url, key string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"transport_error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// ownsLocalPort reports whether process pid holds the TCP socket bound to
// the loopback port (Linux: /proc/net/tcp* name the socket's inode,
// /proc/PID/fd links to it).
func ownsLocalPort(pid, port int) bool {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		f.Close()
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			return true
		}
	}
	return false
}

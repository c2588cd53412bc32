package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"voxgate/ids"
	"voxgate/webhook"
)

// soakLoad is the soak's clients: several tenants enrolling, verifying,
// answering challenges and submitting async jobs, and the webhook receiver
// that checks every async job comes back.
type soakLoad struct {
	base     string
	speakers []soakSpeaker
	tenants  []*soakTenant
	client   http.Client

	inflight sync.WaitGroup
	open     atomic.Int64

	requests, shed, other5xx, transport, skipped atomic.Int64

	mu        sync.Mutex
	stats     map[string]int  // "op status" -> count
	expected  map[string]bool // async request UUIDs accepted (202)
	delivered map[string]bool // ... whose webhook arrived, signed
	next      int             // user counter for new enrollments
}

type soakTenant struct {
	name, key, hook string
	secret          string
	mu              sync.Mutex
	users           []soakUser // enrolled profiles
}

type soakUser struct {
	id      string
	speaker int
}

// keys creates one admin key per tenant with the binary's own keys command.
func (l *soakLoad) keys(bin string, cfg soakConfig) error {
	for i := range cfg.tenants {
		name := fmt.Sprintf("soak%d", i+1)
		out, err := exec.Command(bin, "keys", "create", "--tenant", name, "--json", "--data", cfg.data).Output()
		if err != nil {
			return fmt.Errorf("keys create: %w", err)
		}
		var k struct{ Key string }
		if err := json.Unmarshal(out, &k); err != nil {
			return err
		}
		l.tenants = append(l.tenants, &soakTenant{name: name, key: k.Key})
	}
	return nil
}

// receiver serves the tenants' webhooks on loopback and records each
// signed delivery's request UUID.
func (l *soakLoad) receiver() (*http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var t *soakTenant
		for _, x := range l.tenants {
			if r.URL.Path == "/hook/"+x.name {
				t = x
			}
		}
		if t == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		t.mu.Lock()
		secret := t.secret
		t.mu.Unlock()
		if webhook.Verify(secret, r.Header, body, time.Now(), 0) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m struct {
			RequestUUID string `json:"request_uuid"`
		}
		json.Unmarshal(body, &m)
		l.mu.Lock()
		l.delivered[m.RequestUUID] = true
		l.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	for _, t := range l.tenants {
		t.hook = "http://" + ln.Addr().String() + "/hook/" + t.name
	}
	go srv.Serve(ln)
	return srv, nil
}

// lost counts accepted async jobs whose webhook has not arrived.
func (l *soakLoad) lost() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id := range l.expected {
		if !l.delivered[id] {
			n++
		}
	}
	return n
}

// setup configures the webhooks and enrolls cfg.users profiles per tenant.
func (l *soakLoad) setup(ctx context.Context, cfg soakConfig) error {
	for _, t := range l.tenants {
		st, body := l.json(ctx, "setup", "PUT", "/organisations/"+t.name+"/webhook", t.key, map[string]string{"url": t.hook})
		if st != http.StatusOK {
			return fmt.Errorf("PUT webhook for %s: %d %v", t.name, st, body)
		}
		secret, _ := body["secret"].(string)
		t.mu.Lock()
		t.secret = secret
		t.mu.Unlock()
		for range cfg.users {
			if !l.enroll(ctx, t) {
				return fmt.Errorf("could not enroll a profile for %s", t.name)
			}
		}
	}
	return nil
}

func (l *soakLoad) resetStats() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats = map[string]int{}
	l.requests.Store(0)
	l.shed.Store(0)
	l.other5xx.Store(0)
	l.transport.Store(0)
}

// capacity measures verifications per second with one client per core,
// closed loop, for d.
func (l *soakLoad) capacity(ctx context.Context, d time.Duration) float64 {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.NumCPU() {
		wg.Go(func() {
			for cctx.Err() == nil {
				if l.verify(cctx) {
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

// generate sends operations open loop at rate per second until ctx ends.
func (l *soakLoad) generate(ctx context.Context, rate float64) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l.open.Load() >= maxInflight {
			l.skipped.Add(1)
			continue
		}
		l.open.Add(1)
		l.inflight.Go(func() {
			defer l.open.Add(-1)
			// Requests in flight finish (or fail) on their own clock.
			octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			switch p := rand.Float64(); {
			case p < 0.45:
				l.verify(octx)
			case p < 0.60:
				l.enroll(octx, l.tenants[rand.IntN(len(l.tenants))])
			case p < 0.80:
				l.challenge(octx)
			default:
				l.async(octx)
			}
		})
	}
}

// pick returns a random tenant and one of its enrolled users.
func (l *soakLoad) pick() (*soakTenant, soakUser) {
	t := l.tenants[rand.IntN(len(l.tenants))]
	t.mu.Lock()
	defer t.mu.Unlock()
	return t, t.users[rand.IntN(len(t.users))]
}

// probe returns one of a speaker's recordings not used for enrollment.
func (l *soakLoad) probe(speaker int) []byte {
	f := l.speakers[speaker].files
	return f[3+rand.IntN(len(f)-3)]
}

// verify sends one verification and reports whether the server scored
// it: a cooldown answer (200, no audio work: the soak's repeated probes are
// replays that run profiles into cooldowns) does not count, or capacity
// would measure the cheap path.
func (l *soakLoad) verify(ctx context.Context) bool {
	t, u := l.pick()
	st, body := l.multipart(ctx, "verify", "/v1/voice/verify", t.key, map[string]string{"user_id": u.id}, l.probe(u.speaker))
	if st == http.StatusLocked { // the soak's impostor-like replays locked it: unlock for more load
		l.json(ctx, "reset", "POST", "/v1/profiles/"+u.id+"/reset-attempts", t.key, nil)
	}
	d, _ := body["decision"].(string)
	return st == http.StatusOK && d != "cooldown"
}

// enroll creates a new profile in t and enrolls it from its speaker's
// first recordings until it is enrolled.
func (l *soakLoad) enroll(ctx context.Context, t *soakTenant) bool {
	l.mu.Lock()
	l.next++
	u := soakUser{id: fmt.Sprintf("user-%d", l.next), speaker: l.next % len(l.speakers)}
	l.mu.Unlock()
	if st, _ := l.json(ctx, "create-profile", "POST", "/create-profile", t.key, map[string]string{"user_id": u.id}); st != http.StatusOK && st != http.StatusCreated {
		return false
	}
	for _, f := range l.speakers[u.speaker].files[:3] {
		st, body := l.multipart(ctx, "enroll", "/enroll", t.key, map[string]string{"user_id": u.id}, f)
		if st == http.StatusConflict { // enrolled before a crash cut the answer
			continue
		}
		if st != http.StatusOK {
			return false
		}
		if e, _ := body["enrolled"].(bool); e {
			t.mu.Lock()
			t.users = append(t.users, u)
			t.mu.Unlock()
			return true
		}
	}
	return false
}

func (l *soakLoad) challenge(ctx context.Context) {
	t, u := l.pick()
	st, body := l.json(ctx, "start-auth", "POST", "/start-auth", t.key, map[string]string{"user_id": u.id, "mode": "digits"})
	sid, _ := body["session_id"].(string)
	if st != http.StatusOK || sid == "" {
		return
	}
	l.multipart(ctx, "verify-voice", "/verify-voice", t.key, map[string]string{"user_id": u.id, "session_id": sid}, l.probe(u.speaker))
}

// async submits a verification and, like a careful client, resubmits the
// same request_uuid until it gets an answer.
func (l *soakLoad) async(ctx context.Context) {
	t, u := l.pick()
	reqUUID := ids.UUID()
	body := map[string]any{"voice_data": base64.StdEncoding.EncodeToString(l.probe(u.speaker)), "request_uuid": reqUUID, "external_id": u.id}
	st, _ := l.json(ctx, "async", "POST", "/organisations/"+t.name+"/verifications", t.key, body)
	if st == http.StatusAccepted {
		l.mu.Lock()
		l.expected[reqUUID] = true
		l.mu.Unlock()
	}
}

func (l *soakLoad) json(ctx context.Context, op, method, path, key string, body any) (int, map[string]any) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	return l.do(ctx, op, func() *http.Request {
		req, _ := http.NewRequestWithContext(ctx, method, l.base+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-api-key", key)
		return req
	})
}

func (l *soakLoad) multipart(ctx context.Context, op, path, key string, fields map[string]string, audio []byte) (int, map[string]any) {
	body, contentType := audioForm(fields, "take.flac", audio)
	return l.do(ctx, op, func() *http.Request {
		req, _ := http.NewRequestWithContext(ctx, "POST", l.base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("x-api-key", key)
		return req
	})
}

// do sends a request, retrying transport errors (the server is down or
// restarting) until ctx ends, and records its status: a 5xx is shed load
// when it is 503 with Retry-After, a failure otherwise.
func (l *soakLoad) do(ctx context.Context, op string, req func() *http.Request) (int, map[string]any) {
	for {
		resp, err := l.client.Do(req())
		if err != nil {
			l.transport.Add(1)
			select {
			case <-ctx.Done():
				l.record(op + " gave up")
				return 0, nil
			case <-time.After(200 * time.Millisecond):
				continue
			}
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			l.transport.Add(1)
			if ctx.Err() != nil {
				l.record(op + " gave up")
				return 0, nil
			}
			continue
		}
		l.requests.Add(1)
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
			l.shed.Add(1)
		case resp.StatusCode >= 500:
			l.other5xx.Add(1)
		}
		l.record(fmt.Sprintf("%s %d", op, resp.StatusCode))
		var out map[string]any
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			json.Unmarshal(raw, &out)
		}
		return resp.StatusCode, out
	}
}

func (l *soakLoad) record(k string) {
	l.mu.Lock()
	l.stats[k]++
	l.mu.Unlock()
}

package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/internal/enginetest"
	"voxgate/internal/shared"
	"voxgate/policy"
	"voxgate/seal"
	"voxgate/store/sqlite"
	"voxgate/webhook"
)

// asyncEnv is a service with the real engine, a sealer and a webhook
// receiver on loopback that checks every signature.
type asyncEnv struct {
	t      *testing.T
	svc    *Service
	db     *sqlite.DB
	actor  voxgate.Actor
	secret string
	recv   *httptest.Server
	events chan map[string]any
	// status, when set, answers each delivery (default 204).
	mu     sync.Mutex
	status func() int
}

func newAsyncEnv(t *testing.T, cfg AsyncConfig) *asyncEnv {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := seal.New(bytes.Repeat([]byte{3}, 32))
	c := DefaultConfig()
	c.RatePerMinute, c.RatePerHour = 0, 0
	c.Degraded = true // enginetest.Engine has no deepfake detector
	cfg.AllowPrivate = true
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	c.Async = cfg
	e := &asyncEnv{t: t, db: db, events: make(chan map[string]any, 100)}
	e.svc = New(db, Options{Engine: enginetest.Engine(t), Sealer: sealer, Config: c})
	e.actor = mustActor(t, e.svc, "acme", voxgate.ScopeAdmin)
	e.recv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(e.secret, r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("delivery with a bad signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		e.mu.Lock()
		st := e.status
		e.mu.Unlock()
		code := http.StatusNoContent
		if st != nil {
			code = st()
		}
		if code/100 == 2 {
			var m map[string]any
			json.Unmarshal(body, &m)
			m["_delivery"] = r.Header.Get(webhook.HeaderID)
			e.events <- m
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(e.recv.Close)
	wh, err := e.svc.SetWebhook(context.Background(), e.actor, "acme", WebhookSettings{URL: e.recv.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	e.secret = wh.Secret
	return e
}

// run starts the workers until the test ends.
func (e *asyncEnv) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.RunAsync(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *asyncEnv) event(timeout time.Duration) map[string]any {
	e.t.Helper()
	select {
	case m := <-e.events:
		return m
	case <-time.After(timeout):
		e.t.Fatal("no webhook delivery arrived")
		return nil
	}
}

func ravdessTake(t *testing.T, actor, emotion, statement, rep int) []byte {
	t.Helper()
	name := fmt.Sprintf("03-01-%02d-01-%02d-%02d-%02d.flac", emotion, statement, rep, actor)
	b, err := os.ReadFile(filepath.Join(shared.Dir(t), "voice-data/corpora/ravdess", fmt.Sprintf("Actor_%02d", actor), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSubmitAsyncSameRequestUUIDIsOneJobUnderConcurrency(t *testing.T) {
	e := newAsyncEnv(t, AsyncConfig{})
	clip := ravdessTake(t, 1, 1, 1, 1)
	req := AsyncRequest{Org: "acme", Kind: voxgate.JobVerify, RequestUUID: ids.UUID(), ExternalID: "alice", Audio: clip}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, jobs := 0, map[string]bool{}
	for range 10 {
		wg.Go(func() {
			res, err := e.svc.SubmitAsync(context.Background(), e.actor, req)
			if err != nil {
				t.Errorf("SubmitAsync: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			jobs[res.JobID] = true
			if res.Created {
				created++
			}
			if res.CallbackURL != e.recv.URL+"/hook" {
				t.Errorf("callback_url %q", res.CallbackURL)
			}
		})
	}
	wg.Wait()
	if created != 1 || len(jobs) != 1 {
		t.Fatalf("10 submissions of one request_uuid: %d created, %d jobs", created, len(jobs))
	}
	// The same UUID for another user is a conflict, not a second job.
	other := req
	other.ExternalID = "bob"
	if _, err := e.svc.SubmitAsync(context.Background(), e.actor, other); code(err) != voxgate.ECONFLICT {
		t.Fatalf("reused request_uuid for another user: %v", err)
	}
	if n, _ := e.db.CountPendingJobs(context.Background(), e.actor.TenantID); n != 1 {
		t.Fatalf("pending jobs = %d", n)
	}
}

func TestAsyncJobOfACrashedWorkerIsRedoneAfterItsLease(t *testing.T) {
	e := newAsyncEnv(t, AsyncConfig{})
	ctx := context.Background()
	reqUUID := ids.UUID()
	if _, err := e.svc.SubmitAsync(ctx, e.actor, AsyncRequest{Org: "acme", Kind: voxgate.JobVerify, RequestUUID: reqUUID,
		ExternalID: "ghost", Audio: ravdessTake(t, 1, 1, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	// A worker claims the job with a short lease and dies.
	// The lease runs from the time given to the claim, so the check measures
	// from there: measured from after the call, a slow claim (SQLite under the
	// race detector on a busy machine) would eat into the margin.
	claimedAt := time.Now()
	claimed, err := e.db.ClaimJobs(ctx, claimedAt, 300*time.Millisecond, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	e.run()
	ev := e.event(20 * time.Second)
	if took := time.Since(claimedAt); took < 290*time.Millisecond {
		t.Fatalf("job redone %v after the claim, inside its 300 ms lease", took)
	}
	if ev["event_type"] != EventVerificationCompleted || ev["request_uuid"] != reqUUID || ev["result"] != ResultRejected ||
		ev["reason"] != voxgate.EPROFILENOTFOUND || ev["external_id"] != "ghost" {
		t.Fatalf("event %v", ev)
	}
	j, err := e.db.FindJob(ctx, e.actor.TenantID, reqUUID)
	if err != nil || j.Status != voxgate.JobDone || j.Audio != nil || j.Attempts != 2 {
		t.Fatalf("job after redo: %+v %v", j, err)
	}
}

func TestAsyncDeletedProfileDropsQueuedAudio(t *testing.T) {
	e := newAsyncEnv(t, AsyncConfig{})
	ctx := context.Background()
	if _, _, err := e.svc.CreateProfile(ctx, e.actor, "carol"); err != nil {
		t.Fatal(err)
	}
	reqUUID := ids.UUID()
	if _, err := e.svc.SubmitAsync(ctx, e.actor, AsyncRequest{Org: "acme", Kind: voxgate.JobEnroll, RequestUUID: reqUUID,
		ExternalID: "carol", Audio: ravdessTake(t, 1, 1, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteProfile(ctx, e.actor, "carol"); err != nil {
		t.Fatal(err)
	}
	e.run()
	ev := e.event(20 * time.Second)
	if ev["event_type"] != EventEnrollmentCompleted || ev["result"] != ResultRejected || ev["reason"] != "profile_deleted" {
		t.Fatalf("event %v", ev)
	}
	if _, err := e.svc.Profile(ctx, e.actor, "carol"); code(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("the deleted profile came back: %v", err)
	}
}

func TestVerificationResultMapsEveryDecision(t *testing.T) {
	for decision, want := range map[string]string{
		policy.Accept: ResultVerified, policy.Retry: ResultInconclusive, policy.Reject: ResultRejected, policy.Cooldown: ResultRejected,
	} {
		if got := verificationResult(decision); got != want {
			t.Errorf("verificationResult(%s) = %s, want %s", decision, got, want)
		}
	}
}

func TestRefusalsAreInconclusiveOnlyForUnusableAudio(t *testing.T) {
	s := &Service{now: time.Now}
	j := &voxgate.Job{Kind: voxgate.JobVerify, RequestUUID: "r", UserID: "u", CreatedAt: time.Now()}
	for code, want := range map[string]string{
		voxgate.ETOONOISY: ResultInconclusive, voxgate.EAUDIOTOOSHORT: ResultInconclusive, voxgate.ENOSPEECH: ResultInconclusive,
		voxgate.EUNSUPPORTEDFORMAT: ResultInconclusive, voxgate.EPROFILENOTFOUND: ResultRejected,
		voxgate.EENROLLINCOMPLETE: ResultRejected, voxgate.ELOCKED: ResultRejected,
	} {
		out := s.refusedOutcome(j, voxgate.Errorf(code, "x"), "")
		ev := out.payload.(*VerificationEvent)
		if ev.Result != want || ev.Reason != code || out.event != EventVerificationCompleted {
			t.Errorf("%s: %+v", code, ev)
		}
	}
}

func TestSetWebhookRefusesInternalTargetsUnlessAllowed(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sealer, _ := seal.New(bytes.Repeat([]byte{3}, 32))
	s := New(db, Options{Sealer: sealer})
	a := mustActor(t, s, "acme", voxgate.ScopeAdmin)
	ctx := context.Background()
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://169.254.169.254/latest", "http://10.1.2.3/",
		"http://localhost/hook", "http://100.64.0.1/", "ftp://example.com/", "not a url"} {
		if _, err := s.SetWebhook(ctx, a, "acme", WebhookSettings{URL: u}); code(err) != voxgate.EINVALID {
			t.Errorf("SetWebhook(%s) = %v, want validation_error", u, err)
		}
	}
	if _, err := s.Webhook(ctx, a, "acme"); code(err) != voxgate.ENOTFOUND {
		t.Fatalf("a refused URL was stored: %v", err)
	}
	if _, err := s.SetWebhook(ctx, a, "acme", WebhookSettings{URL: "http://93.184.216.34/hook", Secret: "short", Signature: "legacy"}); code(err) != voxgate.EINVALID {
		t.Fatalf("short secret: %v", err)
	}
	w, err := s.SetWebhook(ctx, a, "acme", WebhookSettings{URL: "http://93.184.216.34/hook", Secret: "a-caller-chosen-secret", Signature: "legacy"})
	if err != nil || w.Secret != "" {
		t.Fatalf("caller's secret echoed or refused: %+v %v", w, err)
	}
	stored, _ := db.FindWebhook(ctx, a.TenantID)
	if bytes.Contains(stored.Secret, []byte("a-caller-chosen-secret")) {
		t.Fatal("webhook secret stored in plaintext")
	}
	verifier := mustActor(t, s, "acme", voxgate.ScopeVerify)
	if _, err := s.SetWebhook(ctx, verifier, "acme", WebhookSettings{URL: "http://93.184.216.34/hook"}); code(err) != voxgate.EFORBIDDEN {
		t.Fatalf("verify-scope key configured the webhook: %v", err)
	}
	other := mustActor(t, s, "globex", voxgate.ScopeAdmin)
	if _, err := s.SetWebhook(ctx, other, "acme", WebhookSettings{URL: "http://93.184.216.34/hook"}); code(err) != voxgate.ENOTFOUND {
		t.Fatalf("another organisation's key: %v", err)
	}
}

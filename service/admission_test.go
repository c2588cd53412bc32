package service

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"voxgate"
	"voxgate/store/sqlite"
	"voxgate/voicetoken"
)

// TestBusyNodeRefusesWith503AndKeepsTheChallenge: with every analysis slot
// taken, an answer to a challenge is refused with EUNAVAILABLE and a
// Retry-After, and its session is not consumed, so the client's retry can
// still use it.
func TestBusyNodeRefusesWith503AndKeepsTheChallenge(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tokens, err := voicetoken.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Budget = BudgetConfig{Analyses: 1, Wait: 20 * time.Millisecond, RetryAfter: 3 * time.Second}
	svc := New(db, Options{Tokens: tokens, Config: c})
	a := mustActor(t, svc, "acme", voxgate.ScopeAdmin)
	now := time.Now().UTC()
	if _, _, err := db.CreateProfile(ctx, a.TenantID, "alice", now); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, a.TenantID, &voxgate.Session{ID: "s1", UserID: "alice", Mode: "digits", Challenge: "1 2 3",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	release, err := svc.analysis(ctx) // another request holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.VerifyVoice(ctx, a, "s1", "alice", []byte("RIFF"))
	var e *voxgate.Error
	if voxgate.ErrorCode(err) != voxgate.EUNAVAILABLE || !errors.As(err, &e) || e.RetryAfter != 3*time.Second {
		t.Fatalf("answer on a busy node: %v, want EUNAVAILABLE with a 3 s Retry-After", err)
	}
	release()
	if _, err := db.ConsumeSession(ctx, a.TenantID, "s1", time.Now()); err != nil {
		t.Fatalf("the refused answer consumed the session: %v", err)
	}
	// The audio budget refuses the same way once spent.
	c.Budget = BudgetConfig{AudioBytes: decodedBytes + 100, Wait: 20 * time.Millisecond}
	svc = New(db, Options{Config: c})
	r1, err := svc.AdmitAudio(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AdmitAudio(ctx, 1); voxgate.ErrorCode(err) != voxgate.EUNAVAILABLE {
		t.Fatalf("second upload over the budget: %v", err)
	}
	r1()
	r2, err := svc.AdmitAudio(ctx, 1)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	r2()
}

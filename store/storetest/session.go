package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
)

func runSessions(t *testing.T, open func(t *testing.T) voxgate.Store) {
	t.Run("SessionIsConsumedOnceUnderConcurrency", func(t *testing.T) { testSessionOnce(t, open(t)) })
	t.Run("TokenIsConsumedOnceUnderConcurrency", func(t *testing.T) { testTokenOnce(t, open(t)) })
	t.Run("ChallengePhrasesPerTenant", func(t *testing.T) { testPhrases(t, open(t)) })
}

func testSessionOnce(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC().Truncate(time.Millisecond)
	ss := &voxgate.Session{ID: ids.UUID(), UserID: "alice", Mode: "words", Challenge: "silver bridge 19", CreatedAt: now, ExpiresAt: now.Add(2 * time.Minute)}
	if err := s.CreateSession(ctx, a.ID, ss); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeSession(ctx, b.ID, ss.ID, now); voxgate.ErrorCode(err) != voxgate.ESESSIONNOTFOUND {
		t.Fatalf("another tenant consumed the session: %v", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.ConsumeSession(ctx, a.ID, ss.ID, now)
			switch voxgate.ErrorCode(err) {
			case "":
				if got.Challenge != "silver bridge 19" || got.UserID != "alice" {
					t.Errorf("consumed %+v", got)
				}
				wins.Add(1)
			case voxgate.ESESSIONEXPIRED:
			default:
				t.Errorf("ConsumeSession: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d consumers won, want 1", wins.Load())
	}
	old := &voxgate.Session{ID: ids.UUID(), UserID: "alice", Mode: "digits", Challenge: "1234", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
	s.CreateSession(ctx, a.ID, old)
	if _, err := s.ConsumeSession(ctx, a.ID, old.ID, now); voxgate.ErrorCode(err) != voxgate.ESESSIONEXPIRED {
		t.Fatalf("expired session consumed: %v", err)
	}
	if recent, _ := s.RecentChallenges(ctx, a.ID, "alice", 10); len(recent) != 2 || recent[0] != "silver bridge 19" {
		t.Fatalf("recent challenges %v", recent)
	}
	if n, err := s.SweepSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("sweep removed %d, %v", n, err)
	}
	if _, err := s.ConsumeSession(ctx, a.ID, old.ID, now); voxgate.ErrorCode(err) != voxgate.ESESSIONNOTFOUND {
		t.Fatalf("swept session: %v", err)
	}
}

func testTokenOnce(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := time.Now().UTC().Truncate(time.Millisecond)
	tok := &voxgate.VoiceToken{JTI: ids.UUID(), UserID: "alice", SessionID: "s", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateVoiceToken(ctx, a.ID, tok); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.ConsumeVoiceToken(ctx, a.ID, tok.JTI, now); err == nil {
				wins.Add(1)
			} else if voxgate.ErrorCode(err) != voxgate.ESESSIONEXPIRED {
				t.Errorf("ConsumeVoiceToken: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d validations won, want 1", wins.Load())
	}
	if _, err := s.ConsumeVoiceToken(ctx, a.ID, "nope", now); voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		t.Fatalf("unknown token: %v", err)
	}
}

func testPhrases(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	if p, err := s.ChallengePhrases(ctx, a.ID); err != nil || len(p) != 0 {
		t.Fatalf("no phrases yet: %v %v", p, err)
	}
	s.SetChallengePhrases(ctx, a.ID, []string{"one two", "three four"}, time.Now())
	s.SetChallengePhrases(ctx, a.ID, []string{"kids are talking by the door", "dogs are sitting by the door"}, time.Now())
	if p, _ := s.ChallengePhrases(ctx, a.ID); len(p) != 2 || p[0] != "kids are talking by the door" {
		t.Fatalf("phrases %v", p)
	}
	if p, _ := s.ChallengePhrases(ctx, b.ID); len(p) != 0 {
		t.Fatal("tenant b sees tenant a's phrases")
	}
}

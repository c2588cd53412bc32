package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"voxgate"
)

func runLimits(t *testing.T, open func(t *testing.T) voxgate.Store) {
	t.Run("StandingUpdatesAreSerialised", func(t *testing.T) { testStanding(t, open(t)) })
	t.Run("RequestCountsAreExact", func(t *testing.T) { testCountRequest(t, open(t)) })
}

func testStanding(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	inc := func(st voxgate.Standing) (voxgate.Standing, error) { st.Failures++; return st, nil }
	if _, err := s.UpdateStanding(ctx, a.ID, "alice", inc); voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("standing of a missing profile: %v", err)
	}
	s.CreateProfile(ctx, a.ID, "alice", time.Now())
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateStanding(ctx, a.ID, "alice", inc); err != nil {
				t.Errorf("UpdateStanding: %v", err)
			}
		}()
	}
	wg.Wait()
	st, err := s.FindStanding(ctx, a.ID, "alice")
	if err != nil || st.Failures != 40 {
		t.Fatalf("after 40 concurrent increments: %+v %v", st, err)
	}
	until := time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	s.UpdateStanding(ctx, a.ID, "alice", func(st voxgate.Standing) (voxgate.Standing, error) {
		st.CooldownUntil, st.Locked = until, true
		return st, nil
	})
	boom := errors.New("boom")
	if _, err := s.UpdateStanding(ctx, a.ID, "alice", func(voxgate.Standing) (voxgate.Standing, error) { return voxgate.Standing{}, boom }); err != boom {
		t.Fatalf("fn error not returned: %v", err)
	}
	st, _ = s.FindStanding(ctx, a.ID, "alice")
	if !st.Locked || !st.CooldownUntil.Equal(until) || st.Failures != 40 {
		t.Fatalf("standing %+v after an aborted update", st)
	}
}

func testCountRequest(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	w := time.Now().Truncate(time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.CountRequest(ctx, "k1", "minute", w, w.Add(-time.Hour)); err != nil {
				t.Errorf("CountRequest: %v", err)
			}
		}()
	}
	wg.Wait()
	n, err := s.CountRequest(ctx, "k1", "minute", w, w.Add(-time.Hour))
	if err != nil || n != 51 {
		t.Fatalf("count after 51 requests = %d, %v", n, err)
	}
	if n, _ := s.CountRequest(ctx, "k2", "minute", w, w); n != 1 {
		t.Fatalf("another key's count = %d", n)
	}
	if n, _ := s.CountRequest(ctx, "k1", "minute", w.Add(time.Minute), w); n != 1 {
		t.Fatalf("next window's count = %d", n)
	}
}

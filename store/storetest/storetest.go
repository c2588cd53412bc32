// Package storetest is the conformance suite every voxgate.Store must pass:
// the SQLite store (store/sqlite) and the PostgreSQL store (store/postgres)
// run the same tests, so the service layer can rely on one behaviour.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
)

// Run runs the whole suite. open returns a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) voxgate.Store) {
	t.Run("TenantsAreUniqueByName", func(t *testing.T) { testTenants(t, open(t)) })
	t.Run("KeysAreScopedToTheirTenant", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("ProfilesAreIsolatedByTenant", func(t *testing.T) { testProfileIsolation(t, open(t)) })
	t.Run("ConcurrentCreateProfileMakesOneRow", func(t *testing.T) { testConcurrentCreate(t, open(t)) })
	t.Run("DeleteProfileRemovesIt", func(t *testing.T) { testDelete(t, open(t)) })
	runBiometric(t, open)
	runLimits(t, open)
	runSessions(t, open)
	runQueue(t, open)
	runGallery(t, open)
	runVerification(t, open)
	t.Run("DeleteProfileErasesTheUserEverywhere", func(t *testing.T) { testErasure(t, open(t)) })
}

// MustTenant creates a tenant named name.
func MustTenant(t *testing.T, s voxgate.Store, name string) *voxgate.Tenant {
	t.Helper()
	tn := &voxgate.Tenant{ID: ids.UUID(), Name: name, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := s.CreateTenant(context.Background(), tn); err != nil {
		t.Fatalf("CreateTenant(%s): %v", name, err)
	}
	return tn
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := voxgate.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func testTenants(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "acme")
	err := s.CreateTenant(ctx, &voxgate.Tenant{ID: ids.UUID(), Name: "acme", CreatedAt: time.Now()})
	wantCode(t, err, voxgate.ECONFLICT)
	for _, ref := range []string{a.ID, "acme"} {
		got, err := s.FindTenant(ctx, ref)
		if err != nil || got.ID != a.ID || got.Name != "acme" || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("FindTenant(%q) = %+v, %v; want %+v", ref, got, err, a)
		}
	}
	_, err = s.FindTenant(ctx, "nobody")
	wantCode(t, err, voxgate.ENOTFOUND)
}

func testKeys(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := &voxgate.APIKey{ID: "k1", TenantID: a.ID, Scope: voxgate.ScopeVerify, Hash: []byte{1, 2, 3}, CreatedAt: now}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindAPIKey(ctx, "k1")
	if err != nil || got.TenantID != a.ID || got.Scope != voxgate.ScopeVerify || string(got.Hash) != "\x01\x02\x03" || got.RevokedAt != nil {
		t.Fatalf("FindAPIKey = %+v, %v", got, err)
	}
	if list, _ := s.ListAPIKeys(ctx, b.ID); len(list) != 0 {
		t.Fatalf("tenant b sees %d keys of tenant a", len(list))
	}
	wantCode(t, s.RevokeAPIKey(ctx, b.ID, "k1", now), voxgate.ENOTFOUND)
	if err := s.RevokeAPIKey(ctx, a.ID, "k1", now); err != nil {
		t.Fatal(err)
	}
	got, _ = s.FindAPIKey(ctx, "k1")
	if got.RevokedAt == nil || got.Active(now) {
		t.Fatalf("revoked key still active: %+v", got)
	}
	_, err = s.FindAPIKey(ctx, "missing")
	wantCode(t, err, voxgate.ENOTFOUND)
}

func testProfileIsolation(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now()
	p, created, err := s.CreateProfile(ctx, a.ID, "alice", now)
	if err != nil || !created || p.UserID != "alice" || p.Enrolled() {
		t.Fatalf("CreateProfile = %+v, %v, %v", p, created, err)
	}
	if _, created, _ := s.CreateProfile(ctx, a.ID, "alice", now); created {
		t.Fatal("second CreateProfile reported created")
	}
	_, err = s.FindProfile(ctx, b.ID, "alice")
	wantCode(t, err, voxgate.EPROFILENOTFOUND)
	wantCode(t, s.DeleteProfile(ctx, b.ID, "alice", ""), voxgate.EPROFILENOTFOUND)
	if _, err := s.FindProfile(ctx, a.ID, "alice"); err != nil {
		t.Fatalf("tenant b's delete touched tenant a: %v", err)
	}
	// The same user_id in tenant b is a different profile.
	if _, created, err := s.CreateProfile(ctx, b.ID, "alice", now); err != nil || !created {
		t.Fatalf("tenant b CreateProfile(alice) created=%v err=%v", created, err)
	}
}

func testConcurrentCreate(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[string]int{}
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := "same"
			if i%2 == 1 {
				id = fmt.Sprintf("user-%d", i)
			}
			_, c, err := s.CreateProfile(ctx, a.ID, id, time.Now())
			if err != nil {
				errs <- err
				return
			}
			if c {
				mu.Lock()
				created[id]++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent CreateProfile: %v", err)
	}
	if len(created) != 51 {
		t.Fatalf("created %d distinct profiles, want 51", len(created))
	}
	for id, n := range created {
		if n != 1 {
			t.Fatalf("profile %q created %d times", id, n)
		}
	}
}

func testDelete(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	if _, _, err := s.CreateProfile(ctx, a.ID, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx, a.ID, "bob", ""); err != nil {
		t.Fatal(err)
	}
	_, err := s.FindProfile(ctx, a.ID, "bob")
	wantCode(t, err, voxgate.EPROFILENOTFOUND)
	wantCode(t, s.DeleteProfile(ctx, a.ID, "bob", ""), voxgate.EPROFILENOTFOUND)
}

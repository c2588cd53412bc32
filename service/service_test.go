package service

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"voxgate"
	"voxgate/store/sqlite"
)

func newService(t *testing.T) *Service {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, Options{})
}

func mustActor(t *testing.T, s *Service, tenant string, scope voxgate.Scope) voxgate.Actor {
	t.Helper()
	ctx := context.Background()
	nk, err := s.CreateKey(ctx, tenant, scope, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Authenticate(ctx, nk.Key)
	if err != nil {
		t.Fatalf("Authenticate(new key): %v", err)
	}
	return a
}

func code(err error) string { return voxgate.ErrorCode(err) }

func TestAuthenticateRejectsEveryBadKeyAlike(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	nk, err := s.CreateKey(ctx, "acme", voxgate.ScopeAdmin, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(nk.Key, "vg_") || nk.Record.Hash == nil {
		t.Fatalf("key %q record %+v", nk.Key, nk.Record)
	}
	tampered := nk.Key[:len(nk.Key)-1] + map[bool]string{true: "a", false: "b"}[nk.Key[len(nk.Key)-1] != 'a']
	for _, raw := range []string{"", "garbage", "vg_short_x", tampered, "vg_" + strings.Repeat("a", 12) + "_" + strings.Repeat("b", 43)} {
		_, err := s.Authenticate(ctx, raw)
		if code(err) != voxgate.EUNAUTHORIZED || voxgate.ErrorMessage(err) != "Invalid or inactive API key" {
			t.Errorf("Authenticate(%q) = %v, want unauthorized", raw, err)
		}
	}
	if err := s.RevokeKey(ctx, "acme", nk.Record.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, nk.Key); code(err) != voxgate.EUNAUTHORIZED {
		t.Fatalf("revoked key authenticated: %v", err)
	}
}

func TestExpiredKeyIsRejected(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	nk, err := s.CreateKey(ctx, "acme", voxgate.ScopeVerify, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := s.Authenticate(ctx, nk.Key); code(err) != voxgate.EUNAUTHORIZED {
		t.Fatalf("expired key authenticated: %v", err)
	}
}

func TestProfilesAreInvisibleAcrossTenants(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	a := mustActor(t, s, "tenant-a", voxgate.ScopeAdmin)
	b := mustActor(t, s, "tenant-b", voxgate.ScopeAdmin)
	if _, created, err := s.CreateProfile(ctx, a, "alice"); err != nil || !created {
		t.Fatalf("CreateProfile: created=%v err=%v", created, err)
	}
	if _, err := s.Profile(ctx, b, "alice"); code(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("tenant b read tenant a's profile: %v", err)
	}
	if err := s.DeleteProfile(ctx, b, "alice"); code(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("tenant b deleted tenant a's profile: %v", err)
	}
	if _, err := s.Profile(ctx, a, "alice"); err != nil {
		t.Fatalf("profile gone after tenant b's attempts: %v", err)
	}
}

func TestConfinedActorCannotTouchAnotherUser(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	a := mustActor(t, s, "acme", voxgate.ScopeVerify)
	a.Subject = "alice"
	if _, _, err := s.CreateProfile(ctx, a, "bob"); code(err) != voxgate.EFORBIDDEN {
		t.Fatalf("confined actor created another user's profile: %v", err)
	}
	if _, _, err := s.CreateProfile(ctx, a, "alice"); err != nil {
		t.Fatalf("confined actor on own profile: %v", err)
	}
}

func TestCreateProfileValidatesUserID(t *testing.T) {
	s := newService(t)
	a := mustActor(t, s, "acme", voxgate.ScopeVerify)
	for _, id := range []string{"", strings.Repeat("x", 129), string([]byte{0xff})} {
		if _, _, err := s.CreateProfile(context.Background(), a, id); code(err) != voxgate.EINVALID {
			t.Errorf("CreateProfile(%q) = %v, want validation_error", id, err)
		}
	}
	for _, id := range []string{"tab\there", "nl\n", "\x7f", "rtl\u202eoverride", "zero\u200bwidth"} {
		if _, _, err := s.CreateProfile(context.Background(), a, id); code(err) != voxgate.EINVALIDUSERID {
			t.Errorf("CreateProfile(%q) = %v, want invalid_user_id", id, err)
		}
	}
	for _, id := range []string{"a", strings.Repeat("é", 128), "user@example.com", "Ünïcødé 名前"} {
		if _, _, err := s.CreateProfile(context.Background(), a, id); err != nil {
			t.Errorf("CreateProfile(%q) = %v", id, err)
		}
	}
}

func TestCreateKeyRejectsBadTenantAndScope(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	if _, err := s.CreateKey(ctx, "bad name!", voxgate.ScopeAdmin, "", 0); code(err) != voxgate.EINVALID {
		t.Errorf("bad tenant name: %v", err)
	}
	if _, err := s.CreateKey(ctx, "acme", "root", "", 0); code(err) != voxgate.EINVALID {
		t.Errorf("bad scope: %v", err)
	}
}

// TestDeletionPseudonymisesTheAuditLogWhenSalted deletes a profile with and
// without the operator's audit salt: with it, the kept audit rows name a
// salted hash instead of the user; without it, the user id.
func TestDeletionPseudonymisesTheAuditLogWhenSalted(t *testing.T) {
	ctx := context.Background()
	for _, salt := range [][]byte{nil, []byte("operator-salt-0123456789abcdef01")} {
		s := newService(t)
		s.cfg.AuditSalt = salt
		admin := mustActor(t, s, "acme", voxgate.ScopeAdmin)
		if _, _, err := s.CreateProfile(ctx, admin, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.store.RecordAttempt(ctx, admin.TenantID, &voxgate.Attempt{ID: "a1", UserID: "alice", KeyID: admin.KeyID,
			CreatedAt: time.Now(), Kind: "verify", Decision: "accept", Detail: "{}"}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteProfile(ctx, admin, "alice"); err != nil {
			t.Fatal(err)
		}
		named, _ := s.Audit(ctx, admin, "alice", 10)
		pseudonym := s.AuditPseudonym(admin.TenantID, "alice")
		switch {
		case salt == nil && (pseudonym != "" || len(named) != 1):
			t.Errorf("without a salt: pseudonym %q, %d rows name alice; want none and 1", pseudonym, len(named))
		case salt != nil:
			kept, _ := s.Audit(ctx, admin, pseudonym, 10)
			if len(named) != 0 || len(kept) != 1 || !strings.HasPrefix(pseudonym, "anon-") || len(pseudonym) != 37 {
				t.Errorf("with a salt: %d rows name alice, %d name %q; want 0 and 1", len(named), len(kept), pseudonym)
			}
			if other := s.AuditPseudonym("another-tenant", "alice"); other == pseudonym {
				t.Error("the pseudonym links one user id across tenants")
			}
		}
	}
}

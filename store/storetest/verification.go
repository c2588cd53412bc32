package storetest

import (
	"context"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
)

func runVerification(t *testing.T, open func(t *testing.T) voxgate.Store) {
	t.Run("VerificationSettingsPerTenantWithTheirAuditRow", func(t *testing.T) { testVerificationSettings(t, open(t)) })
	t.Run("VerificationSettingsAndAuditRowAreOneWrite", func(t *testing.T) { testVerificationSettingsAtomic(t, open(t)) })
}

func settingsAudit(at time.Time) *voxgate.Attempt {
	return &voxgate.Attempt{ID: ids.UUID(), KeyID: "admin-key", CreatedAt: at, Kind: "settings", Decision: "updated", Detail: `{"settings":"verification"}`}
}

func testVerificationSettings(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC().Truncate(time.Millisecond)
	if st, err := s.VerificationSettings(ctx, a.ID); err != nil || st != (voxgate.VerificationSettings{}) {
		t.Fatalf("unset: %+v %v", st, err)
	}
	want := voxgate.VerificationSettings{TargetFAR: 0.001, Liveness: voxgate.LivenessSettings{Mode: voxgate.LivenessFlag, MaxBPCER: 0.05}}
	for _, st := range []voxgate.VerificationSettings{{TargetFAR: 0.02}, want} {
		if err := s.SetVerificationSettings(ctx, a.ID, st, settingsAudit(now)); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.VerificationSettings(ctx, a.ID); err != nil || st != want {
		t.Fatalf("a: %+v %v, want %+v", st, err, want)
	}
	if st, _ := s.VerificationSettings(ctx, b.ID); st != (voxgate.VerificationSettings{}) {
		t.Fatalf("b sees a's settings: %+v", st)
	}
	rows, err := s.ListAttempts(ctx, a.ID, "", 10)
	if err != nil || len(rows) != 2 || rows[0].Kind != "settings" || rows[0].KeyID != "admin-key" || rows[0].Detail != `{"settings":"verification"}` {
		t.Fatalf("audit rows of a: %+v %v", rows, err)
	}
	if rows, _ := s.ListAttempts(ctx, b.ID, "", 10); len(rows) != 0 {
		t.Fatalf("audit rows of b: %+v", rows)
	}
	for _, bad := range []struct {
		st   voxgate.VerificationSettings
		code string
	}{
		{voxgate.VerificationSettings{TargetFAR: 1}, voxgate.EINVALIDTARGETFAR},
		{voxgate.VerificationSettings{TargetFAR: -0.01}, voxgate.EINVALIDTARGETFAR},
		{voxgate.VerificationSettings{Liveness: voxgate.LivenessSettings{Mode: "off"}}, voxgate.EINVALIDLIVENESSMODE},
		{voxgate.VerificationSettings{Liveness: voxgate.LivenessSettings{MaxBPCER: 1.5}}, voxgate.EINVALIDLIVENESSBPCER},
	} {
		wantCode(t, s.SetVerificationSettings(ctx, a.ID, bad.st, settingsAudit(now)), bad.code)
	}
	if st, _ := s.VerificationSettings(ctx, a.ID); st != want {
		t.Fatalf("a refused write changed the settings: %+v", st)
	}
	if rows, _ := s.ListAttempts(ctx, a.ID, "", 10); len(rows) != 2 {
		t.Fatalf("a refused write left %d audit rows, want 2", len(rows))
	}
}

// A change whose audit row cannot be written is not applied: here the
// row's id is taken.
func testVerificationSettingsAtomic(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := time.Now().UTC().Truncate(time.Millisecond)
	first := settingsAudit(now)
	if err := s.SetVerificationSettings(ctx, a.ID, voxgate.VerificationSettings{TargetFAR: 0.005}, first); err != nil {
		t.Fatal(err)
	}
	dup := settingsAudit(now)
	dup.ID = first.ID
	if err := s.SetVerificationSettings(ctx, a.ID, voxgate.VerificationSettings{TargetFAR: 0.05}, dup); err == nil {
		t.Fatal("a duplicate audit id was accepted")
	}
	if st, _ := s.VerificationSettings(ctx, a.ID); st.TargetFAR != 0.005 {
		t.Fatalf("settings changed without their audit row: %+v", st)
	}
}

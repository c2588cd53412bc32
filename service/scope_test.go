package service

import (
	"context"
	"testing"
	"time"

	"voxgate"
)

// TestScopesAreCheckedNextToTheData calls the service directly, as any
// future face would, with each confined kind of actor: the refusals must
// not depend on the HTTP layer's route lists.
func TestScopesAreCheckedNextToTheData(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	admin := mustActor(t, s, "acme", voxgate.ScopeAdmin)
	verify := mustActor(t, s, "acme", voxgate.ScopeVerify)
	enrollCT := voxgate.Actor{TenantID: admin.TenantID, KeyID: verify.KeyID, Scope: voxgate.ScopeVerify, Subject: "alice", Flow: FlowEnroll}
	challengeCT := enrollCT
	challengeCT.Flow = FlowChallenge
	endUser := voxgate.Actor{TenantID: admin.TenantID, KeyID: "jwt:user:" + admin.TenantID + ":alice", Scope: voxgate.ScopeVerify, Subject: "alice"}

	calls := map[string]func(voxgate.Actor) error{
		"DeleteProfile": func(a voxgate.Actor) error { return s.DeleteProfile(ctx, a, "alice") },
		"UserLearning":  func(a voxgate.Actor) error { _, err := s.UserLearning(ctx, a, "alice"); return err },
		"CreateProfile": func(a voxgate.Actor) error { _, _, err := s.CreateProfile(ctx, a, "alice"); return err },
		"Profile":       func(a voxgate.Actor) error { _, err := s.Profile(ctx, a, "alice"); return err },
		"Enroll":        func(a voxgate.Actor) error { _, err := s.Enroll(ctx, a, "alice", []byte("x")); return err },
		"Verify": func(a voxgate.Actor) error {
			_, err := s.Verify(ctx, a, VerifyRequest{UserID: "alice", Audio: []byte("x")})
			return err
		},
		"StartAuth":   func(a voxgate.Actor) error { _, err := s.StartAuth(ctx, a, "alice", ""); return err },
		"VerifyToken": func(a voxgate.Actor) error { _, err := s.VerifyToken(ctx, a, "x.y.z"); return err },
		"Usage":       func(a voxgate.Actor) error { _, err := s.Usage(ctx, a, time.Hour); return err },
		"VoiceIDEnroll": func(a voxgate.Actor) error {
			_, err := s.VoiceIDEnroll(ctx, a, "alice", []byte("x"))
			return err
		},
		"Identify": func(a voxgate.Actor) error {
			_, err := s.Identify(ctx, a, IdentifyRequest{Audio: []byte("x")})
			return err
		},
		"UpdateGroup": func(a voxgate.Actor) error {
			_, err := s.UpdateGroup(ctx, a, "watchlist", []string{"alice"}, nil)
			return err
		},
		"SubmitAsync": func(a voxgate.Actor) error {
			_, err := s.SubmitAsync(ctx, a, AsyncRequest{Org: "acme", Kind: voxgate.JobVerify, ExternalID: "alice"})
			return err
		},
	}
	// Each call's refused actors; every other actor must get past the
	// permission check (whatever it answers next: no engine here).
	refused := map[string][]voxgate.Actor{
		"DeleteProfile": {verify, enrollCT, challengeCT},
		"UserLearning":  {verify, enrollCT, challengeCT, endUser},
		"CreateProfile": {challengeCT},
		"Profile":       {challengeCT},
		"Enroll":        {challengeCT},
		"Verify":        {enrollCT, challengeCT},
		"StartAuth":     {enrollCT},
		"VerifyToken":   {enrollCT, challengeCT},
		"Usage":         {enrollCT, challengeCT},
		"VoiceIDEnroll": {enrollCT, challengeCT},
		"SubmitAsync":   {enrollCT, challengeCT},
		"Identify":      {enrollCT, challengeCT, endUser},
		"UpdateGroup":   {verify, enrollCT, challengeCT, endUser},
	}
	names := map[string]voxgate.Actor{"admin": admin, "verify": verify, "enroll client token": enrollCT, "challenge client token": challengeCT, "end user": endUser}
	for call, fn := range calls {
		for name, a := range names {
			if _, _, err := s.CreateProfile(ctx, admin, "alice"); err != nil {
				t.Fatal(err)
			}
			want := false
			for _, r := range refused[call] {
				want = want || r == a
			}
			err := fn(a)
			if got := code(err) == voxgate.EFORBIDDEN; got != want {
				t.Errorf("%s by %s: %v; refused=%v, want refused=%v", call, name, err, got, want)
			}
		}
	}
}

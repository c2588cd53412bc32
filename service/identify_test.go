package service

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"voxgate"
	"voxgate/internal/enginetest"
	"voxgate/policy"
	"voxgate/seal"
	"voxgate/store/sqlite"
)

// twoNodes returns two services sharing one database and voiceprint key, as
// two voxgate nodes behind a load balancer, and an admin actor of each.
func twoNodes(t *testing.T, cfg Config) (a, b *Service, actorA, actorB voxgate.Actor) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "voxgate.db")
	eng := enginetest.Engine(t)
	cfg.Degraded = true // enginetest.Engine has no deepfake detector
	sealer, _ := seal.New(bytes.Repeat([]byte{3}, 32))
	var nodes [2]*Service
	for i := range nodes {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = New(db, Options{Engine: eng, Sealer: sealer, Config: cfg})
	}
	actorA = mustActor(t, nodes[0], "acme", voxgate.ScopeAdmin)
	actorB = actorA // one tenant, one key: the same actor on either node
	return nodes[0], nodes[1], actorA, actorB
}

func identifyConfig() Config {
	cfg := DefaultConfig()
	cfg.RequiredSpeech, cfg.RatePerMinute, cfg.RatePerHour = 5, 0, 0
	return cfg
}

func TestIdentifySeesEnrollmentsAndDeletesOfAnotherNode(t *testing.T) {
	a, b, actor, _ := twoNodes(t, identifyConfig())
	ctx := context.Background()
	take := ravdessFile(t, 10, 2, 1, 2, 1)

	// Node b searches first: an empty gallery, held in memory from now on.
	res, err := b.Identify(ctx, actor, IdentifyRequest{Audio: take})
	if err != nil || res.Decision != Unknown || res.Reason != ReasonEmptyGallery {
		t.Fatalf("empty gallery: %+v %v", res, err)
	}
	enrollActor(t, a, actor, "actor10", 10)
	enrollActor(t, a, actor, "actor1", 1)
	res, err = b.Identify(ctx, actor, IdentifyRequest{Audio: take})
	if err != nil || res.Decision != Identified || res.Candidates[0].UserID != "actor10" || res.Gallery != 2 {
		t.Fatalf("after node a enrolled: %+v %v", res, err)
	}
	if err := a.DeleteProfile(ctx, actor, "actor10"); err != nil {
		t.Fatal(err)
	}
	res, err = b.Identify(ctx, actor, IdentifyRequest{Audio: take})
	if err != nil || res.Gallery != 1 || len(res.Candidates) != 1 || res.Candidates[0].UserID != "actor1" || res.Decision != Unknown {
		t.Fatalf("after node a deleted actor10: %+v %v", res, err)
	}
	// The audit log names whom an identification found.
	atts, err := b.store.ListAttempts(ctx, actor.TenantID, "", 10)
	if err != nil || atts[0].Kind != "identify" || atts[0].Decision != Unknown || atts[1].UserID != "actor10" || atts[1].Decision != Identified {
		t.Fatalf("audit: %+v %v", atts[:2], err)
	}
}

func TestVerifyFlagsAWatchlistedVoiceOrRejectsIt(t *testing.T) {
	s, a := bioService(t, identifyConfig())
	ctx := context.Background()
	enrollActor(t, s, a, "fraudster", 10)
	if _, err := s.UpdateGroup(ctx, a, voxgate.WatchlistGroup, []string{"fraudster"}, nil); err != nil {
		t.Fatal(err)
	}
	// The fraudster's voice enrolled as a new identity (flagged by default).
	enrollActor(t, s, a, "mallory", 10)
	take := ravdessFile(t, 10, 2, 1, 2, 1)
	res, err := s.Verify(ctx, a, VerifyRequest{UserID: "mallory", Audio: take})
	if err != nil || res.Decision.Decision != policy.Accept || res.WatchlistMatch == nil || res.WatchlistMatch.UserID != "fraudster" {
		t.Fatalf("flag policy: %+v %v", res, err)
	}
	if err := s.SetIdentificationSettings(ctx, a, voxgate.IdentificationSettings{WatchlistPolicy: voxgate.WatchlistReject}); err != nil {
		t.Fatal(err)
	}
	res, err = s.Verify(ctx, a, VerifyRequest{UserID: "mallory", Audio: ravdessFile(t, 10, 2, 1, 1, 2)})
	if err != nil || res.Decision.Decision != policy.Reject || res.Reason != ReasonWatchlistMatch || res.Learned {
		t.Fatalf("reject policy: %+v %v", res, err)
	}
	// The watchlisted user's own verification is no match against itself.
	res, err = s.Verify(ctx, a, VerifyRequest{UserID: "fraudster", Audio: ravdessFile(t, 10, 2, 1, 2, 2)})
	if err != nil || res.WatchlistMatch != nil {
		t.Fatalf("the watchlisted profile itself: %+v %v", res, err)
	}
	// A verify key may identify but not manage groups or settings.
	v := mustActor(t, s, "acme", voxgate.ScopeVerify)
	if _, err := s.UpdateGroup(ctx, v, voxgate.WatchlistGroup, nil, []string{"fraudster"}); voxgate.ErrorCode(err) != voxgate.EFORBIDDEN {
		t.Fatalf("verify key changing the watchlist: %v", err)
	}
	if res, err := s.Identify(ctx, v, IdentifyRequest{Audio: take, Top: 1}); err != nil || len(res.Candidates) != 1 {
		t.Fatalf("verify key identifying: %+v %v", res, err)
	}
	if _, err := s.Identify(ctx, voxgate.Actor{TenantID: a.TenantID, Scope: voxgate.ScopeVerify, Subject: "mallory"}, IdentifyRequest{Audio: take}); voxgate.ErrorCode(err) != voxgate.EFORBIDDEN {
		t.Fatalf("an end-user token identifying: %v", err)
	}
}

package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
	"voxgate/store/sqlite"
)

// TestHeartbeatKeepsARunningJobAndReleasesADeadOne: while its worker
// lives, a job outlasts many short leases; once the heartbeat stops (the
// node died) another worker claims it within one lease, not after the
// job's whole time budget; and a worker whose claim was taken over is
// told to stop.
func TestHeartbeatKeepsARunningJobAndReleasesADeadOne(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := New(db, Options{})
	a := mustActor(t, svc, "acme", voxgate.ScopeAdmin)
	now := time.Now().UTC()
	if _, _, err := db.EnqueueJob(ctx, &voxgate.Job{ID: ids.UUID(), TenantID: a.TenantID, RequestUUID: ids.UUID(), Kind: voxgate.JobVerify,
		UserID: "alice", KeyID: a.KeyID, Scope: a.Scope, Status: voxgate.JobQueued, AvailableAt: now, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	cfg := AsyncConfig{JobLease: 300 * time.Millisecond}
	claimed, err := db.ClaimJobs(ctx, time.Now().UTC(), cfg.JobLease, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := svc.heartbeat(jctx, cancel, db, cfg, claimed[0])
	for range 5 { // five leases long
		time.Sleep(cfg.JobLease)
		if got, err := db.ClaimJobs(ctx, time.Now().UTC(), cfg.JobLease, 1); err != nil || len(got) != 0 {
			t.Fatalf("a job with a live heartbeat was claimed by another worker: %v %v", got, err)
		}
	}
	stop()
	died := time.Now()
	var second []*voxgate.Job
	for len(second) == 0 {
		if time.Since(died) > 3*cfg.JobLease {
			t.Fatalf("the dead worker's job was not claimable %v after its heartbeat stopped", time.Since(died))
		}
		time.Sleep(20 * time.Millisecond)
		second, _ = db.ClaimJobs(ctx, time.Now().UTC(), time.Minute, 1)
	}
	if jctx.Err() != nil {
		t.Fatal("stopping the heartbeat cancelled the job")
	}
	// The first worker is still running (a pause, not a death): its next
	// heartbeat finds the claim gone and cancels its run.
	stop = svc.heartbeat(jctx, cancel, db, cfg, claimed[0])
	defer stop()
	select {
	case <-jctx.Done():
	case <-time.After(10 * cfg.JobLease):
		t.Fatal("a worker that lost its claim was not told to stop")
	}
}

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

func runQueue(t *testing.T, open func(t *testing.T) voxgate.Store) {
	run := func(name string, fn func(t *testing.T, s voxgate.Store, q voxgate.Queue)) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			q, ok := s.(voxgate.Queue)
			if !ok {
				t.Skipf("%T does not implement voxgate.Queue", s)
			}
			fn(t, s, q)
		})
	}
	run("WebhooksAreReplacedAndIsolated", testWebhooks)
	run("SameRequestUUIDIsOneJob", testEnqueueIdempotent)
	run("ConcurrentClaimsNeverShareAJob", testConcurrentClaims)
	run("ExpiredLeaseIsReclaimedAndStaleHolderLoses", testLease)
	run("HeartbeatExtendsOnlyTheHoldersLease", testExtendJob)
	run("CompleteJobDropsAudioAndQueuesDelivery", testComplete)
	run("DeliveriesRetryDieAndRedeliver", testDeliveries)
	run("SweepQueueDropsFinishedRows", testSweepQueue)
	run("DevicesBelongToTheProfile", testDevices)
	run("IdentifyJobsKeepTheirParams", testIdentifyJobs)
	run("JobsAndDeliveriesKeepTheRequestsTraceContext", testTraceContext)
	run("QueueStatsReportTheBacklog", testQueueStats)
}

func testTraceContext(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	j := newJob(a.ID, "req-trace", "alice", now)
	j.CorrelationID = "0b9c3a52-5b59-4a8c-9b44-1f1f0e6c2d1a"
	j.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if _, _, err := q.EnqueueJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	claimed, err := q.ClaimJobs(ctx, now, time.Minute, 1)
	if err != nil || len(claimed) != 1 || claimed[0].CorrelationID != j.CorrelationID || claimed[0].TraceParent != j.TraceParent {
		t.Fatalf("ClaimJobs = %+v, %v", claimed, err)
	}
	d := newDelivery(now)
	d.CorrelationID, d.TraceParent = j.CorrelationID, j.TraceParent
	if err := q.CompleteJob(ctx, a.ID, j.ID, claimed[0].Claim, d, now); err != nil {
		t.Fatal(err)
	}
	ds, err := q.ClaimDeliveries(ctx, now, time.Minute, 1)
	if err != nil || len(ds) != 1 || ds[0].CorrelationID != j.CorrelationID || ds[0].TraceParent != j.TraceParent {
		t.Fatalf("ClaimDeliveries = %+v, %v", ds, err)
	}
}

func testQueueStats(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	m, ok := q.(voxgate.QueueMonitor)
	if !ok {
		t.Skipf("%T does not implement voxgate.QueueMonitor", q)
	}
	ctx := context.Background()
	st, err := m.QueueStats(ctx)
	if err != nil || st != (voxgate.QueueStats{}) {
		t.Fatalf("empty queue: %+v, %v", st, err)
	}
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := ms(time.Now())
	old := now.Add(-time.Hour)
	for i, tenant := range []string{a.ID, b.ID, a.ID} {
		created := now
		if i == 1 {
			created = old
		}
		if _, _, err := q.EnqueueJob(ctx, newJob(tenant, fmt.Sprintf("req-%d", i), "alice", created)); err != nil {
			t.Fatal(err)
		}
	}
	// One job done with its delivery pending; it leaves the job backlog.
	claimed, err := q.ClaimJobs(ctx, now, time.Minute, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimJobs = %v, %v", claimed, err)
	}
	d := newDelivery(now.Add(-time.Minute))
	if err := q.CompleteJob(ctx, claimed[0].TenantID, claimed[0].ID, claimed[0].Claim, d, now); err != nil {
		t.Fatal(err)
	}
	st, err = m.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Jobs != 2 || st.Deliveries != 1 || !st.OldestDelivery.Equal(d.CreatedAt) {
		t.Fatalf("QueueStats = %+v", st)
	}
	// The oldest job (created an hour ago) was claimed first and is done.
	if !st.OldestJob.Equal(now) {
		t.Fatalf("oldest pending job created at %v, want %v", st.OldestJob, now)
	}
}

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func newJob(tenantID, requestUUID, user string, now time.Time) *voxgate.Job {
	return &voxgate.Job{ID: ids.UUID(), TenantID: tenantID, RequestUUID: requestUUID, Kind: voxgate.JobVerify, UserID: user,
		KeyID: "k1", Scope: voxgate.ScopeAdmin, Language: "en-UK", DeviceFingerprint: "fp", DeviceType: 1,
		Audio: []byte("sealed-audio"), AvailableAt: now, CreatedAt: now}
}

func newDelivery(now time.Time) *voxgate.Delivery {
	return &voxgate.Delivery{ID: ids.UUID(), Event: "verification.completed", Payload: []byte(`{"result":"verified"}`),
		AvailableAt: now, CreatedAt: now, WindowStart: now}
}

func testWebhooks(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	_, err := q.FindWebhook(ctx, a.ID)
	wantCode(t, err, voxgate.ENOTFOUND)
	now := ms(time.Now())
	if err := q.PutWebhook(ctx, &voxgate.Webhook{TenantID: a.ID, URL: "https://a.example/1", Secret: []byte("s1"), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	w, err := q.FindWebhook(ctx, a.ID)
	if err != nil || w.PreviousSecret != nil || !w.PreviousUntil.IsZero() {
		t.Fatalf("FindWebhook without a rotation = %+v, %v", w, err)
	}
	until := later.Add(24 * time.Hour)
	if err := q.PutWebhook(ctx, &voxgate.Webhook{TenantID: a.ID, URL: "https://a.example/2", Secret: []byte("s2"), Signature: "both",
		PreviousSecret: []byte("s1"), PreviousUntil: until, CreatedAt: later, UpdatedAt: later}); err != nil {
		t.Fatal(err)
	}
	w, err = q.FindWebhook(ctx, a.ID)
	if err != nil || w.URL != "https://a.example/2" || string(w.Secret) != "s2" || !w.CreatedAt.Equal(now) || !w.UpdatedAt.Equal(later) ||
		w.Signature != "both" || string(w.PreviousSecret) != "s1" || !w.PreviousUntil.Equal(until) {
		t.Fatalf("FindWebhook = %+v, %v", w, err)
	}
	_, err = q.FindWebhook(ctx, b.ID)
	wantCode(t, err, voxgate.ENOTFOUND)
}

func testEnqueueIdempotent(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := ms(time.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, jobIDs := 0, map[string]bool{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, c, err := q.EnqueueJob(ctx, newJob(a.ID, "req-1", "alice", now))
			if err != nil {
				t.Errorf("EnqueueJob: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			jobIDs[j.ID] = true
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	if created != 1 || len(jobIDs) != 1 {
		t.Fatalf("20 concurrent submissions: %d created, %d distinct jobs", created, len(jobIDs))
	}
	j, err := q.FindJob(ctx, a.ID, "req-1")
	if err != nil || j.Status != voxgate.JobQueued || j.UserID != "alice" || string(j.Audio) != "sealed-audio" ||
		j.Attempts != 0 || j.DeviceFingerprint != "fp" || j.DeviceType != 1 || j.Scope != voxgate.ScopeAdmin || !j.CreatedAt.Equal(now) {
		t.Fatalf("FindJob = %+v, %v", j, err)
	}
	// Another tenant's identical request UUID is its own job.
	if _, c, err := q.EnqueueJob(ctx, newJob(b.ID, "req-1", "alice", now)); err != nil || !c {
		t.Fatalf("tenant b's req-1: created=%v err=%v", c, err)
	}
	_, err = q.FindJob(ctx, b.ID, "req-2")
	wantCode(t, err, voxgate.ENOTFOUND)
}

func testConcurrentClaims(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	for i := range 30 {
		if _, _, err := q.EnqueueJob(ctx, newJob(a.ID, fmt.Sprintf("req-%d", i), "alice", now)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				jobs, err := q.ClaimJobs(ctx, now, time.Minute, 3)
				if err != nil {
					t.Errorf("ClaimJobs: %v", err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					seen[j.ID]++
					if j.Status != voxgate.JobRunning || j.Attempts != 1 || j.Claim == "" || !j.AvailableAt.Equal(now.Add(time.Minute)) {
						t.Errorf("claimed job %+v", j)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 30 {
		t.Fatalf("claimed %d distinct jobs of 30", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("job %s claimed %d times within its lease", id, n)
		}
	}
}

func testLease(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	q.EnqueueJob(ctx, newJob(a.ID, "req-1", "alice", now))
	first, err := q.ClaimJobs(ctx, now, time.Minute, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("first claim: %v %v", first, err)
	}
	if again, _ := q.ClaimJobs(ctx, now.Add(59*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatal("job claimed twice within its lease")
	}
	// The first worker "crashed": after the lease another claims it.
	second, err := q.ClaimJobs(ctx, now.Add(61*time.Second), time.Minute, 10)
	if err != nil || len(second) != 1 || second[0].Attempts != 2 || second[0].Claim == first[0].Claim {
		t.Fatalf("claim after the lease: %+v %v", second, err)
	}
	wantCode(t, q.CompleteJob(ctx, a.ID, first[0].ID, first[0].Claim, newDelivery(now), now), voxgate.ECONFLICT)
	wantCode(t, q.RetryJob(ctx, a.ID, first[0].ID, first[0].Claim, now, false), voxgate.ECONFLICT)
	if d, _ := q.ListDeliveries(ctx, a.ID, "", 10); len(d) != 0 {
		t.Fatal("a stale holder's completion queued a delivery")
	}
	// A transient failure puts the job back for later.
	retryAt := now.Add(2 * time.Minute)
	if err := q.RetryJob(ctx, a.ID, second[0].ID, second[0].Claim, retryAt, false); err != nil {
		t.Fatal(err)
	}
	if j, _ := q.FindJob(ctx, a.ID, "req-1"); j.Status != voxgate.JobQueued || !j.AvailableAt.Equal(retryAt) {
		t.Fatalf("after RetryJob: %+v", j)
	}
	if got, _ := q.ClaimJobs(ctx, retryAt.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Fatal("retried job claimed before its time")
	}
	got, _ := q.ClaimJobs(ctx, retryAt, time.Minute, 10)
	if len(got) != 1 || got[0].Attempts != 3 {
		t.Fatalf("retried job at its time: %+v", got)
	}
	// A deferral (rate limit) gives the attempt back.
	if err := q.RetryJob(ctx, a.ID, got[0].ID, got[0].Claim, retryAt, true); err != nil {
		t.Fatal(err)
	}
	if j, _ := q.FindJob(ctx, a.ID, "req-1"); j.Attempts != 2 {
		t.Fatalf("attempts after a refunded retry = %d, want 2", j.Attempts)
	}
}

func testExtendJob(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	q.EnqueueJob(ctx, newJob(a.ID, "req-1", "alice", now))
	first, err := q.ClaimJobs(ctx, now, 10*time.Second, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %v %v", first, err)
	}
	// The holder's heartbeat keeps the job past its first lease.
	if err := q.ExtendJob(ctx, a.ID, first[0].ID, first[0].Claim, now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.ClaimJobs(ctx, now.Add(20*time.Second), 10*time.Second, 10); len(got) != 0 {
		t.Fatal("a job whose lease was extended was claimed by another")
	}
	second, _ := q.ClaimJobs(ctx, now.Add(31*time.Second), 10*time.Second, 10)
	if len(second) != 1 {
		t.Fatal("a job whose heartbeat stopped was not claimed again")
	}
	// The first holder's heartbeat no longer holds it; another tenant's
	// never did.
	wantCode(t, q.ExtendJob(ctx, a.ID, first[0].ID, first[0].Claim, now.Add(time.Minute)), voxgate.ECONFLICT)
	b := MustTenant(t, s, "b")
	wantCode(t, q.ExtendJob(ctx, b.ID, second[0].ID, second[0].Claim, now.Add(time.Minute)), voxgate.ECONFLICT)
}

func testComplete(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := ms(time.Now())
	q.EnqueueJob(ctx, newJob(a.ID, "req-1", "alice", now))
	jobs, _ := q.ClaimJobs(ctx, now, time.Minute, 1)
	d := newDelivery(now)
	wantCode(t, q.CompleteJob(ctx, b.ID, jobs[0].ID, jobs[0].Claim, d, now), voxgate.ECONFLICT)
	if err := q.CompleteJob(ctx, a.ID, jobs[0].ID, jobs[0].Claim, d, now); err != nil {
		t.Fatal(err)
	}
	j, _ := q.FindJob(ctx, a.ID, "req-1")
	if j.Status != voxgate.JobDone || j.Audio != nil || j.CompletedAt == nil || !j.CompletedAt.Equal(now) {
		t.Fatalf("completed job %+v", j)
	}
	if got, _ := q.ClaimJobs(ctx, now.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Fatal("a done job was claimed")
	}
	q.EnqueueJob(ctx, newJob(a.ID, "req-2", "alice", now))
	if n, err := q.CountPendingJobs(ctx, a.ID); err != nil || n != 1 {
		t.Fatalf("pending jobs = %d, %v; want the queued one, not the done one", n, err)
	}
	if n, _ := q.CountPendingJobs(ctx, b.ID); n != 0 {
		t.Fatalf("tenant b's pending jobs = %d", n)
	}
	// Submitting the same request again returns the done job, not a new one.
	if j, c, err := q.EnqueueJob(ctx, newJob(a.ID, "req-1", "alice", now)); err != nil || c || j.Status != voxgate.JobDone {
		t.Fatalf("resubmission after completion: %+v %v %v", j, c, err)
	}
	list, err := q.ListDeliveries(ctx, a.ID, voxgate.DeliveryPending, 10)
	if err != nil || len(list) != 1 || list[0].ID != d.ID || list[0].JobID != jobs[0].ID || string(list[0].Payload) != string(d.Payload) ||
		list[0].Attempts != 0 || list[0].TenantID != a.ID {
		t.Fatalf("deliveries after completion: %+v %v", list, err)
	}
	if list, _ := q.ListDeliveries(ctx, b.ID, "", 10); len(list) != 0 {
		t.Fatal("tenant b sees tenant a's deliveries")
	}
}

// queueDelivery creates a done job with one pending delivery.
func queueDelivery(t *testing.T, q voxgate.Queue, tenantID, req string, now time.Time) *voxgate.Delivery {
	t.Helper()
	ctx := context.Background()
	if _, _, err := q.EnqueueJob(ctx, newJob(tenantID, req, "alice", now)); err != nil {
		t.Fatal(err)
	}
	jobs, err := q.ClaimJobs(ctx, now, time.Minute, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	d := newDelivery(now)
	if err := q.CompleteJob(ctx, tenantID, jobs[0].ID, jobs[0].Claim, d, now); err != nil {
		t.Fatal(err)
	}
	return d
}

func testDeliveries(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := ms(time.Now())
	d := queueDelivery(t, q, a.ID, "req-1", now)
	got, err := q.ClaimDeliveries(ctx, now, 15*time.Second, 10)
	if err != nil || len(got) != 1 || got[0].ID != d.ID || got[0].Attempts != 1 || got[0].Claim == "" {
		t.Fatalf("ClaimDeliveries = %+v, %v", got, err)
	}
	if again, _ := q.ClaimDeliveries(ctx, now.Add(14*time.Second), 15*time.Second, 10); len(again) != 0 {
		t.Fatal("delivery claimed twice within its lease")
	}
	next := now.Add(30 * time.Second)
	if err := q.DeliveryFailed(ctx, a.ID, d.ID, got[0].Claim, 500, "endpoint answered 500", next, false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, q.DeliverySucceeded(ctx, a.ID, d.ID, got[0].Claim, now), voxgate.ECONFLICT)
	if early, _ := q.ClaimDeliveries(ctx, next.Add(-time.Millisecond), 15*time.Second, 10); len(early) != 0 {
		t.Fatal("delivery retried before its backoff ended")
	}
	got, _ = q.ClaimDeliveries(ctx, next, 15*time.Second, 10)
	if len(got) != 1 || got[0].Attempts != 2 || got[0].LastStatus != 500 || got[0].LastError != "endpoint answered 500" {
		t.Fatalf("second claim: %+v", got)
	}
	if err := q.DeliveryFailed(ctx, a.ID, d.ID, got[0].Claim, 0, "connection refused", next, true); err != nil {
		t.Fatal(err)
	}
	if late, _ := q.ClaimDeliveries(ctx, now.Add(48*time.Hour), time.Minute, 10); len(late) != 0 {
		t.Fatal("a dead delivery was claimed")
	}
	dead, err := q.ListDeliveries(ctx, a.ID, voxgate.DeliveryDead, 10)
	if err != nil || len(dead) != 1 || dead[0].ID != d.ID || dead[0].Status != voxgate.DeliveryDead {
		t.Fatalf("dead list: %+v %v", dead, err)
	}
	if pending, _ := q.ListDeliveries(ctx, a.ID, voxgate.DeliveryPending, 10); len(pending) != 0 {
		t.Fatalf("pending list holds a dead delivery: %+v", pending)
	}
	_, err = q.Redeliver(ctx, b.ID, d.ID, now)
	wantCode(t, err, voxgate.ENOTFOUND)
	_, err = q.Redeliver(ctx, a.ID, "missing", now)
	wantCode(t, err, voxgate.ENOTFOUND)
	re := now.Add(time.Hour)
	rd, err := q.Redeliver(ctx, a.ID, d.ID, re)
	if err != nil || rd.Status != voxgate.DeliveryPending || rd.Attempts != 0 || !rd.WindowStart.Equal(re) || !rd.CreatedAt.Equal(now) {
		t.Fatalf("Redeliver = %+v, %v", rd, err)
	}
	got, _ = q.ClaimDeliveries(ctx, re, time.Minute, 10)
	if len(got) != 1 {
		t.Fatalf("redelivered delivery not claimable: %+v", got)
	}
	if err := q.DeliverySucceeded(ctx, a.ID, d.ID, got[0].Claim, re); err != nil {
		t.Fatal(err)
	}
	done, _ := q.ListDeliveries(ctx, a.ID, voxgate.DeliveryDelivered, 10)
	if len(done) != 1 || done[0].DeliveredAt == nil || !done[0].DeliveredAt.Equal(re) {
		t.Fatalf("delivered list: %+v", done)
	}
}

func testSweepQueue(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	d := queueDelivery(t, q, a.ID, "old", now)
	got, _ := q.ClaimDeliveries(ctx, now, time.Minute, 1)
	q.DeliverySucceeded(ctx, a.ID, d.ID, got[0].Claim, now)
	q.EnqueueJob(ctx, newJob(a.ID, "queued", "alice", now))
	n, err := q.SweepQueue(ctx, now.Add(time.Millisecond), now.Add(time.Millisecond))
	if err != nil || n != 2 {
		t.Fatalf("SweepQueue = %d, %v; want the done job and its delivered delivery", n, err)
	}
	if _, err := q.FindJob(ctx, a.ID, "queued"); err != nil {
		t.Fatalf("sweep removed a queued job: %v", err)
	}
}

func testDevices(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	wantCode(t, q.AddDevice(ctx, a.ID, "alice", "fp1", 1, now), voxgate.EPROFILENOTFOUND)
	s.CreateProfile(ctx, a.ID, "alice", now)
	if known, anyDev, err := q.KnownDevice(ctx, a.ID, "alice", "fp1"); err != nil || known || anyDev {
		t.Fatalf("before enrollment: known=%v any=%v err=%v", known, anyDev, err)
	}
	for _, fp := range []string{"fp1", "fp1", "fp2"} {
		if err := q.AddDevice(ctx, a.ID, "alice", fp, 1, now); err != nil {
			t.Fatal(err)
		}
	}
	if known, anyDev, _ := q.KnownDevice(ctx, a.ID, "alice", "fp2"); !known || !anyDev {
		t.Fatalf("fp2: known=%v any=%v", known, anyDev)
	}
	if known, anyDev, _ := q.KnownDevice(ctx, a.ID, "alice", "fp3"); known || !anyDev {
		t.Fatalf("fp3: known=%v any=%v", known, anyDev)
	}
	for _, key := range []string{"k1", "k1", "k2"} {
		if err := q.RecordDeviceMismatch(ctx, a.ID, &voxgate.DeviceMismatch{ID: ids.UUID(), UserID: "alice", KeyID: key, RequestUUID: "r", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.CountDeviceMismatches(ctx, a.ID, "k1", now); err != nil || n != 2 {
		t.Fatalf("k1 mismatches = %d, %v", n, err)
	}
	if n, _ := q.CountDeviceMismatches(ctx, a.ID, "", now); n != 3 {
		t.Fatalf("tenant mismatches = %d", n)
	}
	if n, _ := q.CountDeviceMismatches(ctx, a.ID, "k1", now.Add(time.Millisecond)); n != 0 {
		t.Fatalf("mismatches since later = %d", n)
	}
	// Deleting the profile deletes its devices, and strips its
	// unprocessed jobs of audio, device and user (erasure.go has the rest).
	q.EnqueueJob(ctx, newJob(a.ID, "pending", "alice", now))
	if err := s.DeleteProfile(ctx, a.ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	s.CreateProfile(ctx, a.ID, "alice", now)
	if _, anyDev, _ := q.KnownDevice(ctx, a.ID, "alice", "fp1"); anyDev {
		t.Fatal("devices survived profile deletion")
	}
	if j, _ := q.FindJob(ctx, a.ID, "pending"); j == nil || j.Audio != nil || j.UserID != "" || j.DeviceFingerprint != "" {
		t.Fatalf("job data survived profile deletion: %+v", j)
	}
}

func testIdentifyJobs(t *testing.T, s voxgate.Store, q voxgate.Queue) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	j := newJob(a.ID, "00000000-0000-4000-8000-000000000019", "", now)
	j.Kind, j.Params, j.DeviceFingerprint = voxgate.JobIdentify, `{"group":"watchlist","top":3}`, ""
	stored, created, err := q.EnqueueJob(ctx, j)
	if err != nil || !created || stored.Kind != voxgate.JobIdentify || stored.UserID != "" || stored.Params != j.Params {
		t.Fatalf("EnqueueJob(identify) = %+v, %v, %v", stored, created, err)
	}
	claimed, err := q.ClaimJobs(ctx, now, time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Params != j.Params || claimed[0].Kind != voxgate.JobIdentify {
		t.Fatalf("ClaimJobs = %+v, %v", claimed, err)
	}
}

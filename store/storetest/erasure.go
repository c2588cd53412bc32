package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
)

// userRecords is what testErasure writes for one user: a record in every
// table that holds user data.
type userRecords struct {
	session, token              string
	doneJob, runningJob, queued string
	runningClaim                string
	delivery                    string
}

// testErasure writes alice's and bob's data in every table that can hold
// it, deletes alice with an audit pseudonym, and checks that nothing of
// alice is left but her audit rows under the pseudonym, and that bob's
// data is untouched; then deletes bob without one, keeping his user id in
// the audit log.
func testErasure(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := ms(time.Now())
	q, _ := s.(voxgate.Queue)
	users := []string{"alice", "bob"}
	recs := map[string]*userRecords{}
	// Identification results name users only in their payloads.
	var keepIdentify string
	if q != nil {
		payloads := []string{
			`{"result":"identified","external_id":"alice","candidates":[{"user_id":"alice","score":0.9}]}`,
			`{"result":"unknown","external_id":"","candidates":[{"user_id":"bob","score":0.4},{"user_id":"alice","score":0.3}]}`,
			`{"result":"identified","external_id":"bob","candidates":[{"user_id":"bob","score":0.9}]}`,
		}
		for i, p := range payloads {
			j := newJob(a.ID, fmt.Sprintf("identify-%d", i), "", now.Add(-3*time.Hour+time.Duration(i)*time.Millisecond))
			j.Kind = voxgate.JobIdentify
			if _, _, err := q.EnqueueJob(ctx, j); err != nil {
				t.Fatal(err)
			}
			jobs, err := q.ClaimJobs(ctx, now, time.Minute, 1)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("claim identification: %+v %v", jobs, err)
			}
			d := newDelivery(now)
			d.Event, d.Payload = "identification.completed", []byte(p)
			must(t, q.CompleteJob(ctx, a.ID, jobs[0].ID, jobs[0].Claim, d, now))
			keepIdentify = d.ID // the last names only bob
		}
	}
	for i, u := range users {
		r := &userRecords{session: ids.UUID(), token: ids.UUID()}
		recs[u] = r
		if _, _, err := s.CreateProfile(ctx, a.ID, u, now); err != nil {
			t.Fatal(err)
		}
		must(t, s.CreateSession(ctx, a.ID, &voxgate.Session{ID: r.session, UserID: u, Mode: "words", Challenge: "silver bridge 19", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		must(t, s.CreateVoiceToken(ctx, a.ID, &voxgate.VoiceToken{JTI: r.token, UserID: u, SessionID: r.session, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}))
		for _, key := range []string{"k1", voxgate.EndUserKeyID(a.ID, u)} {
			must(t, s.RecordAttempt(ctx, a.ID, &voxgate.Attempt{ID: ids.UUID(), UserID: u, KeyID: key, CreatedAt: now, Kind: "verify", Decision: "accept", Detail: "{}"}))
		}
		if _, err := s.CountRequest(ctx, voxgate.EndUserKeyID(a.ID, u), "minute", now.Truncate(time.Minute), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if q == nil {
			continue
		}
		must(t, q.AddDevice(ctx, a.ID, u, "fp-"+u, 1, now))
		must(t, q.RecordDeviceMismatch(ctx, a.ID, &voxgate.DeviceMismatch{ID: ids.UUID(), UserID: u, KeyID: "k1", RequestUUID: "m-" + u, CreatedAt: now}))
		// One job of each state: done (with its delivery), running (a
		// worker holds its lease) and queued.
		r.doneJob, r.runningJob, r.queued = "done-"+u, "running-"+u, "queued-"+u
		at := now.Add(time.Duration(i) * time.Millisecond)
		if _, _, err := q.EnqueueJob(ctx, newJob(a.ID, r.doneJob, u, at.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
		jobs, err := q.ClaimJobs(ctx, now, time.Minute, 1)
		if err != nil || len(jobs) != 1 || jobs[0].RequestUUID != r.doneJob {
			t.Fatalf("claim %s: %+v %v", r.doneJob, jobs, err)
		}
		d := newDelivery(now)
		d.Payload = []byte(`{"external_id":"` + u + `","match_score":0.97}`)
		r.delivery = d.ID
		must(t, q.CompleteJob(ctx, a.ID, jobs[0].ID, jobs[0].Claim, d, now))
		if _, _, err := q.EnqueueJob(ctx, newJob(a.ID, r.runningJob, u, at.Add(-time.Minute))); err != nil {
			t.Fatal(err)
		}
		jobs, err = q.ClaimJobs(ctx, now, time.Minute, 1)
		if err != nil || len(jobs) != 1 || jobs[0].RequestUUID != r.runningJob {
			t.Fatalf("claim %s: %+v %v", r.runningJob, jobs, err)
		}
		r.runningClaim = jobs[0].Claim
		if _, _, err := q.EnqueueJob(ctx, newJob(a.ID, r.queued, u, at)); err != nil {
			t.Fatal(err)
		}
	}

	must(t, s.DeleteProfile(ctx, a.ID, "alice", "anon-alice"))

	// Alice: gone everywhere, her audit rows kept under the pseudonym.
	if _, err := s.FindProfile(ctx, a.ID, "alice"); voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND {
		t.Errorf("profile: %v", err)
	}
	if _, err := s.ConsumeSession(ctx, a.ID, recs["alice"].session, now); voxgate.ErrorCode(err) != voxgate.ESESSIONNOTFOUND {
		t.Errorf("alice's challenge session survived: %v", err)
	}
	if _, err := s.ConsumeVoiceToken(ctx, a.ID, recs["alice"].token, now); voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		t.Errorf("alice's voice token survived: %v", err)
	}
	if l, _ := s.ListAttempts(ctx, a.ID, "alice", 10); len(l) != 0 {
		t.Errorf("audit rows still name alice: %+v", l)
	}
	kept, err := s.ListAttempts(ctx, a.ID, "anon-alice", 10)
	if err != nil || len(kept) != 2 {
		t.Fatalf("audit rows under the pseudonym: %+v %v", kept, err)
	}
	var keys []string
	for _, at := range kept {
		keys = append(keys, at.KeyID)
	}
	slices.Sort(keys)
	if want := []string{"k1", voxgate.EndUserKeyID(a.ID, "anon-alice")}; !slices.Equal(keys, sorted(want)) {
		t.Errorf("audit key ids %v, want %v (the end-user key id holds the user id)", keys, want)
	}
	if n, _ := s.CountRequest(ctx, voxgate.EndUserKeyID(a.ID, "alice"), "minute", now.Truncate(time.Minute), now.Add(-time.Hour)); n != 1 {
		t.Errorf("alice's end-user rate window survived (count %d)", n)
	}
	if q != nil {
		r := recs["alice"]
		if _, anyDev, _ := q.KnownDevice(ctx, a.ID, "alice", "fp-alice"); anyDev {
			t.Error("alice's devices survived")
		}
		if n, _ := q.CountDeviceMismatches(ctx, a.ID, "", now); n != 1 {
			t.Errorf("device mismatches left: %d, want bob's 1", n)
		}
		if _, err := q.FindJob(ctx, a.ID, r.doneJob); voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
			t.Errorf("alice's done job survived: %v", err)
		}
		for _, req := range []string{r.runningJob, r.queued} {
			j, err := q.FindJob(ctx, a.ID, req)
			if err != nil || j.UserID != "" || j.Audio != nil || j.DeviceFingerprint != "" || j.Status != voxgate.JobQueued || j.Claim != "" {
				t.Errorf("unfinished job %s keeps alice's data or its lease: %+v %v", req, j, err)
			}
		}
		running, _ := q.FindJob(ctx, a.ID, r.runningJob)
		wantCode(t, q.CompleteJob(ctx, a.ID, running.ID, r.runningClaim, newDelivery(now), now), voxgate.ECONFLICT)
		list, _ := q.ListDeliveries(ctx, a.ID, "", 100)
		var left []string
		for _, d := range list {
			left = append(left, d.ID)
		}
		if want := []string{recs["bob"].delivery, keepIdentify}; !slices.Equal(sorted(left), sorted(want)) {
			t.Errorf("deliveries left: %v, want bob's two %v", left, want)
		}
		// The stripped jobs are claimable at once, to be answered as
		// "profile deleted" (their deliveries then name nobody).
		jobs, err := q.ClaimJobs(ctx, now.Add(time.Second), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range jobs {
			got = append(got, j.RequestUUID)
		}
		slices.Sort(got)
		if want := []string{r.queued, r.runningJob, recs["bob"].queued}; !slices.Equal(got, sorted(want)) {
			t.Errorf("claimable after deletion: %v, want %v", got, sorted(want))
		}
	}

	// Bob: untouched.
	if _, err := s.FindProfile(ctx, a.ID, "bob"); err != nil {
		t.Errorf("bob's profile: %v", err)
	}
	if l, _ := s.ListAttempts(ctx, a.ID, "bob", 10); len(l) != 2 {
		t.Errorf("bob's audit rows: %+v", l)
	}
	if _, err := s.ConsumeVoiceToken(ctx, a.ID, recs["bob"].token, now); err != nil {
		t.Errorf("bob's voice token: %v", err)
	}
	if q != nil {
		if j, err := q.FindJob(ctx, a.ID, recs["bob"].doneJob); err != nil || j.UserID != "bob" {
			t.Errorf("bob's done job: %+v %v", j, err)
		}
		if known, _, _ := q.KnownDevice(ctx, a.ID, "bob", "fp-bob"); !known {
			t.Error("bob's device went with alice")
		}
	}

	// Without a pseudonym the audit log keeps the user id.
	must(t, s.DeleteProfile(ctx, a.ID, "bob", ""))
	if l, _ := s.ListAttempts(ctx, a.ID, "bob", 10); len(l) != 2 {
		t.Errorf("bob's audit rows after deletion without pseudonym: %+v", l)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

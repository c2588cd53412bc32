package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"voxgate"
	"voxgate/ids"
)

func runBiometric(t *testing.T, open func(t *testing.T) voxgate.Store) {
	t.Run("SamplesAccumulateUntilEnrolled", func(t *testing.T) { testSamples(t, open(t)) })
	t.Run("VoiceprintWritesAreOptimistic", func(t *testing.T) { testVoiceprint(t, open(t)) })
	t.Run("FingerprintsKeepNewest", func(t *testing.T) { testFingerprints(t, open(t)) })
	t.Run("DeleteRemovesBiometricsKeepsAudit", func(t *testing.T) { testDeleteBiometrics(t, open(t)) })
	t.Run("KeyAttemptsForUsage", func(t *testing.T) { testKeyAttempts(t, open(t)) })
	t.Run("OutcomeIsAllOrNothing", func(t *testing.T) { testOutcome(t, open(t)) })
}

func sample(user string, speech float64, at time.Time) *voxgate.Sample {
	return &voxgate.Sample{ID: ids.UUID(), UserID: user, CreatedAt: at, SpeechSeconds: speech, Weight: speech,
		ModelVersion: "m1", Quality: `{"snr_db":30}`, Embedding: []byte("sealed")}
}

func testSamples(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.AddSample(ctx, a.ID, sample("alice", 4, now), 10); voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("sample for a missing profile: %v", err)
	}
	s.CreateProfile(ctx, a.ID, "alice", now)
	p, err := s.AddSample(ctx, a.ID, sample("alice", 6, now), 10)
	if err != nil || p.Samples != 1 || p.SpeechSeconds != 6 || p.Enrolled() {
		t.Fatalf("first sample: %+v %v", p, err)
	}
	p, err = s.AddSample(ctx, a.ID, sample("alice", 5, now.Add(time.Second)), 10)
	if err != nil || p.Samples != 2 || p.SpeechSeconds != 11 || !p.Enrolled() {
		t.Fatalf("second sample: %+v %v", p, err)
	}
	list, err := s.ListSamples(ctx, a.ID, "alice")
	if err != nil || len(list) != 2 || list[0].SpeechSeconds != 6 || string(list[1].Embedding) != "sealed" {
		t.Fatalf("ListSamples: %v %v", list, err)
	}
	if list, _ := s.ListSamples(ctx, b.ID, "alice"); len(list) != 0 {
		t.Fatal("tenant b sees tenant a's samples")
	}

	// The cohort: newest first across profiles, one model version, bounded.
	s.CreateProfile(ctx, a.ID, "bob", now)
	s.CreateProfile(ctx, b.ID, "carol", now)
	s.AddSample(ctx, a.ID, sample("bob", 3, now.Add(2*time.Second)), 10)
	old := sample("bob", 3, now.Add(3*time.Second))
	old.ModelVersion = "m0"
	s.AddSample(ctx, a.ID, old, 10)
	s.AddSample(ctx, b.ID, sample("carol", 3, now.Add(4*time.Second)), 10)
	coh, err := s.ListCohortSamples(ctx, a.ID, "m1", 10)
	if err != nil || len(coh) != 3 || coh[0].UserID != "bob" || coh[1].UserID != "alice" || coh[2].SpeechSeconds != 6 {
		t.Fatalf("ListCohortSamples: %v %v", coh, err)
	}
	if coh, _ := s.ListCohortSamples(ctx, a.ID, "m1", 2); len(coh) != 2 || coh[1].SpeechSeconds != 5 {
		t.Fatalf("ListCohortSamples limit 2: %v", coh)
	}
	if coh, _ := s.ListCohortSamples(ctx, b.ID, "m1", 10); len(coh) != 1 || coh[0].UserID != "carol" {
		t.Fatalf("tenant b's cohort: %v", coh)
	}
}

func testVoiceprint(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := time.Now().UTC()
	vp := &voxgate.Voiceprint{UserID: "alice", ModelVersion: "m1", Template: []byte("t1"), UpdatedAt: now}
	if err := s.PutVoiceprint(ctx, a.ID, vp); voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("voiceprint without profile: %v", err)
	}
	s.CreateProfile(ctx, a.ID, "alice", now)
	if _, err := s.FindVoiceprint(ctx, a.ID, "alice"); voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		t.Fatalf("FindVoiceprint before any: %v", err)
	}
	if err := s.PutVoiceprint(ctx, a.ID, vp); err != nil || vp.Revision != 1 {
		t.Fatalf("first put: rev %d %v", vp.Revision, err)
	}
	// Many writers from revision 1: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := &voxgate.Voiceprint{UserID: "alice", ModelVersion: "m1", Template: []byte(fmt.Sprint("t", i)), Revision: 1, UpdatedAt: now}
			err := s.PutVoiceprint(ctx, a.ID, w)
			switch voxgate.ErrorCode(err) {
			case "":
				wins.Add(1)
			case voxgate.ECONFLICT:
			default:
				t.Errorf("concurrent put: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent writers won, want 1", wins.Load())
	}
	got, err := s.FindVoiceprint(ctx, a.ID, "alice")
	if err != nil || got.Revision != 2 {
		t.Fatalf("after race: %+v %v", got, err)
	}
	stale := &voxgate.Voiceprint{UserID: "alice", ModelVersion: "m1", Template: []byte("x"), UpdatedAt: now}
	if err := s.PutVoiceprint(ctx, a.ID, stale); voxgate.ErrorCode(err) != voxgate.ECONFLICT {
		t.Fatalf("insert over an existing voiceprint: %v", err)
	}
}

func testFingerprints(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := time.Now().UTC().Truncate(time.Millisecond)
	s.CreateProfile(ctx, a.ID, "alice", now)
	for i := 0; i < 5; i++ {
		f := &voxgate.Fingerprint{ID: ids.UUID(), UserID: "alice", CreatedAt: now.Add(time.Duration(i) * time.Second), Source: "verify", Data: []byte{byte(i)}}
		if err := s.AddFingerprint(ctx, a.ID, f, 3); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListFingerprints(ctx, a.ID, "alice", 100)
	if err != nil || len(list) != 3 || list[0].Data[0] != 4 || list[2].Data[0] != 2 {
		t.Fatalf("kept %d fingerprints (%v), want the newest 3", len(list), err)
	}
	f := &voxgate.Fingerprint{ID: ids.UUID(), UserID: "nobody", CreatedAt: now, Source: "verify", Data: []byte{1}}
	if err := s.AddFingerprint(ctx, a.ID, f, 3); voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("fingerprint for a missing profile: %v", err)
	}
}

func testDeleteBiometrics(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := time.Now().UTC()
	s.CreateProfile(ctx, a.ID, "alice", now)
	s.AddSample(ctx, a.ID, sample("alice", 12, now), 10)
	s.PutVoiceprint(ctx, a.ID, &voxgate.Voiceprint{UserID: "alice", ModelVersion: "m1", Template: []byte("t"), UpdatedAt: now})
	s.AddFingerprint(ctx, a.ID, &voxgate.Fingerprint{ID: ids.UUID(), UserID: "alice", CreatedAt: now, Source: "enroll", Data: []byte{1}}, 0)
	if err := s.RecordAttempt(ctx, a.ID, &voxgate.Attempt{ID: ids.UUID(), UserID: "alice", KeyID: "k", CreatedAt: now, Kind: "verify", Decision: "accept", Detail: "{}"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx, a.ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListSamples(ctx, a.ID, "alice"); len(l) != 0 {
		t.Fatal("samples survive deletion")
	}
	if _, err := s.FindVoiceprint(ctx, a.ID, "alice"); voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		t.Fatal("voiceprint survives deletion")
	}
	if l, _ := s.ListFingerprints(ctx, a.ID, "alice", 10); len(l) != 0 {
		t.Fatal("fingerprints survive deletion")
	}
	// Re-creating the user starts from nothing.
	p, _, _ := s.CreateProfile(ctx, a.ID, "alice", now)
	if p.Samples != 0 || p.Enrolled() {
		t.Fatalf("recreated profile carries old state: %+v", p)
	}
	if l, _ := s.ListAttempts(ctx, a.ID, "alice", 10); len(l) != 1 || l[0].Decision != "accept" {
		t.Fatalf("audit log lost with the profile: %v", l)
	}
}

func testKeyAttempts(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i, key := range []string{"k1", "k1", "k2", "k1"} {
		s.RecordAttempt(ctx, a.ID, &voxgate.Attempt{ID: ids.UUID(), UserID: "u", KeyID: key, CreatedAt: now.Add(time.Duration(i) * time.Second),
			Kind: "verify", Decision: "accept", Detail: `{"secret":"x"}`, LatencyMs: float64(i)})
	}
	got, err := s.KeyAttempts(ctx, a.ID, "k1", now.Add(500*time.Millisecond), 10)
	if err != nil || len(got) != 2 || got[0].LatencyMs != 1 || got[1].LatencyMs != 3 || got[0].Detail != "" {
		t.Fatalf("KeyAttempts = %v, %v", got, err)
	}
	if got, _ := s.KeyAttempts(ctx, b.ID, "k1", now.Add(-time.Hour), 10); len(got) != 0 {
		t.Fatal("tenant b sees tenant a's attempts")
	}
}

// testOutcome checks that RecordOutcome writes sample, voiceprint,
// fingerprint, standing and audit row together, and none of them when the
// voiceprint's revision is stale or the profile is gone.
func testOutcome(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	now := time.Now().UTC().Truncate(time.Millisecond)
	outcome := func(rev int64, speech float64) *voxgate.Outcome {
		return &voxgate.Outcome{
			UserID: "alice", Sample: sample("alice", speech, now), RequiredSpeech: 10,
			Voiceprint:  &voxgate.Voiceprint{UserID: "alice", ModelVersion: "m1", Template: []byte(fmt.Sprint("t", rev)), Revision: rev, UpdatedAt: now},
			Fingerprint: &voxgate.Fingerprint{ID: ids.UUID(), UserID: "alice", CreatedAt: now, Source: "enroll", Data: []byte("fp")}, FingerprintKeep: 10,
			Standing: func(st voxgate.Standing) voxgate.Standing { st.Failures++; return st },
			Attempt:  &voxgate.Attempt{ID: ids.UUID(), UserID: "alice", KeyID: "k", CreatedAt: now, Kind: "enroll", Decision: "accepted", Detail: "{}"},
		}
	}
	counts := func() (samples, fps, attempts, failures int, rev int64) {
		t.Helper()
		l, err := s.ListSamples(ctx, a.ID, "alice")
		if err != nil {
			t.Fatal(err)
		}
		f, _ := s.ListFingerprints(ctx, a.ID, "alice", 100)
		at, _ := s.ListAttempts(ctx, a.ID, "alice", 100)
		st, _ := s.FindStanding(ctx, a.ID, "alice")
		if vp, err := s.FindVoiceprint(ctx, a.ID, "alice"); err == nil {
			rev = vp.Revision
		}
		return len(l), len(f), len(at), st.Failures, rev
	}
	if _, err := s.RecordOutcome(ctx, a.ID, outcome(0, 6)); voxgate.ErrorCode(err) != voxgate.EPROFILENOTFOUND {
		t.Fatalf("outcome for a missing profile: %v", err)
	}
	s.CreateProfile(ctx, a.ID, "alice", now)
	o := outcome(0, 6)
	p, err := s.RecordOutcome(ctx, a.ID, o)
	if err != nil || p.Samples != 1 || p.Enrolled() || o.Voiceprint.Revision != 1 {
		t.Fatalf("first outcome: %+v rev %d %v", p, o.Voiceprint.Revision, err)
	}
	if n, f, at, fail, rev := counts(); n != 1 || f != 1 || at != 1 || fail != 1 || rev != 1 {
		t.Fatalf("after one outcome: samples %d fingerprints %d attempts %d failures %d revision %d", n, f, at, fail, rev)
	}
	// A stale revision writes nothing at all.
	if _, err := s.RecordOutcome(ctx, a.ID, outcome(0, 6)); voxgate.ErrorCode(err) != voxgate.ECONFLICT {
		t.Fatalf("stale outcome: %v", err)
	}
	if n, f, at, fail, rev := counts(); n != 1 || f != 1 || at != 1 || fail != 1 || rev != 1 {
		t.Fatalf("a stale outcome wrote: samples %d fingerprints %d attempts %d failures %d revision %d", n, f, at, fail, rev)
	}
	p, err = s.RecordOutcome(ctx, a.ID, outcome(1, 5))
	if err != nil || p.Samples != 2 || !p.Enrolled() {
		t.Fatalf("second outcome: %+v %v", p, err)
	}
	// An audit row alone (a verification without learning).
	if _, err := s.RecordOutcome(ctx, a.ID, &voxgate.Outcome{UserID: "alice",
		Attempt: &voxgate.Attempt{ID: ids.UUID(), UserID: "alice", KeyID: "k", CreatedAt: now, Kind: "verify", Decision: "reject", Detail: "{}"}}); err != nil {
		t.Fatal(err)
	}
	if n, f, at, fail, rev := counts(); n != 2 || f != 2 || at != 3 || fail != 2 || rev != 2 {
		t.Fatalf("after three outcomes: samples %d fingerprints %d attempts %d failures %d revision %d", n, f, at, fail, rev)
	}
}

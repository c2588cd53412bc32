package timing

import (
	"context"
	"time"

	"voxgate"
)

// WrapStore returns st with the calls on the enrollment and verification
// paths timed as the Store stage of the calling request (administrative
// calls pass through untimed). Requests without a Recorder pay one context
// lookup per call.
//
// The result has the Store's methods only: optional interfaces of st
// (voxgate.Queue, voxgate.QueueMonitor) must be taken from st itself.
func WrapStore(st voxgate.Store) voxgate.Store { return timedStore{st} }

type timedStore struct{ voxgate.Store }

func (t timedStore) FindAPIKey(ctx context.Context, id string) (*voxgate.APIKey, error) {
	defer Start(ctx, Store)()
	return t.Store.FindAPIKey(ctx, id)
}

func (t timedStore) FindTenant(ctx context.Context, ref string) (*voxgate.Tenant, error) {
	defer Start(ctx, Store)()
	return t.Store.FindTenant(ctx, ref)
}

func (t timedStore) CreateProfile(ctx context.Context, tenantID, userID string, at time.Time) (*voxgate.Profile, bool, error) {
	defer Start(ctx, Store)()
	return t.Store.CreateProfile(ctx, tenantID, userID, at)
}

func (t timedStore) FindProfile(ctx context.Context, tenantID, userID string) (*voxgate.Profile, error) {
	defer Start(ctx, Store)()
	return t.Store.FindProfile(ctx, tenantID, userID)
}

func (t timedStore) AddSample(ctx context.Context, tenantID string, s *voxgate.Sample, requiredSpeech float64) (*voxgate.Profile, error) {
	defer Start(ctx, Store)()
	return t.Store.AddSample(ctx, tenantID, s, requiredSpeech)
}

func (t timedStore) ListSamples(ctx context.Context, tenantID, userID string) ([]*voxgate.Sample, error) {
	defer Start(ctx, Store)()
	return t.Store.ListSamples(ctx, tenantID, userID)
}

func (t timedStore) ListCohortSamples(ctx context.Context, tenantID, modelVersion string, limit int) ([]*voxgate.Sample, error) {
	defer Start(ctx, Store)()
	return t.Store.ListCohortSamples(ctx, tenantID, modelVersion, limit)
}

func (t timedStore) PutVoiceprint(ctx context.Context, tenantID string, vp *voxgate.Voiceprint) error {
	defer Start(ctx, Store)()
	return t.Store.PutVoiceprint(ctx, tenantID, vp)
}

func (t timedStore) FindVoiceprint(ctx context.Context, tenantID, userID string) (*voxgate.Voiceprint, error) {
	defer Start(ctx, Store)()
	return t.Store.FindVoiceprint(ctx, tenantID, userID)
}

func (t timedStore) AddFingerprint(ctx context.Context, tenantID string, f *voxgate.Fingerprint, keep int) error {
	defer Start(ctx, Store)()
	return t.Store.AddFingerprint(ctx, tenantID, f, keep)
}

func (t timedStore) ListFingerprints(ctx context.Context, tenantID, userID string, limit int) ([]*voxgate.Fingerprint, error) {
	defer Start(ctx, Store)()
	return t.Store.ListFingerprints(ctx, tenantID, userID, limit)
}

func (t timedStore) UpdateStanding(ctx context.Context, tenantID, userID string, fn func(voxgate.Standing) (voxgate.Standing, error)) (voxgate.Standing, error) {
	defer Start(ctx, Store)()
	return t.Store.UpdateStanding(ctx, tenantID, userID, fn)
}

func (t timedStore) FindStanding(ctx context.Context, tenantID, userID string) (voxgate.Standing, error) {
	defer Start(ctx, Store)()
	return t.Store.FindStanding(ctx, tenantID, userID)
}

func (t timedStore) CountRequest(ctx context.Context, keyID, scope string, windowStart, pruneBefore time.Time) (int, error) {
	defer Start(ctx, Store)()
	return t.Store.CountRequest(ctx, keyID, scope, windowStart, pruneBefore)
}

func (t timedStore) ConsumeSession(ctx context.Context, tenantID, id string, now time.Time) (*voxgate.Session, error) {
	defer Start(ctx, Store)()
	return t.Store.ConsumeSession(ctx, tenantID, id, now)
}

func (t timedStore) CreateVoiceToken(ctx context.Context, tenantID string, vt *voxgate.VoiceToken) error {
	defer Start(ctx, Store)()
	return t.Store.CreateVoiceToken(ctx, tenantID, vt)
}

func (t timedStore) RecordAttempt(ctx context.Context, tenantID string, a *voxgate.Attempt) error {
	defer Start(ctx, Store)()
	return t.Store.RecordAttempt(ctx, tenantID, a)
}

func (t timedStore) RecordOutcome(ctx context.Context, tenantID string, o *voxgate.Outcome) (*voxgate.Profile, error) {
	defer Start(ctx, Store)()
	return t.Store.RecordOutcome(ctx, tenantID, o)
}

package service

import (
	"context"
	"sync"
	"time"

	"voxgate/speaker"
)

// Each tenant's own impostor cohort (speaker.Cohort) is the embeddings of
// its newest enrollment samples. It joins the model's train-pool cohort in
// score normalisation, so that the operating threshold keeps its
// false-accept rate among users who share the tenant's microphones, rooms,
// codecs and language (docs/ACCURACY.md: without it, 8 kHz and noisy
// deployments saw 10-50 times the target rate).
//
// A node caches each tenant's cohort for cohortTTL and drops it when the
// tenant's enrollments change on that node; other nodes catch up within
// cohortTTL, so a deleted profile's embeddings leave every node's memory
// within that time. Bounds: cohortSize samples per tenant (256 KiB of
// vectors at 256 samples) and cohortTenants cached tenants.
const (
	cohortSize    = 256
	cohortTenants = 256
	cohortTTL     = time.Minute
)

type cohortCache struct {
	mu sync.Mutex
	m  map[string]cohortEntry // by tenant id
}

type cohortEntry struct {
	built   time.Time
	version string
	cohort  *speaker.Cohort
}

// cohort returns the tenant's cohort, building it when absent or stale.
func (s *Service) cohort(ctx context.Context, tenantID string) (*speaker.Cohort, error) {
	version := s.engine.Speaker.Version()
	now := s.now()
	c := &s.cohorts
	c.mu.Lock()
	e, ok := c.m[tenantID]
	c.mu.Unlock()
	if ok && e.version == version && now.Sub(e.built) < cohortTTL && !now.Before(e.built) {
		return e.cohort, nil
	}
	samples, err := s.store.ListCohortSamples(ctx, tenantID, version, cohortSize)
	if err != nil {
		return nil, err
	}
	owners := make([]string, 0, len(samples))
	embs := make([][]float32, 0, len(samples))
	for _, smp := range samples {
		v, err := s.openVector(smp.Embedding, sampleAD(tenantID, smp.UserID))
		if err != nil {
			return nil, err
		}
		owners = append(owners, smp.UserID)
		embs = append(embs, v)
	}
	e = cohortEntry{built: now, version: version, cohort: s.engine.Speaker.NewCohort(owners, embs)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cohortEntry)
	}
	if _, ok := c.m[tenantID]; !ok && len(c.m) >= cohortTenants {
		evictOldest(c.m, func(e cohortEntry) time.Time { return e.built })
	}
	c.m[tenantID] = e
	return e.cohort, nil
}

// evictOldest deletes the entry of m whose time (when) is earliest: the
// per-tenant caches' bound (cohorts, galleries).
func evictOldest[V any](m map[string]V, when func(V) time.Time) {
	var oldest string
	for id, v := range m {
		if oldest == "" || when(v).Before(when(m[oldest])) {
			oldest = id
		}
	}
	delete(m, oldest)
}

// forgetCohort drops the tenant's cached cohort after its enrollments
// changed.
func (s *Service) forgetCohort(tenantID string) {
	s.cohorts.mu.Lock()
	delete(s.cohorts.m, tenantID)
	s.cohorts.mu.Unlock()
}

package service

import (
	"context"
	"sync"
	"time"

	"voxgate"
	"voxgate/gallery"
)

// Each tenant's gallery (the templates of its enrolled profiles) is kept in
// memory, decrypted once, for identification (identify.go). Before every
// search a node asks the store what changed since the revision it holds
// (Store.GalleryChanges: one indexed query, empty when nothing did), so
// that enrollments, adaptations and deletions made on any node sharing the
// database are in the next search everywhere: no staleness beyond writes
// racing the search itself. A deleted profile leaves the gallery in the
// same transaction as its rows, and every node's memory at its next search
// of that tenant; galleries not searched for galleryIdle are dropped, and
// at most galleryTenants are kept (the least recently searched goes).
const (
	galleryTenants = 64
	galleryIdle    = 30 * time.Minute
)

type galleryCache struct {
	mu sync.Mutex
	m  map[string]*tenantGallery // by tenant id
}

type tenantGallery struct {
	mu       sync.Mutex // serialises catching up
	version  string     // speaker model of the templates
	revision int64      // store revision the index reflects
	used     time.Time
	index    *gallery.Index
}

// gallery returns the tenant's index, brought up to date with the store.
func (s *Service) gallery(ctx context.Context, tenantID string) (*gallery.Index, error) {
	version := s.engine.Speaker.Version()
	now := s.now()
	c := &s.galleries
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*tenantGallery{}
	}
	for id, g := range c.m {
		if now.Sub(g.used) > galleryIdle {
			delete(c.m, id)
		}
	}
	g, ok := c.m[tenantID]
	if !ok || g.version != version {
		if len(c.m) >= galleryTenants {
			evictOldest(c.m, func(g *tenantGallery) time.Time { return g.used })
		}
		g = &tenantGallery{version: version, index: gallery.New(s.engine.Speaker)}
		c.m[tenantID] = g
	}
	g.used = now
	c.mu.Unlock()

	g.mu.Lock()
	defer g.mu.Unlock()
	d, err := s.store.GalleryChanges(ctx, tenantID, g.revision)
	if err != nil {
		return nil, err
	}
	if d.Revision == g.revision && !d.Full {
		return g.index, nil
	}
	index := g.index
	if d.Full {
		index = gallery.New(s.engine.Speaker) // built aside: searches go on meanwhile
	}
	for _, u := range d.Removed {
		index.Remove(u)
	}
	for _, vp := range d.Voiceprints {
		t, err := s.openTemplate(tenantID, vp)
		if err != nil {
			return nil, err
		}
		if t.ModelVersion != version {
			index.Remove(vp.UserID) // needs re-enrollment for this model
			continue
		}
		index.Put(vp.UserID, t.Current)
	}
	g.index, g.revision = index, d.Revision
	return index, nil
}

// GallerySize returns how many enrolled voices the actor's tenant's
// gallery holds.
func (s *Service) GallerySize(ctx context.Context, a voxgate.Actor) (int, error) {
	if err := a.RequireAdmin(); err != nil {
		return 0, err
	}
	if err := s.requireEngine(); err != nil {
		return 0, err
	}
	x, err := s.gallery(ctx, a.TenantID)
	if err != nil {
		return 0, err
	}
	return x.Len(), nil
}

// dropFromGallery removes a deleted profile's template from this node's
// copy of the tenant's gallery at once (other nodes drop it at their next
// search of the tenant, or with the whole gallery after galleryIdle).
func (s *Service) dropFromGallery(tenantID, userID string) {
	s.galleries.mu.Lock()
	g := s.galleries.m[tenantID]
	s.galleries.mu.Unlock()
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.index.Remove(userID)
}

package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"voxgate"
)

func runGallery(t *testing.T, open func(t *testing.T) voxgate.Store) {
	t.Run("GalleryChangesFollowWritesAndDeletes", func(t *testing.T) { testGalleryChanges(t, open(t)) })
	t.Run("GroupsHoldProfilesOfTheirTenant", func(t *testing.T) { testGroups(t, open(t)) })
	t.Run("IdentificationSettingsPerTenant", func(t *testing.T) { testIdentificationSettings(t, open(t)) })
}

// enrolled creates an enrolled profile with a voiceprint holding template.
func enrolled(t *testing.T, s voxgate.Store, tenantID, user, template string, at time.Time) *voxgate.Voiceprint {
	t.Helper()
	ctx := context.Background()
	s.CreateProfile(ctx, tenantID, user, at)
	if _, err := s.AddSample(ctx, tenantID, sample(user, 10, at), 10); err != nil {
		t.Fatal(err)
	}
	vp := &voxgate.Voiceprint{UserID: user, ModelVersion: "m1", Template: []byte(template), UpdatedAt: at}
	if err := s.PutVoiceprint(ctx, tenantID, vp); err != nil {
		t.Fatal(err)
	}
	return vp
}

func deltaUsers(d *voxgate.GalleryDelta) (put []string) {
	for _, vp := range d.Voiceprints {
		put = append(put, vp.UserID+"="+string(vp.Template))
	}
	return put
}

func testGalleryChanges(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC().Truncate(time.Millisecond)

	d, err := s.GalleryChanges(ctx, a.ID, 0)
	if err != nil || len(d.Voiceprints) != 0 || d.Revision != 0 {
		t.Fatalf("empty gallery: %+v %v", d, err)
	}
	alice := enrolled(t, s, a.ID, "alice", "ta", now)
	enrolled(t, s, a.ID, "bob", "tb", now)
	enrolled(t, s, b.ID, "carol", "tc", now)
	// A voiceprint of a profile not enrolled yet is not in the gallery.
	s.CreateProfile(ctx, a.ID, "dave", now)
	if err := s.PutVoiceprint(ctx, a.ID, &voxgate.Voiceprint{UserID: "dave", ModelVersion: "m1", Template: []byte("td"), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	full, err := s.GalleryChanges(ctx, a.ID, 0)
	if err != nil || !full.Full || !slices.Equal(deltaUsers(full), []string{"alice=ta", "bob=tb"}) || full.Revision == 0 {
		t.Fatalf("full gallery of a: %+v %v", full, err)
	}
	if d, _ := s.GalleryChanges(ctx, a.ID, full.Revision); d.Full || len(d.Voiceprints) != 0 || len(d.Removed) != 0 || d.Revision != full.Revision {
		t.Fatalf("no change since %d: %+v", full.Revision, d)
	}

	// An adaptation and a deletion, seen as a delta from the last revision.
	alice.Template = []byte("ta2")
	if err := s.PutVoiceprint(ctx, a.ID, alice); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx, a.ID, "bob", ""); err != nil {
		t.Fatal(err)
	}
	d, err = s.GalleryChanges(ctx, a.ID, full.Revision)
	if err != nil || d.Full || !slices.Equal(deltaUsers(d), []string{"alice=ta2"}) || !slices.Equal(d.Removed, []string{"bob"}) || d.Revision <= full.Revision {
		t.Fatalf("delta after adapt and delete: %+v %v", d, err)
	}
	// Deleted and enrolled again: the removal comes before the new voiceprint.
	enrolled(t, s, a.ID, "bob", "tb2", now)
	d2, err := s.GalleryChanges(ctx, a.ID, d.Revision)
	if err != nil || !slices.Equal(deltaUsers(d2), []string{"bob=tb2"}) || len(d2.Removed) != 0 {
		t.Fatalf("delta after re-enrollment: %+v %v", d2, err)
	}
	// Tenant b's gallery is its own.
	if fb, _ := s.GalleryChanges(ctx, b.ID, 0); !slices.Equal(deltaUsers(fb), []string{"carol=tc"}) {
		t.Fatalf("tenant b's gallery: %+v", fb)
	}
	// A revision from nowhere (another database) is answered in full.
	if d, _ := s.GalleryChanges(ctx, a.ID, d2.Revision+100); !d.Full || len(d.Voiceprints) != 2 {
		t.Fatalf("revision ahead of the store: %+v", d)
	}
}

func testGroups(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.CreateProfile(ctx, a.ID, u, now)
	}
	s.CreateProfile(ctx, b.ID, "zed", now)

	if m, err := s.GroupMembers(ctx, a.ID, voxgate.WatchlistGroup); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("unused group: %v %v", m, err)
	}
	m, err := s.UpdateGroup(ctx, a.ID, voxgate.WatchlistGroup, []string{"carol", "alice", "alice"}, nil, now)
	if err != nil || !slices.Equal(m, []string{"alice", "carol"}) {
		t.Fatalf("add: %v %v", m, err)
	}
	// An unknown profile (or another tenant's) changes nothing.
	_, err = s.UpdateGroup(ctx, a.ID, voxgate.WatchlistGroup, []string{"bob", "zed"}, []string{"alice"}, now)
	wantCode(t, err, voxgate.EPROFILENOTFOUND)
	if m, _ := s.GroupMembers(ctx, a.ID, voxgate.WatchlistGroup); !slices.Equal(m, []string{"alice", "carol"}) {
		t.Fatalf("after a refused update: %v", m)
	}
	// A profile may be in several groups.
	if _, err := s.UpdateGroup(ctx, a.ID, "vip", []string{"alice", "bob"}, nil, now); err != nil {
		t.Fatal(err)
	}
	m, err = s.UpdateGroup(ctx, a.ID, voxgate.WatchlistGroup, []string{"bob"}, []string{"carol", "nobody"}, now)
	if err != nil || !slices.Equal(m, []string{"alice", "bob"}) {
		t.Fatalf("add and remove: %v %v", m, err)
	}
	if m, _ := s.GroupMembers(ctx, b.ID, voxgate.WatchlistGroup); len(m) != 0 {
		t.Fatalf("tenant b sees tenant a's group: %v", m)
	}
	// A deleted profile leaves every group.
	if err := s.DeleteProfile(ctx, a.ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.GroupMembers(ctx, a.ID, voxgate.WatchlistGroup); !slices.Equal(m, []string{"bob"}) {
		t.Fatalf("watchlist after delete: %v", m)
	}
	if m, _ := s.GroupMembers(ctx, a.ID, "vip"); !slices.Equal(m, []string{"bob"}) {
		t.Fatalf("vip after delete: %v", m)
	}
}

func testIdentificationSettings(t *testing.T, s voxgate.Store) {
	ctx := context.Background()
	a := MustTenant(t, s, "a")
	b := MustTenant(t, s, "b")
	now := time.Now().UTC()
	if st, err := s.IdentificationSettings(ctx, a.ID); err != nil || st != (voxgate.IdentificationSettings{}) {
		t.Fatalf("unset: %+v %v", st, err)
	}
	for _, p := range []string{voxgate.WatchlistReject, voxgate.WatchlistFlag, voxgate.WatchlistReject} {
		if err := s.SetIdentificationSettings(ctx, a.ID, voxgate.IdentificationSettings{WatchlistPolicy: p}, now); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.IdentificationSettings(ctx, a.ID); st.WatchlistPolicy != voxgate.WatchlistReject {
		t.Fatalf("a: %+v", st)
	}
	if st, _ := s.IdentificationSettings(ctx, b.ID); st.WatchlistPolicy != "" {
		t.Fatalf("b sees a's settings: %+v", st)
	}
	wantCode(t, s.SetIdentificationSettings(ctx, a.ID, voxgate.IdentificationSettings{WatchlistPolicy: "maybe"}, now), voxgate.EINVALID)
}

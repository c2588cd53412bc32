package service

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"voxgate"
	"voxgate/seal"
	"voxgate/store/sqlite"
	"voxgate/webhook"
)

func TestWebhookRotationSignsWithBothSecretsForTheOverlap(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sealer, _ := seal.New(bytes.Repeat([]byte{3}, 32))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(db, Options{Sealer: sealer, Now: func() time.Time { return now }})
	a := mustActor(t, s, "acme", voxgate.ScopeAdmin)
	ctx := context.Background()
	const url = "http://93.184.216.34/hook"
	keysAt := func(at time.Time) webhook.Keys {
		t.Helper()
		w, err := db.FindWebhook(ctx, a.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.signingKeys(w, at)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}

	first, err := s.SetWebhook(ctx, a, "acme", WebhookSettings{URL: url})
	if err != nil || first.Signature != webhook.SchemeStandard || !first.PreviousUntil.IsZero() {
		t.Fatalf("new webhook: %+v %v", first, err)
	}
	if _, err := webhook.ParseSecret(first.Secret); err != nil {
		t.Fatalf("generated secret is not a Standard Webhooks secret: %v", err)
	}
	if k := keysAt(now); !slices.Equal(k.Secrets, []string{first.Secret}) {
		t.Fatalf("keys before a rotation: %d secrets", len(k.Secrets))
	}

	// A new secret: the old one signs too, for the requested overlap.
	hour := time.Hour
	second, err := s.SetWebhook(ctx, a, "acme", WebhookSettings{URL: url, Overlap: &hour})
	if err != nil || second.Secret == "" || second.Secret == first.Secret || !second.PreviousUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("rotation: %+v %v", second, err)
	}
	if k := keysAt(now.Add(59 * time.Minute)); !slices.Equal(k.Secrets, []string{second.Secret, first.Secret}) {
		t.Fatalf("keys during the overlap: %d secrets", len(k.Secrets))
	}
	if k := keysAt(now.Add(time.Hour)); !slices.Equal(k.Secrets, []string{second.Secret}) {
		t.Fatalf("keys after the overlap: %d secrets", len(k.Secrets))
	}

	// Moving the URL with the same secret keeps the rotation under way.
	moved, err := s.SetWebhook(ctx, a, "acme", WebhookSettings{URL: url + "/v2", Secret: second.Secret})
	if err != nil || moved.Secret != "" || !moved.PreviousUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("same secret: %+v %v", moved, err)
	}
	if k := keysAt(now); !slices.Equal(k.Secrets, []string{second.Secret, first.Secret}) {
		t.Fatalf("keys after a same-secret update: %d secrets", len(k.Secrets))
	}
	got, err := s.Webhook(ctx, a, "acme")
	if err != nil || got.Signature != webhook.SchemeStandard || !got.PreviousUntil.Equal(now.Add(time.Hour)) || got.Secret != "" {
		t.Fatalf("Webhook = %+v, %v", got, err)
	}

	// Overlap 0 ends the old secret at once.
	zero := time.Duration(0)
	third, err := s.SetWebhook(ctx, a, "acme", WebhookSettings{URL: url, Overlap: &zero})
	if err != nil || !third.PreviousUntil.IsZero() {
		t.Fatalf("rotation without overlap: %+v %v", third, err)
	}
	if k := keysAt(now); !slices.Equal(k.Secrets, []string{third.Secret}) {
		t.Fatalf("keys after a rotation without overlap: %d secrets", len(k.Secrets))
	}
}

func TestWebhookSchemeDecidesWhichSecretsAreAccepted(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sealer, _ := seal.New(bytes.Repeat([]byte{3}, 32))
	s := New(db, Options{Sealer: sealer})
	a := mustActor(t, s, "acme", voxgate.ScopeAdmin)
	ctx := context.Background()
	const url = "http://93.184.216.34/hook"
	std := webhook.NewSecret()
	long := 31 * 24 * time.Hour
	cases := []struct {
		name string
		set  WebhookSettings
		want webhook.Scheme // "" when refused
	}{
		{"standard secret", WebhookSettings{URL: url, Secret: std}, webhook.SchemeStandard},
		{"plain secret under the standard scheme", WebhookSettings{URL: url, Secret: "a-caller-chosen-secret"}, ""},
		{"plain secret under the legacy scheme", WebhookSettings{URL: url, Secret: "a-caller-chosen-secret", Signature: "legacy"}, webhook.SchemeLegacy},
		{"the scheme is kept when not named", WebhookSettings{URL: url, Secret: "another-chosen-secret"}, webhook.SchemeLegacy},
		{"both needs a standard secret", WebhookSettings{URL: url, Secret: "a-caller-chosen-secret", Signature: "both"}, ""},
		{"both with a standard secret", WebhookSettings{URL: url, Secret: std, Signature: "both"}, webhook.SchemeBoth},
		{"unknown scheme", WebhookSettings{URL: url, Signature: "svix"}, ""},
		{"overlap too long", WebhookSettings{URL: url, Overlap: &long}, ""},
	}
	for _, c := range cases {
		w, err := s.SetWebhook(ctx, a, "acme", c.set)
		switch {
		case c.want == "" && code(err) != voxgate.EINVALID:
			t.Errorf("%s: %+v %v, want validation_error", c.name, w, err)
		case c.want != "" && (err != nil || w.Signature != c.want):
			t.Errorf("%s: %+v %v, want scheme %s", c.name, w, err, c.want)
		}
	}
}

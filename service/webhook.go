package service

import (
	"context"
	"errors"
	"time"

	"voxgate"
	"voxgate/webhook"
)

// A tenant's webhook: where the asynchronous API's results go and how they
// are signed. Deliveries follow Standard Webhooks by default; the legacy
// X-Voxgate-Signature scheme stays available as a setting for receivers
// written against it (webhooks configured before the standard keep it). A
// new secret replaces the old one with an overlap: both sign every
// delivery for a while, so that receivers can switch without refusing one.

// WebhookSettings is a tenant's request to configure its webhook.
type WebhookSettings struct {
	URL string
	// Secret is the signing secret. "" makes a new random one, returned
	// in this answer only; one equal to the current secret keeps it (no
	// rotation). The standard scheme needs a Standard Webhooks secret
	// ("whsec_" and the base64 of 24-64 bytes); the legacy one any 16-256
	// printable characters.
	Secret string
	// Signature is the scheme (webhook.Scheme): "standard", "legacy" or
	// "both"; "" keeps the current one, standard for a new webhook.
	Signature string
	// Overlap is how long a replaced secret keeps signing beside the new
	// one: nil takes the server's default (AsyncConfig.SecretOverlap),
	// zero ends the old secret at once.
	Overlap *time.Duration
}

// MaxSecretOverlap bounds a rotation's overlap.
const MaxSecretOverlap = 30 * 24 * time.Hour

// WebhookConfig is a tenant's webhook as shown to the tenant. Secret is set
// only in the answer that generated it: it is shown once.
type WebhookConfig struct {
	URL       string
	Secret    string
	Signature webhook.Scheme
	// PreviousUntil is when the secret the last rotation replaced stops
	// signing; zero when no rotation is under way.
	PreviousUntil time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Secret bounds for a caller-chosen legacy webhook secret.
const (
	minSecretLen = 16
	maxSecretLen = 256
)

// checkLegacySecret applies the legacy scheme's rules to a caller-chosen
// secret.
func checkLegacySecret(secret string) error {
	if len(secret) < minSecretLen || len(secret) > maxSecretLen {
		return voxgate.Errorf(voxgate.EINVALID, "secret must be %d-%d characters", minSecretLen, maxSecretLen)
	}
	for _, r := range secret {
		if r < 0x21 || r > 0x7e {
			return voxgate.Errorf(voxgate.EINVALID, "secret must be printable ASCII without spaces")
		}
	}
	return nil
}

// SetWebhook configures the organisation's webhook: the URL results are
// posted to, the secret and scheme they are signed with. A secret other
// than the current one starts a rotation: the old secret keeps signing for
// the overlap. Secrets are stored sealed. Admin keys only. Returns
// EINVALID for a bad URL, secret, scheme or overlap, including a URL whose
// host is internal (unless the operator allows private targets), ENOTFOUND
// for another organisation.
func (s *Service) SetWebhook(ctx context.Context, a voxgate.Actor, org string, req WebhookSettings) (*WebhookConfig, error) {
	t, q, err := s.adminQueue(ctx, a, org)
	if err != nil {
		return nil, err
	}
	if s.sealer == nil {
		return nil, voxgate.Errorf(voxgate.EUNAVAILABLE, "webhooks need the server's sealing key")
	}
	cfg := s.cfg.Async.withDefaults()
	u, err := webhook.CheckURL(ctx, req.URL, cfg.AllowPrivate, cfg.Resolver)
	if err != nil {
		if errors.Is(err, webhook.ErrBlockedAddress) {
			return nil, voxgate.Errorf(voxgate.EINVALID, "url must reach a public address (private, loopback and link-local targets are refused by this server)")
		}
		return nil, voxgate.Errorf(voxgate.EINVALID, "%s", err.Error())
	}
	overlap := cfg.SecretOverlap
	if req.Overlap != nil {
		overlap = *req.Overlap
		if overlap < 0 || overlap > MaxSecretOverlap {
			return nil, voxgate.Errorf(voxgate.EINVALID, "secret_overlap_seconds must be between 0 and %d", int(MaxSecretOverlap.Seconds()))
		}
	}
	old, err := q.FindWebhook(ctx, t.ID)
	if err != nil && voxgate.ErrorCode(err) != voxgate.ENOTFOUND {
		return nil, err
	}
	scheme := webhook.SchemeStandard
	if old != nil && old.Signature != "" {
		scheme = webhook.Scheme(old.Signature)
	}
	if req.Signature != "" {
		if scheme, err = webhook.ParseScheme(req.Signature); err != nil {
			return nil, voxgate.Errorf(voxgate.EINVALID, "signature: %s", err.Error())
		}
	}

	out := &WebhookConfig{URL: u.String(), Signature: scheme}
	secret := req.Secret
	switch {
	case secret == "":
		secret = webhook.NewSecret()
		out.Secret = secret
	case scheme.Standard():
		if _, err := webhook.ParseSecret(secret); err != nil {
			return nil, voxgate.Errorf(voxgate.EINVALID, "%s; omit the secret to have one generated", err.Error())
		}
	default:
		if err := checkLegacySecret(secret); err != nil {
			return nil, err
		}
	}

	now := s.now().UTC()
	w := &voxgate.Webhook{TenantID: t.ID, URL: out.URL, Signature: string(scheme), CreatedAt: now, UpdatedAt: now}
	rotated := false
	if old != nil {
		w.CreatedAt = old.CreatedAt
		current, err := s.sealer.Open(old.Secret, webhookSecretAD(t.ID))
		if err != nil {
			return nil, err
		}
		if string(current) == secret {
			// The same secret: no rotation; one under way goes on.
			w.Secret, w.PreviousSecret, w.PreviousUntil = old.Secret, old.PreviousSecret, old.PreviousUntil
		} else if overlap > 0 {
			w.PreviousSecret, w.PreviousUntil, rotated = old.Secret, now.Add(overlap), true
		}
	}
	if w.Secret == nil {
		w.Secret = s.sealer.Seal([]byte(secret), webhookSecretAD(t.ID))
	}
	if !w.PreviousUntil.After(now) {
		w.PreviousSecret, w.PreviousUntil = nil, time.Time{}
	}
	if err := q.PutWebhook(ctx, w); err != nil {
		return nil, err
	}
	out.CreatedAt, out.UpdatedAt, out.PreviousUntil = w.CreatedAt, now, w.PreviousUntil
	s.log.InfoContext(ctx, "webhook configured", "tenant", t.ID, "host", u.Host, "signature", scheme,
		"generated_secret", out.Secret != "", "rotated", rotated, "previous_until", w.PreviousUntil)
	return out, nil
}

// Webhook returns the organisation's webhook, without its secret. Admin
// keys only. Returns ENOTFOUND when none is configured.
func (s *Service) Webhook(ctx context.Context, a voxgate.Actor, org string) (*WebhookConfig, error) {
	t, q, err := s.adminQueue(ctx, a, org)
	if err != nil {
		return nil, err
	}
	w, err := q.FindWebhook(ctx, t.ID)
	if err != nil {
		if voxgate.ErrorCode(err) == voxgate.ENOTFOUND {
			return nil, voxgate.Errorf(voxgate.ENOTFOUND, "No webhook configured for this organisation")
		}
		return nil, err
	}
	out := &WebhookConfig{URL: w.URL, Signature: schemeOf(w), CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if w.PreviousUntil.After(s.now()) {
		out.PreviousUntil = w.PreviousUntil
	}
	return out, nil
}

// schemeOf returns a stored webhook's scheme.
func schemeOf(w *voxgate.Webhook) webhook.Scheme {
	if w.Signature == "" {
		return webhook.SchemeStandard
	}
	return webhook.Scheme(w.Signature)
}

// signingKeys opens the webhook's secrets for a delivery at now: the
// current one, and the previous one while its overlap lasts.
func (s *Service) signingKeys(w *voxgate.Webhook, now time.Time) (webhook.Keys, error) {
	keys := webhook.Keys{Scheme: schemeOf(w)}
	cur, err := s.sealer.Open(w.Secret, webhookSecretAD(w.TenantID))
	if err != nil {
		return keys, err
	}
	keys.Secrets = append(keys.Secrets, string(cur))
	if w.PreviousSecret != nil && now.Before(w.PreviousUntil) {
		prev, err := s.sealer.Open(w.PreviousSecret, webhookSecretAD(w.TenantID))
		if err != nil {
			return keys, err
		}
		keys.Secrets = append(keys.Secrets, string(prev))
	}
	return keys, nil
}

package service

import (
	"context"
	"strings"
	"time"

	"voxgate"
	"voxgate/ids"
)

// Client tokens let a browser run one flow for one user without ever
// holding an API key: the customer's backend mints one with its key
// (POST /v1/client-tokens) and hands it to the page, which sends it as
// Authorization: Bearer.
const (
	// FlowEnroll may create the user's profile, enroll it and read its
	// enrollment status.
	FlowEnroll = "enroll"
	// FlowChallenge may start a challenge for the user and answer it.
	FlowChallenge = "challenge"

	DefaultClientTokenTTL = 5 * time.Minute
	MaxClientTokenTTL     = time.Hour
)

// ClientToken is a minted client token and what it allows.
type ClientToken struct {
	Token     string
	UserID    string
	Flow      string
	ExpiresAt time.Time
}

// IssueClientToken mints a client token for userID and flow, valid for ttl
// (0: DefaultClientTokenTTL; at most MaxClientTokenTTL). Any API key may
// mint one, since a token can do less than the key; a client token or an
// end-user JWT may not (EFORBIDDEN). The profile need not exist yet: the
// enroll flow creates it. Returns EINVALID for a bad user_id, flow or ttl,
// EUNAVAILABLE when the server has no signing key.
func (s *Service) IssueClientToken(ctx context.Context, a voxgate.Actor, userID, flow string, ttl time.Duration) (*ClientToken, error) {
	if a.TenantID == "" {
		return nil, voxgate.Errorf(voxgate.EUNAUTHORIZED, "Invalid or inactive API key")
	}
	if a.Subject != "" || a.Flow != "" || a.KeyID == "" {
		return nil, voxgate.Errorf(voxgate.EFORBIDDEN, "client tokens are minted with an API key, server side")
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, err
	}
	if flow != FlowEnroll && flow != FlowChallenge {
		return nil, voxgate.Errorf(voxgate.EINVALID, "flow must be %q or %q", FlowEnroll, FlowChallenge)
	}
	switch {
	case ttl == 0:
		ttl = DefaultClientTokenTTL
	case ttl < time.Second || ttl > MaxClientTokenTTL:
		return nil, voxgate.Errorf(voxgate.EINVALID, "ttl_seconds must be between 1 and %d", int(MaxClientTokenTTL/time.Second))
	}
	if s.tokens == nil {
		return nil, voxgate.Errorf(voxgate.EUNAVAILABLE, "token signing is not configured")
	}
	tok, c, err := s.tokens.IssueClient(userID, a.TenantID, a.KeyID, flow, ids.UUID(), ttl)
	if err != nil {
		return nil, err
	}
	return &ClientToken{Token: tok, UserID: userID, Flow: flow, ExpiresAt: c.ExpiresAt.Time}, nil
}

// IsClientToken reports whether a bearer credential has the shape of a
// client token (a JWT) rather than an API key, which starts with "vg_".
func IsClientToken(raw string) bool {
	return !strings.HasPrefix(raw, keyPrefix) && strings.Count(raw, ".") == 2
}

// AuthenticateClientToken resolves a client token to an Actor confined to
// the token's user and flow, with the verify scope and the minting key's
// ID (usage and rate limits count against that key). The minting key must
// still be active: revoking it ends its client tokens. Returns
// EUNAUTHORIZED for a bad, expired or orphaned token alike.
func (s *Service) AuthenticateClientToken(ctx context.Context, raw string) (voxgate.Actor, error) {
	bad := voxgate.Errorf(voxgate.EUNAUTHORIZED, "Invalid or expired client token")
	if s.tokens == nil {
		return voxgate.Actor{}, bad
	}
	c, err := s.tokens.VerifyClient(raw)
	if err != nil {
		return voxgate.Actor{}, bad
	}
	if c.Flow != FlowEnroll && c.Flow != FlowChallenge {
		return voxgate.Actor{}, bad
	}
	k, err := s.store.FindAPIKey(ctx, c.Key)
	switch {
	case voxgate.ErrorCode(err) == voxgate.ENOTFOUND:
		return voxgate.Actor{}, bad
	case err != nil:
		return voxgate.Actor{}, err
	}
	if k.TenantID != c.Tenant || !k.Active(s.now()) {
		return voxgate.Actor{}, bad
	}
	return voxgate.Actor{TenantID: c.Tenant, KeyID: c.Key, Scope: voxgate.ScopeVerify, Subject: c.Subject, Flow: c.Flow}, nil
}

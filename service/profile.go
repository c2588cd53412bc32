package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"voxgate"
)

// CreateProfile registers user userID in the actor's tenant. It is
// idempotent: creating an existing profile returns it with created false.
// Returns EINVALID for a bad user_id, EFORBIDDEN when the actor is confined
// to another user.
func (s *Service) CreateProfile(ctx context.Context, a voxgate.Actor, userID string) (p *voxgate.Profile, created bool, err error) {
	if err := a.RequireFlow(FlowEnroll); err != nil {
		return nil, false, err
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, false, err
	}
	if err := a.CanActOn(userID); err != nil {
		return nil, false, err
	}
	p, created, err = s.store.CreateProfile(ctx, a.TenantID, userID, s.now().UTC())
	if err != nil {
		return nil, false, err
	}
	if created {
		s.log.InfoContext(ctx, "profile created", "tenant", a.TenantID)
	}
	return p, created, nil
}

// Profile returns the status of one profile of the actor's tenant.
// Returns EPROFILENOTFOUND when the tenant has no such user.
func (s *Service) Profile(ctx context.Context, a voxgate.Actor, userID string) (*voxgate.Profile, error) {
	if err := a.RequireFlow(FlowEnroll); err != nil {
		return nil, err
	}
	if err := normalizeUserID(&userID); err != nil {
		return nil, err
	}
	if err := a.CanActOn(userID); err != nil {
		return nil, err
	}
	return s.store.FindProfile(ctx, a.TenantID, userID)
}

// DeleteProfile removes a profile and every biometric record of it. Admin
// keys and tokens may delete any profile of their tenant, an end-user token
// its own; a verify key or client token gets EFORBIDDEN. Returns
// EPROFILENOTFOUND when the tenant has no such user.
func (s *Service) DeleteProfile(ctx context.Context, a voxgate.Actor, userID string) error {
	if err := normalizeUserID(&userID); err != nil {
		return err
	}
	if err := a.CanManage(userID); err != nil {
		return err
	}
	if err := s.store.DeleteProfile(ctx, a.TenantID, userID, s.AuditPseudonym(a.TenantID, userID)); err != nil {
		return err
	}
	s.forgetCohort(a.TenantID)
	s.dropFromGallery(a.TenantID, userID)
	s.log.InfoContext(ctx, "profile deleted", "tenant", a.TenantID)
	return nil
}

// AuditPseudonym is what a deleted user's audit rows name instead of the
// user id when the operator set Config.AuditSalt: "anon-" and 32 hex
// digits of HMAC-SHA-256(salt, tenant, user). Whoever holds the salt can
// recompute it for a given user id (to answer a request about that person's
// history); nobody can reverse it. "" without a salt: rows keep the user id.
func (s *Service) AuditPseudonym(tenantID, userID string) string {
	if len(s.cfg.AuditSalt) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, s.cfg.AuditSalt)
	m.Write([]byte("voxgate-audit\x00" + tenantID + "\x00" + userID))
	return "anon-" + hex.EncodeToString(m.Sum(nil)[:16])
}

// normalizeUserID replaces *id with its canonical form (voxgate.NormalizeUserID:
// NFC, no control or invisible characters), so that every lookup and write
// uses one spelling of each user.
func normalizeUserID(id *string) error {
	n, err := voxgate.NormalizeUserID(*id)
	if err != nil {
		return err
	}
	*id = n
	return nil
}

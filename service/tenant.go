package service

import (
	"context"

	"voxgate"
)

// TenantID resolves a tenant reference, its name or its ID, to the tenant's
// ID. It is for callers authenticated by something that names a tenant
// rather than by an API key: a JWT's tenant claim, an /organisations/{orgId}
// path. It creates nothing. Returns ENOTFOUND when no tenant has that name
// or ID.
func (s *Service) TenantID(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return "", voxgate.Errorf(voxgate.ENOTFOUND, "tenant not found")
	}
	t, err := s.store.FindTenant(ctx, ref)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

package service

import (
	"context"
	"time"

	"voxgate"
	"voxgate/ids"
)

// Demo keys: sandbox keys minted without authentication, for evaluation,
// only when the operator turns them on.
const (
	DemoKeyTTL = 24 * time.Hour
	// DemoKeysPerHour bounds demo keys per client address.
	DemoKeysPerHour = 5
)

// CreateDemoKey mints a verify-scope key for a fresh sandbox tenant, valid
// for 24 hours. clientAddr is the caller's IP address, limited to
// DemoKeysPerHour keys per hour. Returns EFORBIDDEN when the operator has not
// enabled demo keys, ERATELIMITED past the limit.
func (s *Service) CreateDemoKey(ctx context.Context, clientAddr string) (*NewKey, error) {
	if !s.cfg.DemoKeys {
		return nil, voxgate.Errorf(voxgate.EFORBIDDEN, "Demo keys are disabled on this server")
	}
	now := s.now()
	start := now.Truncate(time.Hour)
	n, err := s.store.CountRequest(ctx, "demo:"+clientAddr, "hour", start, start.Add(-2*time.Hour))
	if err != nil {
		return nil, err
	}
	if n > DemoKeysPerHour {
		return nil, &voxgate.Error{Code: voxgate.ERATELIMITED, Message: "Too many demo keys from this address",
			RetryAfter: start.Add(time.Hour).Sub(now), Scope: "hour"}
	}
	return s.CreateKey(ctx, "sandbox-"+ids.Token(12), voxgate.ScopeVerify, "demo key for "+clientAddr, DemoKeyTTL)
}

package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"time"

	"voxgate/jwtauth"
)

// jwtConfig is how the operator configures the verification of the JWTs
// of the admin and end-user routes (seed 003): an HS256 secret file, a
// file of RS256 / ES256 / EdDSA public keys (PEM or JWKS), or the JWKS URL
// of an identity provider; the expected issuer and audience; and which
// claims name the role and the tenant. serve and `tokens verify` share it.
type jwtConfig struct {
	secretFile, publicKeys, jwksURL string
	issuer, audience                string
	maxLifetime                     time.Duration
	jwksMinRefresh                  time.Duration
	roleClaim, adminRole, userRole  string
	tenantClaim                     string
}

// register adds the --jwt-* flags to fs, with environment defaults.
func (c *jwtConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.secretFile, "jwt-hs256-secret-file", envOr("VOXGATE_JWT_HS256_SECRET_FILE", ""),
		"`FILE` holding the HS256 secret (at least 32 bytes) of /uflow tokens (env VOXGATE_JWT_HS256_SECRET_FILE)")
	fs.StringVar(&c.publicKeys, "jwt-public-keys", envOr("VOXGATE_JWT_PUBLIC_KEYS", ""),
		"`FILE` of RS256/ES256/EdDSA public keys of /uflow tokens: PEM blocks or a JWKS document (env VOXGATE_JWT_PUBLIC_KEYS)")
	fs.StringVar(&c.jwksURL, "jwt-jwks-url", envOr("VOXGATE_JWT_JWKS_URL", ""),
		"`URL` of the identity provider's JWKS (RS256/ES256/EdDSA keys of /uflow tokens), cached per its Cache-Control max-age (default 10 min) and fetched again when a token names an unknown kid (env VOXGATE_JWT_JWKS_URL)")
	fs.DurationVar(&c.jwksMinRefresh, "jwt-jwks-min-refresh", jwtauth.DefaultJWKSMinRefresh,
		"least time between two JWKS fetches that tokens naming unknown kids (or failed fetches) cause")
	fs.StringVar(&c.issuer, "jwt-issuer", envOr("VOXGATE_JWT_ISSUER", ""), "required iss of /uflow tokens (env VOXGATE_JWT_ISSUER)")
	fs.StringVar(&c.audience, "jwt-audience", envOr("VOXGATE_JWT_AUDIENCE", ""), "required aud of /uflow tokens (env VOXGATE_JWT_AUDIENCE)")
	fs.DurationVar(&c.maxLifetime, "jwt-max-lifetime", 0, "refuse /uflow tokens valid for longer than this (0: no limit)")
	fs.StringVar(&c.roleClaim, "jwt-role-claim", envOr("VOXGATE_JWT_ROLE_CLAIM", ""),
		"claim `PATH` naming the token's roles, dot-separated into nested objects: realm_access.roles (Keycloak), scp (Okta), roles (Entra ID)... (default: role, then roles and scope; env VOXGATE_JWT_ROLE_CLAIM)")
	fs.StringVar(&c.adminRole, "jwt-admin-role", envOr("VOXGATE_JWT_ADMIN_ROLE", string(jwtauth.RoleAdmin)),
		"role `NAME` in the role claim that makes an admin token (env VOXGATE_JWT_ADMIN_ROLE)")
	fs.StringVar(&c.userRole, "jwt-user-role", envOr("VOXGATE_JWT_USER_ROLE", string(jwtauth.RoleUser)),
		"role `NAME` in the role claim that makes an end-user token (env VOXGATE_JWT_USER_ROLE)")
	fs.StringVar(&c.tenantClaim, "jwt-tenant-claim", envOr("VOXGATE_JWT_TENANT_CLAIM", ""),
		"claim `PATH` naming the tenant, dot-separated like --jwt-role-claim (default: tenant, then tenant_id; env VOXGATE_JWT_TENANT_CLAIM)")
}

// verifier builds the configured verifier: nil (the /uflow routes answer
// 401) when no key is configured, an error when several kinds are. A JWKS
// URL is fetched once here, so that an unreachable provider shows in the
// log at start; the server starts anyway and fetches again when a token
// arrives.
func (c *jwtConfig) verifier(ctx context.Context, log *slog.Logger) (*jwtauth.Verifier, error) {
	opt := jwtauth.Options{Issuer: c.issuer, Audience: c.audience, MaxLifetime: c.maxLifetime,
		RoleClaim: c.roleClaim, AdminRole: c.adminRole, UserRole: c.userRole, TenantClaim: c.tenantClaim}
	n := 0
	for _, v := range []string{c.secretFile, c.publicKeys, c.jwksURL} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("give one of --jwt-hs256-secret-file, --jwt-public-keys and --jwt-jwks-url: one verifier accepts one key family")
	}
	switch {
	case c.secretFile != "":
		secret, err := jwtauth.LoadSecret(c.secretFile)
		if err != nil {
			return nil, err
		}
		return jwtauth.NewHMAC(secret, opt)
	case c.publicKeys != "":
		keys, err := jwtauth.LoadPublicKeys(c.publicKeys)
		if err != nil {
			return nil, err
		}
		return jwtauth.NewPublic(keys, opt)
	case c.jwksURL != "":
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		set, err := jwtauth.NewJWKS(c.jwksURL, jwtauth.JWKSOptions{Logger: log, MinRefresh: c.jwksMinRefresh})
		if err != nil {
			return nil, err
		}
		set.Refresh(ctx) // logged either way
		return jwtauth.NewRemote(set, opt)
	}
	return nil, nil
}

// Package jwtauth verifies the JSON Web Tokens that an operator's identity
// system issues for the admin and end-user routes (seed 003), and signs test
// tokens with the same keys.
//
// The operator configures exactly one key family: an HS256 shared secret, or
// RS256 / ES256 / EdDSA (Ed25519) public keys from a PEM or JWKS file, or
// from the JWKS URL its identity provider publishes (Keycloak, Auth0, Okta,
// Entra ID...: see [JWKS] for the caching). A Verifier accepts only the
// algorithms of its own keys: `alg: none` is never accepted, an HS256
// verifier refuses RS256, ES256 and EdDSA tokens, and a public-key verifier
// refuses HS256 tokens, so that a public key can never be misused as an HMAC
// secret (algorithm confusion). Keys named in a token's header (jku, x5u,
// jwk) are ignored: only configured keys verify.
//
// Claims voxgate reads, by default:
//
//	sub     required: the end user (user tokens) or the administrator (admin tokens)
//	tenant  required: the tenant's name or ID ("tenant_id" is accepted too)
//	role    "admin" or "user"; without it, a "roles" array or a space-separated
//	        "scope" naming exactly one of admin or user (admin wins if both)
//	exp     required; nbf and iat checked when present, with a small leeway
//	iss     checked when the verifier is configured with an issuer
//	aud     checked when the verifier is configured with an audience
//	jti     optional, kept for the audit log
//
// Identity providers put roles and tenants elsewhere; [Options] names the
// claims to read instead (Keycloak's realm_access.roles, Okta's scp, any
// custom claim by a dot-separated path) and the role names that mean admin
// and user.
package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"voxgate"
)

// Role is what a token may do.
type Role string

const (
	// RoleAdmin acts on any user of its tenant (the /uflow/admin routes).
	RoleAdmin Role = "admin"
	// RoleUser acts only on its own subject (the /uflow/user routes).
	RoleUser Role = "user"
)

// Algorithms a Verifier may accept, by key family.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// publicAlgs are the algorithms of public keys, in the order a verifier
// lists them.
var publicAlgs = []string{AlgRS256, AlgES256, AlgEdDSA}

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// MaxTokenLen bounds a token before any parsing.
const MaxTokenLen = 8 << 10

// Options configure a Verifier.
type Options struct {
	// Issuer, when not empty, must equal the token's iss.
	Issuer string
	// Audience, when not empty, must be one of the token's aud values.
	Audience string
	// Leeway is the clock skew allowed; 0 means DefaultLeeway, negative none.
	Leeway time.Duration
	// MaxLifetime, when positive, refuses tokens whose exp lies further
	// than this after their iat (or after now, without iat).
	MaxLifetime time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time

	// RoleClaim is the claim that names the token's role, as a top-level
	// claim name or a dot-separated path into nested objects:
	// "realm_access.roles" (Keycloak realm roles),
	// "resource_access.voxgate.roles" (Keycloak client roles), "scp"
	// (Okta), "roles" (Entra ID app roles), "https://voxgate.example/roles"
	// (an Auth0 namespaced claim). Its value is an array of names or a
	// space-separated string. "" reads role, then roles and scope.
	RoleClaim string
	// AdminRole and UserRole are the role names that mean admin and user
	// (default "admin" and "user"), compared without regard to case. A
	// token naming both is an admin token.
	AdminRole, UserRole string
	// TenantClaim is the claim that names the tenant (by name or ID), as a
	// name or dot-separated path like RoleClaim; "" reads tenant, then
	// tenant_id.
	TenantClaim string
}

// Claims are a verified token's claims.
type Claims struct {
	Subject string
	// Tenant names the tenant, by name or ID, as the token says it.
	Tenant    string
	Role      Role
	ID        string // jti, "" if absent
	Issuer    string
	KeyID     string // kid of the header, "" if absent
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Actor returns who the token acts as, once its tenant reference has been
// resolved to tenantID. An admin token acts with the admin scope on the
// whole tenant; a user token acts with the verify scope, confined to its own
// subject. KeyID names the token's subject (rate limits and the audit log
// count per KeyID), tenant-qualified so that equal subjects of two tenants
// never share a counter, and never colliding with an API key's ID.
func (c *Claims) Actor(tenantID string) voxgate.Actor {
	if c.Role == RoleAdmin {
		return voxgate.Actor{TenantID: tenantID, KeyID: "jwt:admin:" + tenantID + ":" + c.Subject, Scope: voxgate.ScopeAdmin}
	}
	return voxgate.Actor{TenantID: tenantID, KeyID: voxgate.EndUserKeyID(tenantID, c.Subject), Scope: voxgate.ScopeVerify, Subject: c.Subject}
}

// Verifier checks tokens against the operator's keys. It is safe for
// concurrent use. Build one with NewHMAC or NewPublic.
type Verifier struct {
	secret  []byte      // HS256; nil for a public-key verifier
	keys    []PublicKey // RS256 / ES256 / EdDSA from a file
	remote  *JWKS       // or from an identity provider's URL
	methods []string
	opt     Options
	parser  *jwt.Parser
}

// MinSecretLen is the shortest HS256 secret accepted: 256 bits, as RFC 7518
// section 3.2 requires.
const MinSecretLen = 32

// NewHMAC returns a Verifier for HS256 tokens signed with secret.
func NewHMAC(secret []byte, opt Options) (*Verifier, error) {
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	v := &Verifier{secret: slices.Clone(secret), methods: []string{AlgHS256}}
	return v.init(opt), nil
}

// NewPublic returns a Verifier for RS256, ES256 and EdDSA tokens signed by
// the private halves of keys. A token is checked against the key its kid names;
// a token without kid, or whose kid no key carries, is checked against the
// keys that have no name. Two keys may not share a name.
func NewPublic(keys []PublicKey, opt Options) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("jwtauth: no public keys")
	}
	seen := map[string]bool{}
	v := &Verifier{}
	for _, k := range keys {
		if err := k.check(); err != nil {
			return nil, err
		}
		if k.ID != "" {
			if seen[k.ID] {
				return nil, fmt.Errorf("jwtauth: two keys share the kid %q", k.ID)
			}
			seen[k.ID] = true
		}
		if alg := k.Alg(); !slices.Contains(v.methods, alg) {
			v.methods = append(v.methods, alg)
		}
		v.keys = append(v.keys, k)
	}
	return v.init(opt), nil
}

// NewRemote returns a Verifier for RS256, ES256 and EdDSA tokens whose
// keys an identity provider publishes at a JWKS URL, fetched and cached by
// keys (see JWKS).
func NewRemote(keys *JWKS, opt Options) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("jwtauth: no JWKS")
	}
	v := &Verifier{remote: keys, methods: slices.Clone(publicAlgs)}
	return v.init(opt), nil
}

func (v *Verifier) init(opt Options) *Verifier {
	if opt.Leeway == 0 {
		opt.Leeway = DefaultLeeway
	}
	if opt.Leeway < 0 {
		opt.Leeway = 0
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.AdminRole == "" {
		opt.AdminRole = string(RoleAdmin)
	}
	if opt.UserRole == "" {
		opt.UserRole = string(RoleUser)
	}
	v.opt = opt
	po := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithLeeway(opt.Leeway),
		jwt.WithTimeFunc(opt.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if opt.Issuer != "" {
		po = append(po, jwt.WithIssuer(opt.Issuer))
	}
	if opt.Audience != "" {
		po = append(po, jwt.WithAudience(opt.Audience))
	}
	v.parser = jwt.NewParser(po...)
	return v
}

// Algorithms returns the algorithms the verifier accepts.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.methods) }

// tokenClaims is the JSON of a token's payload.
type tokenClaims struct {
	jwt.RegisteredClaims
	Tenant   string           `json:"tenant,omitempty"`
	TenantID string           `json:"tenant_id,omitempty"`
	Role     string           `json:"role,omitempty"`
	Roles    jwt.ClaimStrings `json:"roles,omitempty"`
	Scope    string           `json:"scope,omitempty"`

	// raw holds every claim, for the configured claim paths; only
	// decoding fills it (Sign ignores it).
	raw map[string]any
}

// UnmarshalJSON decodes the payload into the fields and into raw.
func (tc *tokenClaims) UnmarshalJSON(b []byte) error {
	type fields tokenClaims // without this method
	if err := json.Unmarshal(b, (*fields)(tc)); err != nil {
		return err
	}
	return json.Unmarshal(b, &tc.raw)
}

// claimAt returns the claim at path: a top-level claim of that exact name
// (URL-like names hold dots), else the dot-separated path through nested
// objects; nil when absent.
func (tc *tokenClaims) claimAt(path string) any {
	if v, ok := tc.raw[path]; ok {
		return v
	}
	var cur any = tc.raw
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// Verify checks the token like VerifyContext, without a deadline of the
// caller's on fetching remote keys.
func (v *Verifier) Verify(token string) (*Claims, error) {
	return v.VerifyContext(context.Background(), token)
}

// VerifyContext checks the token's signature and claims and returns them.
// Every failure of the token is an EUNAUTHORIZED error whose message says
// what was wrong (expired, wrong audience, bad signature...), never which
// key was tried; EUNAVAILABLE means that remote keys could not be fetched
// (the identity provider is unreachable and nothing is cached). ctx bounds
// a fetch of remote keys.
func (v *Verifier) VerifyContext(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, unauthorized("Missing bearer token")
	}
	if len(token) > MaxTokenLen {
		return nil, unauthorized("Token longer than %d bytes", MaxTokenLen)
	}
	var tc tokenClaims
	t, err := v.parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) { return v.keyFor(ctx, t) })
	if err != nil {
		return nil, v.explain(t, &tc, err)
	}
	c := &Claims{Subject: tc.Subject, ID: tc.ID, Issuer: tc.Issuer}
	if c.Tenant, err = v.tenantOf(&tc); err != nil {
		return nil, err
	}
	if kid, ok := t.Header["kid"].(string); ok {
		c.KeyID = kid
	}
	if tc.IssuedAt != nil {
		c.IssuedAt = tc.IssuedAt.Time
	}
	c.ExpiresAt = tc.ExpiresAt.Time // required by the parser
	sub, err := voxgate.NormalizeUserID(c.Subject)
	if err != nil {
		return nil, unauthorized("Token subject (sub) must be 1-%d printable characters", voxgate.MaxUserIDLen)
	}
	c.Subject = sub // NFC, as the service spells user ids
	if c.Tenant == "" || len(c.Tenant) > 128 {
		return nil, unauthorized("Token lacks the tenant claim")
	}
	if c.Role, err = v.roleOf(&tc); err != nil {
		return nil, err
	}
	if max := v.opt.MaxLifetime; max > 0 {
		from := c.IssuedAt
		if from.IsZero() {
			from = v.opt.Now()
		}
		if c.ExpiresAt.Sub(from) > max+v.opt.Leeway {
			return nil, unauthorized("Token lifetime exceeds %s", max)
		}
	}
	return c, nil
}

// tenantOf reads the tenant claim: the configured one, else tenant, then
// tenant_id.
func (v *Verifier) tenantOf(tc *tokenClaims) (string, error) {
	if v.opt.TenantClaim == "" {
		if tc.Tenant != "" {
			return tc.Tenant, nil
		}
		return tc.TenantID, nil
	}
	switch t := tc.claimAt(v.opt.TenantClaim).(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	}
	return "", unauthorized("Token claim %q must be a string naming the tenant", v.opt.TenantClaim)
}

// role maps a role name onto a Role; "" when it is neither.
func (v *Verifier) role(name string) Role {
	switch {
	case strings.EqualFold(name, v.opt.AdminRole):
		return RoleAdmin
	case strings.EqualFold(name, v.opt.UserRole):
		return RoleUser
	}
	return ""
}

// roleOf reads the configured role claim, or by default the role claim,
// failing that the roles or scope claims.
func (v *Verifier) roleOf(tc *tokenClaims) (Role, error) {
	var names []string
	if v.opt.RoleClaim != "" {
		switch val := tc.claimAt(v.opt.RoleClaim).(type) {
		case string:
			names = strings.Fields(val)
		case []any:
			for _, n := range val {
				if s, ok := n.(string); ok {
					names = append(names, s)
				}
			}
		}
	} else {
		if tc.Role != "" {
			if r := v.role(tc.Role); r != "" {
				return r, nil
			}
			return "", unauthorized("Token role must be %q or %q", v.opt.AdminRole, v.opt.UserRole)
		}
		names = append([]string(tc.Roles), strings.Fields(tc.Scope)...)
	}
	var admin, user bool
	for _, n := range names {
		switch v.role(n) {
		case RoleAdmin:
			admin = true
		case RoleUser:
			user = true
		}
	}
	switch {
	case admin:
		return RoleAdmin, nil
	case user:
		return RoleUser, nil
	}
	claim := v.opt.RoleClaim
	if claim == "" {
		claim = "role"
	}
	return "", unauthorized("Token has no role (claim %q naming %q or %q)", claim, v.opt.AdminRole, v.opt.UserRole)
}

// keyFor returns the key(s) that may have signed t. The parser has already
// checked t's algorithm against the verifier's list.
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	if typ, ok := t.Header["typ"]; ok {
		s, _ := typ.(string)
		switch strings.ToLower(s) {
		case "jwt", "at+jwt", "application/jwt", "application/at+jwt":
		default:
			return nil, errKey("Token type %q not accepted", s)
		}
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errKey("Token carries critical header extensions")
	}
	alg := t.Method.Alg()
	if v.secret != nil {
		if alg != AlgHS256 { // unreachable through the parser's method list; kept as a second lock
			return nil, errKey("Token algorithm %q not accepted", alg)
		}
		return v.secret, nil
	}
	kid := ""
	if raw, ok := t.Header["kid"]; ok {
		s, isString := raw.(string)
		if !isString || s == "" {
			return nil, errKey("Token kid must be a non-empty string")
		}
		kid = s
	}
	keys := v.keys
	if v.remote != nil {
		var err error
		if keys, err = v.remote.Keys(ctx, kid); err != nil {
			return nil, err
		}
	}
	var set jwt.VerificationKeySet
	named := false
	for _, k := range keys {
		if kid != "" && k.ID == kid {
			named = true
			if k.Alg() != alg {
				return nil, errKey("Token algorithm %q does not match its key", alg)
			}
			set.Keys = append(set.Keys, k.Key)
		}
	}
	if !named {
		for _, k := range keys {
			if k.Alg() == alg && (kid == "" || k.ID == "") {
				set.Keys = append(set.Keys, k.Key)
			}
		}
	}
	if len(set.Keys) == 0 {
		if kid != "" {
			return nil, errKey("Unknown token key id %q", kid)
		}
		return nil, errKey("No configured key for %s tokens", alg)
	}
	return set, nil
}

// keyError is a keyFor refusal, reported as is.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

func errKey(format string, args ...any) error { return &keyError{fmt.Sprintf(format, args...)} }

func unauthorized(format string, args ...any) error {
	return voxgate.Errorf(voxgate.EUNAUTHORIZED, format, args...)
}

// explain turns a parser error into one EUNAUTHORIZED message.
func (v *Verifier) explain(t *jwt.Token, tc *tokenClaims, err error) error {
	var ke *keyError
	var ve *voxgate.Error
	switch {
	case errors.As(err, &ve) && ve.Code == voxgate.EUNAVAILABLE:
		return ve
	case errors.As(err, &ke):
		return unauthorized("%s", ke.msg)
	case t != nil && t.Method != nil && !slices.Contains(v.methods, t.Method.Alg()):
		return unauthorized("Token algorithm %q not accepted (this server accepts %s)", t.Method.Alg(), strings.Join(v.methods, ", "))
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthorized("Malformed token")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthorized("Token algorithm not accepted (this server accepts %s)", strings.Join(v.methods, ", "))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return unauthorized("Invalid token signature")
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthorized("Token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthorized("Token not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthorized("Token issued in the future (iat)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return unauthorized("Token issuer not accepted")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return unauthorized("Token audience not accepted")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && tc.ExpiresAt == nil:
		return unauthorized("Token lacks the exp claim")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && v.opt.Issuer != "" && tc.Issuer == "":
		return unauthorized("Token issuer not accepted (no iss claim)")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && v.opt.Audience != "" && len(tc.Audience) == 0:
		return unauthorized("Token audience not accepted (no aud claim)")
	default:
		return unauthorized("Invalid token")
	}
}

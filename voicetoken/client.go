package voicetoken

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClientAudience is the audience of client tokens. It differs from
// Audience, so that a client token never validates as a voice token and a
// voice token never authenticates a browser.
const ClientAudience = "client-token"

// ClientClaims are a client token's claims: a browser's short-lived,
// narrow stand-in for an API key. The subject is the one user it may act
// on, Flow the routes it may call, Key the API key that minted it (its
// usage and rate limits are that key's, and revoking the key ends it).
type ClientClaims struct {
	Tenant string `json:"tenant"`
	Key    string `json:"key"`
	Flow   string `json:"flow"`
	jwt.RegisteredClaims
}

// IssueClient signs a client token for user sub of tenant, minted by API
// key keyID, for one flow, valid for ttl.
func (s *Signer) IssueClient(sub, tenant, keyID, flow, jti string, ttl time.Duration) (string, *ClientClaims, error) {
	now := s.now().UTC().Truncate(time.Second)
	c := &ClientClaims{Tenant: tenant, Key: keyID, Flow: flow, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: Issuer, Subject: sub, Audience: jwt.ClaimStrings{ClientAudience}, ID: jti,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = s.kid
	t.Header["typ"] = "vg-client+jwt"
	signed, err := t.SignedString(s.priv)
	return signed, c, err
}

// VerifyClient checks a client token's signature (EdDSA only, by its kid),
// issuer, audience and time claims, and returns its claims.
func (s *Signer) VerifyClient(token string) (*ClientClaims, error) {
	var c ClientClaims
	_, err := jwt.ParseWithClaims(token, &c, s.keyFunc, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithAudience(ClientAudience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(s.now), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Subject == "" || c.Tenant == "" || c.Key == "" || c.Flow == "" || c.ID == "" {
		return nil, fmt.Errorf("%w: missing claims", ErrInvalid)
	}
	return &c, nil
}

// keyFunc finds the public key named by a token's kid.
func (s *Signer) keyFunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	pub, ok := s.pubs[kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return pub, nil
}

// Package voicetoken issues and checks voice tokens: short-lived JWTs,
// signed with Ed25519, that a successful challenge hands to the client and
// that the customer's backend validates once (/verify-token). Signing keys
// live in the data directory as PKCS#8 PEM files with owner-only access;
// every token names its key in the "kid" header, so that a new key can take
// over while tokens signed by the old one still validate until they expire.
package voicetoken

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and audience of every voice token.
const (
	Issuer   = "voxgate"
	Audience = "voice-token"
)

// Claims are a voice token's claims.
type Claims struct {
	Tenant  string `json:"tenant"`
	Session string `json:"sid"`
	jwt.RegisteredClaims
}

// Signer issues and verifies tokens. The newest key signs; all verify.
type Signer struct {
	kid  string
	priv ed25519.PrivateKey
	pubs map[string]ed25519.PublicKey
	now  func() time.Time
}

// KeyID is the kid of a public key: 12 base64url characters of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// New returns a Signer that signs with priv and also accepts tokens signed
// by the older keys.
func New(priv ed25519.PrivateKey, older ...ed25519.PublicKey) *Signer {
	pub := priv.Public().(ed25519.PublicKey)
	s := &Signer{kid: KeyID(pub), priv: priv, pubs: map[string]ed25519.PublicKey{KeyID(pub): pub}, now: time.Now}
	for _, p := range older {
		s.pubs[KeyID(p)] = p
	}
	return s
}

// KeyFilePattern names signing keys in the data directory; the part after
// the dash sorts by creation time.
const KeyFilePattern = "voice-token-*.pem"

// LoadOrCreate reads every signing key in dir (the newest signs) or creates
// the first one.
func LoadOrCreate(dir string) (*Signer, error) {
	paths, err := filepath.Glob(filepath.Join(dir, KeyFilePattern))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		p, err := CreateKey(dir, time.Now())
		if err != nil {
			return nil, err
		}
		paths = []string{p}
	}
	sort.Strings(paths)
	var keys []ed25519.PrivateKey
	for _, p := range paths {
		k, err := readKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	newest := keys[len(keys)-1]
	var older []ed25519.PublicKey
	for _, k := range keys[:len(keys)-1] {
		older = append(older, k.Public().(ed25519.PublicKey))
	}
	return New(newest, older...), nil
}

// CreateKey writes a fresh signing key into dir with mode 0600 and returns
// its path. The newest file signs from the next start on.
func CreateKey(dir string, at time.Time) (string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "voice-token-"+at.UTC().Format("20060102T150405.000000000")+".pem")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

func readKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("voice-token key %s has mode %v: it must be readable by its owner only", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return priv, nil
}

// KeyID returns the signing key's kid.
func (s *Signer) KeyID() string { return s.kid }

// Issue signs a token for subject sub of tenant, from session sid, valid
// for ttl. It returns the token and its claims.
func (s *Signer) Issue(sub, tenant, sid, jti string, ttl time.Duration) (string, *Claims, error) {
	now := s.now().UTC().Truncate(time.Second)
	c := &Claims{Tenant: tenant, Session: sid, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: Issuer, Subject: sub, Audience: jwt.ClaimStrings{Audience}, ID: jti,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.priv)
	return signed, c, err
}

// ErrInvalid is returned for any token that does not verify.
var ErrInvalid = errors.New("voicetoken: invalid token")

// Verify checks a token's signature (EdDSA only, by its kid), issuer,
// audience and time claims, and returns its claims.
func (s *Signer) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := s.pubs[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(s.now), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Subject == "" || c.Tenant == "" || c.ID == "" {
		return nil, fmt.Errorf("%w: missing claims", ErrInvalid)
	}
	return &c, nil
}

package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SigningKey signs tokens the way the operator's identity system would:
// with the HS256 secret, or with the private half of a configured public
// key. voxgate itself never needs one to serve; `voxgate tokens mint` and
// tests do.
type SigningKey struct {
	// ID, when not empty, goes into the token's kid header.
	ID  string
	alg string
	key any // []byte, *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey
}

// HMACKey returns a SigningKey for HS256 with secret.
func HMACKey(secret []byte) (SigningKey, error) {
	if err := checkSecret(secret); err != nil {
		return SigningKey{}, err
	}
	return SigningKey{alg: AlgHS256, key: slices.Clone(secret)}, nil
}

// PrivateKey returns a SigningKey for an *rsa.PrivateKey (RS256), an
// *ecdsa.PrivateKey on P-256 (ES256) or an ed25519.PrivateKey (EdDSA).
func PrivateKey(id string, key crypto.Signer) (SigningKey, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < MinRSABits {
			return SigningKey{}, fmt.Errorf("jwtauth: RSA key shorter than %d bits", MinRSABits)
		}
		return SigningKey{ID: id, alg: AlgRS256, key: k}, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return SigningKey{}, errors.New("jwtauth: EC key not on P-256 (ES256)")
		}
		return SigningKey{ID: id, alg: AlgES256, key: k}, nil
	case ed25519.PrivateKey:
		return SigningKey{ID: id, alg: AlgEdDSA, key: k}, nil
	}
	return SigningKey{}, fmt.Errorf("jwtauth: unsupported private key type %T (want RSA, P-256 EC or Ed25519)", key)
}

// LoadSigningKey reads a private key from a PEM file ("PRIVATE KEY" PKCS #8,
// "RSA PRIVATE KEY" PKCS #1 or "EC PRIVATE KEY" SEC 1). The key is named
// by a "kid: NAME" header line in the block, which older `voxgate tokens
// keygen` wrote, else by its RFC 7638 thumbprint (the kid keygen now puts
// in its JWKS file).
func LoadSigningKey(path string) (SigningKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return SigningKey{}, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return SigningKey{}, fmt.Errorf("%s: no PEM block", path)
	}
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return SigningKey{}, fmt.Errorf("%s: PEM block %q is not a private key", path, b.Type)
	}
	if err != nil {
		return SigningKey{}, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return SigningKey{}, fmt.Errorf("%s: unsupported private key type %T", path, key)
	}
	k, err := PrivateKey(strings.TrimSpace(b.Headers["kid"]), signer)
	if err != nil {
		return SigningKey{}, fmt.Errorf("%s: %w", path, err)
	}
	if k.ID == "" {
		pub, _ := k.Public()
		if k.ID, err = pub.Thumbprint(); err != nil {
			return SigningKey{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	return k, nil
}

// Alg returns the algorithm the key signs with.
func (k SigningKey) Alg() string { return k.alg }

// Public returns the verification key of an RSA, EC or Ed25519 signing key.
func (k SigningKey) Public() (PublicKey, error) {
	s, ok := k.key.(crypto.Signer)
	if !ok {
		return PublicKey{}, errors.New("jwtauth: an HMAC secret has no public key")
	}
	return PublicKey{ID: k.ID, Key: s.Public()}, nil
}

// Mint is what a token to be signed says.
type Mint struct {
	Subject string
	Tenant  string
	Role    Role
	// TTL is the token's lifetime from Now; it must be positive.
	TTL      time.Duration
	Issuer   string
	Audience string
	// Now is the issue time; zero means time.Now.
	Now time.Time
}

// Sign returns a signed token for m with a fresh random jti.
func (k SigningKey) Sign(m Mint) (string, error) {
	if k.key == nil {
		return "", errors.New("jwtauth: zero SigningKey")
	}
	if m.Subject == "" || m.Tenant == "" {
		return "", errors.New("jwtauth: subject and tenant are required")
	}
	if m.Role != RoleAdmin && m.Role != RoleUser {
		return "", fmt.Errorf("jwtauth: role must be %q or %q", RoleAdmin, RoleUser)
	}
	if m.TTL <= 0 {
		return "", errors.New("jwtauth: TTL must be positive")
	}
	now := m.Now
	if now.IsZero() {
		now = time.Now()
	}
	var jti [16]byte
	rand.Read(jti[:])
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: m.Subject, Issuer: m.Issuer, ID: base64.RawURLEncoding.EncodeToString(jti[:]),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(m.TTL)),
		},
		Tenant: m.Tenant,
		Role:   string(m.Role),
	}
	if m.Audience != "" {
		claims.Audience = jwt.ClaimStrings{m.Audience}
	}
	var method jwt.SigningMethod
	switch k.alg {
	case AlgHS256:
		method = jwt.SigningMethodHS256
	case AlgRS256:
		method = jwt.SigningMethodRS256
	case AlgES256:
		method = jwt.SigningMethodES256
	case AlgEdDSA:
		method = jwt.SigningMethodEdDSA
	}
	t := jwt.NewWithClaims(method, claims)
	if k.ID != "" {
		t.Header["kid"] = k.ID
	}
	return t.SignedString(k.key)
}

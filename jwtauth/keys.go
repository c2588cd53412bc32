package jwtauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
)

// PublicKey is one configured verification key.
type PublicKey struct {
	// ID is the key's kid; "" for an unnamed key.
	ID string
	// Key is an *rsa.PublicKey (RS256), an *ecdsa.PublicKey on P-256
	// (ES256) or an ed25519.PublicKey (EdDSA).
	Key crypto.PublicKey
}

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// Alg returns the one algorithm the key verifies.
func (k PublicKey) Alg() string {
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return AlgRS256
	case *ecdsa.PublicKey:
		return AlgES256
	case ed25519.PublicKey:
		return AlgEdDSA
	}
	return ""
}

func (k PublicKey) check() error {
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if key.N == nil || key.N.BitLen() < MinRSABits {
			return fmt.Errorf("jwtauth: RSA key %q shorter than %d bits", k.ID, MinRSABits)
		}
		if key.E < 3 || key.E%2 == 0 {
			return fmt.Errorf("jwtauth: RSA key %q has an invalid exponent", k.ID)
		}
	case *ecdsa.PublicKey:
		if key.Curve != elliptic.P256() {
			return fmt.Errorf("jwtauth: EC key %q is not on P-256 (ES256)", k.ID)
		}
		if _, err := key.Bytes(); err != nil {
			return fmt.Errorf("jwtauth: EC key %q: %w", k.ID, err)
		}
	case ed25519.PublicKey:
		if len(key) != ed25519.PublicKeySize {
			return fmt.Errorf("jwtauth: Ed25519 key %q is %d bytes, want %d", k.ID, len(key), ed25519.PublicKeySize)
		}
	default:
		return fmt.Errorf("jwtauth: key %q: unsupported type %T (want RSA, P-256 EC or Ed25519)", k.ID, k.Key)
	}
	return nil
}

// maxKeyFile bounds a key, secret or JWKS file.
const maxKeyFile = 1 << 20

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFile)
	}
	return data, nil
}

// LoadPublicKeys reads verification keys from a file: a JWKS document when
// it holds a JSON object, else PEM blocks (see ParsePEM).
func LoadPublicKeys(path string) ([]PublicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	var keys []PublicKey
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		keys, err = ParseJWKS(data)
	} else {
		keys, err = ParsePEM(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// ParsePEM reads one or more public keys from PEM blocks: "PUBLIC KEY"
// (PKIX: RSA, P-256 EC or Ed25519), "RSA PUBLIC KEY" (PKCS #1) or "CERTIFICATE" (its
// subject key). A block may name its key with a "kid: NAME" header line.
// Private keys are refused: the verifying server needs only the public half.
func ParsePEM(data []byte) ([]PublicKey, error) {
	var keys []PublicKey
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		k := PublicKey{ID: strings.TrimSpace(b.Headers["kid"])}
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			k.Key, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			k.Key, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(b.Bytes); err == nil {
				k.Key = cert.PublicKey
			}
		default:
			if strings.Contains(b.Type, "PRIVATE KEY") {
				return nil, fmt.Errorf("PEM block %d is a private key: configure the public key (openssl pkey -pubout)", n)
			}
			return nil, fmt.Errorf("PEM block %d: unsupported type %q", n, b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, b.Type, err)
		}
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}

// jwk is the subset of RFC 7517 / RFC 8037 key members voxgate reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
}

// ParseJWKS reads a JSON Web Key Set ({"keys": [...]}). RSA keys (kty
// "RSA") verify RS256, P-256 keys (kty "EC", crv "P-256") ES256 and Ed25519
// keys (kty "OKP", crv "Ed25519") EdDSA. Keys marked for encryption (use
// "enc"), keys whose alg is another algorithm, and other key types and
// curves ("oct" secrets, which do not belong in a public key set, P-384,
// X25519...) are skipped; a set with no usable key, a malformed
// key, or two keys with one kid is an error.
func ParseJWKS(data []byte) ([]PublicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`JWKS: no "keys" array`)
	}
	var keys []PublicKey
	seen := map[string]bool{}
	for i, raw := range set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		k := PublicKey{ID: j.Kid}
		switch {
		case j.Kty == "RSA":
			if j.Alg != "" && j.Alg != AlgRS256 {
				continue
			}
			n, err := b64Int(j.N)
			if err != nil {
				return nil, fmt.Errorf("JWKS key %d (%q): modulus n: %w", i, j.Kid, err)
			}
			e, err := b64Int(j.E)
			if err != nil || !e.IsInt64() || e.Int64() > 1<<31-1 {
				return nil, fmt.Errorf("JWKS key %d (%q): bad exponent e", i, j.Kid)
			}
			k.Key = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case j.Kty == "OKP" && j.Crv == "Ed25519":
			if j.Alg != "" && j.Alg != AlgEdDSA && j.Alg != "Ed25519" {
				continue
			}
			x, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.X, "="))
			if err != nil {
				return nil, fmt.Errorf("JWKS key %d (%q): x: %w", i, j.Kid, err)
			}
			k.Key = ed25519.PublicKey(x)
		case j.Kty == "EC" && j.Crv == "P-256":
			if j.Alg != "" && j.Alg != AlgES256 {
				continue
			}
			x, errX := b64Fixed(j.X, 32)
			y, errY := b64Fixed(j.Y, 32)
			if errX != nil || errY != nil {
				return nil, fmt.Errorf("JWKS key %d (%q): x and y must be 32-byte base64url coordinates", i, j.Kid)
			}
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, fmt.Errorf("JWKS key %d (%q): %w", i, j.Kid, err)
			}
			k.Key = pub
		case j.Kty == "":
			return nil, fmt.Errorf("JWKS key %d: no kty", i)
		default:
			continue // oct, other curves, X25519...: not for these algorithms
		}
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		if k.ID != "" {
			if seen[k.ID] {
				return nil, fmt.Errorf("JWKS: two keys share the kid %q", k.ID)
			}
			seen[k.ID] = true
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS: no RS256, ES256 or EdDSA signing key")
	}
	return keys, nil
}

// b64Int decodes a base64url big-endian unsigned integer (RFC 7518 6.3.1).
func b64Int(s string) (*big.Int, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

// b64Fixed decodes a base64url value that must be n bytes long.
func b64Fixed(s string, n int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), n)
	}
	return b, nil
}

// JWK returns the key as a JSON Web Key with "use": "sig" and its alg:
// what a JWKS document lists.
func (k PublicKey) JWK() (map[string]any, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	m, err := k.members()
	if err != nil {
		return nil, err
	}
	if k.ID != "" {
		m["kid"] = k.ID
	}
	m["use"], m["alg"] = "sig", k.Alg()
	return m, nil
}

// members returns the key's required JWK members (RFC 7638 section 3.2).
func (k PublicKey) members() (map[string]any, error) {
	enc := base64.RawURLEncoding.EncodeToString
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": enc(key.N.Bytes()), "e": enc(big.NewInt(int64(key.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		b, err := key.Bytes() // 0x04 || x || y
		if err != nil {
			return nil, err
		}
		return map[string]any{"kty": "EC", "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])}, nil
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc(key)}, nil
	}
	return nil, fmt.Errorf("jwtauth: unsupported key type %T", k.Key)
}

// Thumbprint returns the key's RFC 7638 JWK thumbprint (base64url of the
// SHA-256 of its required members): a stable name for the key, which
// `voxgate tokens keygen` uses as the kid.
func (k PublicKey) Thumbprint() (string, error) {
	m, err := k.members()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(m) // encoding/json sorts the keys, as RFC 7638 requires
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// MarshalJWKS returns the keys as a JWKS document ({"keys": [...]}).
func MarshalJWKS(keys ...PublicKey) ([]byte, error) {
	out := make([]map[string]any, len(keys))
	for i, k := range keys {
		m, err := k.JWK()
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return json.MarshalIndent(map[string]any{"keys": out}, "", "  ")
}

// LoadSecret reads an HS256 secret from a file: its bytes, less trailing
// newlines and spaces. A file that holds a PEM key is refused, since a key
// used as an HMAC secret is the algorithm-confusion mistake.
func LoadSecret(path string) ([]byte, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	secret := bytes.TrimRight(data, " \t\r\n")
	if err := checkSecret(secret); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return secret, nil
}

func checkSecret(secret []byte) error {
	if bytes.Contains(secret, []byte("-----BEGIN ")) {
		return errors.New("jwtauth: the HS256 secret is a PEM key; configure public keys instead")
	}
	if len(secret) < MinSecretLen {
		return fmt.Errorf("jwtauth: HS256 secret shorter than %d bytes", MinSecretLen)
	}
	return nil
}

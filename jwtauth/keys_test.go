package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func rsaJWK(k *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func edJWK(k ed25519.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": base64.RawURLEncoding.EncodeToString(k)}
}

func ecJWK(k *ecdsa.PublicKey, kid string) map[string]any {
	b, _ := k.Bytes()
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
		"x": base64.RawURLEncoding.EncodeToString(b[1:33]), "y": base64.RawURLEncoding.EncodeToString(b[33:])}
}

func testEC(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwks(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseJWKS(t *testing.T) {
	rk := &testRSA(t).PublicKey
	ek := testEd(t).Public().(ed25519.PublicKey)
	ck := &testEC(t).PublicKey
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384b, _ := p384.PublicKey.Bytes()
	offCurve := ecJWK(ck, "off")
	offCurve["y"] = offCurve["x"]
	tests := []struct {
		name    string
		doc     []byte
		wantIDs []string // nil: error
		wantErr string
	}{
		{"RSA, EC and Ed25519", jwks(rsaJWK(rk, "r1"), ecJWK(ck, "c1"), edJWK(ek, "e1")), []string{"r1", "c1", "e1"}, ""},
		{"padded base64 and no alg", jwks(map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "e1",
			"x": base64.URLEncoding.EncodeToString(ek)}), []string{"e1"}, ""},
		{"skips encryption, other curves, oct and other algs", jwks(
			map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
			map[string]any{"kty": "EC", "kid": "p384", "crv": "P-384", "x": base64.RawURLEncoding.EncodeToString(p384b[1:49]),
				"y": base64.RawURLEncoding.EncodeToString(p384b[49:])},
			map[string]any{"kty": "EC", "kid": "es512", "crv": "P-256", "alg": "ES512", "x": "AA", "y": "AA"},
			map[string]any{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
			map[string]any{"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
			edJWK(ek, "e1")), []string{"e1"}, ""},
		{"invalid JSON", []byte(`{"keys": [`), nil, "JWKS"},
		{"no keys member", []byte(`{"kty":"RSA"}`), nil, `no "keys"`},
		{"only unusable keys", jwks(map[string]any{"kty": "oct", "k": "c2VjcmV0"}), nil, "no RS256, ES256 or EdDSA"},
		{"empty set", []byte(`{"keys": []}`), nil, "no RS256, ES256 or EdDSA"},
		{"short EC coordinates", jwks(map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), nil, "32-byte"},
		{"EC point off the curve", jwks(offCurve), nil, "JWKS key 0"},
		{"bad modulus base64", jwks(map[string]any{"kty": "RSA", "kid": "r", "n": "!!!", "e": "AQAB"}), nil, "modulus"},
		{"missing exponent", jwks(map[string]any{"kty": "RSA", "kid": "r", "n": rsaJWK(rk, "")["n"]}), nil, "exponent"},
		{"short modulus", jwks(map[string]any{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}), nil, "shorter than"},
		{"short Ed25519 x", jwks(map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}), nil, "bytes"},
		{"missing kty", jwks(map[string]any{"kid": "x"}), nil, "no kty"},
		{"duplicate kid", jwks(edJWK(ek, "k"), rsaJWK(rk, "k")), nil, "share the kid"},
		{"key of the wrong JSON type", []byte(`{"keys": ["abc"]}`), nil, "JWKS key 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseJWKS(tc.doc)
			if tc.wantIDs == nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.wantIDs, ",") {
				t.Fatalf("kids %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}

func TestJWKSKeysVerifyTheirTokens(t *testing.T) {
	rk := testRSA(t)
	ek := testEd(t)
	keys, err := ParseJWKS(jwks(rsaJWK(&rk.PublicKey, "r1"), edJWK(ek.Public().(ed25519.PublicKey), "e1")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewPublic(keys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range []SigningKey{mustKey(PrivateKey("r1", rk)), mustKey(PrivateKey("e1", ek))} {
		tok, err := sk.Sign(Mint{Subject: "ops", Tenant: "acme", Role: RoleAdmin, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("%s: %v", sk.Alg(), err)
		}
	}
	// Every key of a JWKS is named: a kid the set lacks is refused even
	// though the signature would verify under a key of the set.
	stray := mustKey(PrivateKey("e2", ek))
	tok, _ := stray.Sign(Mint{Subject: "ops", Tenant: "acme", Role: RoleAdmin, TTL: time.Minute})
	if _, err := v.Verify(tok); err == nil || !strings.Contains(err.Error(), "Unknown token key id") {
		t.Fatalf("unknown kid: %v", err)
	}
}

func mustKey(k SigningKey, err error) SigningKey {
	if err != nil {
		panic(err)
	}
	return k
}

func TestParsePEM(t *testing.T) {
	rk := testRSA(t)
	ek := testEd(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)})
	priv, _ := x509.MarshalPKCS8PrivateKey(ek)
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})

	keys, err := ParsePEM(append(append(pubPEM(t, &rk.PublicKey, "r1"), pubPEM(t, ek.Public(), "e1")...), pkcs1...))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0].ID != "r1" || keys[0].Alg() != AlgRS256 || keys[1].ID != "e1" || keys[1].Alg() != AlgEdDSA || keys[2].ID != "" {
		t.Fatalf("keys %+v", keys)
	}
	for name, in := range map[string][]byte{
		"private key": privPEM,
		"nothing":     []byte("hello"),
		"bad DER":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
		"other type":  pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{1}}),
	} {
		if _, err := ParsePEM(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ek := testEd(t)
	rk := testRSA(t)

	secret, err := LoadSecret(write("secret", append(testSecret, '\n')))
	if err != nil || string(secret) != string(testSecret) {
		t.Fatalf("secret %q, %v", secret, err)
	}
	if _, err := LoadSecret(write("pem-secret", pubPEM(t, &rk.PublicKey, ""))); err == nil {
		t.Fatal("a PEM public key was accepted as an HMAC secret")
	}
	if _, err := LoadSecret(write("short", []byte("abc\n"))); err == nil {
		t.Fatal("short secret accepted")
	}
	if keys, err := LoadPublicKeys(write("keys.json", jwks(edJWK(ek.Public().(ed25519.PublicKey), "e1")))); err != nil || len(keys) != 1 {
		t.Fatalf("JWKS file: %v %v", keys, err)
	}
	if keys, err := LoadPublicKeys(write("keys.pem", pubPEM(t, ek.Public(), ""))); err != nil || len(keys) != 1 {
		t.Fatalf("PEM file: %v %v", keys, err)
	}
	if _, err := LoadPublicKeys(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}

	der, _ := x509.MarshalPKCS8PrivateKey(ek)
	p := write("ed.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"kid": "e1"}, Bytes: der}))
	sk, err := LoadSigningKey(p)
	if err != nil || sk.Alg() != AlgEdDSA || sk.ID != "e1" {
		t.Fatalf("Ed25519 signing key %+v, %v", sk, err)
	}
	p = write("rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	if sk, err = LoadSigningKey(p); err != nil || sk.Alg() != AlgRS256 {
		t.Fatalf("RSA signing key %+v, %v", sk, err)
	}
	if _, err := LoadSigningKey(write("pub.pem", pubPEM(t, ek.Public(), ""))); err == nil {
		t.Fatal("public key accepted for signing")
	}
}

package voicetoken

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIssueAndVerify(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := New(priv)
	tok, c, err := s.Issue("alice", "tenant-1", "sess-1", "jti-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(tok)
	if err != nil || got.Subject != "alice" || got.Tenant != "tenant-1" || got.Session != "sess-1" || got.ID != "jti-1" || !got.IssuedAt.Equal(c.IssuedAt.Time) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	json.Unmarshal(raw, &hdr)
	if hdr["alg"] != "EdDSA" || hdr["kid"] != s.KeyID() {
		t.Fatalf("header %v", hdr)
	}
}

func forge(header, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	unsigned := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(unsigned)))
}

func TestVerifyRefusesForgeries(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := New(priv)
	now := time.Now().Unix()
	claims := map[string]any{"iss": Issuer, "aud": Audience, "sub": "alice", "tenant": "t", "sid": "s", "jti": "j", "iat": now, "exp": now + 60}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	expired := map[string]any{}
	for k, v := range claims {
		expired[k] = v
	}
	expired["exp"] = now - 3600
	for name, tok := range map[string]string{
		"alg none":       forge(map[string]any{"alg": "none", "kid": s.KeyID()}, claims, func([]byte) []byte { return nil }),
		"HS256 with pub": forge(map[string]any{"alg": "HS256", "kid": s.KeyID()}, claims, func(b []byte) []byte { m := hmac.New(sha256.New, pub); m.Write(b); return m.Sum(nil) }),
		"other key":      forge(map[string]any{"alg": "EdDSA", "kid": s.KeyID()}, claims, func(b []byte) []byte { return ed25519.Sign(other, b) }),
		"unknown kid":    forge(map[string]any{"alg": "EdDSA", "kid": "nope"}, claims, func(b []byte) []byte { return ed25519.Sign(priv, b) }),
		"expired":        forge(map[string]any{"alg": "EdDSA", "kid": s.KeyID()}, expired, func(b []byte) []byte { return ed25519.Sign(priv, b) }),
		"garbage":        "not.a.token",
		"truncated":      strings.Repeat("a", 10),
	} {
		if _, err := s.Verify(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Verify = %v, want ErrInvalid", name, err)
		}
	}
}

func TestRotationKeepsOldTokensValid(t *testing.T) {
	dir := t.TempDir()
	s1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	old, _, _ := s1.Issue("alice", "t", "s", "j1", time.Minute)
	if _, err := CreateKey(dir, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	s2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() == s1.KeyID() {
		t.Fatal("the newest key does not sign")
	}
	if _, err := s2.Verify(old); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, KeyFilePattern))
	for _, p := range paths {
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", p, st.Mode().Perm())
		}
	}
	os.Chmod(paths[0], 0o644)
	if _, err := LoadOrCreate(dir); err == nil {
		t.Fatal("a readable key file was accepted")
	}
}

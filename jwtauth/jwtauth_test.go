package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"voxgate"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSA returns one 2048-bit key for the package's tests (generation is
// slow enough to share).
func testRSA(testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func testEd(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	seed := sha256.Sum256([]byte("voxgate jwtauth test " + t.Name()))
	return ed25519.NewKeyFromSeed(seed[:])
}

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// now is the fixed clock of the tests.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// rawToken builds a token by hand, so that tests can forge what a library
// would refuse to produce: alg none, confused keys, odd headers.
func rawToken(t *testing.T, header, claims map[string]any, key any) string {
	t.Helper()
	input := b64(header) + "." + b64(claims)
	var sig []byte
	switch k := key.(type) {
	case nil:
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		h := sha256.Sum256([]byte(input))
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:]); err != nil {
			t.Fatal(err)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	default:
		t.Fatalf("key type %T", key)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// claims returns a valid admin claim set; edits change or delete (nil) members.
func claims(edits map[string]any) map[string]any {
	c := map[string]any{
		"sub": "ops-1", "tenant": "acme", "role": "admin", "jti": "j1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func pubPEM(t *testing.T, key crypto.PublicKey, kid string) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b := &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	if kid != "" {
		b.Headers = map[string]string{"kid": kid}
	}
	return pem.EncodeToMemory(b)
}

func TestVerify(t *testing.T) {
	rk := testRSA(t)
	ek := testEd(t)
	otherEd := ed25519.NewKeyFromSeed(make([]byte, 32))
	opt := Options{Now: func() time.Time { return now }}
	hs, err := NewHMAC(testSecret, opt)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewPublic([]PublicKey{{ID: "rsa-1", Key: &rk.PublicKey}, {ID: "ed-1", Key: ek.Public()}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	unnamed, err := NewPublic([]PublicKey{{Key: ek.Public()}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := NewHMAC(testSecret, Options{Now: opt.Now, Issuer: "https://idp.example", Audience: "voxgate", MaxLifetime: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hsHdr := map[string]any{"alg": "HS256", "typ": "JWT"}
	rsHdr := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}
	edHdr := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "ed-1"}
	rsaPEM := pubPEM(t, &rk.PublicKey, "")

	tests := []struct {
		name    string
		v       *Verifier
		token   string
		want    *Claims // nil: refused
		wantMsg string  // substring of the refusal
	}{
		{"valid HS256 admin", hs, rawToken(t, hsHdr, claims(nil), testSecret),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1"}, ""},
		{"valid HS256 user", hs, rawToken(t, hsHdr, claims(map[string]any{"role": "user", "sub": "alice"}), testSecret),
			&Claims{Subject: "alice", Tenant: "acme", Role: RoleUser, ID: "j1"}, ""},
		{"valid RS256 by kid", pub, rawToken(t, rsHdr, claims(nil), rk),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1", KeyID: "rsa-1"}, ""},
		{"valid EdDSA by kid", pub, rawToken(t, edHdr, claims(nil), ek),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1", KeyID: "ed-1"}, ""},
		{"valid EdDSA without kid", pub, rawToken(t, map[string]any{"alg": "EdDSA"}, claims(nil), ek),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1"}, ""},
		{"kid unknown to unnamed keys still verifies by signature", unnamed, rawToken(t, edHdr, claims(nil), ek),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1", KeyID: "ed-1"}, ""},
		{"tenant_id claim", hs, rawToken(t, hsHdr, claims(map[string]any{"tenant": nil, "tenant_id": "t-1"}), testSecret),
			&Claims{Subject: "ops-1", Tenant: "t-1", Role: RoleAdmin, ID: "j1"}, ""},
		{"roles array", hs, rawToken(t, hsHdr, claims(map[string]any{"role": nil, "roles": []string{"viewer", "user"}}), testSecret),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleUser, ID: "j1"}, ""},
		{"scope string, admin wins", hs, rawToken(t, hsHdr, claims(map[string]any{"role": nil, "scope": "openid user admin"}), testSecret),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1"}, ""},
		{"expired within leeway", hs, rawToken(t, hsHdr, claims(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}), testSecret),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1"}, ""},
		{"strict issuer and audience", strict, rawToken(t, hsHdr, claims(map[string]any{"iss": "https://idp.example", "aud": []string{"other", "voxgate"}}), testSecret),
			&Claims{Subject: "ops-1", Tenant: "acme", Role: RoleAdmin, ID: "j1", Issuer: "https://idp.example"}, ""},

		{"alg none refused by HS256", hs, rawToken(t, map[string]any{"alg": "none"}, claims(nil), nil), nil, "not accepted"},
		{"alg none refused by public keys", pub, rawToken(t, map[string]any{"alg": "none"}, claims(nil), nil), nil, "not accepted"},
		{"alg None spelled otherwise", pub, rawToken(t, map[string]any{"alg": "None"}, claims(nil), nil), nil, "not accepted"},
		{"HS256 signed with the RSA public key PEM (confusion)", pub, rawToken(t, hsHdr, claims(nil), rsaPEM), nil, `"HS256" not accepted`},
		{"HS256 signed with the RSA public key PEM, kid set", pub, rawToken(t, map[string]any{"alg": "HS256", "kid": "rsa-1"}, claims(nil), rsaPEM), nil, `"HS256" not accepted`},
		{"HS256 signed with the Ed25519 public key bytes", pub, rawToken(t, hsHdr, claims(nil), []byte(ek.Public().(ed25519.PublicKey))), nil, `"HS256" not accepted`},
		{"HS256 verifier refuses RS256", hs, rawToken(t, rsHdr, claims(nil), rk), nil, `"RS256" not accepted`},
		{"HS256 verifier refuses EdDSA", hs, rawToken(t, edHdr, claims(nil), ek), nil, `"EdDSA" not accepted`},
		{"RS256 token claiming the Ed25519 kid", pub, rawToken(t, map[string]any{"alg": "RS256", "kid": "ed-1"}, claims(nil), rk), nil, "does not match its key"},
		{"unknown alg", hs, rawToken(t, map[string]any{"alg": "HS999"}, claims(nil), testSecret), nil, "not accepted"},
		{"wrong secret", hs, rawToken(t, hsHdr, claims(nil), []byte("another-secret-another-secret-xx!")), nil, "Invalid token signature"},
		{"wrong Ed25519 key", pub, rawToken(t, edHdr, claims(nil), otherEd), nil, "Invalid token signature"},
		{"tampered payload", hs, func() string {
			tok := rawToken(t, hsHdr, claims(nil), testSecret)
			parts := strings.Split(tok, ".")
			parts[1] = b64(claims(map[string]any{"tenant": "victim"}))
			return strings.Join(parts, ".")
		}(), nil, "Invalid token signature"},
		{"unknown kid", pub, rawToken(t, map[string]any{"alg": "EdDSA", "kid": "ed-9"}, claims(nil), ek), nil, `Unknown token key id "ed-9"`},
		{"non-string kid", pub, rawToken(t, map[string]any{"alg": "EdDSA", "kid": 7}, claims(nil), ek), nil, "kid must be"},
		{"expired", hs, rawToken(t, hsHdr, claims(map[string]any{"exp": now.Add(-time.Minute).Unix()}), testSecret), nil, "Token expired"},
		{"no exp", hs, rawToken(t, hsHdr, claims(map[string]any{"exp": nil}), testSecret), nil, "lacks the exp claim"},
		{"nbf in the future", hs, rawToken(t, hsHdr, claims(map[string]any{"nbf": now.Add(5 * time.Minute).Unix()}), testSecret), nil, "not valid yet"},
		{"iat in the future", hs, rawToken(t, hsHdr, claims(map[string]any{"iat": now.Add(5 * time.Minute).Unix(), "nbf": nil}), testSecret), nil, "issued in the future"},
		{"wrong issuer", strict, rawToken(t, hsHdr, claims(map[string]any{"iss": "https://evil.example", "aud": "voxgate"}), testSecret), nil, "issuer not accepted"},
		{"missing issuer", strict, rawToken(t, hsHdr, claims(map[string]any{"aud": "voxgate"}), testSecret), nil, "issuer not accepted"},
		{"wrong audience", strict, rawToken(t, hsHdr, claims(map[string]any{"iss": "https://idp.example", "aud": "billing"}), testSecret), nil, "audience not accepted"},
		{"lifetime too long", strict, rawToken(t, hsHdr, claims(map[string]any{"iss": "https://idp.example", "aud": "voxgate", "exp": now.Add(30 * 24 * time.Hour).Unix()}), testSecret), nil, "lifetime exceeds"},
		{"missing sub", hs, rawToken(t, hsHdr, claims(map[string]any{"sub": nil}), testSecret), nil, "subject (sub)"},
		{"sub with control characters", hs, rawToken(t, hsHdr, claims(map[string]any{"sub": "a\nb"}), testSecret), nil, "subject (sub)"},
		{"missing tenant", hs, rawToken(t, hsHdr, claims(map[string]any{"tenant": nil}), testSecret), nil, "tenant claim"},
		{"missing role", hs, rawToken(t, hsHdr, claims(map[string]any{"role": nil}), testSecret), nil, "no role"},
		{"unknown role", hs, rawToken(t, hsHdr, claims(map[string]any{"role": "superuser"}), testSecret), nil, "role must be"},
		{"tenant of the wrong type", hs, rawToken(t, hsHdr, claims(map[string]any{"tenant": 42}), testSecret), nil, "Malformed token"},
		{"foreign typ", hs, rawToken(t, map[string]any{"alg": "HS256", "typ": "dpop+jwt"}, claims(nil), testSecret), nil, "type"},
		{"critical extension", hs, rawToken(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}}, claims(nil), testSecret), nil, "critical"},
		{"garbage", hs, "not.a.token", nil, "Malformed token"},
		{"two segments", hs, "abc.def", nil, "Malformed token"},
		{"empty", hs, "", nil, "Missing bearer token"},
		{"oversize", hs, strings.Repeat("a", MaxTokenLen+1), nil, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.Verify(tc.token)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				if voxgate.ErrorCode(err) != voxgate.EUNAUTHORIZED {
					t.Fatalf("code %q, want %q", voxgate.ErrorCode(err), voxgate.EUNAUTHORIZED)
				}
				if msg := voxgate.ErrorMessage(err); !strings.Contains(msg, tc.wantMsg) {
					t.Fatalf("message %q does not contain %q", msg, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			got.IssuedAt, got.ExpiresAt = time.Time{}, time.Time{}
			if *got != *tc.want {
				t.Fatalf("claims %+v, want %+v", *got, *tc.want)
			}
		})
	}
}

func TestClaimsActorConfinesUsersAndQualifiesKeys(t *testing.T) {
	admin := (&Claims{Subject: "ops", Role: RoleAdmin}).Actor("T1")
	if admin.Scope != voxgate.ScopeAdmin || admin.Subject != "" || admin.TenantID != "T1" || admin.RequireAdmin() != nil {
		t.Fatalf("admin actor %+v", admin)
	}
	user := (&Claims{Subject: "alice", Role: RoleUser}).Actor("T1")
	if user.Scope != voxgate.ScopeVerify || user.Subject != "alice" || user.CanActOn("alice") != nil || user.CanActOn("bob") == nil || user.RequireAdmin() == nil {
		t.Fatalf("user actor %+v", user)
	}
	other := (&Claims{Subject: "ops", Role: RoleAdmin}).Actor("T2")
	if other.KeyID == admin.KeyID || user.KeyID == admin.KeyID || !strings.HasPrefix(admin.KeyID, "jwt:") {
		t.Fatalf("key IDs collide or are unmarked: %q %q %q", admin.KeyID, other.KeyID, user.KeyID)
	}
}

func TestNewHMACRefusesPEMAndShortSecrets(t *testing.T) {
	if _, err := NewHMAC(pubPEM(t, &testRSA(t).PublicKey, ""), Options{}); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("PEM public key as HMAC secret: %v", err)
	}
	if _, err := NewHMAC([]byte("short"), Options{}); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestNewPublicRefusesWeakAndDuplicateKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ek := testEd(t)
	for name, keys := range map[string][]PublicKey{
		"none":         nil,
		"1024-bit RSA": {{Key: &small.PublicKey}},
		"duplicate":    {{ID: "k", Key: ek.Public()}, {ID: "k", Key: &testRSA(t).PublicKey}},
		"HMAC bytes":   {{Key: []byte("0123456789abcdef0123456789abcdef")}},
		"short Ed":     {{Key: ed25519.PublicKey(make([]byte, 16))}},
	} {
		if _, err := NewPublic(keys, Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSignRoundTrips(t *testing.T) {
	hk, err := HMACKey(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	rk, _ := PrivateKey("r1", testRSA(t))
	ek, _ := PrivateKey("e1", testEd(t))
	ck, _ := PrivateKey("c1", testEC(t))
	for _, k := range []SigningKey{hk, rk, ek, ck} {
		t.Run(k.Alg(), func(t *testing.T) {
			var v *Verifier
			if k.Alg() == AlgHS256 {
				v, err = NewHMAC(testSecret, Options{Issuer: "me", Audience: "voxgate"})
			} else {
				pk, perr := k.Public()
				if perr != nil {
					t.Fatal(perr)
				}
				v, err = NewPublic([]PublicKey{pk}, Options{Issuer: "me", Audience: "voxgate"})
			}
			if err != nil {
				t.Fatal(err)
			}
			tok, err := k.Sign(Mint{Subject: "alice", Tenant: "acme", Role: RoleUser, TTL: time.Minute, Issuer: "me", Audience: "voxgate"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "alice" || c.Tenant != "acme" || c.Role != RoleUser || c.ID == "" || c.KeyID != k.ID {
				t.Fatalf("claims %+v", c)
			}
			if got := c.ExpiresAt.Sub(c.IssuedAt); got != time.Minute {
				t.Fatalf("lifetime %s", got)
			}
		})
	}
	if _, err := hk.Sign(Mint{Subject: "a", Tenant: "t", Role: "root", TTL: time.Minute}); err == nil {
		t.Fatal("bad role signed")
	}
	if _, err := hk.Sign(Mint{Subject: "a", Tenant: "t", Role: RoleUser}); err == nil {
		t.Fatal("zero TTL signed")
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{AlgHS256, AlgRS256, AlgES256, AlgEdDSA} {
		b.Run(alg, func(b *testing.B) {
			var k SigningKey
			var v *Verifier
			switch alg {
			case AlgHS256:
				k, _ = HMACKey(testSecret)
				v, _ = NewHMAC(testSecret, Options{})
			case AlgRS256:
				k, _ = PrivateKey("", testRSA(b))
			case AlgES256:
				ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				k, _ = PrivateKey("", ek)
			case AlgEdDSA:
				k, _ = PrivateKey("", ed25519.NewKeyFromSeed(make([]byte, 32)))
			}
			if v == nil {
				pk, _ := k.Public()
				v, _ = NewPublic([]PublicKey{pk}, Options{})
			}
			tok, err := k.Sign(Mint{Subject: "alice", Tenant: "acme", Role: RoleUser, TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

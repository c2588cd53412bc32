package jwtauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"voxgate"
)

// idp is an identity provider's JWKS endpoint whose keys and caching
// header a test changes.
type idp struct {
	srv     *httptest.Server
	mu      sync.Mutex
	doc     []byte
	cache   string
	status  int
	fetches atomic.Int32
}

func newIDP(t *testing.T, doc []byte) *idp {
	p := &idp{doc: doc, status: http.StatusOK}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cache != "" {
			w.Header().Set("Cache-Control", p.cache)
		}
		w.WriteHeader(p.status)
		w.Write(p.doc)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) set(doc []byte, cache string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.doc, p.cache, p.status = doc, cache, status
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func TestRemoteJWKSCachesRefreshesOnUnknownKidAndExpiry(t *testing.T) {
	ca, cb := testEC(t), testEd(t)
	a, b := PublicKey{ID: "a", Key: &ca.PublicKey}, PublicKey{ID: "b", Key: cb.Public()}
	docA, _ := MarshalJWKS(a)
	docAB, _ := MarshalJWKS(a, b)
	p := newIDP(t, docA)
	p.set(docA, "public, max-age=300", 200)
	clk := &clock{t: now}
	set, err := NewJWKS(p.srv.URL+"/certs", JWKSOptions{Now: clk.now, MinRefresh: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewRemote(set, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	signA, _ := PrivateKey("a", ca)
	signB, _ := PrivateKey("b", cb)
	mint := func(k SigningKey) string {
		tok, err := k.Sign(Mint{Subject: "alice", Tenant: "acme", Role: RoleUser, TTL: time.Hour, Now: clk.now()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	verify := func(tok string) error { _, err := v.VerifyContext(context.Background(), tok); return err }

	if err := verify(mint(signA)); err != nil {
		t.Fatalf("ES256 token of a published key: %v", err)
	}
	verify(mint(signA))
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for two tokens of a cached key, want 1", n)
	}

	// The provider rotates: b is published; a token naming b fetches at
	// once (once MinRefresh has passed since the last fetch).
	p.set(docAB, "max-age=300", 200)
	clk.advance(31 * time.Second)
	if err := verify(mint(signB)); err != nil {
		t.Fatalf("token of a newly published key: %v", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after an unknown kid, want 2", n)
	}

	// Made-up kids fetch at most once per MinRefresh.
	forged, _ := PrivateKey("nobody", testEC(t))
	clk.advance(31 * time.Second)
	for range 5 {
		if err := verify(mint(forged)); voxgate.ErrorCode(err) != voxgate.EUNAUTHORIZED || !strings.Contains(err.Error(), "Unknown token key id") {
			t.Fatalf("token of an unknown key: %v", err)
		}
	}
	if n := p.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after five unknown kids, want 3 (one, rate-limited)", n)
	}
	// A token naming a published kid but signed by another key: refused.
	impostor, _ := PrivateKey("a", testEC(t))
	if err := verify(mint(impostor)); voxgate.ErrorCode(err) != voxgate.EUNAUTHORIZED {
		t.Fatalf("token signed by an impostor key under kid a: %v", err)
	}

	// Expiry (max-age 300 s) fetches again; a failed fetch keeps the keys.
	p.set(nil, "", http.StatusServiceUnavailable)
	clk.advance(300 * time.Second)
	if err := verify(mint(signA)); err != nil {
		t.Fatalf("the provider is down: cached keys should go on verifying: %v", err)
	}
	if n := p.fetches.Load(); n != 4 {
		t.Fatalf("%d fetches after expiry, want 4", n)
	}
	verify(mint(signA))
	if n := p.fetches.Load(); n != 4 {
		t.Fatalf("retried a failed fetch within MinRefresh: %d fetches", n)
	}
	// The provider drops a: after the next fetch, a's tokens are refused.
	docB, _ := MarshalJWKS(b)
	p.set(docB, "", 200)
	clk.advance(31 * time.Second)
	if err := verify(mint(signA)); voxgate.ErrorCode(err) != voxgate.EUNAUTHORIZED {
		t.Fatalf("token of a key the provider dropped: %v", err)
	}
	if err := verify(mint(signB)); err != nil {
		t.Fatalf("token of the remaining key: %v", err)
	}
}

func TestRemoteJWKSUnreachableAnswersUnavailable(t *testing.T) {
	p := newIDP(t, nil)
	p.set([]byte("oops"), "", http.StatusInternalServerError)
	clk := &clock{t: now}
	set, _ := NewJWKS(p.srv.URL, JWKSOptions{Now: clk.now})
	v, _ := NewRemote(set, Options{Now: clk.now})
	k, _ := PrivateKey("a", testEC(t))
	tok, _ := k.Sign(Mint{Subject: "alice", Tenant: "acme", Role: RoleUser, TTL: time.Hour, Now: now})
	for range 3 {
		if _, err := v.Verify(tok); voxgate.ErrorCode(err) != voxgate.EUNAVAILABLE {
			t.Fatalf("no keys fetched: %v, want unavailable", err)
		}
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within MinRefresh, want 1", n)
	}
	if err := set.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("Refresh = %v", err)
	}
}

func TestRemoteJWKSLifetimeFollowsCacheControlWithinBounds(t *testing.T) {
	set, _ := NewJWKS("https://idp.example/certs", JWKSOptions{})
	for _, c := range []struct {
		header string
		want   time.Duration
	}{
		{"", DefaultJWKSTTL},
		{"public, max-age=3600", time.Hour},
		{"max-age=5", MinJWKSTTL},
		{"max-age=31536000", MaxJWKSTTL},
		{"max-age=99999999999999999999", DefaultJWKSTTL}, // unparsable
		{"no-cache", MinJWKSTTL},
		{"private, no-store", MinJWKSTTL},
	} {
		if got := set.ttl(c.header); got != c.want {
			t.Errorf("ttl(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}

func TestNewJWKSRefusesURLsKeysCouldBeReplacedOn(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://keycloak.example/realms/acme/protocol/openid-connect/certs", true},
		{"http://127.0.0.1:8081/certs", true},
		{"http://localhost/certs", true},
		{"http://[::1]:9000/certs", true},
		{"http://keycloak.example/certs", false},
		{"ftp://keycloak.example/certs", false},
		{"/relative/certs", false},
	} {
		if _, err := NewJWKS(c.url, JWKSOptions{}); (err == nil) != c.ok {
			t.Errorf("NewJWKS(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
}

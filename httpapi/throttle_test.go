package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"voxgate"
	"voxgate/service"
	"voxgate/store/sqlite"
)

// newThrottleEnv is newEnv with the loopback peer trusted as a proxy (so
// that tests speak for many client addresses through X-Forwarded-For, or
// for none) and small failure limits.
func newThrottleEnv(t *testing.T, trusted []netip.Prefix) *testEnv {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "voxgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	svc := service.New(db, service.Options{Logger: log})
	api := New(svc, Options{Logger: log, TrustedProxies: trusted, AuthThrottle: AuthThrottle{PerAddress: 5, PerKey: 3}})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() { srv.Close(); db.Close() })
	return &testEnv{t: t, svc: svc, api: api, srv: srv, logs: logs}
}

// from sends GET /v1/usage with key as the client at addr (X-Forwarded-For)
// and returns the status and Retry-After.
func (e *testEnv) from(addr, key string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/usage", nil)
	req.Header.Set("x-api-key", key)
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func (e *testEnv) metric(name string) string {
	e.t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			return line
		}
	}
	return ""
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func TestFailedAuthenticationsAreThrottledPerClientAddress(t *testing.T) {
	e := newThrottleEnv(t, loopback)
	good := e.key("acme", voxgate.ScopeAdmin)
	for i := range 5 {
		if st, _ := e.from("203.0.113.7", "vg_wrong"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, st)
		}
	}
	// Past the limit the address is refused without its key being looked
	// at, even a good one; another address is not affected.
	for _, key := range []string{"vg_wrong", good} {
		if st, after := e.from("203.0.113.7", key); st != http.StatusTooManyRequests || after == "" {
			t.Fatalf("throttled address: %d, Retry-After %q; want 429 with Retry-After", st, after)
		}
	}
	if st, _ := e.from("203.0.113.8", good); st != http.StatusOK {
		t.Fatalf("another address with a good key: %d", st)
	}
	// A request without credentials is no guess: 401, not counted.
	if st, _ := e.from("203.0.113.9", ""); st != http.StatusUnauthorized {
		t.Fatalf("no key: %d", st)
	}
	if !strings.Contains(e.logs.String(), `"client":"203.0.113.7"`) {
		t.Fatal("the access log does not name the client address")
	}
	if got := e.metric("voxgate_auth_failures_total"); got != `voxgate_auth_failures_total{kind="api_key"} 5` {
		t.Fatalf("failures metric: %q", got)
	}
	if got := e.metric("voxgate_auth_throttled_total"); got != `voxgate_auth_throttled_total{kind="api_key"} 2` {
		t.Fatalf("throttled metric: %q", got)
	}
}

func TestWrongSecretsForOneKeyAreThrottledAcrossAddresses(t *testing.T) {
	e := newThrottleEnv(t, loopback)
	good := e.key("acme", voxgate.ScopeAdmin)
	id, _ := service.KeyID(good)
	guess := good[:len(good)-4] + "xxxx" // the key's ID, a wrong secret
	if gid, ok := service.KeyID(guess); !ok || gid != id {
		t.Fatal("the guess does not carry the key's ID")
	}
	for i := range 3 {
		if st, _ := e.from("198.51.100."+string(rune('1'+i)), guess); st != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, st)
		}
	}
	if st, after := e.from("198.51.100.9", guess); st != http.StatusTooManyRequests || after == "" {
		t.Fatalf("a fourth guess at one key from a fresh address: %d %q, want 429", st, after)
	}
	// Knowing a key's ID does not lock its holder out.
	if st, _ := e.from("198.51.100.10", good); st != http.StatusOK {
		t.Fatalf("the key's holder: %d, want 200", st)
	}
}

func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	e := newThrottleEnv(t, nil) // no trusted proxy: the header is the client's own claim
	for i := range 5 {
		e.from("192.0.2."+string(rune('1'+i)), "vg_wrong")
	}
	if st, _ := e.from("192.0.2.200", "vg_wrong"); st != http.StatusTooManyRequests {
		t.Fatalf("a client rotating X-Forwarded-For escaped the throttle: %d", st)
	}
	if strings.Contains(e.logs.String(), `"client":"192.0.2.`) || !strings.Contains(e.logs.String(), `"client":"127.0.0.1"`) {
		t.Fatal("an untrusted X-Forwarded-For reached the access log as the client")
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"direct client", "203.0.113.5:4000", "", "203.0.113.5"},
		{"untrusted peer's header ignored", "203.0.113.5:4000", "1.2.3.4", "203.0.113.5"},
		{"trusted proxy names the client", "10.1.1.1:4000", "198.51.100.7", "198.51.100.7"},
		{"rightmost untrusted hop wins over a forged left one", "10.1.1.1:4000", "6.6.6.6, 198.51.100.7, 10.2.2.2", "198.51.100.7"},
		{"all hops trusted: the leftmost", "10.1.1.1:4000", "10.3.3.3, 10.2.2.2", "10.3.3.3"},
		{"garbled hop stops the walk", "10.1.1.1:4000", "198.51.100.7, junk", "10.1.1.1"},
		{"trusted proxy without header", "10.1.1.1:4000", "", "10.1.1.1"},
		{"IPv6 peer", "[2001:db8::1]:4000", "", "2001:db8::1"},
		{"IPv4-mapped peer", "[::ffff:10.1.1.1]:4000", "198.51.100.7", "198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := clientAddr(r, trusted); got != tc.want {
				t.Fatalf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

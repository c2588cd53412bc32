package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"voxgate"
)

// AuthThrottle bounds failed authentications. Past PerAddress failures
// within Window from one client address, every request from that address
// that carries credentials is refused with 429 and Retry-After until the
// window ends, without its credentials being checked: a guesser is slowed
// to PerAddress tries per window, and a caller who mistyped is held back
// one window at most. Past PerKey failures against one key ID (the id part
// of a well-formed key, whatever its secret), further failures for that ID
// answer 429 instead of 401 and are counted apart; the key's real holder
// still gets in, so that knowing a key's ID (it is not secret) is not
// enough to lock it out. The counts live in the node's memory: with N
// nodes behind a balancer, an address gets up to N times the limit.
type AuthThrottle struct {
	// PerAddress and PerKey are the failures allowed per Window (defaults
	// 30 and 10; negative: unlimited).
	PerAddress, PerKey int
	// Window is the counting window (default 1 minute).
	Window time.Duration
}

func (c AuthThrottle) withDefaults() AuthThrottle {
	if c.PerAddress == 0 {
		c.PerAddress = 30
	}
	if c.PerKey == 0 {
		c.PerKey = 10
	}
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	return c
}

// failCounter counts failures per key in fixed windows.
type failCounter struct {
	cfg AuthThrottle
	now func() time.Time

	mu      sync.Mutex
	windows map[string]*failWindow
	swept   time.Time
}

type failWindow struct {
	start time.Time
	n     int
}

func newFailCounter(cfg AuthThrottle, now func() time.Time) *failCounter {
	return &failCounter{cfg: cfg.withDefaults(), now: now, windows: map[string]*failWindow{}}
}

// blocked returns how long requests from client must wait, and how long
// failures for keyID must ("" : none); 0 when they may try.
func (f *failCounter) blocked(client, keyID string) (addr, key time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	addr = f.over("addr:"+client, f.cfg.PerAddress, now)
	if keyID != "" {
		key = f.over("key:"+keyID, f.cfg.PerKey, now)
	}
	return addr, key
}

func (f *failCounter) over(k string, limit int, now time.Time) time.Duration {
	w := f.windows[k]
	if limit < 0 || w == nil || now.Sub(w.start) >= f.cfg.Window || w.n < limit {
		return 0
	}
	return w.start.Add(f.cfg.Window).Sub(now)
}

// failed counts one failed authentication from client for keyID ("" when
// the key was not well formed).
func (f *failCounter) failed(client, keyID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.count("addr:"+client, now)
	if keyID != "" {
		f.count("key:"+keyID, now)
	}
	// Drop finished windows now and then, so that a spray of addresses
	// cannot grow the map beyond what one window holds.
	if now.Sub(f.swept) >= f.cfg.Window {
		for k, w := range f.windows {
			if now.Sub(w.start) >= f.cfg.Window {
				delete(f.windows, k)
			}
		}
		f.swept = now
	}
}

func (f *failCounter) count(k string, now time.Time) {
	w := f.windows[k]
	if w == nil || now.Sub(w.start) >= f.cfg.Window {
		w = &failWindow{start: now}
		f.windows[k] = w
	}
	w.n++
}

// throttled is the answer to a client past its failure budget.
func throttled(wait time.Duration) error {
	return &voxgate.Error{Code: voxgate.ERATELIMITED, Message: "Too many failed authentications: wait before trying again",
		RetryAfter: wait, Scope: "authentication"}
}

// checkAuth runs authenticate under the failure throttle: a client or key
// past its budget is refused before its credentials are looked at, and
// every EUNAUTHORIZED is counted (and in the metrics, by kind). A request
// that presents no credentials at all is no guess: it is neither refused
// nor counted here (it gets its 401).
func (s *Server) checkAuth(r *http.Request, kind string, presented bool, keyID string, authenticate func() (voxgate.Actor, error)) (voxgate.Actor, error) {
	if !presented {
		return authenticate()
	}
	client := reqContext(r.Context()).client
	addrWait, keyWait := s.authFails.blocked(client, keyID)
	if addrWait > 0 {
		s.metrics.authThrottled.WithLabelValues(kind).Inc()
		return voxgate.Actor{}, throttled(addrWait)
	}
	a, err := authenticate()
	if voxgate.ErrorCode(err) == voxgate.EUNAUTHORIZED {
		s.authFails.failed(client, keyID)
		s.metrics.authFailures.WithLabelValues(kind).Inc()
		if keyWait > 0 {
			s.metrics.authThrottled.WithLabelValues(kind).Inc()
			return voxgate.Actor{}, throttled(keyWait)
		}
	}
	return a, err
}

// clientAddr returns the address of the client a request came from: the
// connection's peer, or, when that peer is one of the trusted proxies, the
// nearest address in X-Forwarded-For that is not (read right to left, so
// that a client cannot choose its address by sending the header itself).
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !inPrefixes(peer, trusted) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing further left
		}
		a = a.Unmap()
		if !inPrefixes(a, trusted) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

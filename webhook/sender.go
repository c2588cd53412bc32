package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// DefaultTimeout bounds one delivery attempt: connecting, sending and
// receiving the response headers and up to maxResponse bytes of body.
const DefaultTimeout = 10 * time.Second

// maxResponse is how much of a response body is read (and discarded) so
// that the connection can be reused.
const maxResponse = 64 << 10

// Sender posts signed messages. Its zero value refuses internal targets
// and times out after DefaultTimeout; it is safe for concurrent use and
// must not be copied after first use.
type Sender struct {
	// AllowPrivate lets deliveries reach private, loopback and other
	// internal addresses (voxgate serve --webhook-allow-private): for
	// receivers on the operator's own network, and for tests.
	AllowPrivate bool
	// Timeout bounds one attempt; default DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent with each request; default "voxgate-webhook/1".
	UserAgent string

	once   sync.Once
	client *http.Client
}

// Result describes one attempt.
type Result struct {
	// Status is the HTTP status received, 0 when none was (connection
	// refused, timeout, blocked address).
	Status   int
	Duration time.Duration
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// httpClient builds the client once: no proxy (a proxy would hide the real
// target from the address check), no redirects (a 3xx is a failed
// attempt: a redirect could lead anywhere), and a dialer whose Control
// function sees the resolved address of every connection and refuses
// internal ones.
func (s *Sender) httpClient() *http.Client {
	s.once.Do(func() {
		dialer := &net.Dialer{Timeout: s.timeout(), KeepAlive: 30 * time.Second}
		if !s.AllowPrivate {
			dialer.Control = refuseInternal
		}
		tr := &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   s.timeout(),
			ResponseHeaderTimeout: s.timeout(),
		}
		s.client = &http.Client{
			Transport:     tr,
			Timeout:       s.timeout(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return s.client
}

// refuseInternal is a net.Dialer Control function: it runs after name
// resolution, just before connect(2), with the literal address, so a host
// name that resolved to a public address when it was configured and to an
// internal one now (DNS rebinding) is still refused.
func refuseInternal(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || Blocked(ip) {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, host)
	}
	return nil
}

// Send posts m to target, signed with keys at time now. It returns nil
// only for a 2xx answer; a *StatusError for any other status (3xx
// included: redirects are not followed); otherwise the transport error,
// wrapping ErrBlockedAddress when the target is internal. The target is
// checked for form here too (ParseURL), so a bad stored URL fails cleanly.
func (s *Sender) Send(ctx context.Context, target string, keys Keys, m Message, now time.Time) (Result, error) {
	if _, err := ParseURL(target); err != nil {
		return Result{}, err
	}
	signed, err := keys.Headers(m, now.Unix())
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(m.Body))
	if err != nil {
		return Result{}, err
	}
	ua := s.UserAgent
	if ua == "" {
		ua = "voxgate-webhook/1"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	for k, v := range signed {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := s.httpClient().Do(req)
	res := Result{Duration: time.Since(start)}
	if err != nil {
		return res, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	res.Status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, &StatusError{Code: resp.StatusCode}
	}
	return res, nil
}

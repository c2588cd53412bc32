package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"voxgate"
)

// Cache bounds of a remote JWKS.
const (
	// DefaultJWKSTTL is how long a fetched key set is used when the
	// response says nothing (no Cache-Control max-age).
	DefaultJWKSTTL = 10 * time.Minute
	// MinJWKSTTL and MaxJWKSTTL bound the lifetime a response asks for:
	// no-cache answers do not make every request fetch, and a year-long
	// max-age does not hide a key rotation for a year.
	MinJWKSTTL = time.Minute
	MaxJWKSTTL = 24 * time.Hour
	// DefaultJWKSMinRefresh spaces fetches that a token naming an unknown
	// kid (or a failed fetch) triggers.
	DefaultJWKSMinRefresh = 30 * time.Second
	// jwksTimeout bounds one fetch.
	jwksTimeout = 10 * time.Second
)

// JWKSOptions configure a JWKS; zero fields take the defaults.
type JWKSOptions struct {
	// Client fetches the set (default: a client with a 10 s timeout that
	// follows redirects only to https, or http on loopback).
	Client *http.Client
	// DefaultTTL is the lifetime of a set whose response has no max-age
	// (default DefaultJWKSTTL); it is kept within MinJWKSTTL..MaxJWKSTTL.
	DefaultTTL time.Duration
	// MinRefresh is the least time between two fetches, except when the
	// cached set has expired (default DefaultJWKSMinRefresh).
	MinRefresh time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
	// Logger reports fetches and their failures (default: discarded).
	Logger *slog.Logger
}

// JWKS is the JSON Web Key Set an identity provider publishes at a URL
// (Keycloak: {issuer}/protocol/openid-connect/certs; Auth0:
// https://TENANT/.well-known/jwks.json; Okta: {issuer}/v1/keys; Entra ID:
// https://login.microsoftonline.com/TENANT/discovery/v2.0/keys).
//
// The set is fetched when first needed and cached for the lifetime its
// response gives (Cache-Control max-age, else DefaultTTL, within
// MinJWKSTTL..MaxJWKSTTL), then fetched again. A token naming a kid the
// cached set lacks triggers a fetch at once (the provider rotated its
// keys), but at most one per MinRefresh, so that tokens with made-up kids
// cannot make voxgate hammer the provider. When a fetch fails, the keys
// fetched last go on verifying and the fetch is retried after MinRefresh;
// with no keys at all, verification answers EUNAVAILABLE. One fetch runs
// at a time; it is safe for concurrent use.
type JWKS struct {
	url string
	opt JWKSOptions

	fetch sync.Mutex // held while fetching

	mu      sync.Mutex
	keys    []PublicKey
	expires time.Time
	lastTry time.Time
	lastErr error
}

// NewJWKS returns the key set at rawURL, which must be https (or http to a
// loopback address, for a provider on the same machine). Nothing is
// fetched until Keys or Refresh is called.
func NewJWKS(rawURL string, opt JWKSOptions) (*JWKS, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("jwtauth: JWKS URL %q is not an absolute URL", rawURL)
	}
	if !secureURL(u) {
		return nil, fmt.Errorf("jwtauth: JWKS URL %q must be https (http only to a loopback address): keys fetched in the clear could be replaced", rawURL)
	}
	if opt.DefaultTTL <= 0 {
		opt.DefaultTTL = DefaultJWKSTTL
	}
	opt.DefaultTTL = min(max(opt.DefaultTTL, MinJWKSTTL), MaxJWKSTTL)
	if opt.MinRefresh <= 0 {
		opt.MinRefresh = DefaultJWKSMinRefresh
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Client == nil {
		opt.Client = &http.Client{
			Timeout: jwksTimeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 || !secureURL(req.URL) {
					return errors.New("redirect refused")
				}
				return nil
			},
		}
	}
	return &JWKS{url: u.String(), opt: opt}, nil
}

// secureURL reports whether u is https, or http to a loopback host.
func secureURL(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return true
	case "http":
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") {
			return true
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	return false
}

// URL returns the set's address.
func (j *JWKS) URL() string { return j.url }

// Keys returns the keys to check a token with, naming kid ("" when the
// token names none), fetching the set first when it is missing, expired,
// or lacks kid (rate-limited: see JWKS). Returns an EUNAVAILABLE error
// when no set could ever be fetched.
func (j *JWKS) Keys(ctx context.Context, kid string) ([]PublicKey, error) {
	if keys, ok, _ := j.cached(kid); ok {
		return keys, nil
	}
	j.fetch.Lock()
	defer j.fetch.Unlock()
	keys, ok, mayFetch := j.cached(kid) // another caller may have fetched meanwhile
	if ok {
		return keys, nil
	}
	if mayFetch {
		j.refresh(ctx)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.keys == nil {
		j.opt.Logger.WarnContext(ctx, "no JWT keys: the identity provider's JWKS could not be fetched", "url", j.url, "err", j.lastErr)
		return nil, &voxgate.Error{Code: voxgate.EUNAVAILABLE, Message: "The identity provider's keys (JWKS) could not be fetched; try again later",
			RetryAfter: j.opt.MinRefresh}
	}
	return j.keys, nil
}

// cached returns the cached keys and true when they serve a token naming
// kid without a fetch: fresh and holding kid, or held while no fetch is
// allowed yet. mayFetch says whether a fetch is allowed: always for a set
// that expired after a successful fetch, else once per MinRefresh.
func (j *JWKS) cached(kid string) (keys []PublicKey, ok, mayFetch bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.opt.Now()
	fresh := j.keys != nil && now.Before(j.expires)
	if fresh && (kid == "" || slices.ContainsFunc(j.keys, func(k PublicKey) bool { return k.ID == kid })) {
		return j.keys, true, false
	}
	mayFetch = j.lastTry.IsZero() || now.Sub(j.lastTry) >= j.opt.MinRefresh || (j.keys != nil && !fresh && j.lastErr == nil)
	if !mayFetch {
		return j.keys, j.keys != nil, false
	}
	return nil, false, true
}

// Refresh fetches the set now, whatever the cache holds (voxgate serve
// calls it at start, to report an unreachable provider at once).
func (j *JWKS) Refresh(ctx context.Context) error {
	j.fetch.Lock()
	defer j.fetch.Unlock()
	return j.refresh(ctx)
}

// refresh fetches the set and records the outcome; j.fetch is held.
func (j *JWKS) refresh(ctx context.Context) error {
	j.mu.Lock()
	j.lastTry = j.opt.Now()
	j.mu.Unlock()
	keys, ttl, err := j.get(ctx)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lastErr = err
	if err != nil {
		j.opt.Logger.WarnContext(ctx, "fetching the JWT keys (JWKS) failed; keeping the keys fetched before", "url", j.url, "err", err, "cached_keys", len(j.keys))
		return err
	}
	j.keys, j.expires = keys, j.opt.Now().Add(ttl)
	j.opt.Logger.InfoContext(ctx, "JWT keys (JWKS) fetched", "url", j.url, "keys", len(keys), "ttl_s", int(ttl.Seconds()))
	return nil
}

// get fetches and parses the set and returns its lifetime.
func (j *JWKS) get(ctx context.Context) ([]PublicKey, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.opt.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("JWKS URL answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyFile+1))
	if err != nil {
		return nil, 0, err
	}
	if len(data) > maxKeyFile {
		return nil, 0, fmt.Errorf("JWKS larger than %d bytes", maxKeyFile)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return nil, 0, err
	}
	return keys, j.ttl(resp.Header.Get("Cache-Control")), nil
}

// ttl reads a response's Cache-Control: max-age within the bounds,
// no-cache and no-store as the least lifetime, else the default.
func (j *JWKS) ttl(cacheControl string) time.Duration {
	for d := range strings.SplitSeq(cacheControl, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-cache" || d == "no-store":
			return MinJWKSTTL
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
				return min(max(time.Duration(min(n, int64(MaxJWKSTTL/time.Second)))*time.Second, MinJWKSTTL), MaxJWKSTTL)
			}
		}
	}
	return j.opt.DefaultTTL
}

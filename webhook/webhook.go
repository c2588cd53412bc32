// Package webhook delivers signed event notifications to customer endpoints
// (the asynchronous API of seed 002): it signs bodies per the Standard
// Webhooks specification (https://www.standardwebhooks.com), or with
// voxgate's older scheme for receivers written against it, posts them
// through an HTTP client that refuses private, loopback and other internal
// targets at connection time (so DNS rebinding cannot reach the operator's
// network), and computes retry delays with exponential backoff and full
// jitter. It knows nothing of the store: the queue of deliveries and their
// retry bookkeeping live in the service.
//
// # Verifying a delivery
//
// With the standard scheme (the default) every POST carries:
//
//	webhook-id:        the delivery ID (stable across retries: dedupe on it)
//	webhook-timestamp: Unix seconds when this attempt was signed
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
// where key is the base64-decoded part of the tenant's secret after its
// "whsec_" prefix. During a secret rotation the header lists one signature
// per secret, separated by spaces. The official Standard Webhooks
// libraries (JavaScript, Python, Go, Java, Ruby, PHP, Rust, C#...) and the
// Svix ones verify these deliveries: new Webhook("whsec_...").verify(body,
// headers). In Go, [Verify] does it.
//
// With the legacy scheme (a tenant setting, for receivers written before
// voxgate followed the standard) the headers are X-Voxgate-Delivery,
// X-Voxgate-Timestamp and X-Voxgate-Signature: v1=<hex HMAC-SHA256(secret,
// timestamp + "." + body)>, keyed with the whole secret string,
// comma-separated during a rotation ([VerifyLegacy]). The "both" setting
// sends both sets of headers, for moving a receiver from one to the other.
// X-Voxgate-Event names the event in every scheme.
//
// Either way a receiver recomputes the HMAC over the raw body, compares in
// constant time, and refuses timestamps more than a few minutes old
// (replayed requests). Delivery is at least once: a retry after a lost
// response repeats the same delivery ID, which the receiver should use to
// drop duplicates.
package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Header names of a delivery.
const (
	HeaderEvent = "X-Voxgate-Event"

	// Standard Webhooks.
	HeaderID                = "webhook-id"
	HeaderStandardTimestamp = "webhook-timestamp"
	HeaderStandardSignature = "webhook-signature"

	// The legacy scheme.
	HeaderDelivery  = "X-Voxgate-Delivery"
	HeaderTimestamp = "X-Voxgate-Timestamp"
	HeaderSignature = "X-Voxgate-Signature"
)

// DefaultTolerance is how far a timestamp may be from the receiver's clock
// for [Verify] to accept it.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify and VerifyLegacy.
var (
	ErrNoSignature  = errors.New("webhook: missing signature or timestamp header")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance")
)

// Backoff computes retry delays: exponential growth from Base, capped at
// Cap, with full jitter (a uniform draw between zero and that bound), which
// spreads the retries of many failed deliveries instead of synchronising
// them. The zero value uses 10 s and 1 h.
type Backoff struct {
	Base, Cap time.Duration
}

// Default backoff bounds.
const (
	DefaultBase = 10 * time.Second
	DefaultCap  = time.Hour
)

// Bound returns the upper bound of the delay after the given number of
// failed attempts (1 for the first failure): min(Cap, Base * 2^(attempts-1)).
func (b Backoff) Bound(attempts int) time.Duration {
	base, cp := b.Base, b.Cap
	if base <= 0 {
		base = DefaultBase
	}
	if cp <= 0 {
		cp = DefaultCap
	}
	if cp < base {
		cp = base
	}
	d := base
	for i := 1; i < attempts && d < cp; i++ {
		d *= 2
	}
	return min(d, cp)
}

// Delay returns the wait before the next attempt after attempts failures,
// drawn uniformly from [0, Bound(attempts)] by rand, which must return a
// value in [0, n) (math/rand/v2's Int64N).
func (b Backoff) Delay(attempts int, rand func(n int64) int64) time.Duration {
	bound := b.Bound(attempts)
	return time.Duration(rand(int64(bound) + 1))
}

// Message is one event to deliver.
type Message struct {
	// ID identifies the delivery; it is the same on every retry.
	ID    string
	Event string
	// Body is the JSON payload, sent as is and signed.
	Body []byte
}

// StatusError is the error of an attempt that got an answer other than 2xx.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webhook: endpoint answered %d %s", e.Code, http.StatusText(e.Code))
}

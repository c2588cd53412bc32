// Package webhook delivers signed event notifications to customer endpoints
// (the asynchronous API of seed 002): it signs bodies with HMAC-SHA256, posts
// them through an HTTP client that refuses private, loopback and other
// internal targets at connection time (so DNS rebinding cannot reach the
// operator's network), and computes retry delays with exponential backoff
// and full jitter. It knows nothing of the store: the queue of deliveries and
// their retry bookkeeping live in the service.
//
// # Verifying a delivery
//
// Every POST carries:
//
//	X-Voxgate-Event:     verification.completed | enrollment.completed
//	X-Voxgate-Delivery:  the delivery ID (stable across retries: dedupe on it)
//	X-Voxgate-Timestamp: Unix seconds when this attempt was signed
//	X-Voxgate-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the HMAC over the timestamp header, a '.', and the
// raw request body, compares it with the v1 value in constant time, and
// refuses timestamps more than a few minutes old (replayed requests). In Go,
// [Verify] does all three; elsewhere:
//
//	mac = HMAC_SHA256(secret, ts + "." + raw_body)
//	ok  = constant_time_equal(hex(mac), sig_header.removeprefix("v1="))
//	      and abs(now - int(ts)) <= 300
//
// Delivery is at least once: a retry after a lost response repeats the
// same delivery ID, which the receiver should use to drop duplicates.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	HeaderEvent     = "X-Voxgate-Event"
	HeaderDelivery  = "X-Voxgate-Delivery"
	HeaderTimestamp = "X-Voxgate-Timestamp"
	HeaderSignature = "X-Voxgate-Signature"
)

// signatureVersion prefixes the hex MAC, so that a future scheme can be
// sent beside this one.
const signatureVersion = "v1="

// DefaultTolerance is how far a timestamp may be from the receiver's clock
// for [Verify] to accept it.
const DefaultTolerance = 5 * time.Minute

// Sign returns the signature header value for body sent at Unix time ts:
// "v1=" and the hex HMAC-SHA256 of "<ts>.<body>" under secret.
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return signatureVersion + hex.EncodeToString(mac.Sum(nil))
}

// Errors returned by Verify.
var (
	ErrNoSignature  = errors.New("webhook: missing signature or timestamp header")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance")
)

// Verify checks a received delivery: the signature header must hold a v1
// MAC of the timestamp header and body under secret, and the timestamp must
// be within tolerance of now (tolerance <= 0: DefaultTolerance). The
// signature header may list several comma-separated values (key rotation);
// one match suffices.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	tsText, sigs := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if tsText == "" || sigs == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrNoSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := []byte(Sign(secret, ts, body))
	for _, sig := range strings.Split(sigs, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), want) {
			return nil
		}
	}
	return ErrBadSignature
}

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

package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Scheme is how a tenant's deliveries are signed.
type Scheme string

const (
	// SchemeStandard signs per Standard Webhooks (webhook-id,
	// webhook-timestamp, webhook-signature). The default.
	SchemeStandard Scheme = "standard"
	// SchemeLegacy signs with voxgate's first scheme only
	// (X-Voxgate-Signature), for receivers written against it.
	SchemeLegacy Scheme = "legacy"
	// SchemeBoth sends both sets of headers, so that a receiver can move
	// from the legacy check to a standard library without a gap.
	SchemeBoth Scheme = "both"
)

// ParseScheme reads a scheme name; "" is SchemeStandard.
func ParseScheme(s string) (Scheme, error) {
	switch Scheme(s) {
	case "":
		return SchemeStandard, nil
	case SchemeStandard, SchemeLegacy, SchemeBoth:
		return Scheme(s), nil
	}
	return "", fmt.Errorf("signature scheme must be %q, %q or %q", SchemeStandard, SchemeLegacy, SchemeBoth)
}

// Standard reports whether the scheme sends the Standard Webhooks headers.
func (s Scheme) Standard() bool { return s == SchemeStandard || s == SchemeBoth || s == "" }

// Legacy reports whether the scheme sends the X-Voxgate-Signature header.
func (s Scheme) Legacy() bool { return s == SchemeLegacy || s == SchemeBoth }

// SecretPrefix starts every Standard Webhooks secret.
const SecretPrefix = "whsec_"

// Key sizes of a Standard Webhooks secret, in bytes (the specification
// asks for 24 to 64; NewSecret makes 32).
const (
	MinKeyLen = 24
	MaxKeyLen = 64
)

// NewSecret returns a fresh Standard Webhooks secret: "whsec_" and the
// base64 of 32 random bytes.
func NewSecret() string {
	var k [32]byte
	rand.Read(k[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(k[:])
}

// ParseSecret returns the HMAC key of a Standard Webhooks secret: the
// base64 (standard alphabet, padded or not) after the "whsec_" prefix,
// MinKeyLen to MaxKeyLen bytes once decoded.
func ParseSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New(`secret must start with "whsec_" followed by base64 (Standard Webhooks)`)
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(rest, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	key, err := enc.Strict().DecodeString(rest)
	if err != nil {
		return nil, errors.New(`secret must be "whsec_" followed by standard base64`)
	}
	if len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return nil, fmt.Errorf("secret key must be %d to %d bytes once base64-decoded, not %d", MinKeyLen, MaxKeyLen, len(key))
	}
	return key, nil
}

// Sign returns one Standard Webhooks signature, "v1," and the base64
// HMAC-SHA256 of "<id>.<ts>.<body>" under key (the decoded secret).
func Sign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignLegacy returns the legacy signature header value for body sent at
// Unix time ts: "v1=" and the hex HMAC-SHA256 of "<ts>.<body>" under the
// secret's bytes (the whole string, prefix included).
func SignLegacy(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Keys are what a tenant's deliveries are signed with.
type Keys struct {
	Scheme Scheme
	// Secrets are the secrets as the tenant holds them: the current one
	// first, then, during a rotation's overlap, the previous one. Each
	// signs its own signature, so a receiver that knows either accepts.
	Secrets []string
}

// Headers returns the signature headers of message m signed at Unix time
// ts: the Standard Webhooks ones, the legacy ones, or both, as the scheme
// says, with one signature per secret. A previous secret that is not a
// Standard Webhooks secret (rotating away from a legacy secret) signs only
// the legacy header. It fails when the current secret cannot sign the
// scheme's standard header.
func (k Keys) Headers(m Message, ts int64) (http.Header, error) {
	if len(k.Secrets) == 0 {
		return nil, errors.New("webhook: no signing secret")
	}
	h := http.Header{}
	h.Set(HeaderEvent, m.Event)
	tsText := strconv.FormatInt(ts, 10)
	if k.Scheme.Standard() {
		var sigs []string
		for i, s := range k.Secrets {
			key, err := ParseSecret(s)
			if err != nil {
				if i == 0 {
					return nil, fmt.Errorf("webhook: current secret: %w", err)
				}
				continue
			}
			sigs = append(sigs, Sign(key, m.ID, ts, m.Body))
		}
		h.Set(HeaderID, m.ID)
		h.Set(HeaderStandardTimestamp, tsText)
		h.Set(HeaderStandardSignature, strings.Join(sigs, " "))
	}
	if k.Scheme.Legacy() {
		sigs := make([]string, len(k.Secrets))
		for i, s := range k.Secrets {
			sigs[i] = SignLegacy([]byte(s), ts, m.Body)
		}
		h.Set(HeaderDelivery, m.ID)
		h.Set(HeaderTimestamp, tsText)
		h.Set(HeaderSignature, strings.Join(sigs, ","))
	}
	return h, nil
}

// checkTimestamp parses a timestamp header and checks it against now.
func checkTimestamp(tsText string, now time.Time, tolerance time.Duration) (int64, error) {
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return 0, ErrNoSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return 0, ErrStale
	}
	return ts, nil
}

// Verify checks a received Standard Webhooks delivery: one of the
// space-separated v1 signatures must be the HMAC of the id, timestamp and
// body under the secret's key, and the timestamp must be within tolerance
// of now (tolerance <= 0: DefaultTolerance).
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderStandardTimestamp), h.Get(HeaderStandardSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrNoSignature
	}
	ts, err := checkTimestamp(tsText, now, tolerance)
	if err != nil {
		return err
	}
	want := []byte(Sign(key, id, ts, body))
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrBadSignature
}

// VerifyLegacy checks a received delivery of the legacy scheme: the
// signature header must hold a v1 MAC of the timestamp header and body
// under secret, and the timestamp must be within tolerance of now. The
// header may list several comma-separated values (rotation); one match
// suffices.
func VerifyLegacy(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	tsText, sigs := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if tsText == "" || sigs == "" {
		return ErrNoSignature
	}
	ts, err := checkTimestamp(tsText, now, tolerance)
	if err != nil {
		return err
	}
	want := []byte(SignLegacy(secret, ts, body))
	for _, sig := range strings.Split(sigs, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), want) {
			return nil
		}
	}
	return ErrBadSignature
}

package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testKeys = Keys{Scheme: SchemeStandard, Secrets: []string{NewSecret()}}

// The example of the Standard Webhooks specification's reference
// libraries: the same secret, id, timestamp and body give this signature
// in every language.
func TestSignMatchesTheStandardWebhooksReferenceVector(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestParseSecretAcceptsOnlyStandardSecrets(t *testing.T) {
	cases := []struct {
		secret string
		ok     bool
	}{
		{NewSecret(), true},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true},       // 24 bytes, unpadded
		{"whsec_" + strings.Repeat("QUFB", 21) + "QQ==", true}, // 64 bytes, padded
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},            // no prefix
		{"whsec_c2hvcnQ=", false},                              // 5 bytes
		{"whsec_" + strings.Repeat("QUFB", 22), false},         // 66 bytes
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw-_", false},    // URL alphabet
		{"whsec_my-own-signing-secret-123", false},             // not base64
	}
	for _, c := range cases {
		if _, err := ParseSecret(c.secret); (err == nil) != c.ok {
			t.Errorf("ParseSecret(%q) = %v, want ok=%v", c.secret, err, c.ok)
		}
	}
}

func TestVerifyAcceptsStandardDeliveriesAndRejectsTampering(t *testing.T) {
	secret := NewSecret()
	m := Message{ID: "3f1c-delivery", Event: "verification.completed", Body: []byte(`{"event_type":"verification.completed"}`)}
	now := time.Unix(1_700_000_000, 0)
	h, err := Keys{Scheme: SchemeStandard, Secrets: []string{secret}}.Headers(m, now.Unix())
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(secret, h, m.Body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("valid delivery refused: %v", err)
	}
	if sig := h.Get(HeaderStandardSignature); !strings.HasPrefix(sig, "v1,") || len(sig) != 3+44 {
		t.Fatalf("signature header %q", sig)
	}
	cases := []struct {
		name   string
		secret string
		body   []byte
		now    time.Time
		edit   func(http.Header)
		want   error
	}{
		{"other secret", NewSecret(), m.Body, now, nil, ErrBadSignature},
		{"tampered body", secret, []byte(`{"event_type":"verification.completed "}`), now, nil, ErrBadSignature},
		{"moved timestamp", secret, m.Body, now, func(h http.Header) { h.Set(HeaderStandardTimestamp, strconv.FormatInt(now.Unix()+1, 10)) }, ErrBadSignature},
		{"other id", secret, m.Body, now, func(h http.Header) { h.Set(HeaderID, "another") }, ErrBadSignature},
		{"stale", secret, m.Body, now.Add(10 * time.Minute), nil, ErrStale},
		{"from the future", secret, m.Body, now.Add(-10 * time.Minute), nil, ErrStale},
		{"no signature", secret, m.Body, now, func(h http.Header) { h.Del(HeaderStandardSignature) }, ErrNoSignature},
		{"no id", secret, m.Body, now, func(h http.Header) { h.Del(HeaderID) }, ErrNoSignature},
		{"bad timestamp", secret, m.Body, now, func(h http.Header) { h.Set(HeaderStandardTimestamp, "soon") }, ErrNoSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hh := h.Clone()
			if c.edit != nil {
				c.edit(hh)
			}
			if err := Verify(c.secret, hh, c.body, c.now, 0); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestRotationSignsWithBothSecretsSoEitherVerifies(t *testing.T) {
	cur, prev := NewSecret(), NewSecret()
	m := Message{ID: "d-2", Event: "enrollment.completed", Body: []byte(`{}`)}
	now := time.Now()
	h, err := Keys{Scheme: SchemeBoth, Secrets: []string{cur, prev}}.Headers(m, now.Unix())
	if err != nil {
		t.Fatal(err)
	}
	if sigs := strings.Fields(h.Get(HeaderStandardSignature)); len(sigs) != 2 {
		t.Fatalf("standard signatures %q, want two space-separated", h.Get(HeaderStandardSignature))
	}
	for _, s := range []string{cur, prev} {
		if err := Verify(s, h, m.Body, now, 0); err != nil {
			t.Errorf("standard check with one of the secrets: %v", err)
		}
		if err := VerifyLegacy([]byte(s), h, m.Body, now, 0); err != nil {
			t.Errorf("legacy check with one of the secrets: %v", err)
		}
	}
	if err := Verify(NewSecret(), h, m.Body, now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a third secret verified: %v", err)
	}
}

func TestSchemesSendTheirOwnHeaders(t *testing.T) {
	m := Message{ID: "d-3", Event: "verification.completed", Body: []byte(`{}`)}
	legacySecret := "a-caller-chosen-legacy-secret"
	cases := []struct {
		scheme           Scheme
		secrets          []string
		standard, legacy bool
		fails            bool
	}{
		{SchemeStandard, []string{NewSecret()}, true, false, false},
		{SchemeLegacy, []string{legacySecret}, false, true, false},
		{SchemeBoth, []string{NewSecret()}, true, true, false},
		// Rotating from a legacy secret to a standard one: the old secret
		// still signs the legacy header during the overlap.
		{SchemeBoth, []string{NewSecret(), legacySecret}, true, true, false},
		{SchemeStandard, []string{legacySecret}, false, false, true},
		{SchemeStandard, nil, false, false, true},
	}
	for _, c := range cases {
		h, err := Keys{Scheme: c.scheme, Secrets: c.secrets}.Headers(m, time.Now().Unix())
		if (err != nil) != c.fails {
			t.Errorf("%s %d secrets: err %v", c.scheme, len(c.secrets), err)
			continue
		}
		if c.fails {
			continue
		}
		if (h.Get(HeaderStandardSignature) != "") != c.standard || (h.Get(HeaderSignature) != "") != c.legacy || h.Get(HeaderEvent) != m.Event {
			t.Errorf("%s: headers %v", c.scheme, h)
		}
		if c.legacy {
			if err := VerifyLegacy([]byte(c.secrets[len(c.secrets)-1]), h, m.Body, time.Now(), 0); err != nil {
				t.Errorf("%s: legacy check with the last secret: %v", c.scheme, err)
			}
		}
	}
}

func TestVerifyLegacyRoundTripsAndRejectsTampering(t *testing.T) {
	secret := []byte("whsec_test")
	body := []byte(`{"event_type":"verification.completed"}`)
	now := time.Unix(1_700_000_000, 0)
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, SignLegacy(secret, now.Unix(), body))
	if err := VerifyLegacy(secret, h, body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("valid delivery refused: %v", err)
	}
	if !strings.HasPrefix(h.Get(HeaderSignature), "v1=") || len(h.Get(HeaderSignature)) != 3+64 {
		t.Fatalf("signature header %q", h.Get(HeaderSignature))
	}
	cases := []struct {
		name   string
		secret []byte
		body   []byte
		now    time.Time
		edit   func(http.Header)
		want   error
	}{
		{"other secret", []byte("other"), body, now, nil, ErrBadSignature},
		{"tampered body", secret, []byte(`{"event_type":"verification.completed "}`), now, nil, ErrBadSignature},
		{"moved timestamp", secret, body, now, func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)) }, ErrBadSignature},
		{"stale", secret, body, now.Add(10 * time.Minute), nil, ErrStale},
		{"no signature", secret, body, now, func(h http.Header) { h.Del(HeaderSignature) }, ErrNoSignature},
		{"bad timestamp", secret, body, now, func(h http.Header) { h.Set(HeaderTimestamp, "soon") }, ErrNoSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hh := h.Clone()
			if c.edit != nil {
				c.edit(hh)
			}
			if err := VerifyLegacy(c.secret, hh, c.body, c.now, 0); !errors.Is(err, c.want) {
				t.Fatalf("VerifyLegacy = %v, want %v", err, c.want)
			}
		})
	}
}

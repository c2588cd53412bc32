package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"voxgate/ids"
	"voxgate/internal/nodetest"
)

// delivery is one webhook request as the receiver saw it.
type delivery struct {
	headers map[string]string
	body    string
}

// verifyWithLibrary checks a delivery with the official Standard Webhooks
// JavaScript library and returns the payload it verified.
func verifyWithLibrary(t *testing.T, secret string, d delivery) (map[string]any, error) {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"secret": secret, "headers": d.headers, "body": d.body})
	out, err := nodetest.Run(t, "verify-webhook.mjs", in)
	if err != nil {
		return nil, err
	}
	var payload map[string]any
	if err := json.Unmarshal(out, &payload); err != nil {
		t.Fatalf("verifier output %q: %v", out, err)
	}
	return payload, nil
}

// TestWebhookDeliveriesVerifyWithTheStandardWebhooksLibrary runs the real
// server, lets it deliver results to a receiver on loopback, and checks
// each delivery with the `standardwebhooks` npm package, as a customer's
// receiver would: accepted as sent, refused when tampered with or checked
// with another secret, and, after a secret rotation, accepted with the old
// secret and with the new one during the overlap.
func TestWebhookDeliveriesVerifyWithTheStandardWebhooksLibrary(t *testing.T) {
	nodetest.Require(t)
	data := filepath.Join(t.TempDir(), "data")
	var created struct{ Key string }
	if err := json.Unmarshal(runCLI(t, "keys", "create", "--tenant", "acme", "--json", "--data", data), &created); err != nil {
		t.Fatal(err)
	}
	got := make(chan delivery, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		got <- delivery{h, string(body)}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	base, _, logs := startServerArgs(t, data, "--webhook-allow-private")
	submit := func() (string, delivery) {
		t.Helper()
		reqUUID := ids.UUID()
		st, body := doJSON(t, "POST", base+"/organisations/acme/verifications", created.Key, map[string]any{
			"voice_data": base64.StdEncoding.EncodeToString(toneWAV()), "request_uuid": reqUUID, "external_id": "user_4711",
		})
		if st != 202 {
			t.Fatalf("submission: %d %v", st, body)
		}
		select {
		case d := <-got:
			return reqUUID, d
		case <-time.After(30 * time.Second):
			t.Fatalf("no delivery:\n%s", logs)
		}
		return "", delivery{}
	}

	st, body := doJSON(t, "PUT", base+"/organisations/acme/webhook", created.Key, map[string]string{"url": recv.URL + "/hook"})
	first, _ := body["secret"].(string)
	if st != 200 || body["signature_scheme"] != "standard" || !strings.HasPrefix(first, "whsec_") {
		t.Fatalf("PUT webhook: %d %v", st, body)
	}
	reqUUID, d := submit()
	payload, err := verifyWithLibrary(t, first, d)
	if err != nil {
		t.Fatalf("the Standard Webhooks library refused a delivery: %v\nheaders %v", err, d.headers)
	}
	if payload["request_uuid"] != reqUUID || payload["event_type"] != "verification.completed" {
		t.Fatalf("verified payload %v", payload)
	}
	if d.headers["X-Voxgate-Signature"] != "" {
		t.Fatalf("legacy signature sent with the standard scheme: %v", d.headers)
	}

	other := d
	other.body = strings.Replace(d.body, `"user_4711"`, `"user_4712"`, 1)
	if _, err := verifyWithLibrary(t, first, other); err == nil {
		t.Fatal("the library accepted a tampered body")
	}
	if _, err := verifyWithLibrary(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", d); err == nil {
		t.Fatal("the library accepted a delivery checked with another secret")
	}

	// Rotation: a new secret, the old one signing beside it for an hour.
	st, body = doJSON(t, "PUT", base+"/organisations/acme/webhook", created.Key, map[string]any{"url": recv.URL + "/hook", "secret_overlap_seconds": 3600})
	second, _ := body["secret"].(string)
	if st != 200 || second == "" || second == first || body["previous_secret_expires_at"] == nil {
		t.Fatalf("rotating the secret: %d %v", st, body)
	}
	_, d = submit()
	if n := len(strings.Fields(d.headers["Webhook-Signature"])); n != 2 {
		t.Fatalf("%d signatures during the overlap, want 2: %v", n, d.headers)
	}
	for name, s := range map[string]string{"old": first, "new": second} {
		if _, err := verifyWithLibrary(t, s, d); err != nil {
			t.Errorf("during the overlap, the %s secret does not verify: %v", name, err)
		}
	}
}

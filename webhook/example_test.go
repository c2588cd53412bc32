package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"voxgate/webhook"
)

// A receiver checks each delivery before trusting it, and dedupes on the
// delivery ID (deliveries are at least once). Any Standard Webhooks
// library does the same check.
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from PUT /organisations/acme/webhook
	handler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || webhook.Verify(secret, r.Header, body, time.Now(), 0) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		_ = r.Header.Get(webhook.HeaderID) // remember it; skip if seen
		w.WriteHeader(http.StatusNoContent)
	}
	_ = handler
	key, _ := webhook.ParseSecret(secret)
	fmt.Println(webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`)))
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"voxgate/webhook"
)

// A receiver checks each delivery before trusting it, and dedupes on the
// delivery ID (deliveries are at least once).
func ExampleVerify() {
	secret := []byte("whsec_from_PUT_/organisations/acme/webhook")
	handler := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || webhook.Verify(secret, r.Header, body, time.Now(), 0) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		_ = r.Header.Get(webhook.HeaderDelivery) // remember it; skip if seen
		w.WriteHeader(http.StatusNoContent)
	}
	_ = handler
	fmt.Println(webhook.Sign([]byte("k"), 1700000000, []byte(`{}`)))
	// Output: v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146
}

package httpapi

import (
	"net/url"
	"testing"

	"voxgate"
)

func TestUserIDHasOneSpellingAndNoInvisibleCharacters(t *testing.T) {
	e := newEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	st, body, _ := e.do("POST", "/create-profile", key, map[string]string{"user_id": "jose\u0301"}) // e + combining acute
	if st != 201 || body["user_id"] != "jos\u00e9" {
		t.Fatalf("decomposed id: %d %v; want 201 with the composed id", st, body)
	}
	if st, body, _ = e.do("POST", "/create-profile", key, map[string]string{"user_id": "jos\u00e9"}); st != 200 || body["created"] != false {
		t.Fatalf("composed id after decomposed: %d %v; want the same profile", st, body)
	}
	if st, body, _ = e.do("GET", "/v1/profiles/"+url.PathEscape("jose\u0301"), key, nil); st != 200 || body["user_id"] != "jos\u00e9" {
		t.Fatalf("lookup by the decomposed id: %d %v", st, body)
	}
	for _, id := range []string{"alice\u202e", "ali\u200bce", "\u2067alice", "alice\u0007"} {
		st, body, hdr := e.do("POST", "/create-profile", key, map[string]string{"user_id": id})
		assertError(t, st, body, hdr, 400, voxgate.EINVALIDUSERID)
	}
}

// TestAnswersWithSecretsOrResultsAreNotCached checks Cache-Control on the
// answers that carry a client token, a sandbox key, a profile and an error;
// the voice token's answer is checked in the challenge flow tests.
func TestAnswersWithSecretsOrResultsAreNotCached(t *testing.T) {
	e := newTokenEnv(t)
	key := e.key("acme", voxgate.ScopeAdmin)
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/v1/client-tokens", map[string]any{"user_id": "alice", "flow": "enroll"}, 201},
		{"POST", "/create-profile", map[string]any{"user_id": "alice"}, 201},
		{"GET", "/v1/profiles/alice", nil, 200},
		{"GET", "/v1/usage", nil, 200},
		{"POST", "/v1/keys/demo", nil, 403},
		{"GET", "/v1/profiles/nobody", nil, 404},
	} {
		st, body, hdr := e.do(tc.method, tc.path, key, tc.body)
		if st != tc.want {
			t.Fatalf("%s %s: %d %v", tc.method, tc.path, st, body)
		}
		if cc := hdr.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", tc.method, tc.path, cc)
		}
	}
}

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

package voicetoken

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

func TestClientTokensAndVoiceTokensNeverPassForEachOther(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s := New(priv)
	ct, c, err := s.IssueClient("alice", "t1", "key1", "enroll", "j1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.VerifyClient(ct)
	if err != nil || got.Subject != "alice" || got.Tenant != "t1" || got.Key != "key1" || got.Flow != "enroll" || !got.ExpiresAt.Equal(c.ExpiresAt.Time) {
		t.Fatalf("client token round trip: %+v %v", got, err)
	}
	if _, err := s.Verify(ct); !errors.Is(err, ErrInvalid) {
		t.Fatalf("client token verified as a voice token: %v", err)
	}
	vt, _, err := s.Issue("alice", "t1", "sid", "j2", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyClient(vt); !errors.Is(err, ErrInvalid) {
		t.Fatalf("voice token verified as a client token: %v", err)
	}
	// Expired, and signed by an unknown key.
	s.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, err := s.VerifyClient(ct); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired client token: %v", err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, _, _ := New(other).IssueClient("alice", "t1", "key1", "enroll", "j3", time.Minute)
	if _, err := New(priv).VerifyClient(forged); !errors.Is(err, ErrInvalid) {
		t.Fatalf("client token of another key: %v", err)
	}
}

package ids

import "testing"

func TestUUIDIsVersion4AndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		u := UUID()
		if !IsUUID(u) || u[14] != '4' || (u[19] != '8' && u[19] != '9' && u[19] != 'a' && u[19] != 'b') {
			t.Fatalf("not a v4 UUID: %q", u)
		}
		if seen[u] {
			t.Fatalf("duplicate UUID %q", u)
		}
		seen[u] = true
	}
}

func TestTokenUsesAlphabet(t *testing.T) {
	tok := Token(64)
	if len(tok) != 64 {
		t.Fatalf("len = %d", len(tok))
	}
	for _, c := range tok {
		found := false
		for _, a := range alphabet {
			found = found || a == c
		}
		if !found {
			t.Fatalf("character %q outside alphabet", c)
		}
	}
}

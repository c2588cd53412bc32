package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpensOnlyWithSameKeyAndAD(t *testing.T) {
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	s1, _ := New(k1)
	s2, _ := New(k2)
	ad := AD("tenant-a", "alice", "voiceprint")
	blob := s1.Seal([]byte("embedding bytes"), ad)
	if pt, err := s1.Open(blob, ad); err != nil || string(pt) != "embedding bytes" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if bytes.Contains(blob, []byte("embedding")) {
		t.Fatal("plaintext visible in sealed blob")
	}
	for name, tc := range map[string]struct {
		s    *Sealer
		blob []byte
		ad   []byte
	}{
		"other key":    {s2, blob, ad},
		"other user":   {s1, blob, AD("tenant-a", "bob", "voiceprint")},
		"other tenant": {s1, blob, AD("tenant-b", "alice", "voiceprint")},
		"ad splicing":  {s1, blob, AD("tenant-aalice", "", "voiceprint")},
		"tampered":     {s1, append(append([]byte{}, blob[:len(blob)-1]...), blob[len(blob)-1]^1), ad},
		"truncated":    {s1, blob[:10], ad},
		"empty":        {s1, nil, ad},
	} {
		if _, err := tc.s.Open(tc.blob, tc.ad); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %v, want ErrOpen", name, err)
		}
	}
}

func TestRotationOpensOldBlobs(t *testing.T) {
	old := bytes.Repeat([]byte{1}, 32)
	cur := bytes.Repeat([]byte{9}, 32)
	s1, _ := New(old)
	blob := s1.Seal([]byte("x"), nil)
	rotated, _ := New(cur, old)
	if pt, err := rotated.Open(blob, nil); err != nil || string(pt) != "x" {
		t.Fatalf("rotated Open = %q, %v", pt, err)
	}
	if nb := rotated.Seal([]byte("y"), nil); !bytes.Equal(nb[1:5], rotated.keys[0].id[:]) {
		t.Fatal("new blobs not sealed with the first key")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "voiceprint.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil || len(k1) != 32 {
		t.Fatalf("create: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("world-readable key accepted")
	}
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("short key accepted")
	}
}

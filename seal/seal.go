// Package seal encrypts biometric records at rest with AES-256-GCM. Each
// sealed blob names the key that sealed it (so keys can rotate) and is bound
// to associated data, the tenant and user it belongs to, so that a blob
// copied onto another profile, in the same database or another, fails to open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// format is the first byte of every sealed blob.
const format = 1

// header is format(1) + key id(4) + nonce(12).
const header = 1 + 4 + 12

// ErrOpen is returned for a blob that does not decrypt: wrong key, wrong
// associated data, or tampered bytes.
var ErrOpen = errors.New("seal: cannot open sealed data")

// Sealer seals and opens blobs. The first key seals; all keys open, so that
// an operator can rotate by putting the new key first.
type Sealer struct {
	keys []key
}

type key struct {
	id   [4]byte
	aead cipher.AEAD
}

// New returns a Sealer over one or more 32-byte keys.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	s := &Sealer{}
	for _, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("voxgate-seal-key-id\x00"), k...))
		var id [4]byte
		copy(id[:], sum[:4])
		s.keys = append(s.keys, key{id: id, aead: aead})
	}
	return s, nil
}

// Seal encrypts plaintext bound to ad.
func (s *Sealer) Seal(plaintext, ad []byte) []byte {
	k := s.keys[0]
	out := make([]byte, header, header+len(plaintext)+k.aead.Overhead())
	out[0] = format
	copy(out[1:5], k.id[:])
	rand.Read(out[5:header])
	return k.aead.Seal(out, out[5:header], plaintext, ad)
}

// Open decrypts a sealed blob bound to ad. Returns ErrOpen when it does not
// authenticate.
func (s *Sealer) Open(blob, ad []byte) ([]byte, error) {
	if len(blob) < header || blob[0] != format {
		return nil, ErrOpen
	}
	for _, k := range s.keys {
		if string(k.id[:]) != string(blob[1:5]) {
			continue
		}
		pt, err := k.aead.Open(nil, blob[5:header], blob[header:], ad)
		if err != nil {
			return nil, ErrOpen
		}
		return pt, nil
	}
	return nil, ErrOpen
}

// AD builds associated data from parts (tenant, user, record kind), with
// separators that no part can forge.
func AD(parts ...string) []byte {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%d:%s;", len(p), p)
	}
	return []byte(b.String())
}

// LoadOrCreateKey reads a hex key from path, or creates one with fresh
// randomness and mode 0600 when the file does not exist. A file with other
// permissions than owner-only is refused: a readable key protects nothing.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, KeySize)
		rand.Read(k)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) { // another process created it first
				return LoadOrCreateKey(path)
			}
			return nil, err
		}
		if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		return k, f.Close()
	}
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("seal: key file %s has mode %v: it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	return ParseKey(strings.TrimSpace(string(b)))
}

// ParseKey decodes a 64-character hex key (from a file or the environment).
func ParseKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("seal: key must be %d hex characters", 2*KeySize)
	}
	return k, nil
}

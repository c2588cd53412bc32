// Package ids makes the random identifiers voxgate hands out: UUIDs for
// correlation and records, and short prefixed IDs for keys. All randomness
// comes from crypto/rand.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// UUID returns a random (version 4) UUID in its canonical text form.
func UUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// alphabet is lowercase base32 without easily confused characters.
const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// Token returns n random characters from a 31-letter alphabet
// (about 4.95 bits each), suitable for IDs and secrets.
func Token(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n+n/2+8)
	for i := 0; i < n; {
		rand.Read(buf)
		for _, c := range buf {
			if c >= 248 { // 248 = 8*31: reject to avoid modulo bias
				continue
			}
			out[i] = alphabet[int(c)%len(alphabet)]
			i++
			if i == n {
				break
			}
		}
	}
	return string(out)
}

// IsUUID reports whether s is a canonical lowercase or uppercase UUID.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

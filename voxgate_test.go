package voxgate

import (
	"strings"
	"testing"
)

func TestNormalizeUserIDMakesOneSpellingAndRefusesInvisibleCharacters(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, code string
	}{
		{"ascii", "alice", "alice", ""},
		{"composed é stays", "jos\u00e9", "jos\u00e9", ""},
		{"decomposed é becomes composed", "jose\u0301", "jos\u00e9", ""},
		{"hangul jamo compose", "\u1100\u1161", "\uac00", ""},
		{"empty", "", "", EINVALID},
		{"right-to-left override", "alice\u202egnp.exe", "", EINVALIDUSERID},
		{"left-to-right isolate", "\u2066alice", "", EINVALIDUSERID},
		{"zero-width space", "ali\u200bce", "", EINVALIDUSERID},
		{"zero-width joiner", "ali\u200dce", "", EINVALIDUSERID},
		{"byte-order mark", "\ufeffalice", "", EINVALIDUSERID},
		{"soft hyphen", "al\u00adice", "", EINVALIDUSERID},
		{"newline", "alice\n", "", EINVALIDUSERID},
		{"C1 control", "alice\u0085", "", EINVALIDUSERID},
		{"line separator", "alice\u2028", "", EINVALIDUSERID},
		{"invalid UTF-8", "alice\xff", "", EINVALID},
		{"too long", strings.Repeat("a", 129), "", EINVALID},
		{"128 decomposed letters compose to 64", strings.Repeat("e\u0301", 64), strings.Repeat("\u00e9", 64), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeUserID(tc.in)
			if ErrorCode(err) != tc.code || got != tc.want {
				t.Fatalf("NormalizeUserID(%+q) = %+q, %v; want %+q, code %q", tc.in, got, err, tc.want, tc.code)
			}
		})
	}
}

package voxgate

import "unicode/utf8"

// GalleryDelta is how a tenant's gallery (the voiceprints of its enrolled
// profiles, searched by identification) changed after a revision: what a
// node holding the gallery in memory applies to catch up.
type GalleryDelta struct {
	// Revision is the tenant's gallery revision the delta brings a node to.
	Revision int64
	// Full means Voiceprints is the whole gallery: the node must drop
	// everything else it holds (its revision was 0, or older than the
	// removals the store keeps).
	Full bool
	// Voiceprints were written after the asked revision, of enrolled
	// profiles only.
	Voiceprints []*Voiceprint
	// Removed are the users whose voiceprints left the gallery after the
	// asked revision: deleted profiles, and profiles not (or no longer)
	// enrolled whose voiceprint was written.
	Removed []string
}

// WatchlistGroup is the group whose voices enrollment and verification
// check every recording against (known fraudsters).
const WatchlistGroup = "watchlist"

// Watchlist policies: what a watchlist match or a duplicate voice at
// enrollment does.
const (
	// WatchlistFlag reports the match (and audits it) but decides as if
	// there were none: the default.
	WatchlistFlag = "flag"
	// WatchlistReject refuses the enrollment and rejects the verification.
	WatchlistReject = "reject"
)

// IdentificationSettings are a tenant's identification policies.
type IdentificationSettings struct {
	// WatchlistPolicy is WatchlistFlag or WatchlistReject.
	WatchlistPolicy string `json:"watchlist_policy"`
}

// Validate checks the settings.
func (s IdentificationSettings) Validate() error {
	if s.WatchlistPolicy != WatchlistFlag && s.WatchlistPolicy != WatchlistReject {
		return Errorf(EINVALID, "watchlist_policy must be %q or %q", WatchlistFlag, WatchlistReject)
	}
	return nil
}

// MaxGroupNameLen bounds group names.
const MaxGroupNameLen = 64

// ValidateGroupName checks a group name: 1-64 letters, digits, '-', '_'
// and '.', so that it can stand in a URL path.
func ValidateGroupName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > MaxGroupNameLen {
		return Errorf(EINVALID, "group name must be 1-%d characters", MaxGroupNameLen)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return Errorf(EINVALID, "group name may contain only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrBlockedAddress is wrapped by every refusal of an internal target.
var ErrBlockedAddress = errors.New("webhook: target address is not public")

// blockedPrefixes are the ranges a webhook may not reach unless the
// operator allows private targets: everything that is not the public
// Internet (RFC 6890 special-purpose registries, trimmed to what matters).
var blockedPrefixes = mustPrefixes(
	"0.0.0.0/8",       // "this network", includes the unspecified 0.0.0.0
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // carrier-grade NAT (shared address space)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, cloud metadata (169.254.169.254)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.88.99.0/24",  // 6to4 relay anycast
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast 255.255.255.255
	"::/128",          // unspecified
	"::1/128",         // loopback
	"64:ff9b:1::/48",  // local-use IPv4/IPv6 translation
	"100::/64",        // discard
	"2001:db8::/32",   // documentation
	"fc00::/7",        // unique local
	"fe80::/10",       // link-local
	"fec0::/10",       // site-local (deprecated)
	"ff00::/8",        // multicast
)

// Prefixes whose addresses embed an IPv4 address.
var (
	nat64        = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	v4Compatible = netip.MustParsePrefix("::/96") // deprecated IPv4-compatible form
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Blocked reports whether ip is outside the public Internet: private,
// loopback, link-local, multicast, unspecified, CGNAT or otherwise
// reserved. IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4) are
// judged as the IPv4 address they reach.
func Blocked(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return Blocked(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return Blocked(netip.AddrFrom4([4]byte(b[2:6])))
		case v4Compatible.Contains(ip) && !ip.IsUnspecified() && ip != netip.IPv6Loopback():
			return Blocked(netip.AddrFrom4([4]byte(b[12:16])))
		}
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// MaxURLLen bounds a webhook URL.
const MaxURLLen = 2048

// ParseURL checks the form of a webhook URL: absolute http or https, a
// host, no credentials, no fragment, at most MaxURLLen bytes. It does not
// resolve the host (CheckURL does).
func ParseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url is required")
	}
	if len(raw) > MaxURLLen {
		return nil, fmt.Errorf("url must be at most %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("url is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("url must be http or https")
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return nil, errors.New("url must name a host")
	}
	if u.User != nil {
		return nil, errors.New("url must not contain credentials: deliveries are authenticated by their signature")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, errors.New("url must not contain a fragment")
	}
	return u, nil
}

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL validates a webhook URL when it is configured: its form
// (ParseURL), and, unless allowPrivate, that its host resolves and that
// every address it resolves to is public. The same check runs again at
// every connection (see Sender), because DNS answers change. resolver nil
// uses net.DefaultResolver.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, resolver Resolver) (*url.URL, error) {
	u, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if allowPrivate {
		return u, nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if Blocked(ip) {
			return nil, fmt.Errorf("%w: %s", ErrBlockedAddress, ip)
		}
		return u, nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return nil, fmt.Errorf("%w: %s", ErrBlockedAddress, host)
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("url host %q does not resolve", host)
	}
	for _, ip := range addrs {
		if Blocked(ip) {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrBlockedAddress, host, ip)
		}
	}
	return u, nil
}

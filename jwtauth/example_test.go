package jwtauth_test

import (
	"fmt"
	"time"

	"voxgate/jwtauth"
)

// An operator shares an HS256 secret with its identity system, which issues
// end-user tokens; voxgate verifies them and acts as the user.
func Example() {
	secret := []byte("a shared secret of at least 32 bytes!")
	idp, _ := jwtauth.HMACKey(secret)
	token, _ := idp.Sign(jwtauth.Mint{Subject: "alice", Tenant: "acme", Role: jwtauth.RoleUser, TTL: time.Hour, Audience: "voxgate"})

	v, _ := jwtauth.NewHMAC(secret, jwtauth.Options{Audience: "voxgate"})
	c, err := v.Verify(token)
	if err != nil {
		fmt.Println(err)
		return
	}
	a := c.Actor("tenant-id-of-acme")
	fmt.Println(c.Role, c.Subject, c.Tenant, a.Scope, a.Subject)
	// Output: user alice acme verify alice
}

// An operator whose users sign in with Keycloak verifies the realm's
// access tokens against its published keys, reading the roles and the
// tenant where Keycloak puts them.
func ExampleNewRemote() {
	keys, err := jwtauth.NewJWKS("https://keycloak.example/realms/acme/protocol/openid-connect/certs", jwtauth.JWKSOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := jwtauth.NewRemote(keys, jwtauth.Options{
		Issuer:      "https://keycloak.example/realms/acme",
		Audience:    "voxgate",
		RoleClaim:   "realm_access.roles",
		AdminRole:   "voxgate-admin",
		UserRole:    "voxgate-user",
		TenantClaim: "voxgate_tenant",
	})
	fmt.Println(v.Algorithms())
	// Output: [RS256 ES256 EdDSA]
}

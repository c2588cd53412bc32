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

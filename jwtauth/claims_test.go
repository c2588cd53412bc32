package jwtauth

import (
	"strings"
	"testing"
	"time"

	"voxgate"
)

// Identity providers put the role and the tenant in claims of their own;
// Options name them.
func TestConfiguredClaimsReadIdentityProviderTokens(t *testing.T) {
	ek := testEd(t)
	pub := PublicKey{ID: "k", Key: ek.Public()}
	header := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "k"}
	keycloak := Options{RoleClaim: "realm_access.roles", AdminRole: "voxgate-admin", UserRole: "voxgate-user", TenantClaim: "voxgate_tenant"}
	cases := []struct {
		name       string
		opt        Options
		edits      map[string]any
		wantRole   Role
		wantTenant string
		wantErr    string
	}{
		{"Keycloak realm roles, admin", keycloak,
			map[string]any{"role": nil, "tenant": nil, "voxgate_tenant": "acme",
				"realm_access": map[string]any{"roles": []any{"offline_access", "voxgate-admin", "uma_authorization"}}},
			RoleAdmin, "acme", ""},
		{"Keycloak realm roles, user", keycloak,
			map[string]any{"role": nil, "tenant": nil, "voxgate_tenant": "acme", "realm_access": map[string]any{"roles": []any{"voxgate-user"}}},
			RoleUser, "acme", ""},
		{"Keycloak client roles", Options{RoleClaim: "resource_access.voxgate.roles", TenantClaim: "org.name"},
			map[string]any{"role": nil, "tenant": nil, "org": map[string]any{"name": "acme"},
				"resource_access": map[string]any{"voxgate": map[string]any{"roles": []any{"user"}}}},
			RoleUser, "acme", ""},
		{"Keycloak token without the role", keycloak,
			map[string]any{"role": nil, "voxgate_tenant": "acme", "realm_access": map[string]any{"roles": []any{"offline_access"}}},
			"", "", `claim "realm_access.roles" naming "voxgate-admin" or "voxgate-user"`},
		{"Okta scp array", Options{RoleClaim: "scp", AdminRole: "voxgate.admin", UserRole: "voxgate.user", TenantClaim: "tid"},
			map[string]any{"role": nil, "tenant": nil, "tid": "acme", "scp": []any{"openid", "voxgate.user"}},
			RoleUser, "acme", ""},
		{"space-separated scope string", Options{RoleClaim: "scope"},
			map[string]any{"role": nil, "scope": "openid admin"}, RoleAdmin, "acme", ""},
		{"Auth0 namespaced claim with dots", Options{RoleClaim: "https://voxgate.example/roles", TenantClaim: "https://voxgate.example/tenant"},
			map[string]any{"role": nil, "tenant": nil, "https://voxgate.example/roles": []any{"admin"}, "https://voxgate.example/tenant": "acme"},
			RoleAdmin, "acme", ""},
		{"default claims ignore the configured path's absence", Options{},
			map[string]any{}, RoleAdmin, "acme", ""},
		{"default role claim with custom role names", Options{AdminRole: "superuser"},
			map[string]any{"role": "superuser"}, RoleAdmin, "acme", ""},
		{"tenant claim of the wrong type", Options{TenantClaim: "org"},
			map[string]any{"org": map[string]any{"name": "acme"}}, "", "", "must be a string"},
		{"configured tenant claim absent", Options{TenantClaim: "org_id"},
			map[string]any{}, "", "", "lacks the tenant claim"},
		{"a role claim that is not a list", Options{RoleClaim: "realm_access"},
			map[string]any{"role": nil, "realm_access": map[string]any{"roles": []any{"admin"}}}, "", "", "has no role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opt.Now = func() time.Time { return now }
			v, err := NewPublic([]PublicKey{pub}, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(rawToken(t, header, claims(c.edits), ek))
			if c.wantErr != "" {
				if voxgate.ErrorCode(err) != voxgate.EUNAUTHORIZED || !strings.Contains(voxgate.ErrorMessage(err), c.wantErr) {
					t.Fatalf("err %v, want unauthorized containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Role != c.wantRole || got.Tenant != c.wantTenant {
				t.Fatalf("role %q tenant %q, want %q %q", got.Role, got.Tenant, c.wantRole, c.wantTenant)
			}
		})
	}
}

// RFC 7638 section 3.1's example key has this thumbprint.
func TestThumbprintMatchesRFC7638(t *testing.T) {
	doc := []byte(`{"keys":[{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}]}`)
	keys, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := keys[0].Thumbprint()
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("Thumbprint = %q, %v", got, err)
	}
}

func TestMarshalJWKSRoundTripsEveryKeyType(t *testing.T) {
	in := []PublicKey{
		{ID: "r", Key: &testRSA(t).PublicKey},
		{ID: "c", Key: &testEC(t).PublicKey},
		{ID: "e", Key: testEd(t).Public()},
	}
	doc, err := MarshalJWKS(in...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseJWKS(doc)
	if err != nil || len(out) != len(in) {
		t.Fatalf("ParseJWKS(MarshalJWKS) = %d keys, %v\n%s", len(out), err, doc)
	}
	for i := range in {
		a, _ := in[i].Thumbprint()
		b, _ := out[i].Thumbprint()
		if out[i].ID != in[i].ID || a != b || out[i].Alg() != in[i].Alg() {
			t.Errorf("key %d: %s %s -> %s %s", i, in[i].ID, in[i].Alg(), out[i].ID, out[i].Alg())
		}
	}
}

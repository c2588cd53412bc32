package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"voxgate"
	"voxgate/jwtauth"
)

func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := subcommand("tokens", []string{"mint", "verify", "keygen"}, args, stdout)
	switch {
	case err != nil:
		return err
	case sub == "mint":
		return tokensMint(args, stdout, stderr)
	case sub == "verify":
		return tokensVerify(ctx, args, stdout, stderr)
	default:
		return tokensKeygen(args, stdout, stderr)
	}
}

// tokensMint signs a token with the operator's key, as the operator's
// identity system would, for tests and integration work.
func tokensMint(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokens mint", stdout)
	role := fs.String("role", "", "admin or user")
	sub := fs.String("sub", "", "the token's subject: the end user (role user) or the administrator (role admin)")
	tenant := fs.String("tenant", "", "tenant `NAME` (or ID)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	keyFile := fs.String("key", "", "sign with this RS256/ES256/EdDSA private key `FILE` (PEM)")
	secretFile := fs.String("secret-file", envOr("VOXGATE_JWT_HS256_SECRET_FILE", ""), "sign HS256 with the secret in `FILE` (env VOXGATE_JWT_HS256_SECRET_FILE)")
	kid := fs.String("kid", "", "kid header (default: the key's kid in FILE.jwks beside the key, else its RFC 7638 thumbprint)")
	iss := fs.String("iss", envOr("VOXGATE_JWT_ISSUER", ""), "iss claim (env VOXGATE_JWT_ISSUER)")
	aud := fs.String("aud", envOr("VOXGATE_JWT_AUDIENCE", ""), "aud claim (env VOXGATE_JWT_AUDIENCE)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	switch {
	case *role != string(jwtauth.RoleAdmin) && *role != string(jwtauth.RoleUser):
		return usagef("tokens mint", "--role admin or --role user is required")
	case *sub == "" || *tenant == "":
		return usagef("tokens mint", "--sub and --tenant are required")
	case *ttl <= 0:
		return usagef("tokens mint", "--ttl must be positive")
	}
	if err := voxgate.ValidateUserID(*sub); err != nil {
		return fmt.Errorf("--sub: %s", voxgate.ErrorMessage(err))
	}
	var key jwtauth.SigningKey
	var err error
	switch {
	case *keyFile != "":
		if key, err = jwtauth.LoadSigningKey(*keyFile); err == nil {
			if id := kidBeside(*keyFile, key); id != "" {
				key.ID = id
			}
		}
	case *secretFile != "":
		var secret []byte
		if secret, err = jwtauth.LoadSecret(*secretFile); err == nil {
			key, err = jwtauth.HMACKey(secret)
		}
	default:
		return usagef("tokens mint", "give --key FILE (RS256/ES256/EdDSA private key) or --secret-file FILE (HS256)")
	}
	if err != nil {
		return err
	}
	if *kid != "" {
		key.ID = *kid
	}
	now := time.Now()
	tok, err := key.Sign(jwtauth.Mint{Subject: *sub, Tenant: *tenant, Role: jwtauth.Role(*role), TTL: *ttl, Issuer: *iss, Audience: *aud, Now: now})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"token": tok, "alg": key.Alg(), "role": *role, "sub": *sub, "tenant": *tenant,
			"expires_at": now.Add(*ttl).UTC().Truncate(time.Second),
		})
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// tokensVerify checks a token as `voxgate serve` would with the same
// --jwt-* flags and prints its claims; with --store it also looks the
// tenant up, as the server does.
func tokensVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokens verify", stdout)
	var jc jwtConfig
	jc.register(fs)
	storeURL := fs.String("store", envOr("VOXGATE_STORE", ""), "also look the token's tenant up in this store `URL` (sqlite:PATH or postgres://...; env VOXGATE_STORE)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		return usagef("tokens verify", "tokens verify needs one TOKEN (- reads it from stdin)")
	}
	v, err := jc.verifier(context.Background(), nil)
	if err != nil {
		return err
	}
	if v == nil {
		return usagef("tokens verify", "give --jwt-hs256-secret-file, --jwt-public-keys or --jwt-jwks-url")
	}
	tok := fs.Arg(0)
	if tok == "-" {
		line, err := bufio.NewReader(io.LimitReader(os.Stdin, jwtauth.MaxTokenLen+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		tok = line
	}
	c, err := v.Verify(strings.TrimSpace(tok))
	if err != nil {
		return errors.New(voxgate.ErrorMessage(err))
	}
	out := map[string]any{
		"valid": true, "sub": c.Subject, "tenant": c.Tenant, "role": c.Role, "jti": c.ID, "iss": c.Issuer,
		"kid": c.KeyID, "iat": c.IssuedAt.UTC(), "exp": c.ExpiresAt.UTC(),
	}
	if *storeURL != "" {
		db, err := openStore(ctx, *storeURL, "")
		if err != nil {
			return err
		}
		defer db.Close()
		t, err := db.FindTenant(ctx, c.Tenant)
		if err != nil {
			return fmt.Errorf("tenant %q: %s", c.Tenant, voxgate.ErrorMessage(err))
		}
		out["tenant_id"] = t.ID
	}
	return json.NewEncoder(stdout).Encode(out)
}

// tokensKeygen makes a key to try the /uflow routes with: an HS256 secret
// file, or an RS256 / ES256 / EdDSA private key (FILE, PKCS #8 PEM), its
// public key (FILE.pub, PKIX PEM) and a JWKS document of it (FILE.jwks)
// for --jwt-public-keys or to serve as a JWKS URL. The PEM files are
// standard, without header lines, so that OpenSSL, Node's crypto and jose
// read them; the key's name (kid) is in the JWKS: --kid, else the key's
// RFC 7638 thumbprint, which `tokens mint --key FILE` puts in its tokens.
func tokensKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokens keygen", stdout)
	alg := fs.String("alg", jwtauth.AlgEdDSA, "HS256, RS256, ES256 or EdDSA")
	out := fs.String("out", "", "write the secret or private key to `FILE` (and the public key to FILE.pub, a JWKS to FILE.jwks)")
	kid := fs.String("kid", "", "name the key in FILE.jwks (default: its RFC 7638 thumbprint)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if *out == "" {
		return usagef("tokens keygen", "--out FILE is required")
	}
	var priv crypto.Signer
	switch *alg {
	case jwtauth.AlgHS256:
		var b [32]byte // 256 bits, written as 43 base64url characters
		rand.Read(b[:])
		if err := writeNew(*out, []byte(base64.RawURLEncoding.EncodeToString(b[:])+"\n"), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote HS256 secret %s\n", *out)
		return nil
	case jwtauth.AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		priv = k
	case jwtauth.AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		priv = k
	case jwtauth.AlgRS256:
		k, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			return err
		}
		priv = k
	default:
		return usagef("tokens keygen", "--alg must be HS256, RS256, ES256 or EdDSA, not %q", *alg)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return err
	}
	pub := jwtauth.PublicKey{ID: *kid, Key: priv.Public()}
	if pub.ID == "" {
		if pub.ID, err = pub.Thumbprint(); err != nil {
			return err
		}
	}
	set, err := jwtauth.MarshalJWKS(pub)
	if err != nil {
		return err
	}
	if err := writeNew(*out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := writeNew(*out+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return err
	}
	if err := writeNew(*out+".jwks", append(set, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s private key %s, public key %s.pub and JWKS %s.jwks (kid %s)\n", *alg, *out, *out, *out, pub.ID)
	return nil
}

// kidBeside returns the kid that keyFile.jwks (written by keygen) gives
// the key's public half; "" when there is no such file or key.
func kidBeside(keyFile string, key jwtauth.SigningKey) string {
	data, err := os.ReadFile(keyFile + ".jwks")
	if err != nil {
		return ""
	}
	keys, err := jwtauth.ParseJWKS(data)
	if err != nil {
		return ""
	}
	pub, err := key.Public()
	if err != nil {
		return ""
	}
	want, _ := pub.Thumbprint()
	for _, k := range keys {
		if tp, _ := k.Thumbprint(); tp == want && k.ID != "" {
			return k.ID
		}
	}
	return ""
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

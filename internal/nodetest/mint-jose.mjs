// Plays an identity provider with jose: makes ES256, EdDSA and RS256 key
// pairs, exports their public halves as JWKS documents, and mints
// Keycloak-shaped tokens (realm_access.roles, a custom tenant claim) with
// them, plus forged ones. Input (stdin, JSON): {"issuer", "audience",
// "tenant"}. Prints {"jwks_initial", "jwks_rotated", "tokens": {name: jwt}}.
import * as jose from "jose";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { issuer, audience, tenant } = JSON.parse(input);

async function keyPair(alg, kid) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, jwk };
}

const es = await keyPair("ES256", "es-1");
const ed = await keyPair("EdDSA", "ed-1");
const rs = await keyPair("RS256", "rs-2"); // published only after the rotation
const forger = await keyPair("ES256", "es-1"); // claims es-1's name
const stranger = await keyPair("ES256", "nobody");

async function mint(key, { sub, roles, exp = "10m", tenantClaim = tenant }) {
  const claims = { realm_access: { roles }, azp: "voxgate-app", preferred_username: sub };
  if (tenantClaim !== undefined) claims.voxgate_tenant = tenantClaim;
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setSubject(sub)
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(exp)
    .sign(key.privateKey);
}

const tokens = {
  admin_es256: await mint(es, { sub: "ops-1", roles: ["offline_access", "voxgate-admin"] }),
  user_eddsa: await mint(ed, { sub: "alice", roles: ["voxgate-user"] }),
  user_rs256_rotated: await mint(rs, { sub: "bob", roles: ["voxgate-user"] }),
  forged_kid: await mint(forger, { sub: "ops-1", roles: ["voxgate-admin"] }),
  unknown_kid: await mint(stranger, { sub: "ops-1", roles: ["voxgate-admin"] }),
  expired: await mint(es, { sub: "ops-1", roles: ["voxgate-admin"], exp: Math.floor(Date.now() / 1000) - 3600 }),
  no_role: await mint(es, { sub: "ops-1", roles: ["offline_access"] }),
  other_tenant: await mint(es, { sub: "ops-1", roles: ["voxgate-admin"], tenantClaim: "globex-does-not-exist" }),
};
process.stdout.write(JSON.stringify({
  jwks_initial: { keys: [es.jwk, ed.jwk] },
  jwks_rotated: { keys: [es.jwk, ed.jwk, rs.jwk] },
  tokens,
}));

// Reads a public key PEM (stdin) as jose and Node's crypto do, for the
// algorithm named by the first argument. Exits 1 with their error when
// either refuses it.
import * as jose from "jose";
import { createPublicKey } from "node:crypto";

let pem = "";
for await (const chunk of process.stdin) pem += chunk;
try {
  createPublicKey(pem);
  await jose.importSPKI(pem, process.argv[2]);
} catch (e) {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
}

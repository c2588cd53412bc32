// Verifies one webhook delivery with the official Standard Webhooks
// library, as a customer's receiver would. Input (stdin, JSON):
// {"secret": "whsec_...", "headers": {name: value}, "body": "<raw body>"}.
// Prints the verified payload as JSON; exits 1 with the library's error
// when the delivery does not verify.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, headers, body } = JSON.parse(input);
try {
  const payload = new Webhook(secret).verify(body, headers);
  process.stdout.write(JSON.stringify(payload));
} catch (e) {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
}

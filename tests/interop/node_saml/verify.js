// node-saml as the service provider: validate one HTTP-POST SAMLResponse the way an app's ACS would.
//
// stdin: {"options": {...node-saml SamlConfig...}, "SAMLResponse": "base64"}
// stdout: {"profile": {...}} when node-saml accepts the response (exit 0),
//         {"error": "node-saml's message"} when it refuses it (exit 1).
"use strict";

const { SAML } = require("@node-saml/node-saml");

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function main() {
  const { options, SAMLResponse } = await readStdin();
  const saml = new SAML(options);
  try {
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse });
    // Functions (getAssertionXml, ...) are left out by JSON.stringify; the data is what an app sees.
    process.stdout.write(JSON.stringify({ profile }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && error.message ? error.message : error) }) + "\n");
    process.exitCode = 1;
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exitCode = 2;
});

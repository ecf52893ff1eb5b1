// node-saml as the service provider, one step per run, as an app's routes would call it.
//
// stdin: {"command": ..., "options": {...node-saml SamlConfig...}, "cacheFile": path, ...}
//   "metadata":  the SP's metadata (generateServiceProviderMetadata with "decryptionCert" and
//                "signingCert"): {"metadata": "<xml>"}
//   "authorize": the URL of a signed HTTP-Redirect AuthnRequest to the IdP (getAuthorizeUrlAsync,
//                with "RelayState"): {"url": ...}; its ID is remembered in cacheFile
//   "authorize-form": the same as an auto-post page, for the HTTP-POST binding (options
//                authnRequestBinding "HTTP-POST"; getAuthorizeFormAsync): {"form": "<html>"}
//   "validate":  the verdict on an HTTP-POST "SAMLResponse" (validatePostResponseAsync):
//                {"profile": {...}} (exit 0), or {"error": "node-saml's message"} (exit 1)
//
// Each run is a new process, so InResponseTo is checked against request IDs kept in a JSON file
// (node-saml's cacheProvider interface; its default, in memory, would not outlive the process).
"use strict";

const fs = require("fs");
const { SAML } = require("@node-saml/node-saml");

class FileCacheProvider {
  constructor(path) {
    this.path = path;
  }

  read() {
    return fs.existsSync(this.path) ? JSON.parse(fs.readFileSync(this.path, "utf8")) : {};
  }

  write(items) {
    fs.writeFileSync(this.path, JSON.stringify(items));
  }

  async saveAsync(key, value) {
    const items = this.read();
    if (key in items) return null;
    items[key] = { value, createdAt: Date.now() };
    this.write(items);
    return items[key];
  }

  async getAsync(key) {
    const item = this.read()[key];
    return item ? item.value : null;
  }

  async removeAsync(key) {
    const items = this.read();
    if (key === null || !(key in items)) return null;
    delete items[key];
    this.write(items);
    return key;
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function print(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

async function main() {
  const request = await readStdin();
  const options = { ...request.options };
  if (request.cacheFile) options.cacheProvider = new FileCacheProvider(request.cacheFile);
  const saml = new SAML(options);
  switch (request.command) {
    case "metadata":
      print({ metadata: saml.generateServiceProviderMetadata(request.decryptionCert, request.signingCert) });
      return;
    case "authorize":
      print({ url: await saml.getAuthorizeUrlAsync(request.RelayState, undefined, {}) });
      return;
    case "authorize-form":
      print({ form: await saml.getAuthorizeFormAsync(request.RelayState, undefined, {}) });
      return;
    case "validate":
      try {
        const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: request.SAMLResponse });
        // Functions (getAssertionXml, ...) are left out by JSON.stringify; the data is what an app sees.
        print({ profile });
      } catch (error) {
        print({ error: String(error && error.message ? error.message : error) });
        process.exitCode = 1;
      }
      return;
    default:
      throw new Error(`unknown command ${request.command}`);
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exitCode = 2;
});

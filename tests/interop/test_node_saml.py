"""node-saml (`@node-saml/node-saml`, the library under passport-saml) as the service provider.

node-saml needs no server: `node_saml/sp.js` builds a `SAML` object for one app and runs one step
per call, exactly as an app's routes would: `generateServiceProviderMetadata` (which the brokerage
admin imports into the IdP: a signing certificate, since the SP signs its requests, and an
encryption certificate, since it has a decryption key), `getAuthorizeUrlAsync` (a signed
HTTP-Redirect AuthnRequest) and `validatePostResponseAsync` on the SAMLResponse of the IdP's form.
Request IDs are kept in a file between calls, so SP-initiated responses are checked with
`validateInResponseTo: "always"`. The package is pinned in `node_saml/package.json` and its lock
file, and installed into that folder on first use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.deployment import Deployment
from tests.interop.helpers import (
    AGENT_EMAIL,
    EMAIL_FORMAT,
    ENCRYPTION_IDS,
    ENCRYPTIONS,
    ENVELOPED,
    EXC_C14N,
    FIRST_NAME,
    NAME_ID,
    RSA_SHA1,
    RSA_SHA256,
    auto_post_page_form,
    certificate_base64,
    decoded,
    decrypted,
    encryption_of,
    enveloped_signature_verifies,
    idp_metadata,
    import_sp_metadata,
    is_login_page,
    post_signature,
    post_to_idp,
    reencrypted,
    signatures,
    sp_initiated_sign_in,
    sp_key_and_certificate,
    with_changed_text,
    without,
)

HERE = Path(__file__).parent / "node_saml"

# node-saml never contacts the ACS: it only compares what the response says with its callbackUrl.
ACS_URL = "http://127.0.0.1/node-saml/acs"
ENTITY_ID = "urn:example:interop:node-saml"
START_URL = "http://127.0.0.1/node-saml/home"

MAPPINGS = {
    "urn:oid:0.9.2342.19200300.100.1.3": "email",  # sent with the uri NameFormat
    "firstName": "first_name",  # and these with the basic one
    "lastName": "last_name",
    "displayName": "display_name",
}
EXPECTED_ATTRIBUTES = {
    "urn:oid:0.9.2342.19200300.100.1.3": AGENT_EMAIL,
    "firstName": "Avery",
    "lastName": "Agent",
    "displayName": "Avery Agent",
}


@dataclass
class NodeSaml:
    key_pem: str
    certificate_pem: str
    cache_file: Path  # the request IDs node-saml remembers between calls
    metadata: str = ""  # the SP's own, as generateServiceProviderMetadata wrote it
    imported: dict | None = None  # the SSO application as the import made it
    app_id: str = ""
    idp_entity_id: str = ""
    idp_certificate_pem: str = ""
    sso_url: str = ""

    def options(self, signed: str = "both", *, sp_initiated: bool = False) -> dict:
        """node-saml's settings for one app, demanding exactly the signatures `signed` promises."""
        return {
            "callbackUrl": ACS_URL,
            "entryPoint": self.sso_url,
            "issuer": ENTITY_ID,
            "audience": ENTITY_ID,
            "idpIssuer": self.idp_entity_id,
            "idpCert": self.idp_certificate_pem,
            "privateKey": self.key_pem,  # signs AuthnRequests
            # node-saml's default is "sha1" (RSA-SHA1; its digestAlgorithm too), which the IdP refuses
            # unless the app allows SHA-1.
            "signatureAlgorithm": "sha256",
            "decryptionPvk": self.key_pem,  # decrypts EncryptedAssertions
            "wantAssertionsSigned": signed in ("assertion", "both"),
            "wantAuthnResponseSigned": signed in ("response", "both"),
            # IdP-initiated: there is no AuthnRequest to answer. SP-initiated: it must be ours.
            "validateInResponseTo": "always" if sp_initiated else "never",
        }

    def run(self, command: str, options: dict, **fields) -> dict:
        request = json.dumps({"command": command, "options": options, "cacheFile": str(self.cache_file), **fields})
        result = subprocess.run(["node", "sp.js"], cwd=HERE, input=request, capture_output=True, text=True, timeout=60)
        assert result.returncode in (0, 1), f"sp.js {command} failed ({result.returncode}): {result.stderr}"
        return json.loads(result.stdout)

    def validate(self, saml_response: str, signed: str, *, sp_initiated: bool = False) -> dict:
        """node-saml's verdict: {"profile": ...} when it accepts the response, {"error": ...} when not."""
        return self.run("validate", self.options(signed, sp_initiated=sp_initiated), SAMLResponse=saml_response)

    def authorize_url(self, relay_state: str) -> str:
        return self.run("authorize", self.options(sp_initiated=True), RelayState=relay_state)["url"]


def install_node_saml() -> None:
    """`npm ci` from the committed lock file, once; node_modules/ is git-ignored."""
    if (HERE / "node_modules" / "@node-saml" / "node-saml").is_dir():
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def node_saml(idp: Deployment, tmp_path_factory) -> NodeSaml:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node or npm missing")
    install_node_saml()
    key_pem, certificate_pem = (part.decode() for part in sp_key_and_certificate("node-saml.example"))
    sp = NodeSaml(key_pem, certificate_pem, tmp_path_factory.mktemp("node-saml") / "request-ids.json")

    # The SP's metadata (node-saml wants an IdP certificate even for this: the IdP's global one).
    anyone = idp_metadata(idp)
    sp.idp_entity_id, sp.idp_certificate_pem = anyone.entity_id, anyone.certificate_pem
    sp.metadata = sp.run("metadata", sp.options(), decryptionCert=certificate_pem, signingCert=certificate_pem)[
        "metadata"
    ]
    # The brokerage admin imports it and sets what metadata cannot say.
    imported = import_sp_metadata(idp, sp.metadata.encode(), name="node-saml")
    assert imported.created
    sp.imported, sp.app_id = imported.app, imported.app["id"]
    app = idp.update_app(sp.app_id, start_url=START_URL, mappings=MAPPINGS, name_id_format="emailAddress")
    # node-saml, set up from the app's IdP metadata.
    app_idp = idp_metadata(idp, app)
    sp.idp_entity_id, sp.idp_certificate_pem, sp.sso_url = app_idp.entity_id, app_idp.certificate_pem, app_idp.sso_url
    return sp


def configure(
    idp: Deployment,
    node_saml: NodeSaml,
    *,
    signed: str = "both",
    encryption: str | None = "aes256-gcm",
    allow_sha1: bool = False,
) -> None:
    """The fields each test depends on. `encryption` keeps the encryption certificate the import took
    from the SP's metadata, with that algorithm, or clears it (None)."""
    certificate = node_saml.imported["encryption_certificate"] if encryption else None
    fields = {
        "signed": signed,
        "encryption_certificate": certificate,
        "encryption_algorithm": encryption,
        "allow_sha1_signatures": allow_sha1,
    }
    assert idp.update_app(node_saml.app_id, **fields)["signed"] == signed


def launch(idp: Deployment, node_saml: NodeSaml) -> str:
    """The SAMLResponse of the agent's launch form."""
    acs_url, fields = idp.launch(node_saml.app_id)
    assert acs_url == ACS_URL and fields["RelayState"] == START_URL
    return fields["SAMLResponse"]


def assert_the_agent(node_saml: NodeSaml, verdict: dict) -> None:
    assert "error" not in verdict, verdict["error"]
    profile = verdict["profile"]
    assert profile["issuer"] == node_saml.idp_entity_id
    assert profile["nameID"] == AGENT_EMAIL
    assert profile["nameIDFormat"] == EMAIL_FORMAT
    assert profile["attributes"] == EXPECTED_ATTRIBUTES


# --- metadata import ---------------------------------------------------------------------------


def test_import_registers_the_sp_from_its_generated_metadata(node_saml: NodeSaml) -> None:
    app, certificate = node_saml.imported, certificate_base64(node_saml.certificate_pem)
    assert app["entity_id"] == ENTITY_ID
    assert app["acs_url"] == ACS_URL
    assert app["sp_certificates"] == [certificate]
    assert app["encryption_certificate"] == certificate
    assert app["require_signed_requests"] is True  # AuthnRequestsSigned, as it has a privateKey


# --- IdP-initiated -----------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ENCRYPTIONS, ids=ENCRYPTION_IDS)
@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_node_saml_accepts_the_launch_and_sees_the_agent(
    idp: Deployment, node_saml: NodeSaml, signed: str, encryption: str | None
) -> None:
    configure(idp, node_saml, signed=signed, encryption=encryption)
    saml_response = launch(idp, node_saml)
    assert encryption_of(decoded(saml_response)) == encryption

    assert_the_agent(node_saml, node_saml.validate(saml_response, signed))


# node-saml checks the Response's own signature first when it wants one, then the Assertion's.
@pytest.mark.parametrize(
    ("signed", "xpath", "forged", "reason"),
    [
        pytest.param("both", NAME_ID, "boss@acme.example", "Invalid document signature", id="name_id-both"),
        pytest.param("assertion", FIRST_NAME, "Mallory", "Invalid signature", id="attribute-assertion"),
        pytest.param("response", NAME_ID, "boss@acme.example", "Invalid document signature", id="name_id-response"),
    ],
)
def test_node_saml_refuses_a_response_changed_after_signing(
    idp: Deployment, node_saml: NodeSaml, signed: str, xpath: str, forged: str, reason: str
) -> None:
    configure(idp, node_saml, signed=signed, encryption=None)  # in the clear: there is text to change
    saml_response = launch(idp, node_saml)

    refused = node_saml.validate(with_changed_text(saml_response, xpath, forged), signed)
    assert refused == {"error": reason}

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    accepted = node_saml.validate(with_changed_text(saml_response, "", ""), signed)
    assert "error" not in accepted, accepted["error"]
    assert accepted["profile"]["nameID"] == AGENT_EMAIL


def test_node_saml_refuses_an_altered_assertion_encrypted_again_for_it(idp: Deployment, node_saml: NodeSaml) -> None:
    """Anyone can encrypt for the SP's certificate: the decrypted assertion's signature still decides."""
    configure(idp, node_saml, signed="assertion", encryption="aes256-gcm")
    clear = decrypted(launch(idp, node_saml), node_saml.key_pem.encode())
    assert signatures(clear) == {"assertion"}
    certificate = node_saml.certificate_pem.encode()

    refused = node_saml.validate(reencrypted(clear, certificate, NAME_ID, "boss@acme.example"), "assertion")
    assert refused == {"error": "Invalid signature from encrypted assertion"}

    accepted = node_saml.validate(reencrypted(clear, certificate), "assertion")
    assert_the_agent(node_saml, accepted)


# --- SP-initiated ------------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ["aes256-gcm", None], ids=["encrypted", "clear"])
def test_sp_initiated_login_answers_node_samls_signed_request(
    idp: Deployment, node_saml: NodeSaml, encryption: str | None
) -> None:
    """getAuthorizeUrlAsync's signed request, the IdP's login page, and a response that node-saml
    accepts only because it answers that very request (validateInResponseTo "always"), once."""
    configure(idp, node_saml, encryption=encryption)
    url = node_saml.authorize_url(START_URL)

    with requests.Session() as browser:
        flow = sp_initiated_sign_in(idp, browser, url, node_saml.sso_url)

    assert flow.at_idp.query["SigAlg"] == RSA_SHA256 and flow.at_idp.query["Signature"]
    assert flow.at_idp.authn_request.get("AssertionConsumerServiceURL") == ACS_URL
    assert flow.form.action == ACS_URL and flow.form.fields["RelayState"] == START_URL
    assert encryption_of(flow.form.response) == encryption
    saml_response = flow.form.fields["SAMLResponse"]
    assert_the_agent(node_saml, node_saml.validate(saml_response, "both", sp_initiated=True))
    # node-saml forgets the request ID once answered: the same response again is a replay.
    assert node_saml.validate(saml_response, "both", sp_initiated=True) == {"error": "InResponseTo is not valid"}


def test_node_saml_refuses_an_answer_to_a_request_it_never_made(idp: Deployment, node_saml: NodeSaml) -> None:
    """An IdP-initiated response (no InResponseTo) is refused where node-saml insists on one."""
    configure(idp, node_saml)
    saml_response = launch(idp, node_saml)

    assert node_saml.validate(saml_response, "both", sp_initiated=True) == {
        "error": "InResponseTo is missing from response"
    }


def test_idp_refuses_node_samls_request_once_unsigned(idp: Deployment, node_saml: NodeSaml) -> None:
    """The import set require_signed_requests from AuthnRequestsSigned: an unsigned request is refused."""
    configure(idp, node_saml)
    url = node_saml.authorize_url(START_URL)

    refused = requests.get(without(url, "SigAlg", "Signature"), timeout=30, allow_redirects=False)

    # An IdP error page, answering 200: Bindings 3.4.6 signals no SAML failure by HTTP status.
    assert refused.status_code == 200 and "must sign its requests" in refused.text, refused.text[:500]
    assert "SAMLResponse" not in refused.text
    # The same request with its signature, sent afterwards, reaches the login page.
    with requests.Session() as browser:
        assert is_login_page(idp, browser.get(url, timeout=30))


def test_node_saml_left_to_its_default_rsa_sha1_is_refused_unless_the_app_allows_sha1(
    idp: Deployment, node_saml: NodeSaml
) -> None:
    options = {**node_saml.options(sp_initiated=True)}
    del options["signatureAlgorithm"]
    configure(idp, node_saml)

    url = node_saml.run("authorize", options, RelayState=START_URL)["url"]
    assert dict(parse_qsl(urlsplit(url).query))["SigAlg"] == RSA_SHA1
    refused = requests.get(url, timeout=30, allow_redirects=False)
    assert refused.status_code == 200 and "signed with SHA-1, which is refused" in refused.text, refused.text[:500]
    assert "SAMLResponse" not in refused.text

    configure(idp, node_saml, allow_sha1=True)
    try:
        with requests.Session() as browser:
            url = node_saml.run("authorize", options, RelayState=START_URL)["url"]
            assert is_login_page(idp, browser.get(url, timeout=30))
    finally:
        configure(idp, node_saml)


def test_sp_initiated_login_with_a_signed_http_post_request(idp: Deployment, node_saml: NodeSaml) -> None:
    """authnRequestBinding "HTTP-POST": getAuthorizeFormAsync's auto-post page carries an AuthnRequest
    with an enveloped XML signature (xml-crypto), which the IdP verifies before the login page."""
    configure(idp, node_saml)
    options = {
        **node_saml.options(sp_initiated=True),
        "authnRequestBinding": "HTTP-POST",
        "digestAlgorithm": "sha256",
        # node-saml DEFLATEs a posted request too unless told not to; the HTTP-POST binding (SAML
        # Bindings 3.5.4) carries it only base64-encoded, and the IdP reads it so.
        "skipRequestCompression": True,
    }
    action, fields = auto_post_page_form(node_saml.run("authorize-form", options, RelayState=START_URL)["form"])
    assert action == node_saml.sso_url

    with requests.Session() as browser:
        at_idp = post_to_idp(browser, action, fields)
        request = at_idp.authn_request
        method, reference, transforms = post_signature(request)
        assert method == RSA_SHA256 and reference == "#" + request.get("ID")
        assert transforms == [ENVELOPED, EXC_C14N]
        assert enveloped_signature_verifies(request, node_saml.certificate_pem.encode()), (
            "the SP's own signature is good"
        )
        flow = sp_initiated_sign_in(idp, browser, action, node_saml.sso_url, at_idp=at_idp)

    assert flow.form.fields["RelayState"] == START_URL
    assert_the_agent(node_saml, node_saml.validate(flow.form.fields["SAMLResponse"], "both", sp_initiated=True))

"""node-saml (`@node-saml/node-saml`, the library under passport-saml) as the service provider.

node-saml needs no server: `node_saml/verify.js` builds a `SAML` validator from the SSO
application's IdP metadata and runs `validatePostResponseAsync` on the SAMLResponse of the agent's
launch form, exactly as an app's ACS handler would, and prints the profile it accepted (or its
refusal) as JSON. The package is pinned in `node_saml/package.json` and its lock file, and installed
into that folder on first use.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.deployment import Deployment

HERE = Path(__file__).parent / "node_saml"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"

# node-saml never contacts the ACS: it only compares what the response says with its callbackUrl.
ACS_URL = "http://127.0.0.1/node-saml/acs"
ENTITY_ID = "urn:example:interop:node-saml"
START_URL = "http://127.0.0.1/node-saml/home"

AGENT_EMAIL = "agent@acme.example"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
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
    app_id: str
    idp_entity_id: str
    idp_certificate_pem: str

    def options(self, signed: str) -> dict:
        """node-saml's settings for one app, demanding exactly the signatures `signed` promises."""
        return {
            "callbackUrl": ACS_URL,
            "issuer": ENTITY_ID,
            "audience": ENTITY_ID,
            "idpIssuer": self.idp_entity_id,
            "idpCert": self.idp_certificate_pem,
            "wantAssertionsSigned": signed in ("assertion", "both"),
            "wantAuthnResponseSigned": signed in ("response", "both"),
            "validateInResponseTo": "never",  # IdP-initiated: there is no AuthnRequest to answer
        }

    def validate(self, saml_response: str, signed: str) -> dict:
        """node-saml's verdict: {"profile": ...} when it accepts the response, {"error": ...} when not."""
        request = json.dumps({"options": self.options(signed), "SAMLResponse": saml_response})
        result = subprocess.run(
            ["node", "verify.js"], cwd=HERE, input=request, capture_output=True, text=True, timeout=60
        )
        assert result.returncode in (0, 1), f"verify.js failed ({result.returncode}): {result.stderr}"
        return json.loads(result.stdout)


def install_node_saml() -> None:
    """`npm ci` from the committed lock file, once; node_modules/ is git-ignored."""
    if (HERE / "node_modules" / "@node-saml" / "node-saml").is_dir():
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"


def pem(certificate_base64: str) -> str:
    body = "\n".join(textwrap.wrap("".join(certificate_base64.split()), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def node_saml(idp: Deployment) -> NodeSaml:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node or npm missing")
    install_node_saml()
    app = idp.create_app(name="node-saml", acs_url=ACS_URL, entity_id=ENTITY_ID, start_url=START_URL, mappings=MAPPINGS)
    metadata = requests.get(f"{idp.base_url}/sso_applications/{app['id']}/metadata", timeout=10)
    assert metadata.status_code == 200, metadata.text
    root = etree.fromstring(metadata.content)
    assert root.get("entityID") == app["issuer"]
    (certificate,) = root.xpath(
        "md:IDPSSODescriptor/md:KeyDescriptor[not(@use) or @use='signing']//ds:X509Certificate/text()",
        namespaces={"md": MD_NS, "ds": DS_NS},
    )
    return NodeSaml(app["id"], root.get("entityID"), pem(certificate))


def launch(idp: Deployment, node_saml: NodeSaml, signed: str) -> str:
    """The SAMLResponse of the agent's launch form, signed as `signed` says."""
    assert idp.update_app(node_saml.app_id, signed=signed)["signed"] == signed
    acs_url, fields = idp.launch(node_saml.app_id)
    assert acs_url == ACS_URL and fields["RelayState"] == START_URL
    return fields["SAMLResponse"]


def with_changed_text(saml_response: str, xpath: str, value: str) -> str:
    """The same response with one element's text changed after signing (none if `xpath` is empty);
    lxml keeps everything else byte for byte."""
    root = etree.fromstring(base64.b64decode(saml_response))
    if xpath:
        (element,) = root.xpath(xpath, namespaces={"saml": SAML_NS})
        element.text = value
    return base64.b64encode(etree.tostring(root)).decode()


@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_node_saml_accepts_the_launch_and_sees_the_agent(idp: Deployment, node_saml: NodeSaml, signed: str) -> None:
    verdict = node_saml.validate(launch(idp, node_saml, signed), signed)

    assert "error" not in verdict, verdict["error"]
    profile = verdict["profile"]
    assert profile["issuer"] == node_saml.idp_entity_id
    assert profile["nameID"] == AGENT_EMAIL
    assert profile["nameIDFormat"] == EMAIL_FORMAT
    assert profile["attributes"] == EXPECTED_ATTRIBUTES


NAME_ID = "//saml:Assertion/saml:Subject/saml:NameID"
FIRST_NAME = "//saml:Attribute[@Name='firstName']/saml:AttributeValue"


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
    saml_response = launch(idp, node_saml, signed)

    refused = node_saml.validate(with_changed_text(saml_response, xpath, forged), signed)
    assert refused == {"error": reason}

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    accepted = node_saml.validate(with_changed_text(saml_response, "", ""), signed)
    assert "error" not in accepted, accepted["error"]
    assert accepted["profile"]["nameID"] == AGENT_EMAIL

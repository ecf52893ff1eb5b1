"""Lasso (Debian python3-lasso, the library under mod_auth_mellon) as the service provider, offline.

python3-lasso is a binding for Debian's /usr/bin/python3, not importable from the project's
virtualenv, so `lasso/sp.py` runs under that interpreter: a lasso.Server built from the SP's
metadata and key with our per-app IdP metadata added, then lasso.Login.processAuthnResponseMsg and
acceptSso on the SAMLResponse of a real launch, read from stdin.

Bare Lasso parses the response, finds the IdP by its Issuer and verifies the signatures; it leaves
Audience, Destination and Recipient to the caller (mod_auth_mellon checks those itself, see
test_mellon.py).
"""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from tests.deployment import Deployment

HERE = Path(__file__).parent / "lasso"
SYSTEM_PYTHON = "/usr/bin/python3"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"

SP_ENTITY_ID = "https://lasso-sp.example.com/metadata"
SP_BASE_URL = "http://127.0.0.1:9/lasso"  # never contacted: the test hands the response to Lasso
ACS_URL = f"{SP_BASE_URL}/acs"
AGENT_EMAIL = "agent@acme.example"
MAPPINGS = {
    "urn:oid:0.9.2342.19200300.100.1.3": "email",  # sent with the uri NameFormat
    "firstName": "first_name",  # and these with the basic one
    "displayName": "display_name",
}
EXPECTED_ATTRIBUTES = {
    "urn:oid:0.9.2342.19200300.100.1.3": [AGENT_EMAIL],
    "firstName": ["Avery"],
    "displayName": ["Avery Agent"],
}
SIGNATURE_VERIFICATION_FAILED = -111  # LASSO_DS_ERROR_SIGNATURE_VERIFICATION_FAILED
SIGNATURE_NOT_FOUND = 101  # LASSO_DS_ERROR_SIGNATURE_NOT_FOUND


def lasso_installed() -> bool:
    try:
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import lasso"], capture_output=True, timeout=30, check=False)
    except OSError:
        return False
    return probe.returncode == 0


def sp_key_and_certificate(common_name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class LassoSP:
    folder: Path
    app_id: str
    issuer: str

    def judge(self, saml_response: str) -> dict:
        """Lasso's verdict on one base64 SAMLResponse, as printed by lasso/sp.py."""
        files = [self.folder / name for name in ("sp-metadata.xml", "sp.key", "sp.crt", "idp-metadata.xml")]
        result = subprocess.run(
            [SYSTEM_PYTHON, str(HERE / "sp.py"), *map(str, files)],
            input=saml_response,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def lasso_sp(idp: Deployment, tmp_path_factory) -> LassoSP:
    if not lasso_installed():
        pytest.skip("Lasso's Python binding is not installed (Debian package python3-lasso)")
    app = idp.create_app(
        name="Lasso", acs_url=ACS_URL, entity_id=SP_ENTITY_ID, start_url=f"{SP_BASE_URL}/home", mappings=MAPPINGS
    )
    metadata = requests.get(f"{idp.base_url}/sso_applications/{app['id']}/metadata", timeout=10)
    assert metadata.status_code == 200, metadata.text
    assert etree.fromstring(metadata.content).get("entityID") == app["issuer"]

    folder = tmp_path_factory.mktemp("lasso-sp")
    key_pem, cert_pem = sp_key_and_certificate("lasso-sp.example.com")
    (folder / "sp.key").write_bytes(key_pem)
    (folder / "sp.crt").write_bytes(cert_pem)
    (folder / "idp-metadata.xml").write_bytes(metadata.content)
    certificate = "".join(line for line in cert_pem.decode().splitlines() if not line.startswith("-----"))
    template = Template((HERE / "sp-metadata.xml").read_text())
    (folder / "sp-metadata.xml").write_text(
        template.substitute(entity_id=SP_ENTITY_ID, base_url=SP_BASE_URL, acs_url=ACS_URL, certificate=certificate)
    )
    return LassoSP(folder, app["id"], app["issuer"])


def launch(idp: Deployment, sp: LassoSP, signed: str) -> str:
    assert idp.update_app(sp.app_id, signed=signed)["signed"] == signed
    acs_url, fields = idp.launch(sp.app_id)
    assert acs_url == ACS_URL
    return fields["SAMLResponse"]


def reencoded(saml_response: str, xpath: str | None = None, value: str = "") -> str:
    """The response parsed and serialized again, with one element's text changed if `xpath` is given."""
    root = etree.fromstring(base64.b64decode(saml_response))
    if xpath:
        (element,) = root.xpath(xpath, namespaces={"saml": SAML_NS})
        element.text = value
    return base64.b64encode(etree.tostring(root)).decode()


@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_lasso_accepts_the_launch_and_sees_the_agent(idp: Deployment, lasso_sp: LassoSP, signed: str) -> None:
    verdict = lasso_sp.judge(launch(idp, lasso_sp, signed))

    assert verdict == {
        "accepted": True,
        "issuer": lasso_sp.issuer,
        "name_id": AGENT_EMAIL,
        "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "attributes": EXPECTED_ATTRIBUTES,
    }


NAME_ID = "//saml:Assertion/saml:Subject/saml:NameID"
FIRST_NAME = "//saml:Attribute[@Name='firstName']/saml:AttributeValue"


@pytest.mark.parametrize(
    ("signed", "xpath", "forged"),
    [
        ("both", NAME_ID, "boss@acme.example"),
        ("assertion", FIRST_NAME, "Mallory"),
        ("response", NAME_ID, "boss@acme.example"),
    ],
)
def test_lasso_refuses_a_response_changed_after_signing(
    idp: Deployment, lasso_sp: LassoSP, signed: str, xpath: str, forged: str
) -> None:
    saml_response = launch(idp, lasso_sp, signed)

    refused = lasso_sp.judge(reencoded(saml_response, xpath, forged))
    assert refused["accepted"] is False and refused["step"] == "processAuthnResponseMsg", refused
    assert refused["code"] == SIGNATURE_VERIFICATION_FAILED, refused

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    accepted = lasso_sp.judge(reencoded(saml_response))
    assert accepted["accepted"] is True and accepted["name_id"] == AGENT_EMAIL, accepted


def test_lasso_refuses_the_response_once_its_signatures_are_removed(idp: Deployment, lasso_sp: LassoSP) -> None:
    """So that the acceptances above mean something: this Lasso SP insists on a signature."""
    root = etree.fromstring(base64.b64decode(launch(idp, lasso_sp, "both")))
    for signature in root.xpath("//*[local-name()='Signature']"):
        signature.getparent().remove(signature)

    verdict = lasso_sp.judge(base64.b64encode(etree.tostring(root)).decode())

    assert verdict["accepted"] is False and verdict["code"] == SIGNATURE_NOT_FOUND, verdict

"""Lasso (Debian python3-lasso, the library under mod_auth_mellon) as the service provider, offline.

python3-lasso is a binding for Debian's /usr/bin/python3, not importable from the project's
virtualenv, so `lasso/sp.py` runs under that interpreter: a lasso.Server built from the SP's
metadata and key with our per-app IdP metadata added, then either lasso.Login.initAuthnRequest and
buildAuthnRequestMsg (a signed HTTP-Redirect AuthnRequest; the login's state is dumped to a file
between the calls) or processAuthnResponseMsg and acceptSso on the SAMLResponse of a real launch or
of the IdP's answer to that request, read from stdin.

The SP's metadata (`lasso/sp-metadata.xml`, mellon_create_metadata's shape) is imported into the
IdP, so the IdP checks the SP's signed requests and encrypts assertions for it. Bare Lasso signs
with RSA-SHA1 unless told otherwise, which the IdP refuses by default: `lasso/sp.py` sets its
signature method to RSA-SHA256, as mod_auth_mellon does, and one test keeps Lasso's default to
show the refusal and the app's opt-in (`allow_sha1_signatures`). Bare Lasso parses
the response, decrypts it, finds the IdP by its Issuer and verifies the signatures; it leaves
Audience, Destination and Recipient to the caller (mod_auth_mellon checks those itself, see
test_mellon.py).
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import pytest
import requests
from lxml import etree

from tests.deployment import Deployment
from tests.interop.helpers import (
    AGENT_EMAIL,
    EMAIL_FORMAT,
    ENCRYPTION_IDS,
    ENCRYPTIONS,
    ENVELOPED,
    EXC_C14N,
    NAME_ID,
    RSA_SHA1,
    RSA_SHA256,
    SAMLP_NS,
    SHA1,
    SHA256,
    TAMPERINGS,
    certificate_base64,
    decoded,
    decrypted,
    digest_method,
    encryption_of,
    enveloped_signature_verifies,
    follow_to_idp,
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
)

HERE = Path(__file__).parent / "lasso"
SYSTEM_PYTHON = "/usr/bin/python3"

SP_ENTITY_ID = "https://lasso-sp.example.com/metadata"
SP_BASE_URL = "http://127.0.0.1:9/lasso"  # never contacted: the test hands the response to Lasso
ACS_URL = f"{SP_BASE_URL}/acs"
START_URL = f"{SP_BASE_URL}/home"
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
ASSERTION_DOES_NOT_MATCH_REQUEST_ID = 611  # LASSO_LOGIN_ERROR_ASSERTION_DOES_NOT_MATCH_REQUEST_ID


def lasso_installed() -> bool:
    try:
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import lasso"], capture_output=True, timeout=30, check=False)
    except OSError:
        return False
    return probe.returncode == 0


@dataclass
class LassoSP:
    folder: Path
    key_pem: bytes
    certificate_pem: bytes
    metadata: bytes
    imported: dict = field(default_factory=dict)  # the SSO application as the import made it
    app_id: str = ""
    issuer: str = ""
    sso_url: str = ""

    def files(self) -> list[str]:
        return [str(self.folder / name) for name in ("sp-metadata.xml", "sp.key", "sp.crt", "idp-metadata.xml")]

    def sp_py(self, *arguments: str, stdin: str = "") -> dict:
        result = subprocess.run(
            [SYSTEM_PYTHON, str(HERE / "sp.py"), *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def judge(self, saml_response: str, *, state: Path | None = None) -> dict:
        """Lasso's verdict on one base64 SAMLResponse; with `state`, as the answer to that login's request."""
        return self.sp_py("response", *self.files(), *([str(state)] if state else []), stdin=saml_response)

    def authn_request(
        self, relay_state: str, state: Path, binding: str = "redirect", signature: str = "rsa-sha256"
    ) -> dict:
        """{"url": ..., "id": ...} of a signed HTTP-Redirect AuthnRequest, or with `binding` "post"
        {"url", "id", "fields"} of an HTTP-POST one; the login's state goes to `state`. `signature`
        "lasso-default" signs as Lasso does when not told: RSA-SHA1."""
        return self.sp_py("request", *self.files(), self.issuer, relay_state, str(state), binding, signature)


@pytest.fixture(scope="module")
def lasso_sp(idp: Deployment, tmp_path_factory) -> LassoSP:
    if not lasso_installed():
        pytest.skip("Lasso's Python binding is not installed (Debian package python3-lasso)")
    folder = tmp_path_factory.mktemp("lasso-sp")
    key_pem, cert_pem = sp_key_and_certificate("lasso-sp.example.com")
    (folder / "sp.key").write_bytes(key_pem)
    (folder / "sp.crt").write_bytes(cert_pem)
    template = Template((HERE / "sp-metadata.xml").read_text())
    metadata = template.substitute(
        entity_id=SP_ENTITY_ID, base_url=SP_BASE_URL, acs_url=ACS_URL, certificate=certificate_base64(cert_pem)
    )
    (folder / "sp-metadata.xml").write_text(metadata)
    sp = LassoSP(folder, key_pem, cert_pem, metadata.encode())

    # The brokerage admin imports the SP's metadata and sets what metadata cannot say.
    imported = import_sp_metadata(idp, sp.metadata, name="Lasso")
    assert imported.created
    sp.imported, sp.app_id = imported.app, imported.app["id"]
    app = idp.update_app(sp.app_id, start_url=START_URL, mappings=MAPPINGS, name_id_format="emailAddress")
    app_idp = idp_metadata(idp, app)
    (folder / "idp-metadata.xml").write_bytes(app_idp.xml)
    sp.issuer, sp.sso_url = app_idp.entity_id, app_idp.sso_url
    return sp


def configure(
    idp: Deployment,
    sp: LassoSP,
    *,
    signed: str = "both",
    encryption: str | None = "aes256-gcm",
    allow_sha1: bool = False,
) -> None:
    """The fields each test depends on. `encryption` keeps the encryption certificate the import took
    from the SP's metadata, with that algorithm, or clears it (None)."""
    certificate = sp.imported["encryption_certificate"] if encryption else None
    fields = {
        "signed": signed,
        "encryption_certificate": certificate,
        "encryption_algorithm": encryption,
        "allow_sha1_signatures": allow_sha1,
    }
    assert idp.update_app(sp.app_id, **fields)["signed"] == signed


def launch(idp: Deployment, sp: LassoSP) -> str:
    acs_url, fields = idp.launch(sp.app_id)
    assert acs_url == ACS_URL
    return fields["SAMLResponse"]


def the_agent(sp: LassoSP, in_response_to: str | None = None) -> dict:
    return {
        "accepted": True,
        "issuer": sp.issuer,
        "name_id": AGENT_EMAIL,
        "name_id_format": EMAIL_FORMAT,
        "in_response_to": [in_response_to, in_response_to],
        "attributes": EXPECTED_ATTRIBUTES,
    }


# --- metadata import ---------------------------------------------------------------------------


def test_import_registers_the_sp_from_its_metadata(lasso_sp: LassoSP) -> None:
    app, certificate = lasso_sp.imported, certificate_base64(lasso_sp.certificate_pem)
    assert app["entity_id"] == SP_ENTITY_ID
    assert app["acs_url"] == ACS_URL
    assert app["sp_certificates"] == [certificate]
    assert app["encryption_certificate"] == certificate
    assert app["require_signed_requests"] is True


# --- IdP-initiated -----------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ENCRYPTIONS, ids=ENCRYPTION_IDS)
@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_lasso_accepts_the_launch_and_sees_the_agent(
    idp: Deployment, lasso_sp: LassoSP, signed: str, encryption: str | None
) -> None:
    configure(idp, lasso_sp, signed=signed, encryption=encryption)
    saml_response = launch(idp, lasso_sp)
    assert encryption_of(decoded(saml_response)) == encryption

    assert lasso_sp.judge(saml_response) == the_agent(lasso_sp)


@pytest.mark.parametrize(
    ("signed", "xpath", "forged"),
    TAMPERINGS,
)
def test_lasso_refuses_a_response_changed_after_signing(
    idp: Deployment, lasso_sp: LassoSP, signed: str, xpath: str, forged: str
) -> None:
    configure(idp, lasso_sp, signed=signed, encryption=None)  # in the clear: there is text to change
    saml_response = launch(idp, lasso_sp)

    refused = lasso_sp.judge(with_changed_text(saml_response, xpath, forged))
    assert refused["accepted"] is False and refused["step"] == "processAuthnResponseMsg", refused
    assert refused["code"] == SIGNATURE_VERIFICATION_FAILED, refused

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    accepted = lasso_sp.judge(with_changed_text(saml_response, "", ""))
    assert accepted["accepted"] is True and accepted["name_id"] == AGENT_EMAIL, accepted


def test_lasso_refuses_an_altered_assertion_encrypted_again_for_it(idp: Deployment, lasso_sp: LassoSP) -> None:
    """Anyone can encrypt for the SP's certificate: the decrypted assertion's signature still decides."""
    configure(idp, lasso_sp, signed="assertion", encryption="aes256-gcm")
    clear = decrypted(launch(idp, lasso_sp), lasso_sp.key_pem)
    assert signatures(clear) == {"assertion"}

    refused = lasso_sp.judge(reencrypted(clear, lasso_sp.certificate_pem, NAME_ID, "boss@acme.example"))
    assert refused["accepted"] is False and refused["code"] == SIGNATURE_VERIFICATION_FAILED, refused

    assert lasso_sp.judge(reencrypted(clear, lasso_sp.certificate_pem)) == the_agent(lasso_sp)


def test_lasso_refuses_the_response_once_its_signatures_are_removed(idp: Deployment, lasso_sp: LassoSP) -> None:
    """So that the acceptances above mean something: this Lasso SP insists on a signature."""
    configure(idp, lasso_sp, signed="both", encryption=None)
    root = etree.fromstring(base64.b64decode(launch(idp, lasso_sp)))
    for signature in root.xpath("//*[local-name()='Signature']"):
        signature.getparent().remove(signature)

    verdict = lasso_sp.judge(base64.b64encode(etree.tostring(root)).decode())

    assert verdict["accepted"] is False and verdict["code"] == SIGNATURE_NOT_FOUND, verdict


# --- SP-initiated ------------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ["aes256-gcm", None], ids=["encrypted", "clear"])
def test_sp_initiated_login_answers_lassos_signed_request(
    idp: Deployment, lasso_sp: LassoSP, encryption: str | None, tmp_path: Path
) -> None:
    configure(idp, lasso_sp, encryption=encryption)
    state = tmp_path / "login.xml"
    made = lasso_sp.authn_request(START_URL, state)

    with requests.Session() as browser:
        flow = sp_initiated_sign_in(idp, browser, made["url"], lasso_sp.sso_url)

    assert flow.at_idp.authn_request.get("ID") == made["id"]
    assert flow.at_idp.query["SigAlg"] == RSA_SHA256 and flow.at_idp.query["Signature"]
    assert flow.at_idp.authn_request.find(f"{{{SAMLP_NS}}}NameIDPolicy").get("Format") == EMAIL_FORMAT
    assert flow.form.action == ACS_URL and flow.form.fields["RelayState"] == START_URL
    assert encryption_of(flow.form.response) == encryption
    assert lasso_sp.judge(flow.form.fields["SAMLResponse"], state=state) == the_agent(lasso_sp, made["id"])

    # Lasso keeps the request in the login's state: the same answer, to another login, is refused.
    other = tmp_path / "other-login.xml"
    lasso_sp.authn_request(START_URL, other)
    refused = lasso_sp.judge(flow.form.fields["SAMLResponse"], state=other)
    assert refused["accepted"] is False and refused["code"] == ASSERTION_DOES_NOT_MATCH_REQUEST_ID, refused


def test_sp_initiated_login_answers_lassos_signed_http_post_request(
    idp: Deployment, lasso_sp: LassoSP, tmp_path: Path
) -> None:
    """The HTTP-POST binding: Lasso's AuthnRequest carries an enveloped XML signature, which the IdP
    verifies before asking the agent to sign in."""
    configure(idp, lasso_sp)
    state = tmp_path / "login.xml"
    made = lasso_sp.authn_request(START_URL, state, "post")
    assert made["url"] == lasso_sp.sso_url

    with requests.Session() as browser:
        at_idp = post_to_idp(browser, made["url"], made["fields"])
        request = at_idp.authn_request
        method, reference, transforms = post_signature(request)
        assert method == RSA_SHA256 and reference == "#" + made["id"]
        assert transforms == [ENVELOPED, EXC_C14N]
        assert digest_method(request) == SHA256
        assert enveloped_signature_verifies(request, lasso_sp.certificate_pem), "the SP's own signature is good"
        flow = sp_initiated_sign_in(idp, browser, made["url"], lasso_sp.sso_url, at_idp=at_idp)

    assert flow.form.fields["RelayState"] == START_URL
    assert lasso_sp.judge(flow.form.fields["SAMLResponse"], state=state) == the_agent(lasso_sp, made["id"])


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_lassos_default_rsa_sha1_request_is_refused_unless_the_app_allows_sha1(
    idp: Deployment, lasso_sp: LassoSP, tmp_path: Path, binding: str
) -> None:
    """Lasso left to its default signs with RSA-SHA1 (SHA-1 digests over HTTP-POST): refused, saying
    how to allow it; once the admin sets allow_sha1_signatures, the same kind of request gets in."""

    def at_the_idp(browser: requests.Session, state: Path):
        made = lasso_sp.authn_request(START_URL, state, binding, "lasso-default")
        if binding == "post":
            at_idp = post_to_idp(browser, made["url"], made["fields"])
            assert post_signature(at_idp.authn_request)[0] == RSA_SHA1
            assert digest_method(at_idp.authn_request) == SHA1
        else:
            at_idp = follow_to_idp(browser, made["url"], lasso_sp.sso_url)
            assert at_idp.query["SigAlg"] == RSA_SHA1
        return made, at_idp

    configure(idp, lasso_sp)
    with requests.Session() as browser:
        _, refused = at_the_idp(browser, tmp_path / "refused.xml")
    assert refused.page.status_code == 200  # an IdP error page: Bindings 3.4.6 signals no SAML failure by status
    assert "SAMLResponse" not in refused.page.text
    assert "signed with SHA-1, which is refused" in refused.page.text
    assert "allow_sha1_signatures" in refused.page.text

    configure(idp, lasso_sp, allow_sha1=True)
    try:
        state = tmp_path / "allowed.xml"
        with requests.Session() as browser:
            made, at_idp = at_the_idp(browser, state)
            assert is_login_page(idp, at_idp.page)
            flow = sp_initiated_sign_in(idp, browser, made["url"], lasso_sp.sso_url, at_idp=at_idp)
        assert lasso_sp.judge(flow.form.fields["SAMLResponse"], state=state) == the_agent(lasso_sp, made["id"])
    finally:
        configure(idp, lasso_sp)

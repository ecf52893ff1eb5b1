"""SimpleSAMLphp 1.19 (Debian `simplesamlphp`) as the service provider.

PHP's built-in server runs SimpleSAMLphp on a free loopback port, with a private configuration
folder (`simplesamlphp/config.php`, `authsources.php`: one `saml:SP` named default-sp, with a key
and certificate of its own). The SP serves its metadata first; the brokerage admin imports it into
the IdP (which takes the SP's certificate for checking its signed AuthnRequests and for encrypting
assertions), and the SP is then pointed at that application's IdP metadata. SimpleSAMLphp reads its
configuration on every request, so no restart is needed, and the tests change which NameID format
the SP asks for by rewriting `sp.json`.

IdP-initiated tests post the agent's launch form to the SP's ACS as a browser would; SP-initiated
tests start at `/secure` (requireAuth), sign in at the IdP, and post its answer back. `/whoami` and
`/secure` (served by `simplesamlphp/router.php`) show what the SP's session holds. Single logout
starts at `/logout` (SP-initiated) or at the launcher's Sign out; the SP signs its logout messages
and requires ours to be signed (`sign.logout`, `validate.logout`).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.deployment import Deployment
from tests.e2e.sp_helpers import sign_out_in_launcher
from tests.interop.helpers import (
    AGENT_EMAIL,
    AUTHN_CONTEXT_CLASS,
    EMAIL_FORMAT,
    ENCRYPTION_IDS,
    ENCRYPTIONS,
    ENVELOPED,
    EXC_C14N,
    FIRST_NAME,
    HTTP_POST,
    NAME_ID,
    NAMESPACES,
    PERSISTENT_FORMAT,
    REFEDS_MFA,
    RSA_SHA256,
    SAML_NS,
    SAMLP_NS,
    STATUS_INVALID_NAMEID_POLICY,
    STATUS_NO_AUTHN_CONTEXT,
    STATUS_REQUESTER,
    STATUS_SUCCESS,
    TRANSIENT_FORMAT,
    auto_post_page_form,
    certificate_base64,
    decoded,
    decrypted,
    encryption_of,
    enter_totp,
    enveloped_signature_verifies,
    follow_to_idp,
    idp_metadata,
    import_sp_metadata,
    is_totp_page,
    new_agent,
    notice_form,
    page_text,
    post_signature,
    post_to_idp,
    redirected,
    reencrypted,
    sign_in_at_idp,
    signatures,
    sp_initiated_sign_in,
    sp_key_and_certificate,
    status_codes,
    visited,
    with_changed_text,
)
from tests.support import free_port, http_ok, running

HERE = Path(__file__).parent / "simplesamlphp"
SIMPLESAMLPHP = Path("/usr/share/simplesamlphp")

MAPPINGS = {
    "urn:oid:0.9.2342.19200300.100.1.3": "email",  # sent with the uri NameFormat
    "firstName": "first_name",  # and these with the basic one
    "lastName": "last_name",
    "displayName": "display_name",
}
# SimpleSAMLphp keeps attribute names as sent and every value in a list.
EXPECTED_ATTRIBUTES = {
    "urn:oid:0.9.2342.19200300.100.1.3": [AGENT_EMAIL],
    "firstName": ["Avery"],
    "lastName": ["Agent"],
    "displayName": ["Avery Agent"],
}


@dataclass
class SimpleSamlPhp:
    base_url: str
    entity_id: str
    folder: Path
    settings: dict  # what sp.json holds: config.php and authsources.php read it on every request
    key_pem: bytes
    certificate_pem: bytes
    metadata: bytes = b""  # the SP's own, as it serves it
    imported: dict = field(default_factory=dict)  # the SSO application as the import made it
    app_id: str = ""
    idp_entity_id: str = ""
    sso_url: str = ""  # the app's HTTP-Redirect SSO endpoint

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/module.php/saml/sp/saml2-acs.php/default-sp"

    @property
    def whoami_url(self) -> str:
        return f"{self.base_url}/whoami"

    @property
    def secure_url(self) -> str:
        return f"{self.base_url}/secure"

    @property
    def log(self) -> Path:
        return self.folder / "log" / "simplesamlphp.log"

    def save(self, **changes: str | None) -> None:
        self.settings.update(changes)
        (self.folder / "config" / "sp.json").write_text(json.dumps(self.settings, indent=2))

    def ask_for(self, name_id_format: str) -> None:
        """The NameIDPolicy Format of the SP's AuthnRequests."""
        self.save(name_id_format=name_id_format)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


def missing_package() -> str | None:
    """The Debian package to install first, if any: SimpleSAMLphp itself, PHP's CLI, or PHP's DOM."""
    if not (SIMPLESAMLPHP / "www" / "module.php").exists():
        return "simplesamlphp"
    if shutil.which("php") is None:
        return "php-cli"
    # Without DOM every ACS post fails with 'Class "DOMDocument" not found'.
    if subprocess.run(["php", "-r", 'exit(class_exists("DOMDocument") ? 0 : 1);']).returncode != 0:
        return "php-xml"
    return None


def write_config(folder: Path) -> Path:
    """SimpleSAMLphp's private folders: config/ (SIMPLESAMLPHP_CONFIG_DIR) and its working folders."""
    for name in ("config", "tmp", "data", "log", "sessions", "metadata"):
        (folder / name).mkdir()
    for name in ("config.php", "authsources.php"):
        shutil.copy(HERE / name, folder / "config" / name)
    return folder / "config"


@pytest.fixture(scope="module")
def simplesamlphp(idp: Deployment, tmp_path_factory) -> Iterator[SimpleSamlPhp]:
    if package := missing_package():
        pytest.skip(f"{package} not installed (Debian package {package})")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("simplesamlphp")
    key_pem, certificate_pem = sp_key_and_certificate("127.0.0.1")
    (folder / "sp.key").write_bytes(key_pem)
    (folder / "sp.crt").write_bytes(certificate_pem)
    sp = SimpleSamlPhp(
        base_url=base_url,
        entity_id=f"{base_url}/module.php/saml/sp/metadata.php/default-sp",  # where it serves its metadata
        folder=folder,
        settings={
            "base_url": base_url,
            "entity_id": f"{base_url}/module.php/saml/sp/metadata.php/default-sp",
            "idp_entity_id": None,
            "folder": str(folder),
            "secret_salt": secrets.token_hex(16),
            "name_id_format": EMAIL_FORMAT,
        },
        key_pem=key_pem,
        certificate_pem=certificate_pem,
    )
    config_dir = write_config(folder)
    sp.save()
    command = ["php", "-S", f"127.0.0.1:{port}", "-t", str(SIMPLESAMLPHP / "www"), str(HERE / "router.php")]
    with running(
        command,
        env={"PATH": "/usr/bin:/bin", "SIMPLESAMLPHP_CONFIG_DIR": str(config_dir)},
        ready=http_ok(sp.entity_id),  # the SP's own metadata: the configuration loads
        what="SimpleSAMLphp under php -S",
        log=folder / "php-server.log",
    ):
        # The SP's metadata, imported by the brokerage admin, who then sets what metadata cannot say.
        sp.metadata = requests.get(sp.entity_id, timeout=10).content
        imported = import_sp_metadata(idp, sp.metadata, name="SimpleSAMLphp")
        assert imported.created
        sp.imported, sp.app_id = imported.app, imported.app["id"]
        app = idp.update_app(sp.app_id, start_url=sp.whoami_url, mappings=MAPPINGS, name_id_format="emailAddress")
        # The SP, pointed at the app's IdP metadata.
        app_idp = idp_metadata(idp, app)
        sp.idp_entity_id, sp.sso_url = app_idp.entity_id, app_idp.sso_url
        (folder / "idp-metadata.xml").write_bytes(app_idp.xml)
        sp.save(idp_entity_id=app_idp.entity_id)
        yield sp


def configure(
    idp: Deployment,
    sp: SimpleSamlPhp,
    *,
    signed: str = "both",
    encryption: str | None = "aes256-gcm",
    name_id_format: str | None = "emailAddress",
) -> None:
    """The fields each test depends on. `encryption` keeps the encryption certificate the import took
    from the SP's metadata, with that algorithm, or clears it (None)."""
    certificate = sp.imported["encryption_certificate"] if encryption else None
    fields = {"signed": signed, "encryption_certificate": certificate, "encryption_algorithm": encryption}
    assert idp.update_app(sp.app_id, **fields, name_id_format=name_id_format)["signed"] == signed


def launch(idp: Deployment, sp: SimpleSamlPhp) -> dict[str, str]:
    """The fields of the agent's launch form."""
    acs_url, fields = idp.launch(sp.app_id)
    assert acs_url == sp.acs_url and fields["RelayState"] == sp.whoami_url
    return fields


def post_to_acs(browser: requests.Session, sp: SimpleSamlPhp, fields: dict[str, str]) -> requests.Response:
    """What the launch page's form does in a browser: POST to the ACS, then follow the SP's redirect."""
    return browser.post(sp.acs_url, data=fields, timeout=30)


def assert_signed_in(sp: SimpleSamlPhp, page: requests.Response, offset: int, url: str) -> dict:
    assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{sp.log_since(offset)}"
    assert [hop.status_code for hop in page.history] == [303]
    assert page.url == url
    session = page.json()
    assert session["idp"] == sp.idp_entity_id
    assert session["attributes"] == EXPECTED_ATTRIBUTES
    return session


# --- metadata import ---------------------------------------------------------------------------


def test_import_registers_the_sp_from_its_own_metadata(idp: Deployment, simplesamlphp: SimpleSamlPhp) -> None:
    sp, app = simplesamlphp, simplesamlphp.imported
    certificate = certificate_base64(sp.certificate_pem)
    assert app["name"] == "SimpleSAMLphp"
    assert app["entity_id"] == sp.entity_id
    assert app["acs_url"] == sp.acs_url
    assert [endpoint["url"] for endpoint in app["acs_endpoints"]] == [sp.acs_url]  # not the Artifact one
    assert app["sp_certificates"] == [certificate]
    assert app["encryption_certificate"] == certificate  # KeyDescriptor use="encryption"
    assert app["require_signed_requests"] is True  # sign.authnrequest: AuthnRequestsSigned="true"
    assert app["slo_url"] == f"{sp.base_url}/module.php/saml/sp/saml2-logout.php/default-sp"


# --- IdP-initiated -----------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ENCRYPTIONS, ids=ENCRYPTION_IDS)
@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_simplesamlphp_accepts_the_launch_and_sees_the_agent(
    idp: Deployment, simplesamlphp: SimpleSamlPhp, signed: str, encryption: str | None
) -> None:
    configure(idp, simplesamlphp, signed=signed, encryption=encryption)
    fields = launch(idp, simplesamlphp)
    assert encryption_of(decoded(fields["SAMLResponse"])) == encryption
    offset = simplesamlphp.log_size()

    with requests.Session() as browser:
        page = post_to_acs(browser, simplesamlphp, fields)

    session = assert_signed_in(simplesamlphp, page, offset, simplesamlphp.whoami_url)
    assert session["name_id"] == AGENT_EMAIL
    assert session["name_id_format"] == EMAIL_FORMAT


# xmlseclibs checks an Assertion's signature while parsing it and throws; a Response whose own
# signature does not verify is treated as unsigned, so then the assertion has none to show.
BROKEN_SIGNATURE = "Caused by: Exception: Reference validation failed"
NO_VALID_SIGNATURE = "Caused by: SimpleSAML\\Error\\Exception: Neither the assertion nor the response was signed."


def assert_refused(sp: SimpleSamlPhp, fields: dict[str, str], forged: str, cause: str) -> None:
    offset = sp.log_size()
    with requests.Session() as browser:
        refused = post_to_acs(browser, sp, fields)
        # SimpleSAMLphp 1.19's stock error page (the old UI) is answered with status 200.
        assert not refused.history, "no redirect to the RelayState"
        assert "An unhandled exception was thrown" in refused.text, refused.text[:500]
        assert forged not in refused.text
        assert cause in sp.log_since(offset)
        assert browser.get(sp.whoami_url, timeout=10).status_code == 401, "no session"


@pytest.mark.parametrize(
    ("signed", "xpath", "forged", "cause"),
    [
        pytest.param("both", NAME_ID, "boss@acme.example", BROKEN_SIGNATURE, id="name_id-both"),
        pytest.param("assertion", FIRST_NAME, "Mallory", BROKEN_SIGNATURE, id="attribute-assertion"),
        pytest.param("response", NAME_ID, "boss@acme.example", NO_VALID_SIGNATURE, id="name_id-response"),
    ],
)
def test_simplesamlphp_refuses_a_response_changed_after_signing(
    idp: Deployment, simplesamlphp: SimpleSamlPhp, signed: str, xpath: str, forged: str, cause: str
) -> None:
    configure(idp, simplesamlphp, signed=signed, encryption=None)  # in the clear: there is text to change
    fields = launch(idp, simplesamlphp)

    assert_refused(
        simplesamlphp,
        {**fields, "SAMLResponse": with_changed_text(fields["SAMLResponse"], xpath, forged)},
        forged,
        cause,
    )

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    unchanged = with_changed_text(fields["SAMLResponse"], "", "")
    offset = simplesamlphp.log_size()
    with requests.Session() as browser:
        page = post_to_acs(browser, simplesamlphp, {**fields, "SAMLResponse": unchanged})
    assert assert_signed_in(simplesamlphp, page, offset, simplesamlphp.whoami_url)["name_id"] == AGENT_EMAIL


def test_simplesamlphp_refuses_an_altered_assertion_encrypted_again_for_it(
    idp: Deployment, simplesamlphp: SimpleSamlPhp
) -> None:
    """Anyone can encrypt for the SP's certificate: the decrypted assertion's signature still decides."""
    sp = simplesamlphp
    configure(idp, sp, signed="assertion", encryption="aes256-gcm")
    fields = launch(idp, sp)
    clear = decrypted(fields["SAMLResponse"], sp.key_pem)
    assert signatures(clear) == {"assertion"}

    forged = reencrypted(clear, sp.certificate_pem, NAME_ID, "boss@acme.example")
    assert_refused(sp, {**fields, "SAMLResponse": forged}, "boss@acme.example", BROKEN_SIGNATURE)

    # The same assertion, decrypted and encrypted again unchanged, is accepted.
    offset = sp.log_size()
    with requests.Session() as browser:
        page = post_to_acs(browser, sp, {**fields, "SAMLResponse": reencrypted(clear, sp.certificate_pem)})
    assert assert_signed_in(sp, page, offset, sp.whoami_url)["name_id"] == AGENT_EMAIL


# --- SP-initiated ------------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ["aes256-gcm", None], ids=["encrypted", "clear"])
def test_sp_initiated_login_with_a_signed_request(
    idp: Deployment, simplesamlphp: SimpleSamlPhp, encryption: str | None
) -> None:
    """requireAuth() sends a signed AuthnRequest asking for an emailAddress NameID; the app, which
    requires signed requests (from the import) and pins emailAddress, answers it."""
    sp = simplesamlphp
    configure(idp, sp, encryption=encryption)
    sp.ask_for(EMAIL_FORMAT)
    offset = sp.log_size()

    with requests.Session() as browser:
        flow = sp_initiated_sign_in(idp, browser, sp.secure_url, sp.sso_url)
        assert flow.at_idp.query["SigAlg"] == RSA_SHA256 and flow.at_idp.query["Signature"]
        policy = flow.at_idp.authn_request.find(f"{{{SAMLP_NS}}}NameIDPolicy")
        assert policy.get("Format") == EMAIL_FORMAT
        assert flow.form.action == sp.acs_url
        assert encryption_of(flow.form.response) == encryption

        page = browser.post(flow.form.action, data=flow.form.fields, timeout=30)

    session = assert_signed_in(sp, page, offset, sp.secure_url)
    assert session["name_id"] == AGENT_EMAIL
    assert session["name_id_format"] == EMAIL_FORMAT


@pytest.mark.parametrize(
    ("asked", "stable"),
    [pytest.param(TRANSIENT_FORMAT, False, id="transient"), pytest.param(PERSISTENT_FORMAT, True, id="persistent")],
)
def test_sp_initiated_login_gets_the_nameid_format_it_asks_for(
    idp: Deployment, simplesamlphp: SimpleSamlPhp, asked: str, stable: bool
) -> None:
    """SimpleSAMLphp's default policy is transient: an app without a name_id_format honours what the
    SP asks for. A transient NameID is new at each sign-in, a persistent one the same each time;
    neither gives the email away."""
    sp = simplesamlphp
    configure(idp, sp, name_id_format=None)
    sp.ask_for(asked)
    offset = sp.log_size()

    names = []
    for _ in range(2):
        with requests.Session() as browser:
            flow = sp_initiated_sign_in(idp, browser, sp.secure_url, sp.sso_url)
            page = browser.post(flow.form.action, data=flow.form.fields, timeout=30)
        session = assert_signed_in(sp, page, offset, sp.secure_url)
        assert session["name_id_format"] == asked
        names.append(session["name_id"])

    assert (names[0] == names[1]) is stable
    assert all(AGENT_EMAIL not in name for name in names)


def test_sp_initiated_login_asking_for_another_format_than_the_app_pins_is_refused(
    idp: Deployment, simplesamlphp: SimpleSamlPhp
) -> None:
    """The app pins emailAddress, the SP asks for transient: the IdP answers InvalidNameIDPolicy,
    which SimpleSAMLphp reports as an error, and no session is made."""
    sp = simplesamlphp
    configure(idp, sp, name_id_format="emailAddress")
    sp.ask_for(TRANSIENT_FORMAT)
    offset = sp.log_size()

    with requests.Session() as browser:
        flow = sp_initiated_sign_in(idp, browser, sp.secure_url, sp.sso_url)
        assert status_codes(flow.form.response) == [STATUS_REQUESTER, STATUS_INVALID_NAMEID_POLICY]
        assert signatures(flow.form.response) == {"response"}

        refused = browser.post(flow.form.action, data=flow.form.fields, timeout=30)

        assert not refused.history and "An unhandled exception was thrown" in refused.text, refused.text[:500]
        assert "InvalidNameIDPolicy" in sp.log_since(offset)
        assert browser.get(sp.whoami_url, timeout=10).status_code == 401, "no session"


@contextlib.contextmanager
def idp_offering_only(sp: SimpleSamlPhp, binding: str) -> Iterator[None]:
    """The SP's copy of the IdP metadata with only one SSO binding, for the time of a test."""
    path = sp.folder / "idp-metadata.xml"
    original = path.read_bytes()
    root = etree.fromstring(original)
    for endpoint in root.xpath(f"//md:SingleSignOnService[@Binding!='{binding}']", namespaces=NAMESPACES):
        endpoint.getparent().remove(endpoint)
    path.write_bytes(etree.tostring(root))
    try:
        yield
    finally:
        path.write_bytes(original)


def test_sp_initiated_login_with_a_signed_http_post_request(idp: Deployment, simplesamlphp: SimpleSamlPhp) -> None:
    """Offered only the HTTP-POST SSO endpoint, SimpleSAMLphp posts its AuthnRequest with an enveloped
    XML signature (xmlseclibs), which the IdP verifies before asking the agent to sign in."""
    sp = simplesamlphp
    configure(idp, sp)
    sp.ask_for(EMAIL_FORMAT)
    offset = sp.log_size()

    with idp_offering_only(sp, HTTP_POST), requests.Session() as browser:
        sp_page = browser.get(sp.secure_url, timeout=30)
        action, fields = auto_post_page_form(sp_page.text)
        assert action == sp.sso_url
        at_idp = post_to_idp(browser, action, fields)
        request = at_idp.authn_request
        method, reference, transforms = post_signature(request)
        assert method == RSA_SHA256 and reference == "#" + request.get("ID")
        assert transforms == [ENVELOPED, EXC_C14N]
        assert enveloped_signature_verifies(request, sp.certificate_pem), "the SP's own signature is good"
        flow = sp_initiated_sign_in(idp, browser, sp.secure_url, sp.sso_url, at_idp=at_idp)

        page = browser.post(flow.form.action, data=flow.form.fields, timeout=30)

    assert assert_signed_in(sp, page, offset, sp.secure_url)["name_id"] == AGENT_EMAIL


# --- single logout -----------------------------------------------------------------------------


def signed_in_at_simplesamlphp(idp: Deployment, sp: SimpleSamlPhp, browser: requests.Session) -> None:
    configure(idp, sp)
    sp.ask_for(EMAIL_FORMAT)
    offset = sp.log_size()
    flow = sp_initiated_sign_in(idp, browser, sp.secure_url, sp.sso_url)
    assert_signed_in(sp, browser.post(flow.form.action, data=flow.form.fields, timeout=30), offset, sp.secure_url)


def test_simplesamlphp_signs_out_at_the_idp_with_a_signed_logout_request(
    idp: Deployment, simplesamlphp: SimpleSamlPhp
) -> None:
    """SP-initiated: SimpleSAMLphp sends its LogoutRequest (signed, the NameID and SessionIndex it was
    given), the IdP session ends, and SimpleSAMLphp takes the IdP's signed Success (validate.logout)."""
    sp = simplesamlphp
    with requests.Session() as browser:
        signed_in_at_simplesamlphp(idp, sp, browser)
        offset = sp.log_size()

        done = browser.get(f"{sp.base_url}/logout", timeout=30)

        urls = visited(done)
        logout_request, query = redirected(urls, f"{idp.base_url}/sso_applications/{sp.app_id}/slo?", "SAMLRequest")
        assert query["SigAlg"] == RSA_SHA256 and query["Signature"]
        assert logout_request.findtext(f"{{{SAML_NS}}}NameID") == AGENT_EMAIL
        logout_response, query = redirected(urls, f"{sp.imported['slo_url']}?", "SAMLResponse")
        assert query["SigAlg"] == RSA_SHA256 and query["Signature"]
        assert status_codes(logout_response) == [STATUS_SUCCESS]
        log = sp.log_since(offset)
        assert done.status_code == 401, f"{done.status_code} at {done.url}\n{log}"
        assert "Unsuccessful logout" not in log and "Exception" not in log, log
        assert browser.get(f"{idp.base_url}/", allow_redirects=False, timeout=30).status_code == 303, (
            "the IdP session is over: the launcher asks for a sign-in"
        )


def test_the_launcher_signs_simplesamlphp_out(idp: Deployment, simplesamlphp: SimpleSamlPhp) -> None:
    """IdP-initiated: our LogoutRequest (signed, with NotOnOrAfter) is validated by SimpleSAMLphp, which
    ends its session and answers with a signed LogoutResponse; the browser ends on the signed-out page."""
    sp = simplesamlphp
    with requests.Session() as browser:
        signed_in_at_simplesamlphp(idp, sp, browser)
        offset = sp.log_size()

        done = sign_out_in_launcher(browser, idp)

        urls = visited(done)
        logout_request, query = redirected(urls, f"{sp.imported['slo_url']}?", "SAMLRequest")
        assert query["SigAlg"] == RSA_SHA256 and query["Signature"]
        assert logout_request.get("NotOnOrAfter") > logout_request.get("IssueInstant")
        _, query = redirected(urls, f"{idp.base_url}/sso_applications/{sp.app_id}/slo?", "SAMLResponse")
        assert query["SigAlg"] == RSA_SHA256 and query["Signature"], "SimpleSAMLphp signed its answer"
        log = sp.log_since(offset)
        assert done.status_code == 200 and "You are signed out" in page_text(done), f"{done.url}\n{log}"
        assert "could not be signed out" not in page_text(done), "SimpleSAMLphp answered Success"
        assert browser.get(sp.whoami_url, timeout=30).status_code == 401, log


# --- an SP that asks for MFA (AuthnContextClassRef in its authsource) -----------------------------


@contextlib.contextmanager
def asking_for(sp: SimpleSamlPhp, authn_context: str) -> Iterator[None]:
    sp.save(authn_context=authn_context)
    try:
        yield
    finally:
        sp.save(authn_context=None)


def test_sp_asking_for_mfa_gets_the_totp_step_then_an_mfa_assertion(
    idp: Deployment, simplesamlphp: SimpleSamlPhp
) -> None:
    sp = simplesamlphp
    configure(idp, sp, encryption=None)  # in the clear, to read the AuthnContext
    agent = new_agent(idp, with_mfa=True)
    offset = sp.log_size()
    with asking_for(sp, REFEDS_MFA), requests.Session() as browser:
        at_idp = follow_to_idp(browser, sp.secure_url, sp.sso_url)
        requested = at_idp.authn_request.find(f"{{{SAMLP_NS}}}RequestedAuthnContext")
        assert requested is not None and requested.findtext(f"{{{SAML_NS}}}AuthnContextClassRef") == REFEDS_MFA

        step = sign_in_at_idp(idp, browser, at_idp.page, email=agent.email)
        assert is_totp_page(idp, step), f"{step.url}: {page_text(step)}"
        page = enter_totp(idp, browser, step, agent.totp_secret)
        action, fields = auto_post_page_form(page.text)
        response = decoded(fields["SAMLResponse"])
        assert status_codes(response) == [STATUS_SUCCESS]
        assert response.findtext(AUTHN_CONTEXT_CLASS, namespaces=NAMESPACES) == REFEDS_MFA

        landed = browser.post(action, data=fields, timeout=30)
        assert landed.status_code == 200, f"{landed.status_code} {landed.text[:500]}\n{sp.log_since(offset)}"
        session = landed.json()
        assert session["name_id"] == agent.email
        assert session["authn_context"] == REFEDS_MFA


def test_sp_asking_for_mfa_for_a_user_without_it_gets_no_authn_context(
    idp: Deployment, simplesamlphp: SimpleSamlPhp
) -> None:
    sp = simplesamlphp
    configure(idp, sp)
    agent = new_agent(idp, with_mfa=False)
    offset = sp.log_size()
    with asking_for(sp, REFEDS_MFA), requests.Session() as browser:
        at_idp = follow_to_idp(browser, sp.secure_url, sp.sso_url)
        form = notice_form(sign_in_at_idp(idp, browser, at_idp.page, email=agent.email))
        assert status_codes(form.response) == [STATUS_REQUESTER, STATUS_NO_AUTHN_CONTEXT]
        assert signatures(form.response) == {"response"}

        refused = browser.post(form.action, data=form.fields, timeout=30)

        assert not refused.history and "An unhandled exception was thrown" in refused.text, refused.text[:500]
        assert "NoAuthnContext" in sp.log_since(offset)
        assert browser.get(sp.whoami_url, timeout=10).status_code == 401, "no session"

"""mod_auth_mellon (Apache 2.4, built on Lasso) as the service provider.

A private Apache on a free loopback port runs mod_auth_mellon with an SP key, certificate and
metadata of its own (`mellon/sp-metadata.xml`, the shape mellon_create_metadata writes, asking for
emailAddress NameIDs) and the IdP metadata of one SSO application. The brokerage admin imports the
SP's metadata file to create that application: its signing certificate (mellon signs every
AuthnRequest, and says so with AuthnRequestsSigned) and its encryption certificate come with it,
so the IdP checks mellon's requests and encrypts assertions for it.

IdP-initiated tests post the agent's launch form to mellon's ACS exactly as a browser would;
SP-initiated tests start at the protected page. The protected CGI page shows what mellon believed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from urllib.parse import urljoin

import pytest
import requests

from tests.deployment import Deployment
from tests.e2e.sp_helpers import STATUS_SUCCESS
from tests.interop.helpers import (
    AGENT_EMAIL,
    EMAIL_FORMAT,
    ENCRYPTION_IDS,
    ENCRYPTIONS,
    NAME_ID,
    RSA_SHA256,
    SAML_NS,
    SAMLP_NS,
    TAMPERINGS,
    certificate_base64,
    decoded,
    decrypted,
    encryption_of,
    idp_metadata,
    import_sp_metadata,
    is_login_page,
    redirected,
    reencrypted,
    signatures,
    sp_initiated_sign_in,
    sp_key_and_certificate,
    status_codes,
    visited,
    with_changed_text,
    without,
)
from tests.support import free_port, http_ok, running

HERE = Path(__file__).parent / "mellon"
APACHE = shutil.which("apache2", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
MELLON_MODULE = Path("/usr/lib/apache2/modules/mod_auth_mellon.so")

MAPPINGS = {
    "urn:oid:0.9.2342.19200300.100.1.3": "email",  # sent with the uri NameFormat
    "firstName": "first_name",  # and these with the basic one
    "displayName": "display_name",
}
# mellon exports each attribute as MELLON_<name> (and MELLON_<name>_0 ...); Apache builds a CGI's
# environment with every character other than a letter, digit or "_" replaced by "_".
EXPECTED_ENV = {
    "MELLON_NAME_ID": AGENT_EMAIL,
    "REMOTE_USER": AGENT_EMAIL,
    "MELLON_urn_oid_0_9_2342_19200300_100_1_3": AGENT_EMAIL,
    "MELLON_firstName": "Avery",
    "MELLON_displayName": "Avery Agent",
}


@dataclass
class Mellon:
    base_url: str
    entity_id: str
    protected_url: str
    error_log: Path
    key_pem: bytes
    certificate_pem: bytes
    metadata: bytes  # the SP's metadata file, as imported
    imported: dict = field(default_factory=dict)  # the SSO application as the import made it
    app_id: str = ""
    sso_url: str = ""

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/mellon/postResponse"

    def log_size(self) -> int:
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.error_log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


def render(template: str, target: Path, **values: str) -> None:
    target.write_text(Template((HERE / template).read_text()).substitute(values))


@contextlib.contextmanager
def www_data_folder() -> Iterator[Path]:
    """A folder Apache's www-data children can read: pytest's own temporary folders are root-only."""
    folder = Path(tempfile.mkdtemp(prefix="idp-mellon-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def give_to_www_data(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        shutil.chown(path, "www-data", "www-data")
    folder.chmod(0o750)


@pytest.fixture(scope="module")
def mellon(idp: Deployment) -> Iterator[Mellon]:
    if APACHE is None:
        pytest.skip("apache2 is not installed (Debian package apache2)")
    if not MELLON_MODULE.exists():
        pytest.skip("mod_auth_mellon is not installed (Debian package libapache2-mod-auth-mellon)")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    entity_id = f"{base_url}/mellon/metadata"

    with www_data_folder() as folder:
        for name in ("post", "htdocs", "cgi"):
            (folder / name).mkdir()
        key_pem, cert_pem = sp_key_and_certificate("127.0.0.1")
        (folder / "sp.key").write_bytes(key_pem)
        (folder / "sp.crt").write_bytes(cert_pem)
        render(
            "sp-metadata.xml",
            folder / "sp-metadata.xml",
            entity_id=entity_id,
            base_url=base_url,
            certificate=certificate_base64(cert_pem),
        )
        sp = Mellon(
            base_url,
            entity_id,
            f"{base_url}/secure/whoami",
            folder / "error.log",
            key_pem,
            cert_pem,
            (folder / "sp-metadata.xml").read_bytes(),
        )
        # The brokerage admin imports the SP's metadata file, then sets what metadata cannot say.
        imported = import_sp_metadata(idp, sp.metadata, name="Mellon")
        assert imported.created
        sp.imported, sp.app_id = imported.app, imported.app["id"]
        app = idp.update_app(sp.app_id, start_url=sp.protected_url, mappings=MAPPINGS, name_id_format="emailAddress")
        app_idp = idp_metadata(idp, app)
        sp.sso_url = app_idp.sso_url
        (folder / "idp-metadata.xml").write_bytes(app_idp.xml)

        render("httpd.conf", folder / "httpd.conf", folder=str(folder), port=str(port), entity_id=entity_id)
        shutil.copy(HERE / "whoami.cgi", folder / "cgi" / "whoami")
        (folder / "cgi" / "whoami").chmod(0o755)
        give_to_www_data(folder)
        # In the foreground Apache stays our child, but at shutdown it signals its whole process group:
        # setsid (which execs in place, keeping the pid) gives it a group of its own, not pytest's.
        with running(
            ["setsid", APACHE, "-f", str(folder / "httpd.conf"), "-DFOREGROUND"],
            ready=http_ok(f"{base_url}/mellon/metadata"),
            what="apache2 with mod_auth_mellon",
            log=folder / "apache2.out",
        ):
            yield sp


def configure(idp: Deployment, mellon: Mellon, *, signed: str = "both", encryption: str | None = "aes256-gcm") -> None:
    """The fields each test depends on. `encryption` keeps the encryption certificate the import took
    from the SP's metadata, with that algorithm, or clears it (None)."""
    certificate = mellon.imported["encryption_certificate"] if encryption else None
    fields = {"signed": signed, "encryption_certificate": certificate, "encryption_algorithm": encryption}
    assert idp.update_app(mellon.app_id, **fields)["signed"] == signed


def launch(idp: Deployment, mellon: Mellon) -> dict[str, str]:
    acs_url, fields = idp.launch(mellon.app_id)
    assert acs_url == mellon.acs_url and fields["RelayState"] == mellon.protected_url
    return fields


def page_env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def post_to_acs(mellon: Mellon, fields: dict[str, str]) -> requests.Response:
    """What the launch page's form does in a browser: POST to the ACS, then follow mellon's redirect."""
    with requests.Session() as browser:
        return browser.post(mellon.acs_url, data=fields, timeout=30)


def assert_the_agent(mellon: Mellon, page: requests.Response, offset: int) -> None:
    assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{mellon.log_since(offset)}"
    assert [hop.status_code for hop in page.history] == [303]
    assert page.url == mellon.protected_url
    env = page_env(page.text)
    assert {name: env.get(name) for name in EXPECTED_ENV} == EXPECTED_ENV, page.text


# --- metadata import ---------------------------------------------------------------------------


def test_import_registers_the_sp_from_its_metadata_file(idp: Deployment, mellon: Mellon) -> None:
    app, certificate = mellon.imported, certificate_base64(mellon.certificate_pem)
    assert app["entity_id"] == mellon.entity_id
    assert app["acs_url"] == mellon.acs_url
    assert app["sp_certificates"] == [certificate]
    assert app["encryption_certificate"] == certificate
    assert app["require_signed_requests"] is True  # AuthnRequestsSigned="true"
    assert app["slo_url"] == f"{mellon.base_url}/mellon/logout"
    # mellon serves the very file that was imported.
    assert requests.get(mellon.entity_id, timeout=10).content == mellon.metadata


# --- IdP-initiated -----------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ENCRYPTIONS, ids=ENCRYPTION_IDS)
@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_mellon_accepts_the_launch_and_sees_the_agent(
    idp: Deployment, mellon: Mellon, signed: str, encryption: str | None
) -> None:
    configure(idp, mellon, signed=signed, encryption=encryption)
    fields = launch(idp, mellon)
    assert encryption_of(decoded(fields["SAMLResponse"])) == encryption

    offset = mellon.log_size()
    page = post_to_acs(mellon, fields)

    assert_the_agent(mellon, page, offset)


@pytest.mark.parametrize(
    ("signed", "xpath", "forged"),
    TAMPERINGS,
)
def test_mellon_refuses_a_response_changed_after_signing(
    idp: Deployment, mellon: Mellon, signed: str, xpath: str, forged: str
) -> None:
    configure(idp, mellon, signed=signed, encryption=None)  # in the clear: there is text to change
    fields = launch(idp, mellon)

    offset = mellon.log_size()
    refused = post_to_acs(mellon, {**fields, "SAMLResponse": with_changed_text(fields["SAMLResponse"], xpath, forged)})
    log = mellon.log_since(offset)
    assert 400 <= refused.status_code < 500 and not refused.history, f"{refused.status_code} {refused.text[:500]}"
    assert "Lasso error: [-111] Failed to verify signature." in log, log
    assert forged not in refused.text

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    page = post_to_acs(mellon, {**fields, "SAMLResponse": with_changed_text(fields["SAMLResponse"], "", "")})
    assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{mellon.log_since(offset)}"
    assert page_env(page.text)["MELLON_NAME_ID"] == AGENT_EMAIL


def test_mellon_refuses_an_altered_assertion_encrypted_again_for_it(idp: Deployment, mellon: Mellon) -> None:
    """Anyone can encrypt for the SP's certificate: the decrypted assertion's signature still decides."""
    configure(idp, mellon, signed="assertion", encryption="aes256-gcm")
    fields = launch(idp, mellon)
    clear = decrypted(fields["SAMLResponse"], mellon.key_pem)
    assert signatures(clear) == {"assertion"}

    offset = mellon.log_size()
    refused = post_to_acs(
        mellon, {**fields, "SAMLResponse": reencrypted(clear, mellon.certificate_pem, NAME_ID, "boss@acme.example")}
    )
    log = mellon.log_since(offset)
    assert 400 <= refused.status_code < 500 and not refused.history, f"{refused.status_code} {refused.text[:500]}"
    assert "Lasso error: [-111] Failed to verify signature." in log, log

    # The same assertion, decrypted and encrypted again unchanged, is accepted.
    page = post_to_acs(mellon, {**fields, "SAMLResponse": reencrypted(clear, mellon.certificate_pem)})
    assert_the_agent(mellon, page, offset)


# --- SP-initiated ------------------------------------------------------------------------------


@pytest.mark.parametrize("encryption", ["aes256-gcm", None], ids=["encrypted", "clear"])
def test_sp_initiated_login_with_mellons_signed_request(
    idp: Deployment, mellon: Mellon, encryption: str | None
) -> None:
    """The protected page sends the browser through /mellon/login to the app's SSO endpoint with a
    signed request; the IdP, which requires signed requests for this app, checks it and answers."""
    configure(idp, mellon, encryption=encryption)
    offset = mellon.log_size()

    with requests.Session() as browser:
        flow = sp_initiated_sign_in(idp, browser, mellon.protected_url, mellon.sso_url)
        assert flow.at_idp.query["SigAlg"] == RSA_SHA256 and flow.at_idp.query["Signature"]
        policy = flow.at_idp.authn_request.find(f"{{{SAMLP_NS}}}NameIDPolicy")
        assert policy.get("Format") == EMAIL_FORMAT  # the NameIDFormat of its metadata
        assert flow.form.action == mellon.acs_url
        assert encryption_of(flow.form.response) == encryption

        page = browser.post(flow.form.action, data=flow.form.fields, timeout=30)

    assert_the_agent(mellon, page, offset)


def mellons_redirect_to_the_idp(browser: requests.Session, mellon: Mellon) -> str:
    """The URL mellon sends the browser to, without going there: protected page, /mellon/login, IdP."""
    url = mellon.protected_url
    for _ in range(3):
        hop = browser.get(url, allow_redirects=False, timeout=30)
        assert hop.is_redirect, f"{hop.status_code} {hop.text[:500]}"
        url = urljoin(url, hop.headers["Location"])
        if url.startswith(mellon.sso_url + "?"):
            return url
    raise AssertionError(f"mellon never sent the browser to {mellon.sso_url}")


def with_param(url: str, name: str, value: str) -> str:
    base, _, query = url.partition("?")
    parts = [f"{name}={value}" if part.partition("=")[0] == name else part for part in query.split("&")]
    return base + "?" + "&".join(parts)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(lambda url: without(url, "SigAlg", "Signature"), "must sign its requests", id="unsigned"),
        pytest.param(
            lambda url: with_param(url, "RelayState", "http%3A%2F%2Fevil.example%2F"),
            "signature does not verify",
            id="relay_state-changed",
        ),
    ],
)
def test_idp_refuses_mellons_request_once_its_signature_is_gone_or_broken(
    idp: Deployment, mellon: Mellon, change, reason: str
) -> None:
    configure(idp, mellon)
    with requests.Session() as browser:
        genuine = mellons_redirect_to_the_idp(browser, mellon)

        refused = browser.get(change(genuine), allow_redirects=False, timeout=30)

        assert refused.status_code == 400, f"{refused.status_code} {refused.text[:500]}"
        assert reason in refused.text
        assert "idp_session" not in browser.cookies
        # The genuine request, sent afterwards, still reaches the login page.
        assert is_login_page(idp, browser.get(genuine, timeout=30))


# --- single logout -----------------------------------------------------------------------------


def signed_in_at_mellon(idp: Deployment, mellon: Mellon, browser: requests.Session) -> None:
    configure(idp, mellon)
    offset = mellon.log_size()
    flow = sp_initiated_sign_in(idp, browser, mellon.protected_url, mellon.sso_url)
    assert_the_agent(mellon, browser.post(flow.form.action, data=flow.form.fields, timeout=30), offset)


def test_mellon_signs_out_at_the_idp_with_a_signed_logout_request(idp: Deployment, mellon: Mellon) -> None:
    """SP-initiated: /mellon/logout sends a signed LogoutRequest with the NameID and SessionIndex it
    was given; the IdP session ends, and mellon takes the IdP's signed Success."""
    with requests.Session() as browser:
        signed_in_at_mellon(idp, mellon, browser)
        offset = mellon.log_size()

        done = browser.get(f"{mellon.base_url}/mellon/logout?ReturnTo={mellon.base_url}/", timeout=30)

        urls = visited(done)
        logout_request, query = redirected(urls, f"{idp.base_url}/sso_applications/{mellon.app_id}/slo?", "SAMLRequest")
        assert query["SigAlg"] == RSA_SHA256 and query["Signature"]
        assert logout_request.findtext(f"{{{SAML_NS}}}NameID") == AGENT_EMAIL
        logout_response, query = redirected(urls, f"{mellon.base_url}/mellon/logout?SAMLResponse=", "SAMLResponse")
        assert query["SigAlg"] == RSA_SHA256 and query["Signature"]
        assert status_codes(logout_response) == [STATUS_SUCCESS], mellon.log_since(offset)
        assert browser.get(idp.base_url + "/", allow_redirects=False, timeout=30).status_code == 303
        assert browser.get(mellon.protected_url, allow_redirects=False, timeout=30).is_redirect, (
            "mellon's own session is over"
        )

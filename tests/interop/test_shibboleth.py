"""Shibboleth SP 3 (Apache 2.4 + mod_shib + shibd, from Debian) accepts what the IdP sends.

One SP runs for the module, from a private configuration in a temporary folder (templates in
`shibboleth/`), on a free loopback port. It is started once on its own to serve its metadata
(`/Shibboleth.sso/Metadata`), which the brokerage admin imports into the IdP; the SP is then
restarted with that application's IdP metadata. The import takes the SP's certificate as its
encryption certificate too (its KeyDescriptor has no `use`), so assertions are encrypted for it
unless a test turns that off.

IdP-initiated tests launch the app as the agent and post the form to the SP's ACS as a browser
would; SP-initiated tests start at the SP's protected page and walk through the IdP's login page.
Both read what the SP hands its application from a CGI behind a Shibboleth session.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.deployment import Deployment
from tests.interop.helpers import (
    AGENT_EMAIL,
    AUTHN_CONTEXT_CLASS,
    DS_NS,
    ENCRYPTION_IDS,
    ENCRYPTIONS,
    NAME_ID,
    NAMESPACES,
    REFEDS_MFA,
    SAML_NS,
    SAMLP_NS,
    STATUS_NO_AUTHN_CONTEXT,
    STATUS_NO_PASSIVE,
    STATUS_REQUESTER,
    STATUS_RESPONDER,
    STATUS_SUCCESS,
    XS_TRUE,
    auto_post_form,
    certificate_base64,
    decoded,
    decrypted,
    encryption_of,
    enter_totp,
    follow_to_idp,
    idp_metadata,
    import_sp_metadata,
    is_login_page,
    is_totp_page,
    new_agent,
    notice_form,
    page_text,
    reencrypted,
    sign_in_at_idp,
    signatures,
    sp_initiated_sign_in,
    sp_metadata_key_certificates,
    status_codes,
)
from tests.support import free_port, http_ok, running, wait_until

TEMPLATES = Path(__file__).parent / "shibboleth"
APACHE_MODULES = Path("/usr/lib/apache2/modules")

# SAML attribute name -> user field, as the app is configured; URI and basic names on purpose.
MAPPINGS = {
    "urn:oid:2.5.4.42": "first_name",
    "urn:oid:2.5.4.4": "last_name",
    "urn:oid:0.9.2342.19200300.100.1.3": "email",
    "displayName": "display_name",
    "brand": "brand_name",
    "role": "role",
}
# What the SP must report for the agent, by the attribute ids of shibboleth/attribute-map.xml.
EXPECTED_ATTRIBUTES = {
    "givenName": "Avery",
    "sn": "Agent",
    "mail": "agent@acme.example",
    "displayName": "Avery Agent",
    "brand": "Acme Downtown",
    "role": "Agent",
}
PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


@dataclass
class ShibbolethSP:
    base_url: str
    entity_id: str
    workdir: Path
    metadata: bytes = b""  # the SP's own, from /Shibboleth.sso/Metadata
    imported: dict = field(default_factory=dict)  # the SSO application as the import made it
    app: dict = field(default_factory=dict)  # and as the tests then completed it
    sso_url: str = ""  # the app's HTTP-Redirect SSO endpoint, from its IdP metadata

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/Shibboleth.sso/SAML2/POST"

    @property
    def protected_url(self) -> str:
        return f"{self.base_url}/secure/whoami"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/Shibboleth.sso/Metadata"

    def key_pem(self) -> bytes:
        return (self.workdir / "sp-key.pem").read_bytes()

    def certificate_pem(self) -> bytes:
        return (self.workdir / "sp-cert.pem").read_bytes()

    def logs(self) -> str:
        """The tails of shibd's and Apache's logs, for failure messages (the folder goes away)."""
        tails = []
        for name in ("shibd.out", "shibd.log", "apache2.out", "error.log"):
            path = self.workdir / name
            if path.exists():
                tails.append(f"--- {name} ---\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(tails)

    def shibd_log(self) -> str:
        return (self.workdir / "shibd.log").read_text(errors="replace")


# --- setting the SP up -------------------------------------------------------------------------


def find_binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def require_shibboleth() -> dict[str, str]:
    """The binaries this module needs, or a skip naming the Debian package that brings the missing one."""
    binaries = {}
    needed = {
        "shibd": "shibboleth-sp-utils",
        "shib-keygen": "shibboleth-sp-utils",
        "apache2": "apache2",
        "setsid": "util-linux",
    }
    for name, package in needed.items():
        binaries[name] = find_binary(name)
        if binaries[name] is None:
            pytest.skip(f"{name} is not installed (Debian package {package})")
    if not (APACHE_MODULES / "mod_shib.so").exists():
        pytest.skip("mod_shib is not installed (Debian package libapache2-mod-shib)")
    for module in ("mpm_prefork", "authz_core", "authn_core", "alias", "cgi", "mime"):
        if not (APACHE_MODULES / f"mod_{module}.so").exists():
            pytest.skip(f"Apache's mod_{module} is not installed (Debian package apache2)")
    return binaries


def render(template: str, destination: Path, **values: str) -> None:
    """Copy a template from shibboleth/, filling in each {{name}}."""
    text = (TEMPLATES / template).read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    assert "{{" not in text, f"{template}: a placeholder was left unfilled"
    destination.write_text(text)


def write_sp_config(workdir: Path, *, port: int, sp_entity_id: str, idp_entity_id: str, metadata: bytes) -> None:
    """Everything shibd and Apache read, in one folder readable by www-data (Apache's workers)."""
    values = {"dir": str(workdir), "port": str(port), "sp_entity_id": sp_entity_id, "idp_entity_id": idp_entity_id}
    for name in ("shibboleth2.xml", "attribute-map.xml", "shibd.logger", "native.logger", "httpd.conf"):
        render(name, workdir / name, **values)
    (workdir / "idp-metadata.xml").write_bytes(metadata)
    cgi_bin = workdir / "cgi-bin"
    cgi_bin.mkdir(exist_ok=True)
    shutil.copy(TEMPLATES / "whoami.cgi", cgi_bin / "whoami")
    (cgi_bin / "whoami").chmod(0o755)


def generate_sp_keys(keygen: str, workdir: Path, sp_entity_id: str) -> None:
    command = [keygen, "-b", "-o", str(workdir), "-u", "root", "-g", "root", "-h", "localhost", "-y", "1"]
    subprocess.run([*command, "-e", sp_entity_id], check=True, capture_output=True)


@contextlib.contextmanager
def readable_workdir() -> Iterator[Path]:
    """A temporary folder www-data can traverse (pytest's own are private to root), removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="interop-shibboleth-"))
    try:
        workdir.chmod(0o755)
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def let_www_data_read(workdir: Path) -> None:
    """Apache's workers (www-data) read the configuration and metadata; only the SP's key stays private."""
    for path in workdir.rglob("*"):
        if path.name != "sp-key.pem":
            path.chmod(path.stat().st_mode | 0o444)


def processes_using(workdir: Path) -> list[int]:
    """Processes whose command line names the folder: shibd, Apache and its workers."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if str(workdir).encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
    return pids


@contextlib.contextmanager
def shibboleth_running(binaries: dict[str, str], sp: ShibbolethSP) -> Iterator[None]:
    """shibd in the foreground, then Apache in the foreground; both stopped (Apache first) on exit."""
    workdir = sp.workdir
    shibd = [binaries["shibd"], "-F", "-f", "-c", str(workdir / "shibboleth2.xml"), "-p", str(workdir / "shibd.pid")]
    # Apache signals its whole process group when it stops: give it a session of its own (setsid
    # execs it in place, so `running` still holds Apache's pid), or it would take pytest down too.
    apache = [binaries["setsid"], binaries["apache2"], "-f", str(workdir / "httpd.conf"), "-D", "FOREGROUND"]
    socket_file = workdir / "shibd.sock"
    socket_file.unlink(missing_ok=True)  # left by an earlier run, it would look ready at once
    apache_ready = http_ok(f"{sp.base_url}/Shibboleth.sso/Status")  # answered by mod_shib, through shibd
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(running(shibd, ready=socket_file.exists, what="shibd", log=workdir / "shibd.out"))
            stack.enter_context(running(apache, ready=apache_ready, what="apache2", log=workdir / "apache2.out"))
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{sp.logs()}") from None
        yield
    try:
        wait_until(lambda: not processes_using(workdir), timeout=10, what="shibd and Apache to exit")
    except TimeoutError:
        leftovers = processes_using(workdir)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"processes left running after the SP stopped: {leftovers}") from None


@pytest.fixture(scope="module")
def sp(idp: Deployment) -> Iterator[ShibbolethSP]:
    """A running Shibboleth SP, imported into the IdP from its own metadata (the app's JSON in `sp.app`)."""
    binaries = require_shibboleth()
    with readable_workdir() as workdir:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        shib = ShibbolethSP(base_url=base_url, entity_id=f"{base_url}/shibboleth", workdir=workdir)
        generate_sp_keys(binaries["shib-keygen"], workdir, shib.entity_id)

        # 1. The SP on its own, as an admin sets it up before the IdP knows it: it serves its metadata.
        #    Until the app exists it trusts the IdP's global entity (a valid IdP it never meets here).
        anyone = idp_metadata(idp)
        write_sp_config(
            workdir, port=port, sp_entity_id=shib.entity_id, idp_entity_id=anyone.entity_id, metadata=anyone.xml
        )
        let_www_data_read(workdir)
        with shibboleth_running(binaries, shib):
            served = requests.get(shib.metadata_url, timeout=10)
        assert served.status_code == 200, f"{served.status_code} {served.text[:500]}\n{shib.logs()}"
        shib.metadata = served.content

        # 2. The brokerage admin imports it, then sets what metadata cannot say.
        imported = import_sp_metadata(idp, shib.metadata, name="Shibboleth SP")
        assert imported.created
        shib.imported = imported.app
        shib.app = idp.update_app(
            imported.app["id"], start_url=shib.protected_url, mappings=MAPPINGS, name_id_format="emailAddress"
        )

        # 3. The SP, restarted with the app's own IdP metadata.
        app_idp = idp_metadata(idp, shib.app)
        shib.sso_url = app_idp.sso_url
        write_sp_config(
            workdir, port=port, sp_entity_id=shib.entity_id, idp_entity_id=app_idp.entity_id, metadata=app_idp.xml
        )
        let_www_data_read(workdir)
        with shibboleth_running(binaries, shib):
            yield shib


# --- what a browser does -----------------------------------------------------------------------


def configure(
    idp: Deployment,
    sp: ShibbolethSP,
    *,
    signed: str = "both",
    name_id_format: str = "emailAddress",
    encryption: str | None = "aes256-gcm",
) -> None:
    """Every test sets the fields it depends on, so their order does not matter. `encryption` keeps
    the encryption certificate the import took from the SP's metadata, with that algorithm, or
    clears it (None)."""
    certificate = sp.imported["encryption_certificate"] if encryption else None
    idp.update_app(
        sp.app["id"],
        signed=signed,
        name_id_format=name_id_format,
        encryption_certificate=certificate,
        encryption_algorithm=encryption,
    )


def post_to_acs(acs_url: str, fields: dict[str, str]) -> tuple[requests.Session, requests.Response]:
    """Post the launch form as the browser would, in a fresh browser session."""
    browser = requests.Session()
    response = browser.post(acs_url, data=fields, allow_redirects=False, timeout=30)
    return browser, response


def launch(idp: Deployment, sp: ShibbolethSP) -> dict[str, str]:
    """The agent's launch form for the app: it posts to the SP's ACS, back to the protected page."""
    acs_url, fields = idp.launch(sp.app["id"])
    assert acs_url == sp.acs_url
    assert fields["RelayState"] == sp.protected_url
    return fields


def accepted(sp: ShibbolethSP, fields: dict[str, str]) -> requests.Session:
    """Post a launch form to the SP: a browser with an SP session, or a failure naming the SP's reason."""
    browser, response = post_to_acs(sp.acs_url, fields)
    assert response.status_code == 302, f"the SP refused the response ({response.status_code})\n{sp.logs()}"
    assert response.headers["Location"] == sp.protected_url
    assert has_sp_session(browser)
    return browser


def sign_in(idp: Deployment, sp: ShibbolethSP) -> requests.Session:
    """Launch the app as the agent and post the result to the SP: a browser with an SP session."""
    return accepted(sp, launch(idp, sp))


def shib_session_cookie(browser: requests.Session) -> str:
    (name,) = [cookie.name for cookie in browser.cookies if cookie.name.startswith("_shibsession_")]
    return name


def has_sp_session(browser: requests.Session) -> bool:
    return any(cookie.name.startswith("_shibsession_") for cookie in browser.cookies)


def reported_by(page: requests.Response) -> dict[str, str]:
    return dict(line.partition("=")[::2] for line in page.text.splitlines() if "=" in line)


def what_the_sp_reports(sp: ShibbolethSP, browser: requests.Session) -> dict[str, str]:
    """The protected page's environment: REMOTE_USER, Shib_* and the attributes (CGI spells - as _)."""
    page = browser.get(sp.protected_url, allow_redirects=False, timeout=30)
    assert page.status_code == 200, f"no access to the protected page ({page.status_code})\n{sp.logs()}"
    return reported_by(page)


def assert_the_agent(idp: Deployment, sp: ShibbolethSP, reported: dict[str, str]) -> None:
    assert reported["REMOTE_USER"] == idp.agent_email
    assert reported["email_nameid"] == idp.agent_email
    assert {name: reported.get(name) for name in EXPECTED_ATTRIBUTES} == EXPECTED_ATTRIBUTES
    assert reported["Shib_Identity_Provider"] == sp.app["issuer"]
    assert reported["Shib_AuthnContext_Class"] == PASSWORD_PROTECTED_TRANSPORT


def tampered(saml_response: str, old: bytes, new: bytes) -> str:
    """The same SAMLResponse with a text changed wherever it occurs in the XML bytes, not signed again."""
    xml = base64.b64decode(saml_response)
    assert xml.count(old) >= 1, f"{old!r} is not in the response"
    return base64.b64encode(xml.replace(old, new)).decode()


# --- the tests ---------------------------------------------------------------------------------


def test_import_registers_the_sp_from_its_own_metadata(idp, sp):
    """What the import read from Shibboleth's generated metadata."""
    signing, encryption = sp_metadata_key_certificates(sp.metadata)
    certificate = certificate_base64(sp.certificate_pem())
    assert signing == encryption == [certificate]  # one KeyDescriptor, without `use`
    app = sp.imported
    assert app["name"] == "Shibboleth SP"
    assert app["entity_id"] == sp.entity_id
    assert app["acs_url"] == sp.acs_url
    # Only the SAML 2.0 HTTP-POST ACS: not POST-SimpleSign, Artifact, ECP (PAOS) nor the SAML 1 ones.
    assert [endpoint["url"] for endpoint in app["acs_endpoints"]] == [sp.acs_url]
    assert app["sp_certificates"] == [certificate]
    assert app["encryption_certificate"] == certificate
    assert app["require_signed_requests"] is False  # Shibboleth's metadata does not say AuthnRequestsSigned
    assert app["brands"] == [idp.brokerage]
    # The admin's completion kept what the import set.
    assert sp.app["acs_url"] == sp.acs_url and sp.app["encryption_certificate"] == certificate


@pytest.mark.parametrize("encryption", ENCRYPTIONS, ids=ENCRYPTION_IDS)
@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_sp_signs_the_agent_in_with_nameid_and_every_mapped_attribute(idp, sp, signed, encryption):
    configure(idp, sp, signed=signed, encryption=encryption)
    fields = launch(idp, sp)
    response = decoded(fields["SAMLResponse"])
    assert encryption_of(response) == encryption

    reported = what_the_sp_reports(sp, accepted(sp, fields))

    assert_the_agent(idp, sp, reported)


def test_sp_reads_every_value_of_multi_valued_attributes_signed_with_rsa_sha512(idp, sp):
    configure(idp, sp, signed="both", encryption=None)
    mappings = {**MAPPINGS, "groups": {"values": ["agents", "staff"]}, "names": ["first_name", "last_name"]}
    idp.update_app(sp.app["id"], signature_algorithm="rsa-sha512", mappings=mappings)
    try:
        fields = launch(idp, sp)
        methods = decoded(fields["SAMLResponse"]).xpath("//ds:SignatureMethod/@Algorithm", namespaces={"ds": DS_NS})
        assert methods == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"] * 2
        reported = what_the_sp_reports(sp, accepted(sp, fields))
    finally:
        idp.update_app(sp.app["id"], signature_algorithm=None, mappings=MAPPINGS)
    assert_the_agent(idp, sp, reported)
    # Shibboleth joins the values of one attribute with semicolons.
    assert (reported["groups"], reported["names"]) == ("agents;staff", "Avery;Agent")


def test_sp_takes_an_assertion_without_nameid_and_knows_the_agent_by_attributes(idp, sp):
    configure(idp, sp, name_id_format="none", encryption=None)
    try:
        fields = launch(idp, sp)
        assert decoded(fields["SAMLResponse"]).find(f".//{{{SAML_NS}}}NameID") is None
        reported = what_the_sp_reports(sp, accepted(sp, fields))
    finally:
        configure(idp, sp)
    assert "email_nameid" not in reported and not reported.get("REMOTE_USER")
    assert {name: reported.get(name) for name in EXPECTED_ATTRIBUTES} == EXPECTED_ATTRIBUTES


@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_sp_refuses_a_response_altered_after_signing(idp, sp, signed):
    configure(idp, sp, signed=signed, encryption=None)  # in the clear, so that there is text to alter
    fields = launch(idp, sp)
    forged = {**fields, "SAMLResponse": tampered(fields["SAMLResponse"], b"agent@acme.example", b"owner@acme.example")}
    log_before = len(sp.shibd_log())

    browser, response = post_to_acs(sp.acs_url, forged)

    assert not 200 <= response.status_code < 400, f"the SP accepted a forged response ({response.status_code})"
    assert not has_sp_session(browser)
    assert browser.get(sp.protected_url, allow_redirects=False, timeout=30).status_code == 302  # off to the IdP
    refusal = sp.shibd_log()[log_before:]
    assert "signature could not be verified" in refusal, refusal
    # The same app's untampered output is accepted, so what was refused is the alteration.
    assert what_the_sp_reports(sp, sign_in(idp, sp))["REMOTE_USER"] == idp.agent_email


def test_sp_refuses_an_altered_assertion_encrypted_again_for_it(idp, sp):
    """Encryption is not authentication: anyone can encrypt for the SP's public certificate. An
    assertion decrypted, altered and encrypted again must still fail its signature once decrypted."""
    configure(idp, sp, signed="assertion", encryption="aes256-gcm")
    fields = launch(idp, sp)
    clear = decrypted(fields["SAMLResponse"], sp.key_pem())
    assert signatures(clear) == {"assertion"}
    assert clear.xpath(NAME_ID, namespaces=NAMESPACES)[0].text == AGENT_EMAIL
    log_before = len(sp.shibd_log())

    forged = reencrypted(clear, sp.certificate_pem(), NAME_ID, "owner@acme.example")
    browser, response = post_to_acs(sp.acs_url, {**fields, "SAMLResponse": forged})

    assert not 200 <= response.status_code < 400, f"the SP accepted a forged response ({response.status_code})"
    assert not has_sp_session(browser)
    refusal = sp.shibd_log()[log_before:]
    assert "problem with assertion: Message was signed, but signature could not be verified" in refusal, refusal
    # A fresh assertion (the SP remembers the forged one's ID), decrypted and encrypted again
    # unchanged, is accepted: what was refused is the alteration, not the re-encryption.
    fields = launch(idp, sp)
    again = reencrypted(decrypted(fields["SAMLResponse"], sp.key_pem()), sp.certificate_pem())
    assert what_the_sp_reports(sp, accepted(sp, {**fields, "SAMLResponse": again}))["REMOTE_USER"] == AGENT_EMAIL


def test_sp_sees_a_stable_opaque_persistent_nameid(idp, sp):
    configure(idp, sp, name_id_format="persistent")

    first = what_the_sp_reports(sp, sign_in(idp, sp))
    second = what_the_sp_reports(sp, sign_in(idp, sp))

    assert first["persistent_id"] == second["persistent_id"]
    assert first["REMOTE_USER"] == first["persistent_id"]
    name_qualifier, sp_name_qualifier, value = first["persistent_id"].split("!")
    assert (name_qualifier, sp_name_qualifier) == (sp.app["issuer"], sp.entity_id)
    assert value and "agent" not in value.lower() and "@" not in value
    assert "email_nameid" not in first
    assert first["mail"] == idp.agent_email  # the attributes still come


@pytest.mark.parametrize("encryption", ["aes256-gcm", None], ids=["encrypted", "clear"])
def test_sp_initiated_login_from_the_protected_page(idp, sp, encryption):
    """The protected page sends the browser to the app's SSO endpoint; the agent signs in at the IdP,
    whose answer the SP accepts, and the browser ends on the page it asked for."""
    configure(idp, sp, encryption=encryption)

    with requests.Session() as browser:
        flow = sp_initiated_sign_in(idp, browser, sp.protected_url, sp.sso_url)
        request = flow.at_idp.authn_request
        assert request.get("AssertionConsumerServiceURL") == sp.acs_url
        assert request.findtext(f"{{{SAML_NS}}}Issuer") == sp.entity_id
        assert "Signature" not in flow.at_idp.query  # Shibboleth's default: unsigned requests
        assert flow.form.action == sp.acs_url
        assert encryption_of(flow.form.response) == encryption
        assert not has_sp_session(browser)

        page = browser.post(flow.form.action, data=flow.form.fields, timeout=30)

        assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{sp.logs()}"
        assert [hop.status_code for hop in page.history] == [302]
        assert page.url == sp.protected_url
        assert_the_agent(idp, sp, reported_by(page))


def test_sp_initiated_login_reuses_the_idp_session(idp, sp):
    """Signed in at the IdP once, the browser is answered at once when the SP asks again."""
    configure(idp, sp)
    with requests.Session() as browser:
        flow = sp_initiated_sign_in(idp, browser, sp.protected_url, sp.sso_url)
        browser.post(flow.form.action, data=flow.form.fields, timeout=30)
        assert has_sp_session(browser)
        browser.cookies.clear(domain="127.0.0.1", path="/", name=shib_session_cookie(browser))  # SP session ends

        again = follow_to_idp(browser, sp.protected_url, sp.sso_url)

        assert again.page.url.startswith(sp.sso_url + "?"), "answered at the SSO endpoint, without the login page"
        form = auto_post_form(again.page)
        assert form.response.get("InResponseTo") == again.authn_request.get("ID")
        page = browser.post(form.action, data=form.fields, timeout=30)
        assert page.url == sp.protected_url
        assert reported_by(page)["REMOTE_USER"] == idp.agent_email


def instant(value: str) -> datetime.datetime:
    """An xs:dateTime in UTC, to the second (SPs write IssueInstant without fractions)."""
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(microsecond=0)


def shibboleth_login(sp: ShibbolethSP, **settings: str) -> str:
    """The SP's own SAML 2 login handler, with per-request settings (forceAuthn, isPassive)."""
    return f"{sp.base_url}/Shibboleth.sso/Login?" + urlencode({"target": sp.protected_url, **settings})


def test_sp_initiated_force_authn_asks_for_the_password_again(idp, sp):
    """With an IdP session, ForceAuthn must still go through the login page; the answer, which says
    the agent authenticated after the request was made, is accepted."""
    configure(idp, sp, encryption=None)  # in the clear, to read the AuthnInstant
    with requests.Session() as browser:
        first = sp_initiated_sign_in(idp, browser, sp.protected_url, sp.sso_url)
        browser.post(first.form.action, data=first.form.fields, timeout=30)

        at_idp = follow_to_idp(browser, shibboleth_login(sp, forceAuthn="true"), sp.sso_url)

        assert at_idp.authn_request.get("ForceAuthn") in XS_TRUE
        page = at_idp.page
        assert is_login_page(idp, page), (
            "ForceAuthn with an IdP session should show the login page, not a dead end: "
            f"{[hop.url for hop in page.history]} -> {page.status_code} {page.url}: {page_text(page)}"
        )
        form = auto_post_form(sign_in_at_idp(idp, browser, page))
        assert form.response.get("InResponseTo") == at_idp.authn_request.get("ID")
        (authn_instant,) = form.response.xpath(
            "saml:Assertion/saml:AuthnStatement/@AuthnInstant", namespaces=NAMESPACES
        )
        assert instant(authn_instant) >= instant(at_idp.authn_request.get("IssueInstant"))
        answered = browser.post(form.action, data=form.fields, timeout=30)
        assert answered.url == sp.protected_url
        assert reported_by(answered)["REMOTE_USER"] == idp.agent_email


def test_sp_initiated_is_passive_without_an_idp_session_gets_no_passive(idp, sp):
    """IsPassive and nobody signed in at the IdP: no login page, but a signed NoPassive answer to the
    request. Shibboleth, as documented, reports it as an IdP error and makes no session."""
    configure(idp, sp)
    with requests.Session() as browser:
        at_idp = follow_to_idp(browser, shibboleth_login(sp, isPassive="true"), sp.sso_url)

        assert at_idp.authn_request.get("IsPassive") in XS_TRUE
        form = auto_post_form(at_idp.page)
        assert status_codes(form.response) == [STATUS_RESPONDER, STATUS_NO_PASSIVE]
        assert form.response.get("InResponseTo") == at_idp.authn_request.get("ID")
        assert signatures(form.response) == {"response"}
        log_before = len(sp.shibd_log())
        page = browser.post(form.action, data=form.fields, allow_redirects=False, timeout=30)

        assert page.status_code == 500 and "FatalProfileException" in page.text, page.text[:500]
        assert "SAML response reported an IdP error" in sp.shibd_log()[log_before:]
        assert not has_sp_session(browser)


def test_sp_initiated_is_passive_with_an_idp_session_is_answered_at_once(idp, sp):
    configure(idp, sp)
    with requests.Session() as browser:
        first = sp_initiated_sign_in(idp, browser, sp.protected_url, sp.sso_url)
        browser.post(first.form.action, data=first.form.fields, timeout=30)
        browser.cookies.clear(domain="127.0.0.1", path="/", name=shib_session_cookie(browser))

        at_idp = follow_to_idp(browser, shibboleth_login(sp, isPassive="true"), sp.sso_url)

        form = auto_post_form(at_idp.page)
        assert status_codes(form.response) == [STATUS_SUCCESS]
        page = browser.post(form.action, data=form.fields, timeout=30)
        assert page.url == sp.protected_url
        assert reported_by(page)["REMOTE_USER"] == idp.agent_email


# --- an SP that asks for MFA (RequestedAuthnContext) ------------------------------------------------


def requested_classes(authn_request) -> list[str]:
    return [
        ref.text
        for ref in authn_request.iterfind(f"{{{SAMLP_NS}}}RequestedAuthnContext/{{{SAML_NS}}}AuthnContextClassRef")
    ]


def test_sp_asking_for_mfa_gets_the_totp_step_then_an_mfa_assertion(idp, sp):
    """The SP's Login handler with authnContextClassRef: the agent signs in with the password, is asked
    for the TOTP code, and the SP's session says REFEDS MFA."""
    configure(idp, sp, encryption=None)  # in the clear, to read the AuthnContext
    agent = new_agent(idp, with_mfa=True)
    with requests.Session() as browser:
        at_idp = follow_to_idp(browser, shibboleth_login(sp, authnContextClassRef=REFEDS_MFA), sp.sso_url)
        assert requested_classes(at_idp.authn_request) == [REFEDS_MFA]

        step = sign_in_at_idp(idp, browser, at_idp.page, email=agent.email)
        assert is_totp_page(idp, step), f"{step.url}: {page_text(step)}"
        form = auto_post_form(enter_totp(idp, browser, step, agent.totp_secret))

        assert status_codes(form.response) == [STATUS_SUCCESS]
        assert form.response.findtext(AUTHN_CONTEXT_CLASS, namespaces=NAMESPACES) == REFEDS_MFA
        page = browser.post(form.action, data=form.fields, timeout=30)
        assert page.url == sp.protected_url, f"{page.status_code} {page.text[:500]}\n{sp.logs()}"
        reported = reported_by(page)
        assert reported["REMOTE_USER"] == agent.email
        assert reported["Shib_AuthnContext_Class"] == REFEDS_MFA


def test_sp_asking_for_mfa_for_a_user_without_it_gets_no_authn_context(idp, sp):
    """The agent has no MFA: the IdP says so on a page, whose button posts NoAuthnContext; Shibboleth
    reports the IdP's error and makes no session."""
    configure(idp, sp)
    agent = new_agent(idp, with_mfa=False)
    with requests.Session() as browser:
        at_idp = follow_to_idp(browser, shibboleth_login(sp, authnContextClassRef=REFEDS_MFA), sp.sso_url)
        form = notice_form(sign_in_at_idp(idp, browser, at_idp.page, email=agent.email))

        assert status_codes(form.response) == [STATUS_REQUESTER, STATUS_NO_AUTHN_CONTEXT]
        assert form.response.get("InResponseTo") == at_idp.authn_request.get("ID")
        assert signatures(form.response) == {"response"}
        log_before = len(sp.shibd_log())
        page = browser.post(form.action, data=form.fields, allow_redirects=False, timeout=30)

        assert page.status_code == 500 and "FatalProfileException" in page.text, page.text[:500]
        assert "SAML response reported an IdP error" in sp.shibd_log()[log_before:]
        assert not has_sp_session(browser)

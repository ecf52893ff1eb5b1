"""Shibboleth SP 3 (Apache 2.4 + mod_shib + shibd, from Debian) accepts what the IdP sends.

One SP runs for the module, from a private configuration in a temporary folder (templates in
`shibboleth/`), on a free loopback port. It is registered as an SSO application first, then given
that application's metadata, then started. The tests launch the app as the agent, post the form to
the SP's ACS as a browser would, and read what the SP hands its application from a CGI behind a
Shibboleth session.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.deployment import Deployment
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
    app: dict = field(default_factory=dict)  # the SSO application, once registered with the IdP

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/Shibboleth.sso/SAML2/POST"

    @property
    def protected_url(self) -> str:
        return f"{self.base_url}/secure/whoami"

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
    cgi_bin.mkdir()
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
    """A running Shibboleth SP, registered with the IdP as an SSO application (its JSON in `sp.app`)."""
    binaries = require_shibboleth()
    with readable_workdir() as workdir:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        shib = ShibbolethSP(base_url=base_url, entity_id=f"{base_url}/shibboleth", workdir=workdir)
        shib.app = idp.create_app(
            name="Shibboleth SP",
            acs_url=shib.acs_url,
            entity_id=shib.entity_id,
            start_url=shib.protected_url,
            mappings=MAPPINGS,
        )
        metadata = requests.get(f"{idp.base_url}/sso_applications/{shib.app['id']}/metadata", timeout=10)
        assert metadata.status_code == 200, metadata.text
        write_sp_config(
            workdir,
            port=port,
            sp_entity_id=shib.entity_id,
            idp_entity_id=shib.app["issuer"],
            metadata=metadata.content,
        )
        generate_sp_keys(binaries["shib-keygen"], workdir, shib.entity_id)
        let_www_data_read(workdir)
        with shibboleth_running(binaries, shib):
            yield shib


# --- what a browser does -----------------------------------------------------------------------


def configure(idp: Deployment, sp: ShibbolethSP, *, signed: str = "both", name_id_format: str = "emailAddress") -> None:
    """Every test sets the fields it depends on, so their order does not matter."""
    idp.update_app(sp.app["id"], signed=signed, name_id_format=name_id_format)


def post_to_acs(acs_url: str, fields: dict[str, str]) -> tuple[requests.Session, requests.Response]:
    """Post the launch form as the browser would, in a fresh browser session."""
    browser = requests.Session()
    response = browser.post(acs_url, data=fields, allow_redirects=False, timeout=30)
    return browser, response


def sign_in(idp: Deployment, sp: ShibbolethSP) -> requests.Session:
    """Launch the app as the agent and post the result to the SP: a browser with an SP session."""
    acs_url, fields = idp.launch(sp.app["id"])
    assert acs_url == sp.acs_url
    assert fields["RelayState"] == sp.protected_url
    browser, response = post_to_acs(acs_url, fields)
    assert response.status_code == 302, f"the SP refused the response ({response.status_code})\n{sp.logs()}"
    assert response.headers["Location"] == sp.protected_url
    assert has_sp_session(browser)
    return browser


def has_sp_session(browser: requests.Session) -> bool:
    return any(cookie.name.startswith("_shibsession_") for cookie in browser.cookies)


def what_the_sp_reports(sp: ShibbolethSP, browser: requests.Session) -> dict[str, str]:
    """The protected page's environment: REMOTE_USER, Shib_* and the attributes (CGI spells - as _)."""
    page = browser.get(sp.protected_url, allow_redirects=False, timeout=30)
    assert page.status_code == 200, f"no access to the protected page ({page.status_code})\n{sp.logs()}"
    return dict(line.partition("=")[::2] for line in page.text.splitlines() if "=" in line)


def tampered(saml_response: str, old: bytes, new: bytes) -> str:
    """The same SAMLResponse with a text changed wherever it occurs in the XML bytes, not signed again."""
    xml = base64.b64decode(saml_response)
    assert xml.count(old) >= 1, f"{old!r} is not in the response"
    return base64.b64encode(xml.replace(old, new)).decode()


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_sp_signs_the_agent_in_with_nameid_and_every_mapped_attribute(idp, sp, signed):
    configure(idp, sp, signed=signed)

    reported = what_the_sp_reports(sp, sign_in(idp, sp))

    assert reported["REMOTE_USER"] == idp.agent_email
    assert reported["email_nameid"] == idp.agent_email
    assert {name: reported.get(name) for name in EXPECTED_ATTRIBUTES} == EXPECTED_ATTRIBUTES
    assert reported["Shib_Identity_Provider"] == sp.app["issuer"]
    assert reported["Shib_AuthnContext_Class"] == PASSWORD_PROTECTED_TRANSPORT


@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_sp_refuses_a_response_altered_after_signing(idp, sp, signed):
    configure(idp, sp, signed=signed)
    _, fields = idp.launch(sp.app["id"])
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

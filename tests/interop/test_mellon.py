"""mod_auth_mellon (Apache 2.4, built on Lasso) as the service provider.

A private Apache on a free loopback port runs mod_auth_mellon with an SP key, certificate and
metadata of its own and the IdP metadata of one SSO application. The agent's launch form is posted
to mellon's ACS exactly as a browser would, and the protected CGI page shows what mellon believed.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import shutil
import tempfile
from collections.abc import Iterator
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
from tests.support import free_port, http_ok, running

HERE = Path(__file__).parent / "mellon"
APACHE = shutil.which("apache2", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
MELLON_MODULE = Path("/usr/lib/apache2/modules/mod_auth_mellon.so")
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"

AGENT_EMAIL = "agent@acme.example"
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
    app_id: str

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/mellon/postResponse"

    def log_size(self) -> int:
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.error_log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


def sp_key_and_certificate(common_name: str) -> tuple[bytes, bytes]:
    """A fresh RSA key and a self-signed certificate for the SP, as mellon_create_metadata makes them."""
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
    protected_url = f"{base_url}/secure/whoami"
    app = idp.create_app(
        name="Mellon",
        acs_url=f"{base_url}/mellon/postResponse",
        entity_id=entity_id,
        start_url=protected_url,
        mappings=MAPPINGS,
    )
    metadata = requests.get(f"{idp.base_url}/sso_applications/{app['id']}/metadata", timeout=10)
    assert metadata.status_code == 200, metadata.text
    assert etree.fromstring(metadata.content).get("entityID") == app["issuer"]

    with www_data_folder() as folder:
        (folder / "post").mkdir()
        (folder / "htdocs").mkdir()
        (folder / "cgi").mkdir()
        key_pem, cert_pem = sp_key_and_certificate("127.0.0.1")
        (folder / "sp.key").write_bytes(key_pem)
        (folder / "sp.crt").write_bytes(cert_pem)
        (folder / "idp-metadata.xml").write_bytes(metadata.content)
        certificate = "".join(line for line in cert_pem.decode().splitlines() if not line.startswith("-----"))
        render(
            "sp-metadata.xml",
            folder / "sp-metadata.xml",
            entity_id=entity_id,
            base_url=base_url,
            certificate=certificate,
        )
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
            yield Mellon(base_url, entity_id, protected_url, folder / "error.log", app["id"])


def page_env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def post_to_acs(mellon: Mellon, fields: dict[str, str]) -> requests.Response:
    """What the launch page's form does in a browser: POST to the ACS, then follow mellon's redirect."""
    with requests.Session() as browser:
        return browser.post(mellon.acs_url, data=fields, timeout=30)


@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_mellon_accepts_the_launch_and_sees_the_agent(idp: Deployment, mellon: Mellon, signed: str) -> None:
    assert idp.update_app(mellon.app_id, signed=signed)["signed"] == signed
    acs_url, fields = idp.launch(mellon.app_id)
    assert acs_url == mellon.acs_url and fields["RelayState"] == mellon.protected_url

    offset = mellon.log_size()
    page = post_to_acs(mellon, fields)

    assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{mellon.log_since(offset)}"
    assert [hop.status_code for hop in page.history] == [303]
    assert page.url == mellon.protected_url
    env = page_env(page.text)
    assert {name: env.get(name) for name in EXPECTED_ENV} == EXPECTED_ENV, page.text


def reencoded(saml_response: str, xpath: str | None = None, value: str = "") -> str:
    """The response parsed and serialized again, with one element's text changed if `xpath` is given."""
    root = etree.fromstring(base64.b64decode(saml_response))
    if xpath:
        (element,) = root.xpath(xpath, namespaces={"saml": SAML_NS})
        element.text = value
    return base64.b64encode(etree.tostring(root)).decode()


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
def test_mellon_refuses_a_response_changed_after_signing(
    idp: Deployment, mellon: Mellon, signed: str, xpath: str, forged: str
) -> None:
    idp.update_app(mellon.app_id, signed=signed)
    _, fields = idp.launch(mellon.app_id)

    offset = mellon.log_size()
    refused = post_to_acs(mellon, {**fields, "SAMLResponse": reencoded(fields["SAMLResponse"], xpath, forged)})
    log = mellon.log_since(offset)
    assert 400 <= refused.status_code < 500 and not refused.history, f"{refused.status_code} {refused.text[:500]}"
    assert "Lasso error: [-111] Failed to verify signature." in log, log
    assert forged not in refused.text

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    page = post_to_acs(mellon, {**fields, "SAMLResponse": reencoded(fields["SAMLResponse"])})
    assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{mellon.log_since(offset)}"
    assert page_env(page.text)["MELLON_NAME_ID"] == AGENT_EMAIL

"""SimpleSAMLphp 1.19 (Debian `simplesamlphp`) as the service provider.

PHP's built-in server runs SimpleSAMLphp on a free loopback port, with a private configuration
folder (`simplesamlphp/config.php`, `authsources.php`: one `saml:SP` named default-sp) that reads the
IdP from the SSO application's own metadata. The agent's launch form is posted to the SP's ACS as a
browser would, and `/whoami` (served by `simplesamlphp/router.php`) shows what the SP's session holds.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.deployment import Deployment
from tests.support import free_port, http_ok, running

HERE = Path(__file__).parent / "simplesamlphp"
SIMPLESAMLPHP = Path("/usr/share/simplesamlphp")
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"

AGENT_EMAIL = "agent@acme.example"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
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
    idp_entity_id: str
    log: Path
    app_id: str

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/module.php/saml/sp/saml2-acs.php/default-sp"

    @property
    def whoami_url(self) -> str:
        return f"{self.base_url}/whoami"

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


def write_config(folder: Path, sp: dict[str, str], idp_metadata: bytes) -> Path:
    """SimpleSAMLphp's private folders: config/ (SIMPLESAMLPHP_CONFIG_DIR) and its working folders."""
    for name in ("config", "tmp", "data", "log", "sessions", "metadata"):
        (folder / name).mkdir()
    for name in ("config.php", "authsources.php"):
        shutil.copy(HERE / name, folder / "config" / name)
    (folder / "config" / "sp.json").write_text(json.dumps(sp, indent=2))
    (folder / "idp-metadata.xml").write_bytes(idp_metadata)
    return folder / "config"


@pytest.fixture(scope="module")
def simplesamlphp(idp: Deployment, tmp_path_factory) -> Iterator[SimpleSamlPhp]:
    if package := missing_package():
        pytest.skip(f"{package} not installed (Debian package {package})")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    entity_id = f"{base_url}/module.php/saml/sp/metadata.php/default-sp"
    app = idp.create_app(
        name="SimpleSAMLphp",
        acs_url=f"{base_url}/module.php/saml/sp/saml2-acs.php/default-sp",
        entity_id=entity_id,
        start_url=f"{base_url}/whoami",
        mappings=MAPPINGS,
    )
    metadata = requests.get(f"{idp.base_url}/sso_applications/{app['id']}/metadata", timeout=10)
    assert metadata.status_code == 200, metadata.text
    idp_entity_id = etree.fromstring(metadata.content).get("entityID")
    assert idp_entity_id == app["issuer"]

    folder = tmp_path_factory.mktemp("simplesamlphp")
    sp = {
        "base_url": base_url,
        "entity_id": entity_id,
        "idp_entity_id": idp_entity_id,
        "folder": str(folder),
        "secret_salt": secrets.token_hex(16),
    }
    config_dir = write_config(folder, sp, metadata.content)
    command = ["php", "-S", f"127.0.0.1:{port}", "-t", str(SIMPLESAMLPHP / "www"), str(HERE / "router.php")]
    with running(
        command,
        env={"PATH": "/usr/bin:/bin", "SIMPLESAMLPHP_CONFIG_DIR": str(config_dir)},
        ready=http_ok(entity_id),  # the SP's own metadata: the configuration loads
        what="SimpleSAMLphp under php -S",
        log=folder / "php-server.log",
    ):
        yield SimpleSamlPhp(base_url, entity_id, idp_entity_id, folder / "log" / "simplesamlphp.log", app["id"])


def launch(idp: Deployment, sp: SimpleSamlPhp, signed: str) -> dict[str, str]:
    """The fields of the agent's launch form, its Response signed as `signed` says."""
    assert idp.update_app(sp.app_id, signed=signed)["signed"] == signed
    acs_url, fields = idp.launch(sp.app_id)
    assert acs_url == sp.acs_url and fields["RelayState"] == sp.whoami_url
    return fields


def post_to_acs(browser: requests.Session, sp: SimpleSamlPhp, fields: dict[str, str]) -> requests.Response:
    """What the launch page's form does in a browser: POST to the ACS, then follow the SP's redirect."""
    return browser.post(sp.acs_url, data=fields, timeout=30)


def with_changed_text(saml_response: str, xpath: str, value: str) -> str:
    """The same response with one element's text changed after signing (none if `xpath` is empty);
    lxml keeps everything else byte for byte."""
    root = etree.fromstring(base64.b64decode(saml_response))
    if xpath:
        (element,) = root.xpath(xpath, namespaces={"saml": SAML_NS})
        element.text = value
    return base64.b64encode(etree.tostring(root)).decode()


@pytest.mark.parametrize("signed", ["assertion", "both", "response"])
def test_simplesamlphp_accepts_the_launch_and_sees_the_agent(
    idp: Deployment, simplesamlphp: SimpleSamlPhp, signed: str
) -> None:
    fields = launch(idp, simplesamlphp, signed)
    offset = simplesamlphp.log_size()

    with requests.Session() as browser:
        page = post_to_acs(browser, simplesamlphp, fields)

    assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{simplesamlphp.log_since(offset)}"
    assert [hop.status_code for hop in page.history] == [303]
    assert page.url == simplesamlphp.whoami_url
    session = page.json()
    assert session["idp"] == simplesamlphp.idp_entity_id
    assert session["name_id"] == AGENT_EMAIL
    assert session["name_id_format"] == EMAIL_FORMAT
    assert session["attributes"] == EXPECTED_ATTRIBUTES


NAME_ID = "//saml:Assertion/saml:Subject/saml:NameID"
FIRST_NAME = "//saml:Attribute[@Name='firstName']/saml:AttributeValue"
# xmlseclibs checks an Assertion's signature while parsing it and throws; a Response whose own
# signature does not verify is treated as unsigned, so then the assertion has none to show.
BROKEN_SIGNATURE = "Caused by: Exception: Reference validation failed"
NO_VALID_SIGNATURE = "Caused by: SimpleSAML\\Error\\Exception: Neither the assertion nor the response was signed."


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
    fields = launch(idp, simplesamlphp, signed)
    forged_response = with_changed_text(fields["SAMLResponse"], xpath, forged)

    offset = simplesamlphp.log_size()
    with requests.Session() as browser:
        refused = post_to_acs(browser, simplesamlphp, {**fields, "SAMLResponse": forged_response})
        # SimpleSAMLphp 1.19's stock error page (the old UI) is answered with status 200.
        assert not refused.history, "no redirect to the RelayState"
        assert "An unhandled exception was thrown" in refused.text, refused.text[:500]
        assert forged not in refused.text
        assert cause in simplesamlphp.log_since(offset)
        assert browser.get(simplesamlphp.whoami_url, timeout=10).status_code == 401, "no session"

    # The very same response, parsed and serialized the same way but unchanged, is accepted.
    unchanged = with_changed_text(fields["SAMLResponse"], "", "")
    with requests.Session() as browser:
        page = post_to_acs(browser, simplesamlphp, {**fields, "SAMLResponse": unchanged})
    assert page.status_code == 200, f"{page.status_code} {page.text[:500]}\n{simplesamlphp.log_since(offset)}"
    assert page.url == simplesamlphp.whoami_url
    assert page.json()["name_id"] == AGENT_EMAIL

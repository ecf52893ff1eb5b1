"""Every entry of the corpus of hostile inputs (corpus/manifest.toml) sent to the endpoint it targets:
each is refused cleanly with a 4xx (the baselines are accepted), and none reads or fetches anything.

Nothing is read: the secret file the entities point at is watched with inotify and never opened, and
neither its contents, /etc/passwd's nor the listener's DTD appear in any response. Nothing is
fetched: a loopback HTTP listener, started on a free port for this module, records no connection.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import socket
import subprocess
import sys
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from idp.config import Settings
from idp.keyring import make_signing_pair
from idp.store import open_store
from idp.web import create_app
from tests.api.helpers import NS, Apps, Org, parse_page, saml_app, saml_response
from tests.conftest import BASE_URL, Api
from tests.hostile.corpus.build import BUILT, FOLDER, Context
from tests.hostile.saml_inputs import BINDING_HTTP_REDIRECT, der_base64, post_value, redirect_value
from tests.support import Factory

MANIFEST = tomllib.loads((FOLDER / "manifest.toml").read_text())["entry"]
NOT_ENTRIES = {"README.md", "manifest.toml", "build.py", "__init__.py"}
SIGNING_SP = "https://signed.example.com/saml/metadata"
LISTENER_DTD = "FETCHED-FROM-THE-LISTENER"
ALERT = '<script>alert("hostile-corpus")'


def entry_id(entry: dict[str, str]) -> str:
    return f"{entry.get('file') or entry['build']}->{entry['target']}"


def test_the_manifest_lists_every_entry_once_and_each_has_a_note() -> None:
    files = {path.name for path in FOLDER.iterdir() if path.is_file()} - NOT_ENTRIES
    listed_files = {entry["file"] for entry in MANIFEST if "file" in entry}
    built = [entry["build"] for entry in MANIFEST if "build" in entry]
    assert files == listed_files
    assert sorted(built) == sorted(BUILT), "each builder is one entry"
    assert all(entry.get("note") and entry.get("target") for entry in MANIFEST)
    assert len({entry_id(entry) for entry in MANIFEST}) == len(MANIFEST)


# ---------------------------------------------------------------------------------------------
# What watches for a read or a fetch
# ---------------------------------------------------------------------------------------------


class OpenWatch:
    """inotify (Linux) on one file: whether anything opened or read it since the last look."""

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_ACCESS | self.IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), f"cannot watch {path} with inotify")

    def touched(self) -> bool:
        try:
            return bool(os.read(self.fd, 65536))
        except BlockingIOError:
            return False


@dataclass
class Listener:
    address: str  # 127.0.0.1:PORT
    log: Path

    def records(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    """listener.py serving a socket bound here first, on a free loopback port: ready before it starts."""
    log = tmp_path_factory.mktemp("listener") / "requests.log"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    script = Path(__file__).with_name("listener.py")
    process = subprocess.Popen([sys.executable, str(script), str(sock.fileno()), str(log)], pass_fds=[sock.fileno()])
    sock.close()
    try:
        yield Listener(address, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, OpenWatch]]:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    marker = "hostile-corpus-secret-" + secrets.token_hex(8)
    path.write_text(marker + "\n")
    watch = OpenWatch(path)
    yield path, marker, watch
    os.close(watch.fd)


def test_the_watches_see_a_read_and_a_fetch(listener, secret) -> None:
    """Without this, a silent listener or watch would prove nothing."""
    path, marker, watch = secret
    assert not watch.touched()
    assert path.read_text().startswith(marker)
    assert watch.touched() and not watch.touched()
    before = len(listener.records())
    with urllib.request.urlopen(f"http://{listener.address}/control", timeout=10) as response:
        assert LISTENER_DTD in response.read().decode()
    assert len(listener.records()) == before + 2  # the connection, then the request


# ---------------------------------------------------------------------------------------------
# The service the corpus is sent to
# ---------------------------------------------------------------------------------------------


@dataclass
class Service:
    client: Any
    apps: Apps
    org: Org
    context: Context


@pytest.fixture(scope="module")
def service(tmp_path_factory, keys_dir, listener, secret) -> Iterator[Service]:
    """One service for the whole corpus, with the plain SP (it has an SLO endpoint) and the SP that
    must sign registered, as in the property tests."""
    folder = tmp_path_factory.mktemp("corpus-service")
    settings = Settings.from_env(
        {"IDP_KEYS_DIR": str(keys_dir), "IDP_DATABASE": str(folder / "idp.sqlite3"), "IDP_BASE_URL": BASE_URL}
    )
    store = open_store(settings)
    client = create_app(settings, store=store).test_client()
    make = Factory(store)
    brand = make.brand("Corpus Realty")
    org = Org(brand, make.user(brand=brand, role="Admin"), make.user(brand=brand, role="Agent"))
    apps = Apps(client, Api(client, make))
    keys = make_signing_pair(2048, "corpus sp")
    plain = apps.created(
        org.admin, brand, saml_app(slo_url="https://sp.example.com/saml/sls", slo_binding=BINDING_HTTP_REDIRECT)
    )
    apps.created(
        org.admin,
        brand,
        saml_app(
            entity_id=SIGNING_SP,
            acs_url="https://signed.example.com/saml/acs",
            sp_certificates=[der_base64(keys[1])],
            require_signed_requests=True,
        ),
    )
    path, _, _ = secret
    context = Context(
        issuer=plain["entity_id"],
        signing_issuer=SIGNING_SP,
        keys=keys,
        secret_uri=path.as_uri(),
        listener_address=listener.address,
    )
    yield Service(client, apps, org, context)
    store.close()


def raw_query(client, path: str, query: bytes):
    return client.get(path, environ_overrides={"QUERY_STRING": query.decode("latin-1")})


def deliver(service: Service, target: str, body: bytes):
    client, apps, org = service.client, service.apps, service.org
    admin = apps.headers(org.admin)
    form = "application/x-www-form-urlencoded"
    match target:
        case "sso-post" | "slo-post":
            path = "/saml/sso" if target == "sso-post" else "/saml/slo"
            return client.post(path, data={"SAMLRequest": post_value(body)})
        case "sso-redirect" | "slo-redirect":
            path = "/saml/sso" if target == "sso-redirect" else "/saml/slo"
            return raw_query(client, path, b"SAMLRequest=" + redirect_value(body).encode())
        case "sso-query":
            return raw_query(client, "/saml/sso", body)
        case "sso-form":
            return client.post("/saml/sso", data=body, content_type=form)
        case "metadata-xml":
            return client.post(
                apps.path(org.brand, "import"), data=body, content_type="application/samlmetadata+xml", headers=admin
            )
        case "metadata-json":
            return client.post(
                apps.path(org.brand, "import"), data=body, content_type="application/json", headers=admin
            )
        case "api-json":
            return client.post(apps.path(org.brand), data=body, content_type="application/json", headers=admin)
        case "token-json":
            return client.post("/oauth2/token", data=body, content_type="application/json")
        case "launch-query":
            return raw_query(client, "/sso_applications/open", body)
    raise AssertionError(f"unknown target {target}")


def passwd_line() -> str | None:
    passwd = Path("/etc/passwd")
    return passwd.read_text().splitlines()[0] if passwd.exists() else None


@pytest.mark.parametrize("entry", MANIFEST, ids=entry_id)
def test_each_entry_gets_the_answer_expected_and_reads_or_fetches_nothing(service, listener, secret, entry) -> None:
    _, marker, watch = secret
    context = service.context
    body = context.file(entry["file"]) if "file" in entry else BUILT[entry["build"]](context)
    watch.touched()  # forget what an earlier failing entry may have left
    fetched_before = len(listener.records())

    response = deliver(service, entry["target"], body)

    status, text = response.status_code, response.get_data(as_text=True)
    if entry.get("expect") == "accepted":
        assert status in (200, 302, 303), f"{status}: {text[:300]}"
    elif entry["target"].startswith(("sso-", "slo-")):
        # Bindings 3.4.6/3.5.6: a SAML failure is an IdP page answering 200, never an HTTP error status.
        assert status == 200 or 400 <= status < 500, f"{status}: {text[:300]}"
        # A refusal page, or (for a request from a registered SP) a status Response without an assertion.
        for form in parse_page(text).forms:
            answer = saml_response(form.hidden["SAMLResponse"])
            assert answer.find("saml:Assertion", NS) is None and answer.find("saml:EncryptedAssertion", NS) is None
            assert len(form.hidden.get("RelayState", "")) <= 1024, "an overlong RelayState was echoed"
    else:
        assert 400 <= status < 500, f"{status}: {text[:300]}"
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    for leaked in (marker, passwd_line(), LISTENER_DTD, ALERT):
        assert not leaked or (leaked not in text and leaked not in headers), f"{leaked!r} in the response"
    assert "injected" not in headers.lower() and "attacker.example" not in response.headers.get("Location", "")
    assert not watch.touched(), "the secret file was opened"
    assert listener.records()[fetched_before:] == [], "the loopback listener was reached"

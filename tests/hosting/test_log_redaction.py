"""The Procfile's gunicorn writes no launch link, SAML message, RelayState or code into its log,
and still writes what was asked and how it was answered."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
import requests

from tests.deployment import Deployment, deploy
from tests.e2e.sp_helpers import authn_request_xml, redirect_query
from tests.support import wait_until

SP_ENTITY_ID = "https://sp.example.com/shibboleth"
ACS_URL = "http://127.0.0.1:9/Shibboleth.sso/SAML2/POST"  # never contacted: the test reads the answer only
RELAY_STATE = "https://sp.example.com/deals/relay-state-secret-4711"
REFERER_CODE = "referer-code-secret-0815"
TIMEOUT = 10


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    # gunicorn's own access log too, beside the service's JSON request lines: neither may hold a secret.
    with deploy(tmp_path_factory.mktemp("log-redaction"), None, {"IDP_ACCESS_LOG": "true"}) as running:
        yield running


@pytest.fixture(scope="module")
def app_id(deployment: Deployment) -> str:
    return deployment.create_app(name="Deals", acs_url=ACS_URL, entity_id=SP_ENTITY_ID)["id"]


def log_once_it_holds(deployment: Deployment, *fragments: str) -> str:
    """The log, once every fragment is in it (lines are written as answers go out, not before)."""
    wait_until(lambda: all(part in deployment.log.read_text() for part in fragments), timeout=10, what="log lines")
    return deployment.log.read_text()


def test_a_launch_links_hash_and_a_referers_code_are_not_logged(deployment: Deployment, app_id: str):
    link = deployment.open_url(app_id)
    hash_value = parse_qs(urlsplit(link).query)["hash"][0]
    referer = f"{deployment.base_url}/?code={REFERER_CODE}&tab=apps"

    answer = requests.get(link, headers={"Referer": referer}, timeout=TIMEOUT, allow_redirects=False)
    assert answer.status_code == 200

    log = log_once_it_holds(deployment, '"GET /sso_applications/open?hash=[redacted] HTTP/1.1" 200')
    assert hash_value not in log
    assert hash_value.split(".")[-1][:24] not in log  # not even the sealed part on its own
    assert REFERER_CODE not in log
    assert f"{deployment.base_url}/?code=[redacted]&tab=apps" in log


def test_an_authn_requests_message_and_relay_state_are_not_logged(deployment: Deployment, app_id: str):
    query = redirect_query(
        authn_request_xml(issuer=SP_ENTITY_ID, destination=f"{deployment.base_url}/saml/sso"), relay_state=RELAY_STATE
    )
    saml_request = parse_qs(query)["SAMLRequest"][0]  # the base64 message; the query holds it URL-encoded

    answer = requests.get(f"{deployment.base_url}/saml/sso?{query}", timeout=TIMEOUT, allow_redirects=False)
    assert answer.status_code == 303  # no IdP session yet: on to the login page, the request kept under a key
    login_page = urljoin(answer.url, answer.headers["Location"])
    login_query = parse_qs(urlsplit(login_page).query)
    pending_key, brand = login_query["request"][0], login_query["brand"][0]  # the brand is no secret
    assert requests.get(login_page, timeout=TIMEOUT).status_code == 200

    log = log_once_it_holds(
        deployment,
        '"GET /saml/sso?SAMLRequest=[redacted]&RelayState=[redacted] HTTP/1.1" 303',
        f'"GET /login?request=[redacted]&brand={brand} HTTP/1.1" 200',
    )
    for secret in (saml_request[:40], quote(saml_request, safe="")[:40], pending_key):
        assert secret not in log
    assert RELAY_STATE not in log and "relay-state-secret" not in log


def test_a_malformed_request_quoting_a_link_is_not_logged_either(deployment: Deployment, app_id: str):
    """gunicorn's error log tells of a request line it cannot parse (here, one without an HTTP version):
    its Python parser quotes the line, redacted; its C parser (gunicorn[fast]) quotes nothing of it."""
    hash_value = parse_qs(urlsplit(deployment.open_url(app_id)).query)["hash"][0]
    address = urlsplit(deployment.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET /sso_applications/open?hash={hash_value}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")

    log = log_once_it_holds(deployment, "Invalid HTTP request line: ")
    assert hash_value not in log
    quoted = [line for line in log.splitlines() if "Invalid HTTP request line: 'GET " in line]
    assert all("/sso_applications/open?hash=[redacted]'" in line for line in quoted)

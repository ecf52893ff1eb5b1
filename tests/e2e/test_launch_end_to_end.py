"""The whole path over HTTP against the Procfile's gunicorn: provision with the CLI, sign in with a
standard OAuth2 client, create an app, list it as an agent, open the link, and let python3-saml
(strict) and xmlsec1 judge the SAMLResponse."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import lxml.html
import pytest
import requests
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from tests.deployment import Deployment, deploy, json_token
from tests.independent import decode, python3_saml_accepts, xmlsec1_verifies
from tests.support import PASSWORD, free_port, redis_server, venv_bin

ROOT = Path(__file__).resolve().parents[2]
SP_ENTITY_ID = "https://sp.example.com/shibboleth"
ACS_URL = "http://127.0.0.1:9/Shibboleth.sso/SAML2/POST"  # never contacted: the test reads the form
START_URL = "http://127.0.0.1:9/secure/"
MAPPINGS = {
    "urn:oid:2.5.4.42": "first_name",
    "urn:oid:2.5.4.4": "last_name",
    "displayName": "display_name",
    "brand": "brand_name",
    "role": "role",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def deployment(request, tmp_path_factory):
    """A running service, on the embedded store or on a real redis-server."""
    workdir = tmp_path_factory.mktemp("deployment")
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(workdir)) if request.param == "redis" else None
        yield stack.enter_context(deploy(workdir, redis_url))


def oauth_session(deployment: Deployment, email: str, monkeypatch) -> OAuth2Session:
    """A standard OAuth2 client library, unchanged: it sends the client credentials by HTTP Basic."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain http, on loopback only
    session = OAuth2Session(client=LegacyApplicationClient(client_id=deployment.client_id))
    token = session.fetch_token(
        token_url=f"{deployment.base_url}/oauth2/token",
        username=email,
        password=PASSWORD,
        client_id=deployment.client_id,
        client_secret=deployment.client_secret,
    )
    assert token["token_type"] == "Bearer" and token["code"] == "OK"
    assert token["data"]["email"] == email
    return session


@pytest.fixture(scope="module")
def app_id(deployment):
    """The app, created by the brokerage admin and allowed for the brokerage (so for its offices too)."""
    token = json_token(deployment, deployment.admin_email)
    response = requests.post(
        f"{deployment.base_url}/brands/{deployment.brokerage}/sso_applications",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": "Listings portal",
            "authentication_type": "SAML",
            "acs_url": ACS_URL,
            "entity_id": SP_ENTITY_ID,
            "start_url": START_URL,
            "mappings": MAPPINGS,
            "brands": [deployment.brokerage],
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def launch_form(deployment: Deployment, open_url: str) -> dict[str, str]:
    page = requests.get(open_url, timeout=10, allow_redirects=False)
    assert page.status_code == 200, page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in page.headers
    form = lxml.html.fromstring(page.text).forms[0]
    assert form.method == "POST" and form.action == ACS_URL
    assert form.xpath(".//button[@type='submit']"), "a visible button for browsers without JavaScript"
    return dict(form.fields)


@pytest.mark.parametrize("signed", ["assertion", "response", "both"])
def test_an_agent_launches_the_app_and_a_strict_sp_accepts_the_response(deployment, app_id, signed, monkeypatch):
    admin = oauth_session(deployment, deployment.admin_email, monkeypatch)
    changed = admin.put(
        f"{deployment.base_url}/brands/{deployment.brokerage}/sso_applications/{app_id}", json={"signed": signed}
    )
    assert changed.status_code == 200 and changed.json()["data"]["signed"] == signed
    issuer = changed.json()["data"]["issuer"]

    agent = oauth_session(deployment, deployment.agent_email, monkeypatch)
    listed = agent.get(f"{deployment.base_url}/brands/{deployment.office}/sso_applications").json()
    assert listed["info"] == {"count": 1, "total": 1}
    (app,) = listed["data"]
    assert app["id"] == app_id and app["open_url"].startswith(f"{deployment.base_url}/sso_applications/open?hash=")

    fields = launch_form(deployment, app["open_url"])
    assert fields["RelayState"] == START_URL

    metadata = requests.get(f"{deployment.base_url}/sso_applications/{app_id}/metadata", timeout=10)
    assert metadata.headers["Content-Type"] == "application/samlmetadata+xml"
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    idp = OneLogin_Saml2_IdPMetadataParser.parse(metadata.content)["idp"]
    assert idp["entityId"] == issuer
    login = python3_saml_accepts(
        fields["SAMLResponse"],
        idp_entity_id=issuer,
        idp_certificate_b64=idp["x509cert"],
        sp_entity_id=SP_ENTITY_ID,
        acs_url=ACS_URL,
        want_assertions_signed=signed in ("assertion", "both"),
        want_messages_signed=signed in ("response", "both"),
    )
    assert login.name_id == deployment.agent_email
    assert login.name_id_format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert login.attributes == {
        "urn:oid:2.5.4.42": ["Avery"],
        "urn:oid:2.5.4.4": ["Agent"],
        "displayName": ["Avery Agent"],
        "brand": ["Acme Downtown"],
        "role": ["Agent"],
    }

    certificate = (Path(deployment.env["IDP_KEYS_DIR"]) / "signing.crt").read_bytes()
    xml = decode(fields["SAMLResponse"])
    assert xmlsec1_verifies(xml, certificate, "Assertion") is (signed != "response")
    assert xmlsec1_verifies(xml, certificate, "Response") is (signed != "assertion")

    reused = requests.get(app["open_url"], timeout=10)
    assert reused.status_code == 400 and "invalid or has expired" in reused.text


def test_an_agent_may_not_change_the_app(deployment, app_id):
    token = json_token(deployment, deployment.agent_email)
    response = requests.put(
        f"{deployment.base_url}/brands/{deployment.brokerage}/sso_applications/{app_id}",
        headers={"Authorization": f"Bearer {token}"},
        json={"acs_url": "https://evil.example.com/acs"},
        timeout=10,
    )
    assert response.status_code == 403 and response.json()["code"] == "Forbidden"


def test_the_service_refuses_to_start_without_keys_and_names_the_command(deployment, tmp_path):
    env = {**deployment.env, "IDP_KEYS_DIR": str(tmp_path / "none"), "PORT": str(free_port())}
    result = subprocess.run(
        [venv_bin("python"), "-c", "import idp.wsgi"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "idp keys generate" in result.stderr and "Traceback" not in result.stderr

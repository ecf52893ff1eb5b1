"""GET /sso_applications/open?hash=...: what a person's browser gets from an open_url of the API."""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from idp.saml.links import seal_link
from tests.api.helpers import NS, Org, link_app, page_text, parse_page, saml_app, saml_response
from tests.conftest import BASE_URL

LINK_FAILURE_TEXT = "invalid or has expired"


@pytest.fixture
def keyring(app):
    return app.extensions["idp"].keyring


def open_url_of(apps, org: Org, body: dict) -> tuple[dict, str]:
    """Create an application for the org's brand, and the open_url its agent gets from the list."""
    created = apps.created(org.admin, org.brand, body)
    (listed,) = [item for item in apps.listed(org.agent, org.brand) if item["id"] == created["id"]]
    return created, listed["open_url"]


def hash_of(open_url: str) -> str:
    return parse_qs(urlsplit(open_url).query)["hash"][0]


def open_with_hash(client, link_hash: str):
    return client.get(f"/sso_applications/open?hash={quote(link_hash, safe='')}")


def assert_link_failure_page(response) -> str:
    """The one page every bad link gets: an HTML 4xx that says no more than "invalid or has expired"."""
    assert 400 <= response.status_code < 500
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    text = page_text(response.text)
    assert LINK_FAILURE_TEXT in text
    # Which check failed is of use only to an attacker.
    assert not any(word in text.lower() for word in ("already", "used", "decrypt", "key", "tamper", "hash"))
    assert "Traceback" not in response.text and 'File "' not in response.text
    assert "SAMLResponse" not in response.text
    return text


# a SAML application


def test_a_saml_launch_answers_a_form_that_posts_to_the_acs(apps, client, org: Org):
    body = saml_app()
    _, open_url = open_url_of(apps, org, body)
    response = client.get(open_url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    (form,) = parse_page(response.text).forms
    assert form.method == "post"
    assert form.action == body["acs_url"]
    assert set(form.hidden) == {"SAMLResponse", "RelayState"}
    assert form.hidden["RelayState"] == body["start_url"]
    assert form.buttons, "a person without script needs a button to press"
    assert not any("hidden" in button for button in form.buttons)


def test_a_saml_launch_page_is_neither_cached_nor_referred_and_has_a_csp(apps, client, org: Org):
    _, open_url = open_url_of(apps, org, saml_app())
    response = client.get(open_url)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_the_saml_response_is_addressed_to_the_acs_and_the_sp(apps, client, org: Org):
    body = saml_app()
    created, open_url = open_url_of(apps, org, body)
    (form,) = parse_page(client.get(open_url).text).forms
    response = saml_response(form.hidden["SAMLResponse"])
    assert response.tag == f"{{{NS['samlp']}}}Response"
    assert response.get("Destination") == body["acs_url"]
    assert response.findtext("saml:Issuer", namespaces=NS) == created["issuer"]
    assert response.xpath("saml:Assertion//saml:Audience/text()", namespaces=NS) == [body["entity_id"]]
    confirmation = response.find(".//saml:SubjectConfirmationData", NS)
    assert confirmation.get("Recipient") == body["acs_url"]
    assert response.findtext(".//saml:NameID", namespaces=NS) == org.agent.email


def test_destination_and_audience_overrides_are_used(apps, client, org: Org):
    body = saml_app(destination="https://gateway.example.com/saml/acs", audience="urn:example:audience")
    _, open_url = open_url_of(apps, org, body)
    (form,) = parse_page(client.get(open_url).text).forms
    response = saml_response(form.hidden["SAMLResponse"])
    assert form.action == body["acs_url"]
    assert response.get("Destination") == body["destination"]
    assert response.xpath("saml:Assertion//saml:Audience/text()", namespaces=NS) == [body["audience"]]


def test_an_app_without_a_start_url_posts_no_relay_state(apps, client, org: Org):
    body = saml_app()
    del body["start_url"]
    _, open_url = open_url_of(apps, org, body)
    (form,) = parse_page(client.get(open_url).text).forms
    assert set(form.hidden) == {"SAMLResponse"}


# an application without SAML


def test_an_app_without_saml_redirects_to_its_url(apps, client, org: Org):
    body = link_app()
    _, open_url = open_url_of(apps, org, body)
    response = client.get(open_url)
    assert response.status_code == 302
    assert response.headers["Location"] == body["url"]
    assert response.headers["Cache-Control"] == "no-store"


# links that must not work


def test_a_link_works_once_only(apps, client, org: Org):
    _, open_url = open_url_of(apps, org, saml_app())
    assert client.get(open_url).status_code == 200
    assert_link_failure_page(client.get(open_url))


def test_a_tampered_link_gets_the_link_failure_page(apps, client, org: Org):
    _, open_url = open_url_of(apps, org, saml_app())
    link_hash = hash_of(open_url)
    middle = len(link_hash) // 2
    flipped = "A" if link_hash[middle] != "A" else "B"
    assert_link_failure_page(open_with_hash(client, link_hash[:middle] + flipped + link_hash[middle + 1 :]))


def test_an_expired_link_gets_the_link_failure_page(apps, client, org: Org, keyring):
    created, _ = open_url_of(apps, org, saml_app())
    link_hash = seal_link(
        keyring.link_keys,
        keyring.current_link_key_id,
        user_id=org.agent.id,
        app_id=created["id"],
        brand_id=org.brand.id,
        expires_at=int(time.time()) - 60,
    )
    assert_link_failure_page(open_with_hash(client, link_hash))


def test_a_link_sealed_with_an_unknown_key_gets_the_link_failure_page(apps, client, org: Org, keyring):
    created, _ = open_url_of(apps, org, saml_app())
    unknown_key_id = "unknown-key"
    assert unknown_key_id not in keyring.link_keys
    link_hash = seal_link(
        {unknown_key_id: secrets.token_bytes(32)},
        unknown_key_id,
        user_id=org.agent.id,
        app_id=created["id"],
        brand_id=org.brand.id,
        expires_at=int(time.time()) + 600,
    )
    assert_link_failure_page(open_with_hash(client, link_hash))


@pytest.mark.parametrize("path", ["/sso_applications/open", "/sso_applications/open?hash="])
def test_a_missing_hash_gets_the_link_failure_page(client, path):
    assert_link_failure_page(client.get(path))


def test_every_bad_link_gets_the_very_same_page(apps, client, org: Org, keyring):
    created, open_url = open_url_of(apps, org, saml_app())
    link_hash = hash_of(open_url)
    client.get(open_url)
    expired = seal_link(
        keyring.link_keys,
        keyring.current_link_key_id,
        user_id=org.agent.id,
        app_id=created["id"],
        brand_id=org.brand.id,
        expires_at=int(time.time()) - 60,
    )
    pages = {
        "reused": client.get(open_url),
        "tampered": open_with_hash(client, link_hash[:-10] + ("A" if link_hash[-10] != "A" else "B") + link_hash[-9:]),
        "expired": open_with_hash(client, expired),
        "unknown key": open_with_hash(client, "nokey." + link_hash.split(".", 1)[1]),
        "missing": client.get("/sso_applications/open"),
    }
    seen = {(response.status_code, assert_link_failure_page(response)) for response in pages.values()}
    assert len(seen) == 1, seen


# access that went away after the link was made


def test_a_user_whose_brand_is_no_longer_allowed_gets_a_403_page(apps, client, make, org: Org):
    created, open_url = open_url_of(apps, org, saml_app())
    elsewhere = make.brand("Another office", parent=org.brand, brand_type="Office")
    moved = apps.set_brands(org.admin, org.brand, created["id"], [elsewhere.id])
    assert moved.status_code == 200, moved.json
    response = client.get(open_url)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "SAMLResponse" not in response.text
    assert "Traceback" not in response.text


def test_an_open_url_is_issued_for_the_configured_base_url(apps, org: Org):
    _, open_url = open_url_of(apps, org, saml_app())
    assert open_url.startswith(BASE_URL + "/sso_applications/open?hash=")
    assert hash_of(open_url)

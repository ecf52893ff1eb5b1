"""A value already in the store never breaks a page or a message, whatever it holds.

Values are written straight into the store, as they might have been before the text rules
(or by hand): a NUL, controls and a lone surrogate in an app's name, URLs and issuer.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import pytest
from lxml import etree

from idp.presenters import user_json
from tests.api.helpers import parse_page, saml_app, saml_response
from tests.hostile.front import sign_in

BROKEN = "Bad \ud800 \x00 \x1b name"


@pytest.fixture
def broken_app(app, apps, org, store):
    """An app whose stored text could never pass the API today."""
    created = apps.created(org.admin, org.brand, saml_app(mappings={"name": "display_name"}))
    stored = store.app(created["id"])
    store.save_app(
        dataclasses.replace(
            stored,
            name=BROKEN,
            issuer="https://idp.example.com/\ud800\x00",
            entity_id=stored.entity_id,
            start_url="https://sp.example.com/\x00\ud800",
            extra={"note": "\ud800"},
        )
    )
    bad_user = dataclasses.replace(org.agent, first_name="Eve\ud800", last_name="\x00Agent")
    store.save_user(bad_user)
    return created["id"]


def test_the_launcher_renders_with_a_broken_app_name(client, org, broken_app) -> None:
    assert sign_in(client, org.agent).status_code == 303
    page = client.get("/")
    assert page.status_code == 200
    assert "Bad" in page.get_data(as_text=True)


def test_a_launch_of_a_broken_app_posts_a_well_formed_response(client, apps, org, broken_app) -> None:
    [listed] = [app for app in apps.listed(org.agent, org.brand) if app["id"] == broken_app]
    response = client.get(listed["open_url"].removeprefix("http://127.0.0.1:5000"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    form = parse_page(response.get_data(as_text=True)).forms[0]
    root = saml_response(form.hidden["SAMLResponse"])
    assert root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text.startswith("https://idp.example.com/")


def test_the_metadata_of_a_broken_app_is_well_formed(client, broken_app) -> None:
    response = client.get(f"/sso_applications/{broken_app}/metadata")
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    assert root.get("entityID").startswith("https://idp.example.com/")


def test_the_api_lists_a_broken_app(apps, org, broken_app) -> None:
    assert broken_app in {app["id"] for app in apps.listed(org.admin, org.brand)}


def test_a_broken_user_still_reads_as_json(org, broken_app, store) -> None:
    shown = user_json(store.user(org.agent.id))
    assert shown["first_name"].startswith("Eve")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        " //evil.example",
        "/ /evil.example",
        "https://evil.example/",
        "/%0d%0aSet-Cookie:x=1",
        "/\r\nSet-Cookie: x=1",
        "javascript:alert(1)",
        "/\x00",
        "/caf\u00e9",
        "\u3002evil.example",
    ],
)
def test_the_resume_target_after_sign_in_stays_on_this_site(client, org, target) -> None:
    response = sign_in(client, org.agent, target)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location in ("/", target)
    # What a browser would follow: printable ASCII, no spaces or backslashes, a rooted path, no host.
    assert location.isascii() and location.isprintable() and " " not in location and "\\" not in location
    assert location.startswith("/") and not location.startswith("//") and urlsplit(location).netloc == ""


def test_a_same_site_resume_target_is_kept(client, org) -> None:
    assert sign_in(client, org.agent, "/some/page?x=1").headers["Location"] == "/some/page?x=1"

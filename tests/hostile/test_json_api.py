"""Hostile bodies on every JSON endpoint: no input answers 5xx, every refusal names what is wrong.

Hypothesis draws JSON bodies built from each endpoint's own field names and from values of every
JSON type, with text that carries NUL, other controls, lone surrogates and non-NFC forms.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.applications.fields import EDITABLE
from tests.api.helpers import saml_app

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "\x1b[31m", "\u202e", "e\u0301", "\r\nSet-Cookie: x=1"]),
    st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=20),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(HOSTILE_TEXT, children, max_size=4),
    max_leaves=12,
)

APP_FIELDS = [*EDITABLE, "id"]


def bodies(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(fields) | HOSTILE_TEXT, JSON_VALUES, max_size=6)


def assert_clean_refusal(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400 and response.is_json:
        body = response.json
        assert body.get("message") or body.get("error") or body.get("errorType"), body


@pytest.fixture
def admin(make, api):
    brand = make.brand("Acme")
    user = make.user(brand=brand, role="Admin")
    return brand, user, api.headers(user)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(body=bodies(APP_FIELDS))
def test_creating_an_app_never_fails_on_its_body(client, admin, body) -> None:
    brand, _, headers = admin
    assert_clean_refusal(client.post(f"/brands/{brand.id}/sso_applications", json=body, headers=headers))


@SETTINGS
@given(body=bodies(APP_FIELDS))
def test_changing_an_app_never_fails_on_its_body(client, admin, body) -> None:
    brand, _, headers = admin
    created = client.post(f"/brands/{brand.id}/sso_applications", json=saml_app(), headers=headers).json["data"]
    path = f"/brands/{brand.id}/sso_applications"
    assert_clean_refusal(client.put(f"{path}/{created['id']}", json=body, headers=headers))
    assert_clean_refusal(client.put(path, json={**body, "id": created["id"]}, headers=headers))
    assert_clean_refusal(client.put(f"{path}/{created['id']}/brands", json=body, headers=headers))
    assert_clean_refusal(client.post(f"{path}/import", json=body, headers=headers))
    # Whatever was refused or stored, the app still lists and opens.
    listed = client.get(path, headers=headers)
    assert listed.status_code == 200


@SETTINGS
@given(body=bodies(["grant_type", "username", "password", "client_id", "client_secret", "refresh_token"]))
def test_the_token_endpoint_never_fails_on_its_body(client, body) -> None:
    assert_clean_refusal(client.post("/oauth2/token", json=body))
    # A form travels as bytes: what UTF-8 cannot carry goes as the replacement a browser would send.
    form = {
        str(k).encode("utf-8", "replace").decode(): str(v).encode("utf-8", "replace").decode() for k, v in body.items()
    }
    assert_clean_refusal(client.post("/oauth2/token", data=form))


@SETTINGS
@given(body=bodies(["emailOrUsername", "token", "old_password", "new_password"]))
def test_account_endpoints_never_fail_on_their_body(client, admin, body) -> None:
    _, _, headers = admin
    assert_clean_refusal(client.post("/users/2fa/send-email-code", json=body))
    for method, path in (
        ("post", "/users/self/mfa/verify"),
        ("post", "/users/self/mfa/validate"),
        ("delete", "/users/self/mfa"),
        ("put", "/users/self/password"),
        ("post", "/users/self/2fa/email/disable"),
    ):
        assert_clean_refusal(getattr(client, method)(path, json=body, headers=headers))


@pytest.mark.parametrize("path", ["/oauth2/token", "/users/2fa/send-email-code"])
@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_a_deeply_nested_body_is_a_400_naming_the_body(client, path, opening) -> None:
    response = client.post(path, data=opening * 50_000, content_type="application/json")
    assert response.status_code == 400
    described = json.dumps(response.json)
    assert "nest" in described and ("body" in described or response.json.get("error") == "invalid_request")


def test_a_deeply_nested_body_is_refused_on_authenticated_endpoints_too(client, admin) -> None:
    brand, _, headers = admin
    response = client.post(
        f"/brands/{brand.id}/sso_applications", data="[" * 50_000, content_type="application/json", headers=headers
    )
    assert response.status_code == 400 and response.json["field"] == "body"


def test_a_body_over_the_limit_is_a_413(client) -> None:
    body = json.dumps({"emailOrUsername": "x" * (400 * 1024)})
    response = client.post("/users/2fa/send-email-code", data=body, content_type="application/json")
    assert response.status_code == 413 and response.json["field"] == "body"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", {"an": "object"}),
        ("name", ["a", "list"]),
        ("name", 42),
        ("acs_url", {"x": 1}),
        ("entity_id", ["urn:x:y"]),
        ("signed", {"x": 1}),
        ("name_id", ["email"]),
        ("mappings", ["email"]),
        ("order", "first"),
        ("order", 10**30),
        ("brands", "one"),
        ("require_signed_requests", "yes"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_a_400_naming_it(apps, org, field, value) -> None:
    response = apps.create(org.admin, org.brand, saml_app(**{field: value}))
    assert response.status_code == 400
    assert response.json["field"].split(".")[0] == field


@pytest.mark.parametrize(
    "value",
    ["Bad\x00name", "Tab\there", "Escape \x1b[31m", "Line\nbreak", "DEL\x7f", "C1\x85", "Lone \ud800 surrogate"],
)
@pytest.mark.parametrize("field", ["name", "acs_url", "entity_id", "start_url", "issuer"])
def test_stored_text_refuses_controls_and_lone_surrogates(apps, org, field, value) -> None:
    if field != "name":
        value = "https://sp.example.com/" + value
    response = apps.create(org.admin, org.brand, saml_app(**{field: value}))
    assert response.status_code == 400 and response.json["field"] == field, response.json


def test_stored_text_is_nfc(apps, org) -> None:
    decomposed = "Cafe\u0301 Portal"
    created = apps.created(org.admin, org.brand, saml_app(name=decomposed, extra={"note": "re\u0301sume\u0301"}))
    assert created["name"] == unicodedata.normalize("NFC", decomposed) == "Caf\u00e9 Portal"
    assert created["extra"] == {"note": "r\u00e9sum\u00e9"}


@pytest.mark.parametrize("url", ["https://sp.example.com/a b", "http://[::1", "https://sp.example.com:99999/"])
def test_a_malformed_url_is_a_400_naming_it(apps, org, url) -> None:
    response = apps.create(org.admin, org.brand, saml_app(acs_url=url))
    assert response.status_code == 400 and response.json["field"] == "acs_url"


def test_metadata_import_names_a_bad_entity_id_of_the_wrong_type(client, admin) -> None:
    brand, _, headers = admin
    response = client.post(
        f"/brands/{brand.id}/sso_applications/import",
        json={"metadata": "<EntityDescriptor/>", "entity_id": {"not": "a string"}},
        headers=headers,
    )
    assert response.status_code == 400 and response.json["field"] == "entity_id"

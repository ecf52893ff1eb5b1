"""What the API tests share: calling the SSO application API as a user, and reading what a browser gets."""

from __future__ import annotations

import base64
import io
import itertools
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from lxml import etree

from idp.models import Brand, User

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "md": MD, "ds": DS}

_names = itertools.count(1)

# The example body of Rechat's "create an SSO application" documentation, `"name_id": "null"` and all.
DOCUMENTED_EXAMPLE = {
    "authentication_type": "SAML",
    "url": None,
    "acs_url": "https://sp.example.com/saml/acs",
    "entity_id": "https://sp.example.com/saml/metadata",
    "start_url": "https://sp.example.com/dashboard",
    "signed": None,
    "name": "Example SP",
    "name_id": "null",
    "name_id_format": None,
    "mappings": {},
    "audience": None,
    "destination": None,
    "recipient": None,
    "order": 0,
    "issuer": None,
    "extra": None,
}


def saml_app(**overrides: Any) -> dict[str, Any]:
    """A valid body for a SAML application, with a name of its own unless one is given."""
    return {
        "name": f"SAML app {next(_names)}",
        "authentication_type": "SAML",
        "acs_url": "https://sp.example.com/saml/acs",
        "entity_id": "https://sp.example.com/saml/metadata",
        "start_url": "https://sp.example.com/home?tab=1&view=all",
        **overrides,
    }


def link_app(**overrides: Any) -> dict[str, Any]:
    """A valid body for an application without SAML: a plain link."""
    return {
        "name": f"Link app {next(_names)}",
        "authentication_type": "None",
        "url": "https://portal.example.com/welcome",
        **overrides,
    }


@dataclass
class Org:
    """A brand with one admin and one agent."""

    brand: Brand
    admin: User
    agent: User


class TokenHolder:
    """Calls the API as users, signing each one in once and keeping their token."""

    def __init__(self, client, api) -> None:
        self.client = client
        self.api = api
        self._headers: dict[str, dict[str, str]] = {}

    def headers(self, user: User) -> dict[str, str]:
        if user.id not in self._headers:
            self._headers[user.id] = self.api.headers(user)
        return self._headers[user.id]


class Apps(TokenHolder):
    """Calls /brands/<brand>/sso_applications as a given user (one token per user)."""

    @staticmethod
    def path(brand: Brand | str, *rest: str) -> str:
        brand_id = brand if isinstance(brand, str) else brand.id
        return "/".join([f"/brands/{brand_id}/sso_applications", *rest])

    def create(self, user: User, brand: Brand, body: Any):
        return self.client.post(self.path(brand), json=body, headers=self.headers(user))

    def created(self, user: User, brand: Brand, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create an application and answer its data; fail loudly if the API refuses."""
        response = self.create(user, brand, body if body is not None else saml_app())
        assert response.status_code == 200, response.json
        return response.json["data"]

    def list(self, user: User, brand: Brand, **query: Any):
        return self.client.get(self.path(brand), query_string=query, headers=self.headers(user))

    def listed(self, user: User, brand: Brand, **query: Any) -> list[dict[str, Any]]:
        response = self.list(user, brand, **query)
        assert response.status_code == 200, response.json
        return response.json["data"]

    def update(self, user: User, brand: Brand, app_id: str, body: Any):
        return self.client.put(self.path(brand, app_id), json=body, headers=self.headers(user))

    def delete(self, user: User, brand: Brand, app_id: str):
        return self.client.delete(self.path(brand, app_id), headers=self.headers(user))

    def set_brands(self, user: User, brand: Brand, app_id: str, brands: list[str]):
        return self.client.put(self.path(brand, app_id, "brands"), json={"brands": brands}, headers=self.headers(user))

    def set_icon(self, user: User, brand: Brand, app_id: str, data: bytes, filename: str = "icon.png"):
        return self.client.put(
            self.path(brand, app_id, "icon"),
            data={"icon": (io.BytesIO(data), filename)},
            content_type="multipart/form-data",
            headers=self.headers(user),
        )


def names(apps: list[dict[str, Any]]) -> list[str]:
    return [app["name"] for app in apps]


@dataclass
class Form:
    action: str | None = None
    method: str | None = None
    hidden: dict[str, str] = field(default_factory=dict)
    buttons: list[dict[str, str | None]] = field(default_factory=list)


def _is_submit(tag: str, attrs: dict[str, str | None]) -> bool:
    return (tag == "input" and attrs.get("type") == "submit") or (
        tag == "button" and attrs.get("type", "submit") == "submit"
    )


class _Page(HTMLParser):
    """The first form of a page, and the text a person sees."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "form":
            self.forms.append(Form(action=values.get("action"), method=(values.get("method") or "get").lower()))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1].hidden[values.get("name") or ""] = values.get("value") or ""
        elif self.forms and _is_submit(tag, values):
            self.forms[-1].buttons.append(values)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.text.append(" ".join(data.split()))


def parse_page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def page_text(html: str) -> str:
    return " ".join(parse_page(html).text)


def saml_response(encoded: str) -> etree._Element:
    """The samlp:Response a SAMLResponse form field carries."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(base64.b64decode(encoded, validate=True), parser)


BACKENDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


def on_backend(request: pytest.FixtureRequest, env: dict[str, str]) -> dict[str, str]:
    """`env` on the backend a test is parametrized with (BACKENDS): SQLite, or the shared redis-server
    under a prefix of the test's own."""
    if request.param != "redis":
        return env
    return {**env, "REDIS_URL": request.getfixturevalue("redis_url"), "IDP_REDIS_PREFIX": f"t:{uuid.uuid4().hex}:"}

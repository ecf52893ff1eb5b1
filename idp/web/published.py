"""What service providers and browsers fetch without signing in: IdP metadata, app icons, health."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import yaml
from flask import Blueprint, Response

from idp.errors import NotFound
from idp.models import About
from idp.saml import inbound
from idp.saml.algorithms import Accepted
from idp.saml.metadata import CONTENT_TYPE, idp_metadata
from idp.web import Services, services
from idp.web.errors import as_pages
from idp.web.pages import page

bp = as_pages(Blueprint("published", __name__))
OPENAPI = Path(__file__).with_name("openapi.yaml")


@functools.cache
def openapi_json() -> str:
    """The API contract, read once: kept as YAML in the repository, served as JSON."""
    return json.dumps(yaml.safe_load(OPENAPI.read_text(encoding="utf-8")), indent=1)


def _about(svc: Services) -> About:
    return svc.settings.metadata.about


def _document(
    svc: Services, entity_id: str, base: str, *, want_requests_signed: bool = False, accepted: Accepted | None = None
) -> Response:
    """A metadata document for the endpoints under `base`, with every published certificate, who we
    are, and the signature of the key that signs now (unless the settings turn it off)."""
    body = idp_metadata(
        entity_id,
        svc.keyring.published_certificates,
        f"{base}/sso",
        f"{base}/slo",
        about=_about(svc),
        now=time.time(),
        signer=svc.keyring.signer if svc.settings.metadata.signed else None,
        want_requests_signed=want_requests_signed,
        accepted=accepted,
    )
    return Response(body, content_type=CONTENT_TYPE)


@bp.get("/metadata")
def metadata() -> Response:
    svc = services()
    return _document(svc, svc.settings.entity_id, f"{svc.settings.base_url}/saml")


@bp.get("/sso_applications/<app_id>/metadata")
def app_metadata(app_id: str) -> Response:
    svc = services()
    app = svc.store.app(app_id)
    if app is None or not app.is_saml:
        raise NotFound("no such SAML application")
    return _document(
        svc,
        app.idp_entity_id(svc.settings.entity_id),
        f"{svc.settings.base_url}/sso_applications/{app.id}",
        want_requests_signed=app.require_signed_requests,
        accepted=inbound.accepted_algorithms(app),
    )


@bp.get("/sign-in-problem")
def sign_in_problem() -> Response:
    """The errorURL of the metadata: where an SP may send a person whose sign-in it could not complete."""
    about = services().settings.metadata.about
    return page(
        "error.html",
        title="Sign-in problem",
        message=(
            f"The service you came from could not complete your sign-in with {about.display_name}. "
            "Go back to it and try again; if it keeps failing, write to the address below and say "
            "which service you were opening and when."
        ),
        link=f"mailto:{about.contact_email}",
        link_text=about.contact_email,
    )


@bp.get("/sso_applications/<app_id>/icon")
def icon(app_id: str) -> Response:
    found = services().apps.icon(app_id)
    response = Response(found.data, content_type=found.content_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/brands/<brand_id>/logo")
def brand_logo(brand_id: str) -> Response:
    """A brand's logo, for the login page before anyone signs in: re-encoded bytes, served like icons."""
    found = services().brand_settings.logo(brand_id)
    response = Response(found.data, content_type=found.content_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    return Response(openapi_json(), content_type="application/json")


@bp.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}

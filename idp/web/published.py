"""What service providers and browsers fetch without signing in: IdP metadata, app icons, health."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml
from flask import Blueprint, Response

from idp.errors import NotFound
from idp.saml import inbound
from idp.saml.metadata import CONTENT_TYPE, idp_metadata
from idp.web import services
from idp.web.errors import as_pages

bp = as_pages(Blueprint("published", __name__))
OPENAPI = Path(__file__).with_name("openapi.yaml")


@functools.cache
def openapi_json() -> str:
    """The API contract, read once: kept as YAML in the repository, served as JSON."""
    return json.dumps(yaml.safe_load(OPENAPI.read_text(encoding="utf-8")), indent=1)


@bp.get("/metadata")
def metadata() -> Response:
    svc = services()
    base = svc.settings.base_url
    body = idp_metadata(svc.settings.entity_id, svc.keyring.certificate_base64, f"{base}/saml/sso", f"{base}/saml/slo")
    return Response(body, content_type=CONTENT_TYPE)


@bp.get("/sso_applications/<app_id>/metadata")
def app_metadata(app_id: str) -> Response:
    svc = services()
    app = svc.store.app(app_id)
    if app is None or not app.is_saml:
        raise NotFound("no such SAML application")
    base = f"{svc.settings.base_url}/sso_applications/{app.id}"
    body = idp_metadata(
        app.idp_entity_id(svc.settings.entity_id),
        svc.keyring.certificate_base64,
        f"{base}/sso",
        f"{base}/slo",
        want_requests_signed=app.require_signed_requests,
        accepted=inbound.accepted_algorithms(app),
    )
    return Response(body, content_type=CONTENT_TYPE)


@bp.get("/sso_applications/<app_id>/icon")
def icon(app_id: str) -> Response:
    found = services().apps.icon(app_id)
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

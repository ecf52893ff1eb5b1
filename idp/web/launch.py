"""What browsers and service providers fetch: launch links, metadata, icons."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request

from idp.accounts import sessions
from idp.applications.service import app_icon
from idp.errors import LinkInvalid, NotFound
from idp.saml import sso
from idp.saml.metadata import CONTENT_TYPE, idp_metadata
from idp.web import services
from idp.web.browser import current_session, post_form_page

bp = Blueprint("launch", __name__)


@bp.get("/sso_applications/open")
def open_app():
    link_hash = request.args.get("hash")
    if not link_hash:
        raise LinkInvalid("no hash")
    svc = services()
    outcome, issued = sso.launch(
        link_hash, store=svc.store, keyring=svc.keyring, signer=svc.signer, settings=svc.settings
    )
    _remember_for_logout(issued)
    if isinstance(outcome, sso.Redirect):
        response = redirect(outcome.location, code=302)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    return post_form_page(outcome)


def _remember_for_logout(issued: sso.Issued | None) -> None:
    """When the browser has an IdP session of the same user, the SP joins it, for single logout."""
    signed_in = current_session()
    if issued is None or signed_in is None or signed_in[2].id != issued.user_id:
        return
    token, session, _ = signed_in
    sessions.add_participant(services().store, token, session, issued.participant())


def _metadata(entity_id: str, sso_url: str, slo_url: str, *, want_requests_signed: bool = False) -> Response:
    svc = services()
    body = idp_metadata(
        entity_id, svc.keyring.certificate_base64, sso_url, slo_url, want_requests_signed=want_requests_signed
    )
    return Response(body, content_type=CONTENT_TYPE)


@bp.get("/metadata")
def metadata():
    settings = services().settings
    return _metadata(settings.entity_id, f"{settings.base_url}/saml/sso", f"{settings.base_url}/saml/slo")


@bp.get("/sso_applications/<app_id>/metadata")
def app_metadata(app_id: str):
    svc = services()
    app = svc.store.app(app_id)
    if app is None or not app.is_saml:
        raise NotFound("no such SAML application")
    base = f"{svc.settings.base_url}/sso_applications/{app.id}"
    return _metadata(
        sso.app_issuer(app, svc.settings),
        f"{base}/sso",
        f"{base}/slo",
        want_requests_signed=app.require_signed_requests,
    )


@bp.get("/sso_applications/<app_id>/icon")
def icon(app_id: str):
    found = app_icon(services().store, app_id)
    response = Response(found.data, content_type=found.content_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/healthz")
def health():
    return {"status": "ok"}

"""SP-initiated SSO endpoints: /saml/sso and, per application, /sso_applications/:id/sso."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.saml import inbound
from idp.web import services
from idp.web.bindings import arrived_at, received
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("saml", __name__))


def _sso(app_id: str | None) -> Response:
    return render(
        services().flows.authn_requests.receive(
            received(inbound.Kind.AUTHN_REQUEST),
            browser(),
            destination=arrived_at(),
            endpoint_app_id=app_id,
        )
    )


@bp.route("/saml/sso", methods=["GET", "POST"])
def sso() -> Response:
    return _sso(None)


@bp.route("/sso_applications/<app_id>/sso", methods=["GET", "POST"])
def app_sso(app_id: str) -> Response:
    return _sso(app_id)


@bp.get("/saml/resume")
def resume() -> Response:
    """Back from the login page: answer the request that was kept."""
    return render(services().flows.authn_requests.resume(request.args.get("request"), browser()))


@bp.post("/saml/choose")
def choose() -> Response:
    """The user picked one of the applications of their brands that share this service provider."""
    check_csrf()
    return render(
        services().flows.authn_requests.choose(request.form.get("request"), request.form.get("app", ""), browser())
    )

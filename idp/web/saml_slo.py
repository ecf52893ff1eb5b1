"""Single Logout endpoints: /saml/slo and, per application, /sso_applications/:id/slo take LogoutRequests
and LogoutResponses; /saml/slo/next walks the chain of SPs that signing out in the launcher visits."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.errors import SamlRequestRefused
from idp.saml import inbound
from idp.web import services
from idp.web.bindings import arrived_at, received
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("slo", __name__))


@bp.get("/saml/slo/next")
def next_in_chain() -> Response:
    return render(services().flows.logout.next_in_chain(request.args.get("chain"), browser()))


def _slo(app_id: str | None) -> Response:
    params = request.args if request.method == "GET" else request.form
    if "SAMLResponse" in params:
        kind = inbound.Kind.LOGOUT_RESPONSE
    elif "SAMLRequest" in params:
        kind = inbound.Kind.LOGOUT_REQUEST
    else:
        raise SamlRequestRefused("send a SAMLRequest or a SAMLResponse")
    return render(
        services().flows.logout.receive(
            received(kind),
            kind,
            browser(),
            destination=arrived_at(),
            endpoint_app_id=app_id,
        )
    )


@bp.route("/saml/slo", methods=["GET", "POST"])
def slo() -> Response:
    return _slo(None)


@bp.route("/sso_applications/<app_id>/slo", methods=["GET", "POST"])
def app_slo(app_id: str) -> Response:
    return _slo(app_id)

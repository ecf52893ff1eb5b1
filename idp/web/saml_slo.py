"""Single Logout: /saml/slo takes LogoutRequests and LogoutResponses; signing out in the launcher
sends LogoutRequests to the session's SPs, one after another, over the front channel."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request

from idp.accounts import sessions
from idp.accounts.secrets import new_token
from idp.errors import SamlRequestRefused
from idp.saml import logout
from idp.saml.sso import PostForm, app_issuer
from idp.web import services
from idp.web.browser import clear_session_cookie, current_session, page, post_form_page, received_message

bp = Blueprint("slo", __name__)

CHAIN = "logout-chain"
CHAIN_TTL = 10 * 60


def _deliver(outgoing: logout.Outgoing) -> Response:
    if not outgoing.redirect:
        return post_form_page(PostForm(outgoing.post_action or "", outgoing.post_fields or {}))
    response = redirect(outgoing.redirect, code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def signed_out() -> Response:
    response = page("signed_out.html")
    clear_session_cookie(response)
    return response


def start_chain(token: str, session: sessions.IdpSession) -> Response:
    """End the IdP session now, then visit each SP that has an SLO endpoint, one after another."""
    svc = services()
    sessions.end(svc.store, token)
    remaining = [p for p in session.participants if (app := svc.store.app(p["app_id"])) and app.slo_url]
    if not remaining:
        return signed_out()
    key = new_token()
    svc.store.save_transient(CHAIN, key, {"remaining": remaining}, CHAIN_TTL)
    response = redirect("/saml/slo/next?" + urlencode({"chain": key}), code=303)
    clear_session_cookie(response)
    return response


@bp.get("/saml/slo/next")
def next_in_chain():
    return _continue(request.args.get("chain"))


def _continue(key: str | None) -> Response:
    """Send the next SP still to visit its LogoutRequest; when none is left, the signed-out page."""
    svc = services()
    chain = svc.store.transient(CHAIN, key) if key else None
    remaining = chain["remaining"] if chain else []
    while remaining:
        participant, *remaining = remaining
        app = svc.store.app(participant["app_id"])
        if app is not None and app.slo_url:
            root = logout.logout_request(app_issuer(app, svc.settings), app, participant)
            svc.store.save_transient(CHAIN, key, {"remaining": remaining, "awaiting": root.get("ID")}, CHAIN_TTL)
            return _deliver(logout.send(root, app, svc.signer, relay_state=key))
    if key:
        svc.store.drop_transient(CHAIN, key)
    return signed_out()


@bp.route("/saml/slo", methods=["GET", "POST"])
def slo():
    return _slo(None)


@bp.route("/sso_applications/<app_id>/slo", methods=["GET", "POST"])
def app_slo(app_id: str):
    return _slo(app_id)


def _slo(app_id: str | None) -> Response:
    svc = services()
    params = request.args if request.method == "GET" else request.form
    destination = svc.settings.base_url + request.path
    if "SAMLResponse" in params:
        message = received_message("SAMLResponse")
        answer, _ = logout.receive_response(message, svc.store, destination=destination, app_id=app_id)
        chain = svc.store.transient(CHAIN, message.relay_state) if message.relay_state else None
        if chain is None or chain.get("awaiting") != answer.in_response_to:
            raise SamlRequestRefused("this LogoutResponse answers no logout of ours")
        return _continue(message.relay_state)
    if "SAMLRequest" not in params:
        raise SamlRequestRefused("send a SAMLRequest or a SAMLResponse")
    message = received_message("SAMLRequest")
    received, app = logout.receive_request(
        message, svc.store, destination=destination, skew=svc.settings.clock_skew, now=time.time(), app_id=app_id
    )
    # The session is found by the SP session it names (a cross-site POST may lack our cookie) and by cookie.
    sessions.end_by_sp_session(svc.store, app.id, received.session_indexes)
    signed_in = current_session()
    if signed_in is not None:
        sessions.end(svc.store, signed_in[0])
    if not app.slo_url:
        return signed_out()
    answer = logout.logout_response(app_issuer(app, svc.settings), app, received.id)
    response = _deliver(logout.send(answer, app, svc.signer, relay_state=message.relay_state))
    clear_session_cookie(response)
    return response

"""SP-initiated SSO endpoints: /saml/sso and, per application, /sso_applications/:id/sso."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from flask import Blueprint, redirect, request

from idp.accounts import sessions
from idp.applications.access import brand_for
from idp.errors import AccessRevoked, SamlRequestRefused
from idp.saml import sp_initiated
from idp.saml.sso import Issued, Login, Signing
from idp.web import services
from idp.web.browser import current_session, post_form_page, received_message

bp = Blueprint("saml", __name__)

PENDING_TTL = 15 * 60


def _signing() -> Signing:
    svc = services()
    return Signing(svc.keyring, svc.signer, svc.settings)


def _answer(pending: sp_initiated.PendingRequest, token: str, session: sessions.IdpSession, user):
    svc, now = services(), time.time()
    app = svc.store.app(pending.app_id)
    found = brand_for(svc.store, user.id, app) if app is not None else None
    if app is None or found is None:
        raise AccessRevoked("you do not have access to this application")
    brand_id, where = found
    login = Login(user, svc.store.brand(brand_id), where.role or "", session.mfa, session.authn_instant)
    outcome = sp_initiated.answer(pending, app, login, _signing(), now=now)
    if isinstance(outcome, Issued):
        sessions.add_participant(svc.store, token, session, outcome.participant())
        return post_form_page(outcome.form)
    return post_form_page(outcome)


def _sso(app_id: str | None):
    svc, now = services(), time.time()
    message = received_message("SAMLRequest")
    pending = sp_initiated.receive(
        message,
        store=svc.store,
        skew=svc.settings.clock_skew,
        now=now,
        app_id=app_id,
        destination=svc.settings.base_url + request.path,
    )
    signed_in = usable_session()
    if signed_in is not None and not pending.force_authn:
        return _answer(pending, *signed_in)
    if pending.is_passive:
        app = svc.store.app(pending.app_id)
        return post_form_page(sp_initiated.no_passive(pending, app, _signing(), now=now))
    key = sp_initiated.keep(svc.store, pending, PENDING_TTL)
    return redirect("/login?" + urlencode({"request": key}), code=303)


@bp.route("/saml/sso", methods=["GET", "POST"])
def sso():
    return _sso(None)


@bp.route("/sso_applications/<app_id>/sso", methods=["GET", "POST"])
def app_sso(app_id: str):
    return _sso(app_id)


def usable_session():
    """The browser's IdP session, unless MFA was turned on after it began (then: sign in again)."""
    signed_in = current_session()
    if signed_in is not None and signed_in[2].mfa_enabled and not signed_in[1].mfa:
        return None
    return signed_in


@bp.get("/saml/resume")
def resume():
    """Back from the login page: answer the request that was kept."""
    signed_in = usable_session()
    if signed_in is None:
        return redirect("/login?" + urlencode({"request": request.args.get("request", "")}), code=303)
    pending = sp_initiated.take(services().store, request.args.get("request"))
    if pending is None:
        raise SamlRequestRefused(
            "this sign-in request has expired or was answered already; start again at the application"
        )
    token, session, user = signed_in
    if pending.force_authn and session.authn_instant < pending.received_at:
        raise SamlRequestRefused("the application asked for a fresh sign-in; start again at the application")
    return _answer(pending, token, session, user)

"""The front door for people: sign in (password, then TOTP when the user has MFA), the app launcher, sign out."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request

from idp.accounts import mfa, sessions
from idp.accounts.secrets import new_token
from idp.accounts.tokens import check_credentials
from idp.applications.service import list_apps
from idp.errors import Forbidden, InvalidCode
from idp.saml.sso import open_url
from idp.web import services
from idp.web.api import client_address
from idp.web.browser import (
    check_csrf,
    current_session,
    local_path,
    page,
    set_private_cookie,
    set_session_cookie,
)
from idp.web.presenters import icon_url
from idp.web.saml_slo import signed_out, start_chain

bp = Blueprint("front", __name__)

HALF_LOGIN = "half-login"  # a password accepted, the TOTP step still to come
HALF_LOGIN_COOKIE = "idp_half_login"
HALF_LOGIN_TTL = 300


def _after_login(request_key: str | None, next_path: str | None) -> str:
    if request_key:
        return "/saml/resume?" + urlencode({"request": request_key})
    return local_path(next_path)


def _signed_in(user_id: str, *, mfa_done: bool, destination: str) -> Response:
    svc = services()
    token, _ = sessions.start(svc.store, user_id, mfa=mfa_done, ttl=svc.settings.session_ttl)
    response = redirect(destination, code=303)
    set_session_cookie(response, token)
    response.delete_cookie(HALF_LOGIN_COOKIE)
    return response


@bp.get("/login")
def login_form():
    # A kept SP request brings the user here only when a (fresh) sign-in is needed: show the form.
    if current_session() is not None and not request.args.get("request"):
        return redirect(local_path(request.args.get("next")), code=303)
    return page("login.html", request_key=request.args.get("request", ""), next=request.args.get("next", ""))


@bp.post("/login")
def login():
    check_csrf()
    svc = services()
    request_key, next_path = request.form.get("request") or None, request.form.get("next") or None
    email, password = request.form.get("email", ""), request.form.get("password", "")
    user = check_credentials(svc.store, svc.throttle, email, password, address=client_address(), now=time.time())
    if user is None:
        return page(
            "login.html",
            401,
            error="The email or password is not right.",
            email=email,
            request_key=request_key or "",
            next=next_path or "",
        )
    destination = _after_login(request_key, next_path)
    if not user.mfa_enabled:
        return _signed_in(user.id, mfa_done=False, destination=destination)
    key = new_token()
    svc.store.save_transient(HALF_LOGIN, key, {"user_id": user.id, "destination": destination}, HALF_LOGIN_TTL)
    response = redirect("/login/totp", code=303)
    set_private_cookie(response, HALF_LOGIN_COOKIE, key, HALF_LOGIN_TTL)
    return response


def _half_login() -> tuple[str, dict]:
    key = request.cookies.get(HALF_LOGIN_COOKIE)
    half = services().store.transient(HALF_LOGIN, key) if key else None
    if not key or half is None:
        raise Forbidden("your sign-in has expired; please start again")
    return key, half


@bp.get("/login/totp")
def totp_form():
    _half_login()
    return page("totp.html")


@bp.post("/login/totp")
def totp():
    check_csrf()
    svc = services()
    key, half = _half_login()
    user = svc.store.user(half["user_id"])
    if user is None or not user.is_active:
        raise Forbidden("your sign-in has expired; please start again")
    try:
        mfa.check_code(
            svc.store,
            svc.keyring,
            svc.throttle,
            user,
            user.mfa_secret,
            request.form.get("code"),
            address=client_address(),
            now=time.time(),
        )
    except InvalidCode:
        return page("totp.html", 401, error="That code is not right, or was used already.")
    svc.store.drop_transient(HALF_LOGIN, key)
    return _signed_in(user.id, mfa_done=True, destination=half["destination"])


@bp.get("/")
def launcher():
    signed_in = current_session()
    if signed_in is None:
        return redirect("/login", code=303)
    user = signed_in[2]
    svc = services()
    tiles, seen = [], set()
    for membership in svc.store.memberships_of(user.id):
        for item in list_apps(svc.store, user, membership.brand_id).items:
            if item.launchable and item.app.id not in seen:
                seen.add(item.app.id)
                tiles.append({"app": item.app, "brand_id": membership.brand_id, "icon": icon_url(svc, item.app)})
    tiles.sort(key=lambda tile: (tile["app"].order, tile["app"].name.lower()))
    return page("launcher.html", user=user, tiles=tiles)


@bp.post("/launch")
def launch():
    """Mint a fresh link when a tile is clicked, so a tile never goes stale."""
    check_csrf()
    signed_in = current_session()
    if signed_in is None:
        return redirect("/login", code=303)
    _, session, user = signed_in
    svc = services()
    url = open_url(
        svc.settings,
        svc.keyring,
        user_id=user.id,
        app_id=request.form.get("app", ""),
        brand_id=request.form.get("brand", ""),
        mfa=session.mfa,
    )
    return redirect(url, code=303)


@bp.post("/logout")
def logout():
    """Sign out everywhere: single logout to every SP of the session that has an SLO endpoint."""
    check_csrf()
    signed_in = current_session()
    if signed_in is None:
        return signed_out()
    return start_chain(signed_in[0], signed_in[1])

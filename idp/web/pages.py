"""Rendering what a flow hands back: our pages, the auto-post form, redirects, and the cookies they change."""

from __future__ import annotations

import functools
import secrets
import time
from typing import Any, TypedDict, cast
from urllib.parse import urlsplit

from flask import Response, redirect, render_template, request

from idp.config import is_loopback_host
from idp.signin.front_door import HALF_LOGIN_TTL
from idp.signin.outcomes import Browser, Outcome, Page, PostForm, Redirect
from idp.web import services
from idp.web.csrf import CSRF_COOKIE, csrf_token

SESSION_COOKIE = "idp_session"
HALF_LOGIN_COOKIE = "idp_half_login"


class _CookieFlags(TypedDict):
    httponly: bool
    samesite: str
    secure: bool


def _secure() -> bool:
    """Cookies are Secure unless the service is on loopback, where tests and development run over http."""
    return _secure_for(services().settings.base_url)


@functools.cache
def _secure_for(base_url: str) -> bool:
    return not is_loopback_host(urlsplit(base_url).hostname)


def browser() -> Browser:
    """The browser's side of this request, as the flows take it."""
    return Browser(
        session_token=request.cookies.get(SESSION_COOKIE),
        half_login_token=request.cookies.get(HALF_LOGIN_COOKIE),
        address=request.remote_addr,
        now=time.time(),
    )


def page(template: str, status: int = 200, *, csrf: bool = True, **context: Any) -> Response:
    """One of our pages; `csrf` False for a page with no form posting back to us (the auto-post form),
    which needs no CSRF token and sets no CSRF cookie."""
    nonce = secrets.token_urlsafe(16)
    token = csrf_token() if csrf else ""
    body = render_template(template, nonce=nonce, csrf_token=token, **context)
    # A stored value that UTF-8 cannot carry (a lone surrogate kept from before the text rules)
    # becomes U+FFFD's stand-in rather than taking the whole page down.
    response = Response(body.encode("utf-8", "replace"), status=status, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = (
        # No form-action: Chromium applies it to every redirect after a submit, and our forms
        # lead on to SPs (sign-out through their SLO endpoints, plain-link apps).
        # connect-src: the passkey script fetches its WebAuthn options from this origin.
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self'; "
        "connect-src 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if csrf and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=_secure())
    return response


def _view(view: PostForm | Redirect | Page) -> Response:
    if isinstance(view, Page):
        return page(view.template, view.status, **view.data)
    if isinstance(view, PostForm):
        # The page that carries a SAML message to an SP by auto-post; its URL never leaves in a Referer.
        response = page("post_form.html", csrf=False, form=view)
    else:
        # Within an app, flask.redirect builds the app's response_class; Flask types it as werkzeug's Response.
        response = cast(Response, redirect(view.location, code=view.status))
        response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def render(outcome: Outcome) -> Response:
    response = _view(outcome.view)
    # HttpOnly, SameSite=Lax (so a POST from an SP's page still carries them), Secure off loopback.
    lax: _CookieFlags = {"httponly": True, "samesite": "Lax", "secure": _secure()}
    if outcome.new_session:
        response.set_cookie(SESSION_COOKIE, outcome.new_session, max_age=services().settings.session_ttl, **lax)
    elif outcome.end_session:
        response.delete_cookie(SESSION_COOKIE, **lax)
    if outcome.half_login:
        response.set_cookie(HALF_LOGIN_COOKIE, outcome.half_login, max_age=HALF_LOGIN_TTL, **lax)
    elif outcome.end_half_login:
        response.delete_cookie(HALF_LOGIN_COOKIE)
    return response

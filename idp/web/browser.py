"""What the pages people use share: cookies, CSRF protection, the IdP session, page rendering."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Response, g, render_template, request

from idp.accounts import sessions
from idp.accounts.secrets import same
from idp.config import is_loopback_host
from idp.errors import Forbidden
from idp.models import User
from idp.saml.bindings import ReceivedMessage, from_post, from_redirect
from idp.saml.sso import PostForm
from idp.web import services

SESSION_COOKIE = "idp_session"
CSRF_COOKIE = "idp_csrf"
CSRF_FIELD = "csrf_token"


def _secure() -> bool:
    """Cookies are Secure unless the service is on loopback, where tests and development run over http."""
    return not is_loopback_host(urlsplit(services().settings.base_url).hostname)


def csrf_token() -> str:
    """The double-submit token: the same random value in a SameSite=Strict cookie and in every form."""
    if "csrf" not in g:
        g.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return g.csrf


def _same_origin_request() -> bool:
    """What the browser says of where the form came from: Sec-Fetch-Site, else Origin, when sent."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    base = urlsplit(services().settings.base_url)
    return origin == f"{base.scheme}://{base.netloc}"


def check_csrf() -> None:
    """Double submit, and the browser's word that the form is ours.

    The cookie alone is not enough: a sibling origin (another port, another subdomain) can plant
    a cookie for this host, so a cross-site form is refused by its Sec-Fetch-Site or Origin too.
    """
    cookie, sent = request.cookies.get(CSRF_COOKIE), request.form.get(CSRF_FIELD)
    if not _same_origin_request() or not cookie or not sent or not same(cookie, sent):
        raise Forbidden("The form has expired or did not come from this site. Please try again.")


def page(template: str, status: int = 200, **context) -> Response:
    nonce = secrets.token_urlsafe(16)
    body = render_template(template, nonce=nonce, csrf_token=csrf_token(), **context)
    response = Response(body, status=status)
    response.headers["Content-Security-Policy"] = (
        # No form-action: Chromium applies it to every redirect after a submit, and our forms
        # lead on to SPs (sign-out through their SLO endpoints, plain-link apps).
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.cookies.get(CSRF_COOKIE) != csrf_token():
        response.set_cookie(CSRF_COOKIE, csrf_token(), httponly=True, samesite="Strict", secure=_secure())
    return response


def post_form_page(form: PostForm) -> Response:
    """The page that carries a SAML message to an SP by auto-post; its URL never leaves in a Referer."""
    response = page("post_form.html", form=form)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def received_message(param: str) -> ReceivedMessage:
    """A SAML message as this request carries it: HTTP-Redirect for GET, HTTP-POST otherwise."""
    if request.method == "GET":
        return from_redirect(request.query_string.decode("ascii", "replace"), param)
    return from_post(request.form.to_dict(), param)


def current_session() -> tuple[str, sessions.IdpSession, User] | None:
    """The signed-in user's session cookie, session and account, when there is a live one."""
    token = request.cookies.get(SESSION_COOKIE)
    session = sessions.load(services().store, token)
    user = services().store.user(session.user_id) if session else None
    if token is None or session is None or user is None or not user.is_active:
        return None
    return token, session, user


def set_private_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Lax (so a POST from an SP's page still carries it), Secure off loopback."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Lax", secure=_secure())


def set_session_cookie(response: Response, token: str) -> None:
    set_private_cookie(response, SESSION_COOKIE, token, services().settings.session_ttl)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="Lax", secure=_secure())


def local_path(target: str | None) -> str:
    """Only paths on this site are followed after sign-in: never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target

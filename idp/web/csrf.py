"""CSRF protection for our forms: a double-submit token, and the browser's word that the form is ours."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import g, request

from idp.accounts.secrets import same
from idp.errors import Forbidden
from idp.web import services

CSRF_COOKIE = "idp_csrf"
CSRF_FIELD = "csrf_token"


def csrf_token() -> str:
    """The double-submit token: the same random value in a SameSite=Strict cookie and in every form."""
    if "csrf" not in g:
        g.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    token: str = g.csrf
    return token


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

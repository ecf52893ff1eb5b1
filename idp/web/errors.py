"""The one place where errors become HTTP: a JSON envelope for the API, a small page for people."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from idp.errors import (
    AuthenticationRequired,
    IdpError,
    InvalidClient,
    LaunchError,
    LinkInvalid,
    MfaRequired,
    OAuthError,
    SecondFactorInvalid,
    SecondFactorRequired,
    Throttled,
)

log = logging.getLogger(__name__)

# Blueprints whose visitors are people in a browser, not API clients.
HTML_BLUEPRINTS = {"launch", "front", "saml", "slo"}


def _wants_html() -> bool:
    return request.blueprint in HTML_BLUEPRINTS


def _page(status: int, title: str, message: str) -> Response:
    nonce = secrets.token_urlsafe(16)
    # Pages of the front door lead back to the sign-in; launch pages lead nowhere in particular.
    link = "/login" if request.blueprint == "front" else None
    page = render_template(
        "error.html", title=title, message=message, nonce=nonce, link=link, link_text="Back to sign in"
    )
    response = Response(page, status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = f"default-src 'none'; style-src 'nonce-{nonce}'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _json(status: int, code: str, message: str, field: str | None = None) -> Response:
    body = {"http": status, "message": message, "code": code}
    if field:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def handle_idp_error(error: IdpError) -> Response:
    if _wants_html():
        if isinstance(error, LinkInvalid):
            # Say no more than this: which check failed is of use only to an attacker.
            return _page(error.status, "Link invalid or expired", "This link is invalid or has expired.")
        title = "Cannot open this application" if isinstance(error, LaunchError) else "Please try again"
        return _page(error.status, title, error.message)
    if isinstance(error, SecondFactorRequired | SecondFactorInvalid):
        # Rocket.Chat's body, so its clients work unchanged, plus our own `code`.
        response = jsonify(
            {
                "success": False,
                "error": f"{error.message} [{error.error_type}]",
                "errorType": error.error_type,
                "details": error.details,
                "code": error.code,
            }
        )
        response.status_code = error.status
        return response
    if isinstance(error, OAuthError):
        response = jsonify({"error": error.code, "error_description": error.message})
        response.status_code = error.status
        if isinstance(error, InvalidClient) and request.authorization is not None:
            response.headers["WWW-Authenticate"] = 'Basic realm="idp"'
        response.headers["Cache-Control"] = "no-store"
        return response
    response = _json(error.status, error.code, error.message, error.field)
    if isinstance(error, Throttled):
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, AuthenticationRequired) and not isinstance(error, MfaRequired):
        presented = request.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer"
        response.headers["WWW-Authenticate"] = 'Bearer realm="idp"' + (', error="invalid_token"' if presented else "")
    return response


def handle_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if _wants_html():
        return _page(status, error.name, error.description or error.name)
    return _json(status, error.name.replace(" ", ""), error.description or error.name)


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    if _wants_html():
        return _page(500, "Something went wrong", "Something went wrong on our side. Please try again.")
    return _json(500, "InternalError", "internal error")


def init_app(app: Flask) -> None:
    app.register_error_handler(IdpError, handle_idp_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)

"""Errors become HTTP here: each error renders itself (status, body, headers); this module only picks
JSON or a page, by how each blueprint registers (`as_api`, `as_pages`)."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from idp.errors import HttpError, IdpError, InternalError

log = logging.getLogger(__name__)

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _known(error: Exception) -> IdpError:
    """Every error as one of ours: framework refusals keep their status, anything else is an InternalError."""
    if isinstance(error, IdpError):
        return error
    if isinstance(error, HTTPException):
        return HttpError(error.code or 500, error.name, error.description)
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
    return InternalError()


def as_json(error: Exception) -> Response:
    known = _known(error)
    response = jsonify(known.body())
    response.status_code = known.status
    response.headers.update(known.headers())
    return response


def _as_page(error: Exception, back_link: str | None) -> Response:
    known = _known(error)
    nonce = secrets.token_urlsafe(16)
    page = render_template(
        "error.html",
        title=known.title,
        message=known.page_text(),
        nonce=nonce,
        link=back_link,
        link_text="Back to sign in",
    )
    status = known.page_status or known.status
    response = Response(page.encode("utf-8", "replace"), status=status, content_type="text/html; charset=utf-8")
    response.headers.update(known.headers())
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = f"default-src 'none'; style-src 'nonce-{nonce}'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def as_pages(blueprint: Blueprint, *, back_link: str | None = None) -> Blueprint:
    """The blueprint's visitors are people in a browser: its errors are small pages, leading back to `back_link`."""

    def render(error: Exception) -> Response:
        return _as_page(error, back_link)

    blueprint.register_error_handler(Exception, render)
    return blueprint


def as_scim(blueprint: Blueprint) -> Blueprint:
    """The blueprint speaks SCIM: what fails before its view (a body too large, a malformed query)
    is answered in the SCIM error shape (RFC 7644 section 3.12) too."""

    def render(error: Exception) -> Response:
        known = _known(error)
        body = {"schemas": [SCIM_ERROR], "status": str(known.status), "detail": known.message}
        response = jsonify(body)
        response.status_code = known.status
        response.headers.update(known.headers())
        response.headers["Content-Type"] = "application/scim+json"
        return response

    blueprint.register_error_handler(Exception, render)
    return blueprint


def init_app(app: Flask) -> None:
    """Everything else answers JSON: the API, and requests that match no route at all."""
    app.register_error_handler(Exception, as_json)

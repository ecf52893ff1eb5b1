"""Every request measured and logged: its id, one JSON log line, its place in the duration histogram.

The route is Flask's URL rule (`/sso_applications/<app_id>/metadata`), never the path: a path may
carry ids without bound, and the query (never logged here) carries launch links and SAML messages.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, Response, g, request

from idp.telemetry import audit, metrics

REQUEST_ID_HEADER = "X-Request-ID"
# What a request id sent by a proxy or client may be: short, and only characters safe in a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")
UNMATCHED = "unmatched"  # the route of a request no URL rule matched (a 404 or 405)

_log = structlog.get_logger("idp.request")


def request_id(sent: str | None) -> str:
    """The id the client or proxy sent, when it is a valid one; a new random one otherwise."""
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def _started() -> None:
    g.started = time.perf_counter()
    g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)
    audit.bind_request(audit.RequestContext(request.remote_addr, request.user_agent.string or None, g.request_id))


def _answered(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    metrics.request_answered(route, request.method, response.status_code, seconds)
    _log.info(
        "request",
        method=request.method,
        route=route,
        status=response.status_code,
        duration=round(seconds, 6),
        client=request.remote_addr,
    )
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id(None)
    return response


def _finished(_error: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()
    audit.unbind_request()


def init_app(app: Flask) -> None:
    """Registered first, so the clock starts before any other check can refuse the request."""
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_answered)
    app.teardown_request(_finished)

"""What operators and orchestrators ask: /metrics (Prometheus) and /readyz (ready to serve?)."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, jsonify, request

from idp import readiness
from idp.config import is_loopback_host
from idp.errors import Forbidden
from idp.telemetry import metrics
from idp.web import services

bp = Blueprint("operations", __name__)


def _may_read_metrics() -> bool:
    """Loopback callers, or callers with the metrics token (`Authorization: Bearer ...`).

    Behind reverse proxies (IDP_PROXY_HOPS) the connection comes from the proxy, often on loopback
    itself, whoever asked it: there only the token opens the metrics.
    """
    settings = services().settings
    token = settings.metrics_token
    auth = request.headers.get("Authorization", "")
    scheme, _, credentials = auth.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
        return True
    return settings.proxy_hops == 0 and is_loopback_host(request.remote_addr)


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    if not _may_read_metrics():
        raise Forbidden("the metrics are served to loopback, or with the metrics token")
    response = Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def ready() -> Response:
    svc = services()
    found = readiness.check(svc.store, svc.keyring, now=time.time())
    body: dict[str, object] = {"status": "ok" if found.ready else "unavailable", "checks": found.checks}
    if not found.ready:
        body["failing"] = found.failing
    response = jsonify(body)
    response.status_code = 200 if found.ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response

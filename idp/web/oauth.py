"""POST /oauth2/token: the password and refresh_token grants (RFC 6749 sections 4.3 and 6)."""

from __future__ import annotations

import time
from typing import TypeVar
from urllib.parse import unquote_plus

from flask import Blueprint, Response, jsonify, request

from idp.accounts.token_endpoint import ClientCredentials
from idp.errors import InvalidRequest
from idp.presenters import user_json
from idp.telemetry import metrics
from idp.web import services
from idp.web.api import client_address
from idp.web.json_body import parse_json

bp = Blueprint("oauth", __name__)

V = TypeVar("V")


def _single_values(pairs: list[tuple[str, V]]) -> dict[str, V]:
    """RFC 6749 section 3.2: a parameter sent twice makes the request invalid."""
    values: dict[str, V] = {}
    for name, value in pairs:
        if name in values:
            raise InvalidRequest(f"{name} is repeated")
        values[name] = value
    return values


def _params() -> dict[str, str]:
    if request.is_json:
        body = parse_json(request.get_data(), InvalidRequest, object_pairs_hook=_single_values)
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object")
        return {k: v for k, v in body.items() if isinstance(v, str)}
    if request.mimetype == "application/x-www-form-urlencoded":
        return _single_values(list(request.form.items(multi=True)))
    raise InvalidRequest("send the parameters as JSON or application/x-www-form-urlencoded")


def _client_credentials(params: dict[str, str]) -> ClientCredentials:
    """From HTTP Basic (form-encoded, RFC 6749 section 2.3.1) or the body, never both."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        if "client_secret" in params:
            raise InvalidRequest("use one client authentication method, not two")
        return ClientCredentials(unquote_plus(auth.username or ""), unquote_plus(auth.password or ""), True)
    return ClientCredentials(params.get("client_id"), params.get("client_secret"), False)


@bp.post("/oauth2/token")
def token() -> Response:
    params = _params()
    method = params.get("grant_type")
    with metrics.signing_in(method if method in ("password", "refresh_token") else "other") as attempt:
        granted = services().accounts.token_endpoint.grant(
            params, _client_credentials(params), address=client_address(), now=time.time()
        )
        attempt.user_id = granted.signed_in.id if granted.signed_in is not None else None
    body: dict[str, object] = {
        "access_token": granted.pair.access_token,
        "refresh_token": granted.pair.refresh_token,
        "expires_in": granted.pair.expires_in,
        "code": "OK",
    }
    if granted.signed_in is not None:
        body["data"] = user_json(granted.signed_in)
    body["token_type"] = "Bearer"
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response

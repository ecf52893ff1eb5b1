"""POST /oauth2/token: the password and refresh_token grants (RFC 6749 sections 4.3 and 6)."""

from __future__ import annotations

import json
import time
from urllib.parse import unquote_plus

from flask import Blueprint, jsonify, request

from idp.accounts.tokens import authenticate_client, password_grant, refresh_grant
from idp.errors import InvalidRequest, UnsupportedGrantType
from idp.web import services
from idp.web.api import client_address
from idp.web.presenters import user_json

bp = Blueprint("oauth", __name__)


def _single_values(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """RFC 6749 section 3.2: a parameter sent twice makes the request invalid."""
    values: dict[str, object] = {}
    for name, value in pairs:
        if name in values:
            raise InvalidRequest(f"{name} is repeated")
        values[name] = value
    return values


def _params() -> dict[str, str]:
    if request.is_json:
        try:
            body = json.loads(request.get_data(), object_pairs_hook=_single_values)
        except ValueError:
            raise InvalidRequest("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object")
        return {k: v for k, v in body.items() if isinstance(v, str)}
    if request.mimetype == "application/x-www-form-urlencoded":
        return _single_values(list(request.form.items(multi=True)))
    raise InvalidRequest("send the parameters as JSON or application/x-www-form-urlencoded")


def _client_credentials(params: dict[str, str]) -> tuple[str | None, str | None]:
    """From HTTP Basic (form-encoded, RFC 6749 section 2.3.1) or the body, never both."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        if "client_secret" in params:
            raise InvalidRequest("use one client authentication method, not two")
        return unquote_plus(auth.username or ""), unquote_plus(auth.password or "")
    return params.get("client_id"), params.get("client_secret")


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidRequest(f"{name} is required")
    return value


@bp.post("/oauth2/token")
def token():
    svc = services()
    params = _params()
    grant_type = _required(params, "grant_type")
    if grant_type not in ("password", "refresh_token"):
        raise UnsupportedGrantType(f"grant_type {grant_type} is not supported")
    client = authenticate_client(svc.store, *_client_credentials(params))
    if grant_type == "password":
        pair = password_grant(
            svc.store,
            svc.settings,
            client,
            _required(params, "username"),
            _required(params, "password"),
            throttle=svc.throttle,
            address=client_address(),
            now=time.time(),
        )
    else:
        pair = refresh_grant(svc.store, svc.settings, client, _required(params, "refresh_token"))
    body = {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_in": pair.expires_in,
        "code": "OK",
    }
    if grant_type == "password":
        body["data"] = user_json(pair.user)
    body["token_type"] = "Bearer"
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response

"""What every JSON endpoint shares: the envelope, the body, the Bearer caller."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, g, jsonify, request

from idp.accounts.tokens import Bearer
from idp.applications.service import Caller
from idp.errors import ValidationError
from idp.web import services
from idp.web.json_body import parse_json


def envelope(data: Any, *, info: dict[str, Any] | None = None, status: int = 200) -> Response:
    body: dict[str, Any] = {"code": "OK", "data": data}
    if info is not None:
        body["info"] = info
    response = jsonify(body)
    response.status_code = status
    return response


def json_object() -> dict[str, Any]:
    """The request's JSON object body, read once per request through the size and nesting limits."""
    if "json_body" not in g:
        body = parse_json(request.get_data(), ValidationError) if request.is_json else None
        if not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        g.json_body = body
    found: dict[str, Any] = g.json_body
    return found


def string_field(name: str) -> str | None:
    value = json_object().get(name)
    return value if isinstance(value, str) else None


def bearer(*, before_mfa: bool = False) -> Bearer:
    """The authenticated caller, checked once per request.

    A user with MFA must have validated this token pair, except on the few calls that
    say `before_mfa` (reading oneself, validating MFA).
    """
    if "bearer" not in g:
        g.bearer = services().accounts.tokens.bearer(request.headers.get("Authorization"))
    caller: Bearer = g.bearer
    return caller if before_mfa else caller.require_mfa_done()


def caller() -> Caller:
    """The Bearer caller as the application service takes it."""
    found = bearer()
    return Caller(found.user, found.grant.mfa_validated)


def client_address() -> str | None:
    return request.remote_addr


def second_factor(found: Bearer) -> None:
    """Rocket.Chat's protocol: the code and method come in the x-2fa-code and x-2fa-method headers."""
    services().accounts.second_factor.require(
        found.user,
        code=request.headers.get("x-2fa-code"),
        method=request.headers.get("x-2fa-method"),
        address=client_address(),
        now=time.time(),
    )


def int_arg(name: str, default: int | None, *, minimum: int = 0) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number", field=name) from None
    if value < minimum:
        raise ValidationError(f"{name} must be at least {minimum}", field=name)
    return value

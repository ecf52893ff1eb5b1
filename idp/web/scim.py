"""SCIM 2.0 at /scim/v2: reads the request, makes one call, writes the SCIM response."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from idp.scim.service import PREFIX, ScimCall
from idp.web import services
from idp.web.errors import as_scim

bp = as_scim(Blueprint("scim", __name__, url_prefix=PREFIX))
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@bp.route("", defaults={"path": ""}, methods=METHODS)
@bp.route("/", defaults={"path": ""}, methods=METHODS)
@bp.route("/<path:path>", methods=METHODS)
def endpoint(path: str) -> Response:
    call = ScimCall(
        method=request.method,
        path=f"/{path}",
        query=request.args.to_dict(),
        headers=list(request.headers.items()),
        body=request.get_data(),
    )
    answer = services().scim.answer(call)
    body = b"" if answer.body is None else json.dumps(answer.body).encode()
    return Response(body, status=int(answer.status), headers=answer.headers)

"""The least a WSGI app can do, served by the Procfile's gunicorn in `python -m bench`: what gunicorn's
request cycle costs on its own (parse the request, call the app, write the answer, keep the connection)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b"bare"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]

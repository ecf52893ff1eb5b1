"""The least a WSGI app can do, served by the Procfile's gunicorn in `python -m bench`: what gunicorn's
request cycle costs on its own (parse the request, call the app, write the answer, keep the connection),
and the least a Flask view can do, for what Flask adds to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b"bare"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def _flask_app() -> Any:
    from flask import Flask

    flask_app = Flask(__name__)
    for path in ("/", "/healthz"):  # the bench waits for /healthz to answer
        flask_app.add_url_rule(path, path, lambda: {"status": "bare"})
    return flask_app


flask_app = _flask_app()  # a Flask view with nothing around it: what Flask adds to gunicorn

"""The OpenAPI document as an independent judge: schemathesis checks each real answer against it."""

from __future__ import annotations

import functools
import re
from typing import Any

import schemathesis
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import MethodNotAllowed, NotFound

from idp.web.published import OPENAPI

# Flask's `<name>` and `<converter:name>` as OpenAPI's `{name}`.
_RULE_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@functools.cache
def document() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


@functools.cache
def schema() -> Any:
    return schemathesis.openapi.from_dict(document())


def template(rule: str) -> str:
    return _RULE_PARAMETER.sub(r"{\1}", rule)


def documented_template(app: Flask, method: str, path: str) -> str | None:
    """The OpenAPI path that the Flask route answering `method path` is documented under; None if it is not."""
    try:
        rule, _ = app.url_map.bind("localhost").match(path, method=method, return_rule=True)
    except (NotFound, MethodNotAllowed):
        return None
    found = template(rule.rule)
    return found if method.lower() in document()["paths"].get(found, {}) else None


def check_answer(app: Flask, response: Any) -> None:
    """A JSON answer must come from a documented operation, with a documented status and a conforming body."""
    request = response.request
    method, path = request.method, request.path
    found = documented_template(app, method, path)
    if found is None:
        if response.mimetype == "application/json" and response.status_code not in (404, 405):
            raise AssertionError(f"{method} {path} answered JSON but is not in the OpenAPI document")
        return
    documented = document()["paths"][found][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method} {found} answered {status}, which the OpenAPI document does not list"
    schema()[found][method].validate_response(response)


class ContractCheckingClient(FlaskClient):
    """Flask's test client, judging every answer against the OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        check_answer(self.application, response)
        return response

"""The OpenAPI document: valid OpenAPI 3.1, served at /openapi.json, and covering exactly the JSON routes."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.contract import document, template

# Routes of blueprints whose errors are pages, but which answer JSON themselves.
JSON_ON_PAGE_BLUEPRINTS = {"/healthz", "/openapi.json"}


def test_the_document_is_valid_openapi_3_1():
    validate(document())  # openapi-spec-validator picks the 3.1 rules from the `openapi` field
    assert document()["openapi"].startswith("3.1")


def test_the_validator_would_refuse_a_broken_document():
    without_info = {key: value for key, value in document().items() if key != "info"}
    with pytest.raises(OpenAPIValidationError):
        validate(without_info)


def test_it_is_served_at_openapi_json(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == document()


def json_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route that answers JSON: those of blueprints without an error page."""
    paged = {name for name, handlers in app.error_handler_spec.items() if name and Exception in handlers.get(None, {})}
    found = set()
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if rule.endpoint == "static" or (blueprint in paged and rule.rule not in JSON_ON_PAGE_BLUEPRINTS):
            continue
        found |= {(template(rule.rule), method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_json_route_is_documented_and_every_documented_operation_exists(app):
    paths = document()["paths"]
    documented = {(path, method) for path, item in paths.items() for method in item if method != "parameters"}
    assert json_routes(app) == documented

"""schemathesis against the Procfile's gunicorn: generated calls to every operation of /openapi.json
never answer 5xx, and every answer is one the document lists, in the shape it gives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.contract import document
from tests.deployment import Deployment, deploy

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deploy(tmp_path_factory.mktemp("contract"), None) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def admin_token(deployment: Deployment) -> str:
    return deployment.token(deployment.admin_email)


TOKENLESS = ("/oauth2/token", "/users/2fa/send-email-code")


def test_every_operation_answers_within_the_document(deployment: Deployment, admin_token: str) -> None:
    served = schemathesis.openapi.from_dict(requests.get(f"{deployment.base_url}/openapi.json", timeout=10).json())
    operations = [result.ok() for result in served.get_all_operations()]
    documented = [method for item in document()["paths"].values() for method in item if method != "parameters"]
    assert len(operations) == len(documented)

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_within_the_document(case) -> None:
            if "brand" in (case.path_parameters or {}):
                case.path_parameters["brand"] = deployment.brokerage  # a real brand: calls reach past the lookup
            headers = {} if case.operation.path in TOKENLESS else {"Authorization": f"Bearer {admin_token}"}
            case.call_and_validate(base_url=deployment.base_url, headers=headers, checks=CHECKS)

        answers_within_the_document()

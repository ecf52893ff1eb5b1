from __future__ import annotations

import pytest

from tests.api.helpers import Apps, Org
from tests.contract import ContractCheckingClient


@pytest.fixture
def apps(client, api) -> Apps:
    return Apps(client, api)


@pytest.fixture
def org(make) -> Org:
    brand = make.brand("Acme Realty")
    return Org(brand, make.user(brand=brand, role="Admin"), make.user(brand=brand, role="Agent"))


@pytest.fixture
def app(app):
    """The service, whose test clients judge every answer against the OpenAPI document (tests/contract.py)."""
    app.test_client_class = ContractCheckingClient
    return app

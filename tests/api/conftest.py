from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import Apps, Org
from tests.api.smtp_fixtures import Pki, SmtpServer, make_pki, smtp_server
from tests.contract import ContractCheckingClient
from tests.support import redis_server


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


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA and a certificate for the test mail server."""
    return make_pki(tmp_path_factory.mktemp("smtp-pki"))


@pytest.fixture
def smtp(pki: Pki) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback, stopped when the test ends."""
    with smtp_server(pki) as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real redis-server for the API tests that run on both backends; started only if one asks."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url

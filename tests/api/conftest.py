from __future__ import annotations

import pytest

from tests.api.helpers import Apps, Org


@pytest.fixture
def apps(client, api) -> Apps:
    return Apps(client, api)


@pytest.fixture
def org(make) -> Org:
    brand = make.brand("Acme Realty")
    return Org(brand, make.user(brand=brand, role="Admin"), make.user(brand=brand, role="Agent"))

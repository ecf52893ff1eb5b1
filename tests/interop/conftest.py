"""Shared by the interoperability suites: one running IdP, provisioned as a brokerage would be.

Each SP module sets up its own service provider (on a free loopback port when it is a server),
registers it as an SSO application by importing the SP's own metadata through the API
(`helpers.import_sp_metadata`), configures the SP from that application's IdP metadata, and stops
it afterwards. What the modules share is in `helpers.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deployment import Deployment, deploy

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope="session")
def idp(tmp_path_factory) -> Deployment:
    """The IdP under test (embedded store), with a brokerage admin, an office agent and an API client."""
    with deploy(tmp_path_factory.mktemp("interop-idp"), None) as deployment:
        yield deployment

from __future__ import annotations

from pathlib import Path

import pytest

from idp import keyring
from idp.config import Settings
from idp.store import open_store
from idp.web import create_app
from tests.support import PASSWORD, Factory

BASE_URL = "http://127.0.0.1:5000"


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    keyring.generate(folder)
    return folder


@pytest.fixture
def env(tmp_path: Path, keys_dir: Path) -> dict[str, str]:
    """The environment a test service runs with; tests may add to it before `settings` is built."""
    return {"IDP_KEYS_DIR": str(keys_dir), "IDP_DATABASE": str(tmp_path / "idp.sqlite3"), "IDP_BASE_URL": BASE_URL}


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def store(settings: Settings):
    store = open_store(settings)
    yield store
    store.close()


@pytest.fixture
def make(store) -> Factory:
    return Factory(store)


@pytest.fixture
def app(settings: Settings, store):
    return create_app(settings, store=store)


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """Signs users in through /oauth2/token and calls the API as them."""

    def __init__(self, client, make: Factory) -> None:
        self.client = client
        self.oauth_client = make.client()

    def token(self, user, password: str = PASSWORD) -> dict:
        response = self.client.post(
            "/oauth2/token",
            json={
                "grant_type": "password",
                "username": user.email,
                "password": password,
                "client_id": self.oauth_client.client.id,
                "client_secret": self.oauth_client.secret,
            },
        )
        assert response.status_code == 200, response.json
        return response.json

    def headers(self, user) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)['access_token']}"}


@pytest.fixture
def api(client, make: Factory) -> Api:
    return Api(client, make)

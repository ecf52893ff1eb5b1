"""Fixtures shared by the store suites: each backend on fresh storage, a typed store over it, data factories."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from idp.models import Brand, SsoApplication
from idp.store import Store
from idp.store.backend import Backend
from idp.store.observed import ObservedBackend
from idp.store.redis import RedisBackend
from idp.store.sqlite import SqliteBackend
from tests.faults.redis_process import redis_cluster
from tests.support import Factory, redis_server

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    # The wrapper that measures every operation (idp_store_* metrics) must change no behaviour.
    pytest.param("observed-sqlite", id="observed-sqlite"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("cluster", id="cluster", marks=pytest.mark.redis),
]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real redis-server for the whole session; tests keep apart by key prefix."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Redis Cluster of three masters for the whole session; tests keep apart by key prefix."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster.url


@pytest.fixture(params=BACKENDS)
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Backend]]:
    """Opens connections to one storage private to the test: a SQLite file, or a key prefix on one
    redis-server or on a three-master Redis Cluster.

    Every backend opened through it is closed when the test ends.
    """
    if request.param == "sqlite":
        path = tmp_path / "db.sqlite3"

        def connect() -> Backend:
            return SqliteBackend(path)

    elif request.param == "observed-sqlite":
        path = tmp_path / "db.sqlite3"
        seen: list[tuple[str, float, BaseException | None]] = []

        def connect() -> Backend:
            return ObservedBackend(SqliteBackend(path), lambda *call: seen.append(call))

    else:
        url = request.getfixturevalue("redis_url" if request.param == "redis" else "redis_cluster_url")
        prefix = f"test:{uuid.uuid4().hex}:"

        def connect() -> Backend:
            return RedisBackend(url, prefix=prefix)

    opened: list[Backend] = []

    def open_() -> Backend:
        backend = connect()
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(open_backend: Callable[[], Backend]) -> Backend:
    return open_backend()


@pytest.fixture
def store(backend: Backend) -> Store:
    """The typed store over the test's backend (the backend fixture closes it)."""
    return Store(backend)


@pytest.fixture
def make(store: Store) -> Factory:
    return Factory(store)


@pytest.fixture
def make_app(store: Store) -> Callable[..., SsoApplication]:
    """Builds and saves an SSO application owned by a brand, allowed for `allowed` brands."""
    numbers = itertools.count(1)

    def build(owner: Brand, *, allowed: Iterable[Brand] = (), **fields) -> SsoApplication:
        number = next(numbers)
        now = time.time()
        values = {
            "id": str(uuid.uuid4()),
            "owner_brand_id": owner.id,
            "name": f"App {number}",
            "authentication_type": "SAML",
            "created_at": now,
            "updated_at": now,
            "entity_id": f"https://sp{number}.example.com/metadata",
            "acs_url": f"https://sp{number}.example.com/acs",
            "brands": [brand.id for brand in allowed],
        }
        app = SsoApplication(**{**values, **fields})
        store.save_app(app)
        return app

    return build

"""A refresh-token rotation is one step: a store failing at any write of a refresh leaves the user a
refresh token that works once, never neither, and never a reuse that revokes the family; and a
rotation the store applied but whose answer was lost is recovered by presenting the old token again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idp.errors import StoreUnavailable
from idp.store import Store
from idp.store.sqlite import SqliteBackend
from tests.api.test_tokens import refresh_body


@pytest.fixture
def user(make):
    return make.user(brand=make.brand(), role="Agent")


class FailsOneWrite(SqliteBackend):
    """The real SQLite backend, except that once armed it lets `passes` writes through, then fails the
    next one as an unavailable store would, before it touches the file.  (No real part fails exactly
    the write chosen and recovers at once; the frozen redis-server of tests/faults is the real one.)"""

    def __init__(self, path: Path, **options: Any) -> None:
        super().__init__(path, **options)
        self._passes: int | None = None
        self.failed = False
        self.lose_next_answer = False

    def fail_after(self, passes: int | None) -> None:
        """Fail the write after the next `passes`; None: fail none."""
        self._passes = passes

    def _next_write(self) -> None:
        if self._passes is None:
            return
        if self._passes == 0:
            self._passes, self.failed = None, True
            raise StoreUnavailable()
        self._passes -= 1

    def put(self, *args: Any, **kwargs: Any) -> None:
        self._next_write()
        super().put(*args, **kwargs)

    def swap(self, *args: Any, **kwargs: Any) -> bool:
        self._next_write()
        swapped = super().swap(*args, **kwargs)
        if self.lose_next_answer:
            # Applied, and then the answer is lost: what a store that dies just after committing does.
            self.lose_next_answer, self.failed = False, True
            raise StoreUnavailable()
        return swapped

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        self._next_write()
        return super().delete(*args, **kwargs)

    def claim_once(self, *args: Any, **kwargs: Any) -> bool:
        self._next_write()
        return super().claim_once(*args, **kwargs)


@pytest.fixture
def store(settings):
    store = Store(FailsOneWrite(settings.database_path))
    yield store
    store.close()


@pytest.mark.parametrize("passes", [0, 1, 2, 3])
def test_a_store_failing_at_any_write_of_a_refresh_leaves_a_refresh_token_that_works_once(
    client, api, user, store, passes
):
    first = api.token(user)
    store.backend.fail_after(passes)

    response = client.post("/oauth2/token", json=refresh_body(api, first["refresh_token"]))
    store.backend.fail_after(None)  # the store is back

    if response.status_code == 503:
        assert store.backend.failed
        usable = first["refresh_token"]  # nothing happened: the old token is still the one to use
    else:
        assert response.status_code == 200, response.json
        usable = response.json["refresh_token"]
    assert passes > 0 or response.status_code == 503, "the first write of a refresh must be its rotation"
    again = client.post("/oauth2/token", json=refresh_body(api, usable))
    assert again.status_code == 200, again.json
    headers = {"Authorization": f"Bearer {again.json['access_token']}"}
    assert client.get("/users/self", headers=headers).status_code == 200
    # Presented again at once, it is taken for a retry and answered with the same pair: nothing new.
    retried = client.post("/oauth2/token", json=refresh_body(api, usable))
    assert retried.json["refresh_token"] == again.json["refresh_token"]
    # Once its successor is exchanged in turn, it is spent.
    assert client.post("/oauth2/token", json=refresh_body(api, again.json["refresh_token"])).status_code == 200
    assert client.post("/oauth2/token", json=refresh_body(api, usable)).status_code == 400


def test_a_rotation_applied_but_unanswered_is_recovered_by_presenting_the_old_token_again(client, api, user, store):
    first = api.token(user)
    store.backend.lose_next_answer = True

    lost = client.post("/oauth2/token", json=refresh_body(api, first["refresh_token"]))

    assert lost.status_code == 503, lost.json
    assert store.backend.failed
    retried = client.post("/oauth2/token", json=refresh_body(api, first["refresh_token"]))
    assert retried.status_code == 200, retried.json
    headers = {"Authorization": f"Bearer {retried.json['access_token']}"}
    assert client.get("/users/self", headers=headers).status_code == 200
    assert client.post("/oauth2/token", json=refresh_body(api, retried.json["refresh_token"])).status_code == 200
    assert client.post("/oauth2/token", json=refresh_body(api, first["refresh_token"])).status_code == 400

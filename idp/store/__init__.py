"""Storage: one `Store` interface over an embedded SQLite or a shared Redis backend."""

from __future__ import annotations

from idp.config import Settings
from idp.store.store import Store


def open_store(settings: Settings) -> Store:
    """Redis when REDIS_URL is set, else the embedded SQLite file."""
    if settings.redis_url:
        from idp.store.redis import RedisBackend

        return Store(
            RedisBackend(
                settings.redis_url,
                settings.redis_prefix,
                socket_timeout=settings.redis_socket_timeout,
                connect_timeout=settings.redis_connect_timeout,
                claim_replicas=settings.redis_claim_replicas,
            )
        )
    from idp.store.sqlite import SqliteBackend

    return Store(SqliteBackend(settings.database_path, busy_timeout=settings.sqlite_busy_timeout))


__all__ = ["Store", "open_store"]

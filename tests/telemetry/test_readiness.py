"""/readyz: a real round trip to the store and keys that sign; 503 naming the part that fails. /healthz stays up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from idp.config import Settings
from idp.errors import ConfigurationError
from idp.store import open_store
from idp.web import create_app
from tests.support import redis_server, self_signed_certificate, write_lock_held


def test_ready_when_the_store_answers_and_the_keys_sign(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"store": "ok", "keys": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_locked_sqlite_file_makes_the_store_not_ready_but_the_process_alive(env, tmp_path):
    settings = Settings.from_env({**env, "IDP_SQLITE_BUSY_TIMEOUT": "0.2"})
    client = create_app(settings).test_client()
    assert client.get("/readyz").status_code == 200
    with write_lock_held(settings.database_path):
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json["failing"] == ["store"]
    assert response.json["checks"]["store"].startswith("unavailable")
    assert response.json["checks"]["keys"] == "ok"


def _keys_with_certificate(keys_dir: Path, folder: Path, *, expired: bool) -> Path:
    shutil.copytree(keys_dir, folder)
    key = serialization.load_pem_private_key((folder / "signing.key").read_bytes(), password=None)
    if not expired:  # a valid certificate, but for another key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert isinstance(key, rsa.RSAPrivateKey)
    certificate = self_signed_certificate(key, "idp", days_before=30, days_after=-1 if expired else 30)
    (folder / "signing.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return folder


def test_an_expired_certificate_makes_the_keys_not_ready(env, store, keys_dir, tmp_path):
    folder = _keys_with_certificate(keys_dir, tmp_path / "keys", expired=True)
    client = create_app(Settings.from_env({**env, "IDP_KEYS_DIR": str(folder)}), store=store).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["keys"]
    assert "expired" in response.json["checks"]["keys"]
    assert response.json["checks"]["store"] == "ok"


def test_a_certificate_of_another_key_is_refused_before_the_service_starts(env, store, keys_dir, tmp_path):
    folder = _keys_with_certificate(keys_dir, tmp_path / "keys", expired=False)
    with pytest.raises(ConfigurationError, match="is not the certificate of"):
        create_app(Settings.from_env({**env, "IDP_KEYS_DIR": str(folder)}), store=store)


@pytest.mark.redis
def test_a_stopped_redis_server_makes_the_store_not_ready(env, tmp_path):
    with redis_server(tmp_path) as url:
        settings = Settings.from_env({**env, "REDIS_URL": url, "IDP_REDIS_PREFIX": f"ready-{tmp_path.name}:"})
        store = open_store(settings)
        client = create_app(settings, store=store).test_client()
        assert client.get("/readyz").status_code == 200
    # redis-server is stopped now (its process waited for): the same service, the same connection pool.
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json["status"] == "unavailable"
        assert response.json["failing"] == ["store"]
        assert client.get("/healthz").status_code == 200
    finally:
        store.close()

"""./scripts/serve on a first run (no keys yet): it says what it does, makes the keys, and serves."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import free_port, http_ok, running

ROOT = Path(__file__).resolve().parents[2]


def test_a_first_run_says_it_generates_keys_then_serves(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "IDP_KEYS_DIR": str(tmp_path / "keys"),
        "IDP_DATABASE": str(tmp_path / "idp.sqlite3"),
        "WEB_CONCURRENCY": "1",
    }
    for name in ("HOST", "REDIS_URL", "IDP_BASE_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    log = tmp_path / "serve.log"
    with running(
        [str(ROOT / "scripts" / "serve")],
        env=env,
        ready=http_ok(f"http://127.0.0.1:{port}/readyz"),
        what="scripts/serve",
        log=log,
    ):
        said = log.read_text()
    assert "serve: no signing key in" in said and "generating development keys" in said
    assert f"serve: starting gunicorn on http://127.0.0.1:{port}" in said
    assert 'export PATH="' in said  # how to reach the idp command
    assert (tmp_path / "keys" / "signing.key").exists()

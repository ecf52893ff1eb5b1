"""A real deployment for tests: keys and data provisioned with the `idp` command, and the
Procfile's gunicorn serving them on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import requests

from tests.support import PASSWORD, free_port, http_ok, running, venv_bin

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Deployment:
    base_url: str
    env: dict[str, str]
    office: str
    brokerage: str
    admin_email: str
    agent_email: str
    client_id: str
    client_secret: str
    log: Path  # gunicorn's output: the access log and the error log
    master_pid: int  # gunicorn's arbiter, whose children are the workers

    def token(self, email: str) -> str:
        return json_token(self, email)

    def call(self, method: str, path: str, *, as_user: str | None = None, **kwargs) -> requests.Response:
        """An API call as the given user (the brokerage admin by default)."""
        headers = {"Authorization": f"Bearer {self.token(as_user or self.admin_email)}"}
        return requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def create_app(self, **fields) -> dict:
        """An SSO application owned by and allowed for the brokerage; returns its JSON."""
        body = {"name": "App", "authentication_type": "SAML", "brands": [self.brokerage], **fields}
        response = self.call("POST", f"/brands/{self.brokerage}/sso_applications", json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def update_app(self, app_id: str, **fields) -> dict:
        response = self.call("PUT", f"/brands/{self.brokerage}/sso_applications/{app_id}", json=fields)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def open_url(self, app_id: str) -> str:
        """A fresh launch link for the agent, as the agent's app list gives it."""
        listed = self.call("GET", f"/brands/{self.office}/sso_applications", as_user=self.agent_email).json()
        (app,) = [item for item in listed["data"] if item["id"] == app_id]
        return app["open_url"]

    def launch(self, app_id: str) -> tuple[str, dict[str, str]]:
        """Open the agent's link: the ACS the page posts to, and the form's fields."""
        page = requests.get(self.open_url(app_id), timeout=30, allow_redirects=False)
        assert page.status_code == 200, page.text
        form = lxml.html.fromstring(page.text).forms[0]
        return form.action, dict(form.fields)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> dict:
    result = subprocess.run([venv_bin("idp"), *args], env=env, input=stdin, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, "each command prints exactly one JSON object"
    return json.loads(lines[0])


def procfile_web_command() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("Procfile has no web: line")


@contextlib.contextmanager
def deploy(
    workdir: Path, redis_url: str | None, extra_env: dict[str, str] | None = None, *, host_name: str = "127.0.0.1"
):
    """`extra_env`: further settings for the service (SMTP_URL, ...); `host_name`: how its URL names the
    loopback host (WebAuthn takes a domain such as `localhost` as its RP id, never an IP address)."""
    port = free_port()
    base_url = f"http://{host_name}:{port}"
    env = {
        **os.environ,
        "PATH": f"{Path(venv_bin('gunicorn')).parent}:{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "IDP_BASE_URL": base_url,
        "IDP_KEYS_DIR": str(workdir / "keys"),
        "IDP_DATABASE": str(workdir / "idp.sqlite3"),
    }
    env.pop("REDIS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each gunicorn makes its own
    env.update(extra_env or {})
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["IDP_REDIS_PREFIX"] = f"e2e-{workdir.name}:"
    cli(env, "keys", "generate")
    brokerage = cli(env, "brands", "create", "Acme Realty")["id"]
    office = cli(env, "brands", "create", "Acme Downtown", "--parent", brokerage, "--type", "Office")["id"]
    admin = cli(
        env,
        "users",
        "create",
        "admin@acme.example",
        "--first-name",
        "Ann",
        "--last-name",
        "Admin",
        "--password-stdin",
        "--brand",
        brokerage,
        "--role",
        "Admin",
        stdin=PASSWORD + "\n",
    )
    agent = cli(
        env,
        "users",
        "create",
        "agent@acme.example",
        "--first-name",
        "Avery",
        "--last-name",
        "Agent",
        "--password-stdin",
        "--brand",
        office,
        "--role",
        "Agent",
        stdin=PASSWORD + "\n",
    )
    client = cli(env, "clients", "create", "e2e")
    log = workdir / "gunicorn.log"
    with running(
        ["sh", "-c", "exec " + procfile_web_command()],
        env=env,
        ready=http_ok(f"{base_url}/healthz"),
        what="gunicorn",
        log=log,
    ) as master:
        yield Deployment(
            base_url,
            env,
            office,
            brokerage,
            admin["email"],
            agent["email"],
            client["client_id"],
            client["client_secret"],
            log,
            master.pid,  # `exec` makes the shell gunicorn itself
        )


def json_token(deployment: Deployment, email: str) -> str:
    """The documented JSON body, with the client credentials in it."""
    response = requests.post(
        f"{deployment.base_url}/oauth2/token",
        json={
            "grant_type": "password",
            "username": email,
            "password": PASSWORD,
            "client_id": deployment.client_id,
            "client_secret": deployment.client_secret,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]

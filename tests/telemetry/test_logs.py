"""The request lines and audit events, as structlog writes them, parsed as JSON; X-Request-ID."""

from __future__ import annotations

import json
import re

import pytest

from idp.config import Settings
from idp.telemetry import logs
from idp.web import create_app
from tests.api.helpers import Org, saml_app
from tests.conftest import Api
from tests.telemetry.scrape import json_lines

REQUEST_FIELDS = {"event", "method", "route", "status", "duration", "request_id", "client", "timestamp", "level", "pid"}


@pytest.fixture(autouse=True)
def json_format():
    yield
    logs.configure("json")  # a test that switched to console leaves the default behind


def test_one_json_line_per_request_with_its_fields(client, capsys):
    capsys.readouterr()
    response = client.get("/healthz", headers={"X-Request-ID": "edge-4711.a:b"})
    assert response.headers["X-Request-ID"] == "edge-4711.a:b"
    (line,) = [entry for entry in json_lines(capsys.readouterr().err) if entry["event"] == "request"]
    assert set(line) >= REQUEST_FIELDS
    assert line["method"] == "GET" and line["route"] == "/healthz" and line["status"] == 200
    assert line["request_id"] == "edge-4711.a:b" and line["client"] == "127.0.0.1"
    assert isinstance(line["duration"], float) and 0 <= line["duration"] < 5
    assert line["level"] == "info"


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "semi;colon", "tab\tx", 'quote"', "", "ü-not-ascii"])
def test_a_request_id_that_is_too_long_or_odd_is_replaced(client, capsys, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    generated = response.headers["X-Request-ID"]
    assert generated != sent and re.fullmatch(r"[0-9a-f]{32}", generated)
    (line,) = [entry for entry in json_lines(capsys.readouterr().err) if entry["event"] == "request"]
    assert line["request_id"] == generated


def test_every_answer_carries_a_request_id_even_an_error(client):
    first, second = client.get("/no/such/page"), client.get("/no/such/page")
    assert first.status_code == 404
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_sign_ins_are_audit_events_and_no_secret_is_logged(apps, api: Api, client, org: Org, capsys):
    created = apps.created(org.admin, org.brand, saml_app(start_url="https://sp.example.com/relay-secret-0815"))
    (listed,) = [item for item in apps.listed(org.agent, org.brand) if item["id"] == created["id"]]
    capsys.readouterr()
    tokens = api.token(org.agent)
    wrong = {
        "grant_type": "password",
        "username": org.agent.email,
        "password": "a wrong passphrase 2718",
        "client_id": api.oauth_client.client.id,
        "client_secret": api.oauth_client.secret,
    }
    assert client.post("/oauth2/token", json=wrong).status_code == 400
    launch = client.get(listed["open_url"])
    assert launch.status_code == 200
    output = capsys.readouterr().err

    entries = json_lines(output)
    assert len(entries) == len(output.splitlines())  # every line is one JSON object
    audits = [entry for entry in entries if entry["event"] == "audit"]
    assert [(a["action"], a["outcome"], a["actor"]) for a in audits] == [
        ("sign_in", "success", org.agent.id),
        ("sign_in", "failure", None),
        ("launch", "saml", org.agent.id),
    ]
    assert all(a["details"] == {"method": "password"} for a in audits[:2])
    assert all(a["request_id"] and a["client"] == "127.0.0.1" for a in audits)
    assert audits[2]["target"] == f"app:{created['id']}" and audits[2]["brand_ids"] == [org.brand.id]
    secrets = [
        tokens["access_token"],
        tokens["refresh_token"],
        api.oauth_client.secret,
        "a wrong passphrase 2718",
        listed["open_url"].split("hash=")[1][:20],
        "relay-secret-0815",
        "SAMLResponse",
    ]
    for secret in secrets:
        assert secret not in output


def test_what_other_code_logs_is_json_too_and_redacted(client, capsys):
    import logging

    capsys.readouterr()
    logging.getLogger("idp.somewhere").warning("failed on /sso_applications/open?hash=k1.SEALED-4711&x=1")
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "warning" and line["logger"] == "idp.somewhere"
    assert "SEALED-4711" not in json.dumps(line) and "hash=[redacted]&x=1" in line["event"]


def test_fields_named_like_a_credential_are_redacted_whole():
    event = logs.drop_secrets(None, "info", {"event": "x", "password": "hunter2", "nested": {"token": "t"}, "n": 3})
    assert event == {"event": "x", "password": "[redacted]", "nested": {"token": "[redacted]"}, "n": 3}


def test_the_console_format_is_for_people(env, store, capsys):
    client = create_app(Settings.from_env({**env, "IDP_LOG_FORMAT": "console"}), store=store).test_client()
    capsys.readouterr()
    client.get("/healthz")
    output = capsys.readouterr().err
    assert "request" in output and "route=/healthz" in output
    assert not output.lstrip().startswith("{")


def test_an_unknown_log_format_is_refused(env):
    from idp.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="IDP_LOG_FORMAT"):
        Settings.from_env({**env, "IDP_LOG_FORMAT": "xml"})

"""`idp events`: the audit log for operators, run as a real process against a service's store."""

from __future__ import annotations

import time

from idp.config import Settings
from idp.web import create_app
from tests.cli.test_cli import ok, refused
from tests.cli.test_people_cli import home, people  # noqa: F401 - fixtures
from tests.support import PASSWORD


def test_what_the_operator_and_the_service_did_is_listed_newest_first(home, people) -> None:  # noqa: F811
    bob, office = people["bob"], people["office"]
    ok(home, "members", "add", office["id"], bob["email"], "--role", "Agent")
    ok(home, "users", "disable", bob["id"])
    ok(home, "users", "enable", bob["id"])
    client = ok(home, "clients", "create", "back office")
    service = create_app(Settings.from_env(home)).test_client()
    body = {
        "grant_type": "password",
        "username": people["ann"]["email"],
        "password": PASSWORD,
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
    }
    assert service.post("/oauth2/token", json=body, environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200

    of_bob = ok(home, "events", "--user", bob["email"])["data"]
    assert [(e["action"], e["actor"], e["target"]) for e in of_bob] == [
        ("user.enable", None, f"user:{bob['id']}"),
        ("user.disable", None, f"user:{bob['id']}"),
        ("member.add", None, f"user:{bob['id']}"),
    ]
    assert all(e["brand_ids"] == [office["id"]] and e["client"] is None for e in of_bob)

    listed = ok(home, "events", "--brand", people["brand"]["id"])["data"]
    (signed_in,) = listed
    assert (signed_in["action"], signed_in["actor"], signed_in["client"]) == (
        "sign_in",
        people["ann"]["id"],
        "10.9.8.7",
    )
    assert client["client_secret"] not in str(ok(home, "events")["data"])

    assert len(ok(home, "events")["data"]) == 4
    assert ok(home, "events", "--since", str(time.time() + 60))["data"] == []
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    assert len(ok(home, "events", "--since", hour_ago, "--user", bob["id"])["data"]) == 3
    assert "since must be" in refused(home, "events", "--since", "last tuesday")

"""The audit log over HTTP: each kind of event, recorded by doing the real thing, read back through
GET /brands/:brand/events by those who may, filtered and paged newest first; and its log line."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from idp.accounts.throttle import DEFAULT_RULES
from idp.models import User
from idp.scim.tokens import ScimTokens
from tests.api.helpers import Apps, Org, saml_app
from tests.api.mfa_helpers import Mfa, next_code, wrong_code
from tests.api.people_helpers import As, Tree, make_tree
from tests.api.test_authn_requests_answered import ACS_URL, SP_ENTITY_ID, posted, python3_saml_request, send, statuses
from tests.api.test_scim import Scim
from tests.api.test_second_factor import by_password
from tests.hostile.front import sign_in as browser_sign_in
from tests.support import PASSWORD, wait_until

NEW_MEMBER = {"email": "new.member@example.com", "first_name": "Nia", "last_name": "New", "role": "Agent"}
LIMIT = next(rule for rule in DEFAULT_RULES if rule.scope == "account+address").limit
AGENT = {"HTTP_USER_AGENT": "AuditTest/1.0", "REMOTE_ADDR": "10.1.2.3"}
FIELDS = {"id", "time", "action", "outcome", "actor", "target", "brand_ids", "client", "user_agent", "request_id"}


@pytest.fixture
def as_(client, api) -> As:
    return As(client, api)


@pytest.fixture
def tree(make) -> Tree:
    return make_tree(make)


def events(as_: As, admin: User, brand_id: str, **query: Any) -> list[dict[str, Any]]:
    response = as_.call(admin, "GET", f"/brands/{brand_id}/events", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["data"]


def only(found: list[dict[str, Any]], action: str, **fields: Any) -> dict[str, Any]:
    """The one event of `action` whose fields are those given."""
    (event,) = [e for e in found if e["action"] == action and all(e[k] == v for k, v in fields.items())]
    assert set(event) >= FIELDS
    return event


def password_grant(client, api, user: User, password: str, environ=None):
    body = {
        "grant_type": "password",
        "username": user.email,
        "password": password,
        "client_id": api.oauth_client.client.id,
        "client_secret": api.oauth_client.secret,
    }
    return client.post("/oauth2/token", json=body, environ_base=environ or {})


# each kind of event


def test_sign_ins_right_and_wrong_are_events_with_method_client_and_user_agent(client, api, as_, org: Org):
    assert password_grant(client, api, org.agent, "not the password at all", AGENT).status_code == 400
    assert password_grant(client, api, org.agent, PASSWORD, AGENT).status_code == 200

    found = events(as_, org.admin, org.brand.id, action="sign_in", user_id=org.agent.id)

    wrong, right = found[1], found[0]  # newest first
    assert wrong["outcome"] == "failure" and wrong["actor"] is None and wrong["target"] == f"user:{org.agent.id}"
    assert right["outcome"] == "success" and right["actor"] == org.agent.id
    for event in (wrong, right):
        assert event["details"] == {"method": "password"}
        assert event["client"] == "10.1.2.3" and event["user_agent"] == "AuditTest/1.0"
        assert event["brand_ids"] == [org.brand.id] and event["request_id"]


def test_a_browser_sign_in_is_an_event_too(client, as_, org: Org):
    browser_sign_in(client, org.agent)

    only(events(as_, org.admin, org.brand.id, action="sign_in"), "sign_in", actor=org.agent.id)


def test_a_launch_records_the_app_brand_user_and_outcome(client, apps: Apps, as_, org: Org):
    created = apps.created(org.admin, org.brand, saml_app())
    (listed,) = [item for item in apps.listed(org.agent, org.brand) if item["id"] == created["id"]]
    assert client.get(listed["open_url"]).status_code == 200
    assert client.get(listed["open_url"]).status_code != 200  # a link opens once

    found = events(as_, org.admin, org.brand.id, action="launch")

    assert [(e["outcome"], e["actor"], e["target"]) for e in found] == [
        ("LinkInvalid", org.agent.id, f"app:{created['id']}"),
        ("saml", org.agent.id, f"app:{created['id']}"),
    ]
    assert all(e["brand_ids"] == [org.brand.id] for e in found)


def test_an_sp_initiated_answer_records_its_status(client, apps: Apps, as_, org: Org):
    app = apps.created(org.admin, org.brand, saml_app(entity_id=SP_ENTITY_ID, acs_url=ACS_URL))
    browser_sign_in(client, org.agent)
    _, encoded, _ = posted(send(client, python3_saml_request()))
    assert statuses(encoded) == ["Success"]

    event = only(events(as_, org.admin, org.brand.id), "sp_answer")

    assert event["details"] == {"status": "Success"} and event["outcome"] == "success"
    assert event["actor"] == org.agent.id and event["target"] == f"app:{app['id']}"


def test_a_refused_sp_initiated_answer_belongs_to_the_app_s_brand(client, apps: Apps, as_, org: Org, make):
    app = apps.created(org.admin, org.brand, saml_app(entity_id=SP_ENTITY_ID, acs_url=ACS_URL))
    browser_sign_in(client, make.user(brand=make.brand()))  # may not open the app
    _, encoded, _ = posted(send(client, python3_saml_request()))
    assert statuses(encoded) == ["Responder", "RequestDenied"]

    event = only(events(as_, org.admin, org.brand.id), "sp_answer")

    assert event["details"] == {"status": "Responder/RequestDenied"} and event["outcome"] == "refused"
    assert event["target"] == f"app:{app['id']}" and event["brand_ids"] == [org.brand.id]


def test_mfa_setup_recovery_codes_and_removal_are_events(client, api, as_, org: Org):
    mfa = Mfa(client, api)
    enabled = mfa.enable(org.agent)
    codes_at = client.post(
        "/users/self/mfa/recovery-codes",
        headers={**enabled.pair.headers, "x-2fa-code": next_code(enabled.secret), "x-2fa-method": "totp"},
    )
    assert codes_at.status_code == 200, codes_at.json
    recovery_code = codes_at.json["data"]["mfa_recovery_codes"][0]
    assert mfa.remove(enabled.pair, recovery_code).status_code == 204

    found = events(as_, org.admin, org.brand.id, user_id=org.agent.id)

    for action in ("mfa.enable", "mfa.recovery_codes", "mfa.remove"):
        event = only(found, action)
        assert event["actor"] == org.agent.id and event["target"] == f"user:{org.agent.id}"
    assert enabled.secret not in json.dumps(found) and recovery_code not in json.dumps(found)


def test_a_password_change_is_an_event(client, api, as_, org: Org):
    headers = api.headers(org.agent)
    body = {"old_password": PASSWORD, "new_password": "purple monkey dishwasher 42"}
    assert client.put("/users/self/password", json=body, headers={**headers, **by_password()}).status_code == 204

    found = events(as_, org.admin, org.brand.id, action="password.change")

    assert only(found, "password.change")["actor"] == org.agent.id
    assert "purple monkey" not in json.dumps(found)


def test_admin_actions_name_the_admin_the_user_and_the_brand(as_, tree: Tree):
    assert as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable").status_code == 200
    assert as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/enable").status_code == 200
    new = as_.call(tree.office_admin, "POST", f"/brands/{tree.office.id}/members", NEW_MEMBER)
    assert new.status_code == 200, new.json
    added = new.json["data"]["id"]
    put = as_.call(tree.office_admin, "PUT", f"/brands/{tree.office.id}/members/{added}", {"role": "Admin"})
    assert put.status_code == 200

    found = events(as_, tree.office_admin, tree.office.id)

    for action in ("user.disable", "user.enable"):
        event = only(found, action)
        assert event["actor"] == tree.office_admin.id and event["target"] == f"user:{tree.agent.id}"
        assert event["brand_ids"] == [tree.office.id] and event["outcome"] == "success"
    assert only(found, "member.add")["target"] == f"user:{added}"
    assert only(found, "member.set_role")["details"] == {"role": "Admin"}


def test_removing_a_member_and_deleting_an_account_are_events(as_, tree: Tree):
    new = as_.call(tree.office_admin, "POST", f"/brands/{tree.office.id}/members", NEW_MEMBER)
    added = new.json["data"]["id"]
    assert as_.call(tree.office_admin, "DELETE", f"/brands/{tree.office.id}/members/{added}").status_code == 204
    assert as_.call(tree.office_admin, "DELETE", f"/users/{tree.agent.id}").status_code == 204

    found = events(as_, tree.office_admin, tree.office.id)

    removed = only(found, "member.remove")
    assert removed["target"] == f"user:{added}" and removed["actor"] == tree.office_admin.id
    deleted = only(found, "user.delete")
    assert deleted["target"] == f"user:{tree.agent.id}" and deleted["brand_ids"] == [tree.office.id]


def test_an_mfa_reset_by_an_admin_is_an_event(client, api, as_, tree: Tree):
    Mfa(client, api).enable(tree.agent)
    second = by_password(PASSWORD)
    reset = as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/mfa/reset", headers=second)
    assert reset.status_code == 200, reset.json

    event = only(events(as_, tree.office_admin, tree.office.id), "mfa.reset")

    assert event["actor"] == tree.office_admin.id and event["target"] == f"user:{tree.agent.id}"


def test_scim_updates_and_deletes_are_events(client, store, as_, org: Org):
    token = ScimTokens(store).create(org.brand.id)
    scim = Scim(client, token.secret)
    created = scim.create_user("ann.lee@example.com")
    patched = scim.patch(f"/Users/{created['id']}", {"op": "replace", "path": "name.givenName", "value": "Anna"})
    assert patched.status_code in (200, 204), patched.text
    assert scim.call("DELETE", f"/Users/{created['id']}").status_code == 204

    found = events(as_, org.admin, org.brand.id)

    for action in ("scim.user.update", "scim.user.delete"):
        assert only(found, action)["target"] == f"user:{created['id']}"


def test_a_scim_create_is_an_event_of_the_token_s_root_brand(client, store, as_, org: Org):
    token = ScimTokens(store).create(org.brand.id)
    created = Scim(client, token.secret).create_user("ann.lee@example.com")

    event = only(events(as_, org.admin, org.brand.id), "scim.user.create")

    assert event["target"] == f"user:{created['id']}" and event["actor"] is None
    assert event["details"] == {"token": token.token.id}
    assert token.secret not in json.dumps(event)


def test_a_refresh_token_reuse_is_an_event(client, api, as_, org: Org):
    mfa = Mfa(client, api)
    first = mfa.pair(org.agent)
    mfa.refresh(mfa.refresh(first))  # the successor exchanged: the first token's use is now a reuse
    body = {
        "grant_type": "refresh_token",
        "refresh_token": first.refresh_token,
        "client_id": api.oauth_client.client.id,
        "client_secret": api.oauth_client.secret,
    }
    assert client.post("/oauth2/token", json=body).status_code == 400

    found = events(as_, org.admin, org.brand.id, user_id=org.agent.id)

    event = only(found, "refresh_token.reuse")
    assert event["outcome"] == "revoked" and event["target"] == f"user:{org.agent.id}"
    assert first.refresh_token not in json.dumps(found)


def test_a_throttle_lockout_is_one_event_naming_the_account(client, api, as_, org: Org):
    mfa = Mfa(client, api)
    enabled = mfa.enable(org.agent)
    for _ in range(LIMIT + 2):
        mfa.validate(enabled.pair, wrong_code(enabled.secret))

    found = events(as_, org.admin, org.brand.id, action="throttle.lockout")

    event = only(found, "throttle.lockout")
    assert event["target"] == f"user:{org.agent.id}" and event["outcome"] == "locked"
    assert event["details"] == {"attempt": "mfa", "scope": "account+address", "limit": LIMIT}


# who may read


def test_admins_of_the_brand_and_of_a_parent_brand_read_its_events(as_, tree: Tree):
    as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable")

    for admin in (tree.office_admin, tree.root_admin):
        only(events(as_, admin, tree.office.id), "user.disable", target=f"user:{tree.agent.id}")


def test_an_admin_of_another_brand_and_an_agent_are_refused(as_, tree: Tree, make):
    other_admin = make.user(brand=tree.other, role="Admin")
    for who in (other_admin, tree.agent, tree.office_admin):
        brand = tree.root.id if who is tree.office_admin else tree.office.id  # an office admin is not a root one
        response = as_.call(who, "GET", f"/brands/{brand}/events")
        assert response.status_code == 403, (who.email, response.json)


def test_a_brand_lists_its_own_events_and_those_below_it_never_those_above(as_, tree: Tree, make):
    other_admin = make.user(brand=tree.other, role="Admin")
    as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable")
    as_.call(tree.root_admin, "PUT", f"/brands/{tree.root.id}/members/{tree.root_admin.id}", {"role": "Admin"})

    in_root = {e["action"] for e in events(as_, tree.root_admin, tree.root.id)}
    assert {"user.disable", "member.set_role"} <= in_root
    in_office = {e["action"] for e in events(as_, tree.office_admin, tree.office.id)}
    assert "user.disable" in in_office and "member.set_role" not in in_office
    assert [e for e in events(as_, other_admin, tree.other.id) if e["action"] == "user.disable"] == []


def test_an_unknown_brand_is_404_and_a_bad_moment_400(as_, org: Org):
    assert as_.call(org.admin, "GET", "/brands/no-such-brand/events").status_code == 404
    response = as_.call(org.admin, "GET", f"/brands/{org.brand.id}/events", query_string={"since": "yesterday"})
    assert response.status_code == 400 and response.json["field"] == "since"


# filters and paging


def test_filters_paging_and_newest_first(as_, tree: Tree):
    for _ in range(3):
        as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable")
        as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/enable")
    middle = time.time()
    as_.call(tree.office_admin, "POST", f"/users/{tree.shared.id}/disable")  # refused: shared is in another brand

    disables = events(as_, tree.office_admin, tree.office.id, action="user.disable")
    times = [e["time"] for e in disables]
    assert len(disables) == 3 and times == sorted(times, reverse=True)

    path = f"/brands/{tree.office.id}/events"
    page = as_.call(tree.office_admin, "GET", path, query_string={"user_id": tree.agent.id, "limit": 2, "start": 1})
    assert page.json["info"] == {"count": 2, "total": 6}
    everything = events(as_, tree.office_admin, tree.office.id, user_id=tree.agent.id)
    assert [e["id"] for e in page.json["data"]] == [e["id"] for e in everything[1:3]]
    assert {e["action"] for e in everything} == {"user.disable", "user.enable"}

    assert events(as_, tree.office_admin, tree.office.id, user_id=tree.agent.id, since=middle) == []
    until = events(as_, tree.office_admin, tree.office.id, action="user.enable", until=times[-1])
    assert until == []  # every enable came after the first disable
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(middle - 3600))
    assert len(events(as_, tree.office_admin, tree.office.id, user_id=tree.agent.id, since=iso)) == 6


# the log line


def test_each_event_is_one_json_log_line_with_no_secret(client, api, as_, org: Org, capsys):
    capsys.readouterr()
    tokens = api.token(org.agent)
    password_grant(client, api, org.agent, "a wrong passphrase 2718")
    output = capsys.readouterr().err

    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    audits = [line for line in lines if line["event"] == "audit"]
    assert [(a["action"], a["outcome"]) for a in audits] == [("sign_in", "success"), ("sign_in", "failure")]
    assert all(set(a) >= FIELDS for a in audits)
    for secret in (tokens["access_token"], tokens["refresh_token"], api.oauth_client.secret, "a wrong passphrase"):
        assert secret not in output


# retention


def test_events_are_kept_400_days_unless_told_otherwise():
    from idp.config import Settings

    assert Settings.from_env({}).audit_retention_days == 400
    assert Settings.from_env({"IDP_AUDIT_RETENTION_DAYS": "30"}).audit_retention_days == 30


def test_the_retention_is_the_store_s_time_to_live_and_an_older_event_is_gone(app, as_, tree: Tree):
    audit_log = app.extensions["idp"].accounts.audit_log
    assert audit_log.retention_seconds == 400 * 24 * 3600
    audit_log.retention_seconds = 0.5  # the store drops what outlived it, as it would after 400 days
    as_.headers(tree.office_admin)
    as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/disable")
    audit_log.retention_seconds = 400 * 24 * 3600
    as_.call(tree.office_admin, "POST", f"/users/{tree.agent.id}/enable")

    wait_until(
        lambda: (
            [e["action"] for e in events(as_, tree.office_admin, tree.office.id, user_id=tree.agent.id)]
            == ["user.enable"]
        ),
        timeout=5,
        what="the short-lived event to expire",
    )

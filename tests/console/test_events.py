"""The console's Events section: the brand's audit log, newest first, filtered by user, action and time
range through a GET form, paged, and never another brand's events or a secret."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.smtp_fixtures import Pki, SmtpServer, mailing_through
from tests.console.conftest import document

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpServer, pki: Pki, tmp_path: Path) -> dict[str, str]:
    return mailing_through(env, smtp, pki, tmp_path / "outbox")


@pytest.fixture
def people(app):
    return app.extensions["idp"].accounts.people


def events_path(brand_id: str, query: str = "") -> str:
    return f"/admin/brands/{brand_id}/events" + (f"?{query}" if query else "")


def rows(page) -> list[dict[str, str]]:
    heads = [th.text_content().strip() for th in page.xpath("//table/thead//th")]
    return [
        dict(zip(heads, [td.text_content().strip() for td in row.xpath("td")], strict=True))
        for row in page.xpath("//table/tbody/tr")
    ]


def local(moment: datetime) -> str:
    """As a datetime-local field sends it (no offset; the page says UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_events_are_newest_first_with_time_actor_action_target_and_details(people, tree, signed_in):
    people.set_role(tree.office_admin, tree.office.id, tree.agent.id, "Admin")
    people.disable(tree.office_admin, tree.agent.id)
    page = document(signed_in(tree.office_admin).get(events_path(tree.office.id)))
    assert [th.text for th in page.xpath("//table/thead//th")] == ["Time (UTC)", "Actor", "Action", "Target", "Details"]
    shown = [row for row in rows(page) if row["Action"] != "sign_in"]
    assert [row["Action"] for row in shown] == ["user.disable", "member.set_role"]
    assert shown[1] == {
        "Time (UTC)": shown[1]["Time (UTC)"],
        "Actor": tree.office_admin.email,
        "Action": "member.set_role",
        "Target": tree.agent.email,
        "Details": "role=Admin",
    }
    assert all(ISO_UTC.match(row["Time (UTC)"]) for row in rows(page))
    assert page.xpath("//table//time/@datetime")[0] == rows(page)[0]["Time (UTC)"]


def test_filter_by_user_action_and_time_range_is_a_get_form(people, tree, signed_in):
    people.set_role(tree.office_admin, tree.office.id, tree.agent.id, "Admin")
    people.set_role(tree.office_admin, tree.office.id, tree.shared.id, "Admin")
    people.disable(tree.office_admin, tree.agent.id)
    browser = signed_in(tree.office_admin)
    (form,) = document(browser.get(events_path(tree.office.id))).xpath("//form[@role='search']")
    assert form.get("method") == "get"
    for name in ("user", "action", "since", "until"):
        assert form.xpath(f".//label[@for='{name}']"), name

    by_user = rows(document(browser.get(events_path(tree.office.id, f"user={tree.agent.email}"))))
    assert [row["Action"] for row in by_user] == ["user.disable", "member.set_role"]
    by_action = rows(document(browser.get(events_path(tree.office.id, "action=member.set_role"))))
    assert [row["Target"] for row in by_action] == [tree.shared.email, tree.agent.email]
    both = rows(document(browser.get(events_path(tree.office.id, f"action=member.set_role&user={tree.agent.email}"))))
    assert [row["Target"] for row in both] == [tree.agent.email]

    now = datetime.now(UTC)
    later = rows(document(browser.get(events_path(tree.office.id, f"since={local(now + timedelta(hours=1))}"))))
    assert later == []
    earlier = rows(document(browser.get(events_path(tree.office.id, f"until={local(now - timedelta(hours=1))}"))))
    assert earlier == []
    around = f"since={local(now - timedelta(hours=1))}&until={local(now + timedelta(hours=1))}&action=user.disable"
    assert [row["Action"] for row in rows(document(browser.get(events_path(tree.office.id, around))))] == [
        "user.disable"
    ]
    unknown = document(browser.get(events_path(tree.office.id, "user=nobody@acme.example")))
    assert rows(unknown) == [] and "0 events" in unknown.text_content()


def test_a_time_that_is_no_time_is_shown_next_to_its_field(tree, signed_in):
    answer = signed_in(tree.office_admin).get(events_path(tree.office.id, "since=yesterday&user=x"))
    assert answer.status_code == 400
    page = document(answer)
    (error,) = page.xpath("//p[@class='field-error']")
    assert error.get("id") == "since-error" and "UTC" in error.text_content()
    assert page.xpath("//input[@id='since']/@aria-invalid") == ["true"]
    assert page.xpath("//input[@id='user']/@value") == ["x"]


def test_events_are_paged_and_the_pages_keep_the_filter(people, tree, signed_in):
    for number in range(55):
        people.set_role(tree.office_admin, tree.office.id, tree.agent.id, "Admin" if number % 2 else "Agent")
    browser = signed_in(tree.office_admin)
    first = document(browser.get(events_path(tree.office.id, "action=member.set_role")))
    assert len(rows(first)) == 50
    (older,) = first.xpath("//nav[@class='pages']//a[@rel='next']/@href")
    assert parse_qs(urlsplit(older).query) == {"action": ["member.set_role"], "page": ["2"]}
    second = rows(document(browser.get(older)))
    assert len(second) == 5
    assert second[-1]["Details"] == "role=Agent"  # the oldest, the first one made
    assert max(row["Time (UTC)"] for row in second) <= min(row["Time (UTC)"] for row in rows(first))


def test_no_admin_sees_the_events_of_a_brand_they_do_not_administer(people, tree, signed_in):
    people.set_role(tree.root_admin, tree.root.id, tree.root_admin.id, "Admin")
    people.disable(None, tree.outsider.id)
    office_admin = signed_in(tree.office_admin)
    for brand in (tree.root, tree.other):
        assert office_admin.get(events_path(brand.id)).status_code == 404
    page = document(office_admin.get(events_path(tree.office.id)))
    targets = [row["Target"] for row in rows(page)]
    assert tree.outsider.email not in page.text_content() and f"user {tree.outsider.id}" not in targets
    assert "member.set_role" not in [row["Action"] for row in rows(page)]  # the root's own event
    # The parent's admin sees the office's events within the brokerage's.
    people.set_role(tree.office_admin, tree.office.id, tree.agent.id, "Admin")
    root_page = document(signed_in(tree.root_admin).get(events_path(tree.root.id, "action=member.set_role")))
    assert {row["Target"] for row in rows(root_page)} == {tree.root_admin.email, tree.agent.email}
    assert signed_in(tree.root_admin).get(events_path(tree.other.id)).status_code == 404


def test_someone_the_admin_cannot_see_is_named_by_id_only(people, tree, signed_in):
    people.set_role(tree.root_admin, tree.office.id, tree.agent.id, "Admin")  # the brokerage's admin, in the office
    (row,) = rows(document(signed_in(tree.office_admin).get(events_path(tree.office.id, "action=member.set_role"))))
    assert row["Actor"] == f"user {tree.root_admin.id}"
    assert tree.root_admin.email not in row.values()


def test_no_secret_of_a_mailed_link_shows_in_the_events(people, tree, signed_in, smtp):
    people.send_password_reset(tree.office_admin, tree.agent.id)
    (mail,) = smtp.mailbox.to(tree.agent.email)
    token = re.search(r"token=([A-Za-z0-9_%\-]+)", mail.message.get_body(("plain",)).get_content()).group(1)
    page = document(signed_in(tree.office_admin).get(events_path(tree.office.id)))
    assert "password.reset_sent" in [row["Action"] for row in rows(page)]
    assert token not in page.text_content() and token not in "".join(page.xpath("//@*"))


def test_the_events_page_is_in_the_console_nav(tree, signed_in):
    page = document(signed_in(tree.office_admin).get(events_path(tree.office.id)))
    assert page.xpath("//nav[@class='sections']//a[@aria-current='page']/text()") == ["Events"]
    assert page.xpath("//main//h1/text()") == [f"Events of {tree.office.name}"]

"""/account/passkeys through Flask's test client, with a software authenticator answering the page's
WebAuthn options as a browser would: who may see it, registering, renaming, removing, the setting
for signing in without a password, and cross-site posts."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.authenticator import SoftwareAuthenticator
from tests.conftest import BASE_URL
from tests.console.conftest import document
from tests.hostile.front import SAME_ORIGIN

PAGE = "/account/passkeys"


def csrf(browser) -> str:
    return document(browser.get(PAGE)).xpath("//input[@name='csrf_token']/@value")[0]


def post(browser, path: str, **fields):
    return browser.post(path, data={"csrf_token": csrf(browser), **fields}, headers=SAME_ORIGIN)


def options(browser, path: str) -> dict:
    answer = post(browser, path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.json


def add_passkey(browser, authenticator: SoftwareAuthenticator, name: str = "Laptop"):
    created = authenticator.create(options(browser, f"{PAGE}/options"), BASE_URL)
    return post(browser, PAGE, credential=created, name=name)


def listed(browser) -> list[str]:
    return [h.text_content() for h in document(browser.get(PAGE)).xpath("//ul[@class='passkeys']/li/h3")]


def test_without_a_session_the_page_sends_the_browser_to_sign_in_and_back(app):
    answer = app.test_client().get(PAGE)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": [PAGE]})


def test_an_agent_registers_a_passkey_and_sees_it_listed(tree, signed_in, store):
    browser = signed_in(tree.agent)
    page = document(browser.get(PAGE))
    assert page.xpath("string(//h1)") == "Your passkeys"
    assert "You have no passkeys yet." in page.text_content()
    assert page.xpath("//label[@for='passkey-name']"), "the name field has its label"
    script = page.xpath("//script/@nonce")
    assert script, "the script that talks to the authenticator carries the page's nonce"

    answer = add_passkey(browser, SoftwareAuthenticator(), name="Work laptop")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{PAGE}?done=added"
    page = document(browser.get(answer.headers["Location"]))
    assert page.xpath("string(//p[@class='notice'])") == "Your passkey was added."
    assert listed(browser) == ["Work laptop"]
    [passkey] = store.passkeys_of(tree.agent.id)
    assert passkey.name == "Work laptop"


def test_the_page_answers_with_a_csp_that_allows_only_its_nonced_script(tree, signed_in):
    browser = signed_in(tree.agent)
    answer = browser.get(PAGE)
    nonce = document(answer).xpath("//script/@nonce")[0]
    policy = answer.headers["Content-Security-Policy"]
    assert f"script-src 'nonce-{nonce}'" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_a_registration_that_fails_says_so_next_to_the_form(tree, signed_in, store):
    browser = signed_in(tree.agent)
    created = SoftwareAuthenticator().create(options(browser, f"{PAGE}/options"), "https://elsewhere.example")
    answer = post(browser, PAGE, credential=created, name="Laptop")

    assert answer.status_code == 400
    page = document(answer)
    assert "could not be registered" in page.xpath("string(//p[@id='add-error'])")
    assert store.passkeys_of(tree.agent.id) == []


def test_without_javascript_the_form_says_it_needs_it(tree, signed_in):
    browser = signed_in(tree.agent)
    answer = post(browser, PAGE, name="Laptop")
    assert answer.status_code == 400
    assert "needs JavaScript" in document(answer).xpath("string(//p[@id='add-error'])")


def test_rename_and_remove(tree, signed_in, store):
    browser = signed_in(tree.agent)
    add_passkey(browser, SoftwareAuthenticator(), name="Laptop")
    add_passkey(browser, SoftwareAuthenticator(), name="Phone")
    first, second = store.passkeys_of(tree.agent.id)

    renamed = post(browser, f"{PAGE}/rename", passkey=first.credential_id, name="Old laptop")
    assert renamed.headers["Location"] == f"{PAGE}?done=renamed"
    assert listed(browser) == ["Old laptop", "Phone"]
    refused = post(browser, f"{PAGE}/rename", passkey=first.credential_id, name="")
    assert refused.status_code == 400
    assert document(refused).xpath("//input[@aria-invalid='true']/@value") == ["Old laptop"]

    removed = post(browser, f"{PAGE}/remove", passkey=second.credential_id)
    assert removed.headers["Location"] == f"{PAGE}?done=removed"
    assert listed(browser) == ["Old laptop"]


def test_another_users_passkey_cannot_be_renamed_or_removed(tree, signed_in, store):
    owner = signed_in(tree.agent)
    add_passkey(owner, SoftwareAuthenticator())
    [passkey] = store.passkeys_of(tree.agent.id)
    other = signed_in(tree.outsider)

    assert post(other, f"{PAGE}/rename", passkey=passkey.credential_id, name="Mine").status_code == 404
    assert post(other, f"{PAGE}/remove", passkey=passkey.credential_id).status_code == 404
    assert store.passkeys_of(tree.agent.id) == [passkey]
    assert listed(other) == []


def test_the_sign_in_setting_needs_a_passkey_then_turns_on_and_off(tree, signed_in, store):
    browser = signed_in(tree.agent)
    page = document(browser.get(PAGE))
    assert page.xpath("//input[@id='passkey-sign-in']/@disabled")
    assert post(browser, f"{PAGE}/sign-in", passkey_sign_in="on").status_code == 400

    add_passkey(browser, SoftwareAuthenticator())
    on = post(browser, f"{PAGE}/sign-in", passkey_sign_in="on")
    assert on.headers["Location"] == f"{PAGE}?done=sign-in-on"
    assert store.user(tree.agent.id).passkey_sign_in is True
    assert document(browser.get(PAGE)).xpath("//input[@id='passkey-sign-in']/@checked")
    post(browser, f"{PAGE}/sign-in")
    assert store.user(tree.agent.id).passkey_sign_in is False


FORMS = [
    (f"{PAGE}/options", {}),
    (PAGE, {"name": "Laptop", "credential": "{}"}),
    (f"{PAGE}/rename", {"passkey": "x", "name": "y"}),
    (f"{PAGE}/remove", {"passkey": "x"}),
    (f"{PAGE}/sign-in", {"passkey_sign_in": "on"}),
]


@pytest.mark.parametrize(("path", "fields"), FORMS, ids=[path for path, _ in FORMS])
def test_every_form_refuses_a_cross_site_post(tree, signed_in, path, fields):
    browser = signed_in(tree.agent)
    token = csrf(browser)
    cross_site = browser.post(path, data={"csrf_token": token, **fields}, headers={"Sec-Fetch-Site": "cross-site"})
    without_token = browser.post(path, data=fields, headers=SAME_ORIGIN)
    assert cross_site.status_code == 403
    assert without_token.status_code == 403


def test_registering_the_first_passkey_makes_the_session_an_mfa_one(app, tree, signed_in):
    browser = signed_in(tree.agent)
    sessions = app.extensions["idp"].accounts.sessions
    before = browser.get_cookie("idp_session").value
    assert sessions.load(before).mfa is False

    add_passkey(browser, SoftwareAuthenticator())

    after = browser.get_cookie("idp_session").value
    assert after != before and sessions.load(before) is None
    assert sessions.load(after).mfa is True
    assert browser.get(PAGE).status_code == 200


def test_a_session_without_the_users_second_factor_is_stepped_up_before_it_may_change_passkeys(
    app, tree, signed_in, store
):
    browser = signed_in(tree.agent)  # password only
    token = csrf(browser)
    # A passkey registered meanwhile in another browser: this session never gave it.
    elsewhere = signed_in(tree.agent)
    add_passkey(elsewhere, SoftwareAuthenticator())
    [passkey] = store.passkeys_of(tree.agent.id)

    step = browser.get(PAGE)
    assert step.status_code == 303 and step.headers["Location"] == "/login/totp"
    for path, fields in FORMS:
        refused = browser.post(
            path, data={"csrf_token": token, **fields, "passkey": passkey.credential_id}, headers=SAME_ORIGIN
        )
        assert refused.status_code == 403, path
    assert store.passkeys_of(tree.agent.id) == [passkey]

"""The console's Members section: list and search, invite (the mail through a real SMTP server), change
role, remove, disable and enable, password reset, MFA reset behind the admin's own second factor; every
POST refuses a cross-site post, and no admin sees another brand's members."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.accounts.mfa import seal_secret
from idp.config import Settings
from idp.models import Passkey, User
from idp.web import create_app
from tests.api.people_helpers import SAME_ORIGIN, browser_sign_in, is_signed_in
from tests.api.smtp_fixtures import SMTP_PASSWORD, SMTP_USER, Pki, SmtpServer, mailing_through
from tests.console.conftest import document
from tests.support import PASSWORD, free_port

LINK = re.compile(r"https?://[^\s\"<>]+/password\?token=[A-Za-z0-9_%\-]+")


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpServer, pki: Pki, tmp_path: Path) -> dict[str, str]:
    return mailing_through(env, smtp, pki, tmp_path / "outbox")


def members_path(brand_id: str, tail: str = "") -> str:
    return f"/admin/brands/{brand_id}/members{tail}"


def post(browser, path: str, data: dict[str, str] | None = None, *, from_page: str | None = None):
    """Submit a form of the console as the browser would: the page's CSRF token, same-origin."""
    page = document(browser.get(from_page or path))
    token = page.xpath("//input[@name='csrf_token']/@value")[0]
    return browser.post(path, data={"csrf_token": token, **(data or {})}, headers=SAME_ORIGIN)


def rows(page) -> list[list[str]]:
    return [[cell.text_content().strip() for cell in row.xpath("td")] for row in page.xpath("//table/tbody/tr")]


def notice_after(browser, answer) -> str:
    """Follow the redirect after an action and read the message the page shows."""
    assert answer.status_code == 303, answer.get_data(as_text=True)
    page = document(browser.get(answer.headers["Location"]))
    return page.xpath("string(//p[@class='notice'])")


def user_in(app, user: User) -> User:
    found = app.extensions["idp"].store.user(user.id)
    assert found is not None
    return found


def with_mfa(app, user: User) -> pyotp.TOTP:
    """TOTP MFA on the account, sealed as the service seals it; codes come from pyotp."""
    secret = pyotp.random_base32()
    services = app.extensions["idp"]
    services.store.save_user(
        dataclasses.replace(user_in(app, user), mfa_secret=seal_secret(services.keyring, user.id, secret))
    )
    return pyotp.TOTP(secret)


def passkey(user_id: str, credential_id: str, *, name: str = "Security key") -> Passkey:
    return Passkey(
        credential_id=credential_id,
        user_id=user_id,
        public_key="key",
        sign_count=0,
        name=name,
        created_at=time.time(),
        version="v1",
    )


# --- the list -------------------------------------------------------------------------------------------------------


def test_the_list_shows_each_members_name_email_role_status_and_second_factors(app, tree, signed_in):
    with_mfa(app, tree.agent)
    store = app.extensions["idp"].store
    for number in (1, 2):
        store.save_passkey(passkey(tree.agent.id, f"cred-{number}"))
    store.save_passkey(passkey(tree.shared.id, "cred-3"))
    browser = signed_in(tree.office_admin)
    page = document(browser.get(members_path(tree.office.id)))
    assert page.xpath("//table/thead//th/text()") == ["Name", "Email", "Role", "Status", "MFA"]
    assert rows(page) == [
        ["Ada Agent", tree.agent.email, "Agent", "Active", "Authenticator app, 2 passkeys"],
        ["Otto Office", tree.office_admin.email, "Admin", "Active", "Off"],
        ["Sam Shared", tree.shared.email, "Agent", "Active", "1 passkey"],
    ]
    assert tree.outsider.email not in page.text_content()


def test_a_disabled_member_shows_as_disabled(app, tree, signed_in):
    browser = signed_in(tree.office_admin)
    assert post(browser, members_path(tree.office.id, f"/{tree.agent.id}/disable"),
                from_page=members_path(tree.office.id, f"/{tree.agent.id}")).status_code == 303  # fmt: skip
    (agent_row,) = [
        row for row in rows(document(browser.get(members_path(tree.office.id)))) if row[1] == tree.agent.email
    ]
    assert agent_row[3] == "Disabled"


def test_search_is_a_get_form_over_name_and_email(tree, signed_in):
    browser = signed_in(tree.office_admin)
    page = document(browser.get(members_path(tree.office.id)))
    (search,) = page.xpath("//form[@role='search']")
    assert search.get("method") == "get"
    assert search.xpath(".//label[@for='member-search']/text()") == ["Search by name or email"]
    found = document(browser.get(members_path(tree.office.id) + "?q=sam"))
    assert [row[1] for row in rows(found)] == [tree.shared.email]
    assert found.xpath("//input[@name='q']/@value") == ["sam"]
    nothing = document(browser.get(members_path(tree.office.id) + "?q=nobody-at-all"))
    assert rows(nothing) == []
    assert "No member matches" in nothing.text_content()


def test_the_list_is_paged_and_keeps_the_search(make, tree, signed_in):
    for number in range(30):
        make.user(brand=tree.office, role="Agent", first_name="Pat", last_name=f"Paged{number:02d}", password=None)  # type: ignore[arg-type]
    browser = signed_in(tree.office_admin)
    first = document(browser.get(members_path(tree.office.id) + "?q=paged"))
    assert len(rows(first)) == 25
    (next_link,) = first.xpath("//nav[@class='pages']//a[@rel='next']/@href")
    assert parse_qs(urlsplit(next_link).query) == {"q": ["paged"], "page": ["2"]}
    second = document(browser.get(next_link))
    assert [row[0] for row in rows(second)] == [f"Pat Paged{number:02d}" for number in range(25, 30)]
    assert second.xpath("//nav[@class='pages']//a[@rel='next']") == []


# --- inviting -------------------------------------------------------------------------------------------------------


def test_an_invitation_mails_a_password_link_and_says_so_after_a_redirect(app, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    path = members_path(tree.office.id, "/invite")
    page = document(browser.get(path))
    assert [page.xpath(f"string(//label[@for='{name}'])") for name in ("email", "first_name", "last_name", "role")] == [
        "Email", "First name", "Last name", "Role",
    ]  # fmt: skip
    answer = post(
        browser, path, {"email": "ines@acme.example", "first_name": "Ines", "last_name": "Invited", "role": "Agent"}
    )
    location = urlsplit(answer.headers["Location"])
    assert location.path == members_path(tree.office.id)
    invited = app.extensions["idp"].store.user_by_email("ines@acme.example")
    assert parse_qs(location.query) == {"done": ["invited"], "user": [invited.id]}  # no token, no secret
    assert notice_after(browser, answer) == "Invitation sent to ines@acme.example."
    (mail,) = smtp.mailbox.to("ines@acme.example")
    assert len(set(LINK.findall(mail.message.get_body(("plain",)).get_content()))) == 1
    assert app.extensions["idp"].store.membership(invited.id, tree.office.id).role == "Agent"


def test_inviting_someone_with_an_account_adds_them_without_a_mail(tree, signed_in, smtp):
    browser = signed_in(tree.root_admin)
    answer = post(browser, members_path(tree.root.id, "/invite"), {"email": tree.agent.email, "role": "Admin"})
    assert notice_after(browser, answer) == f"{tree.agent.email} was added to {tree.root.name} as Admin."
    assert smtp.mailbox.to(tree.agent.email) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "not an address", "first_name": "A", "last_name": "B"}, "email", "email must be an email address"),
        (
            {"email": "new@acme.example", "first_name": "", "last_name": "B"},
            "first_name",
            "first_name must be a non-empty",
        ),
        (
            {"email": "new@acme.example", "first_name": "A", "last_name": "B", "role": "Owner"},
            "role",
            "role must be Admin",
        ),
    ],
)
def test_the_services_refusal_shows_next_to_its_field_with_the_input_kept(
    tree, signed_in, smtp, fields, field, message
):
    browser = signed_in(tree.office_admin)
    answer = post(browser, members_path(tree.office.id, "/invite"), {"role": "Agent", **fields})
    assert answer.status_code == 400
    page = document(answer)
    (error,) = page.xpath("//p[@class='field-error']")
    assert error.get("id") == f"{field}-error" and message in error.text_content()
    (control,) = page.xpath(f"//*[@id='{field}']")
    assert control.get("aria-invalid") == "true" and control.get("aria-describedby") == f"{field}-error"
    assert error.getprevious() is control
    assert page.xpath("//input[@name='email']/@value") == [fields["email"]]
    assert smtp.mailbox.received == []


def test_when_the_mail_cannot_go_the_member_is_added_and_the_page_says_what_is_left(env, store, tree):
    closed = f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{free_port()}"  # nothing listens there
    app = create_app(Settings.from_env({**env, "SMTP_URL": closed}), store=store)
    browser = browser_sign_in(app, tree.office_admin.email)
    answer = post(browser, members_path(tree.office.id, "/invite"), {"email": "late@acme.example", "first_name": "L",
                  "last_name": "Ate", "role": "Agent"})  # fmt: skip
    added = store.user_by_email("late@acme.example")
    assert urlsplit(answer.headers["Location"]).path == members_path(tree.office.id, f"/{added.id}")
    assert "invitation could not be mailed" in notice_after(browser, answer)
    member = members_path(tree.office.id, f"/{added.id}")
    failed = post(browser, member + "/password-reset", from_page=member)
    assert failed.status_code == 503
    assert "could not be sent" in document(failed).xpath("string(//p[@role='alert'])")


def test_inviting_a_member_twice_is_refused_next_to_the_email(tree, signed_in):
    browser = signed_in(tree.office_admin)
    answer = post(browser, members_path(tree.office.id, "/invite"), {"email": tree.agent.email, "role": "Agent"})
    assert answer.status_code == 409
    assert "already a member" in document(answer).xpath("string(//p[@id='email-error'])")


# --- one member -----------------------------------------------------------------------------------------------------


def test_changing_the_role(app, tree, signed_in):
    browser = signed_in(tree.office_admin)
    member = members_path(tree.office.id, f"/{tree.agent.id}")
    answer = post(browser, member + "/role", {"role": "Admin"}, from_page=member)
    assert notice_after(browser, answer) == f"{tree.agent.email} is now Admin of {tree.office.name}."
    assert app.extensions["idp"].store.membership(tree.agent.id, tree.office.id).role == "Admin"


def test_removing_asks_first_then_removes_the_membership_only(app, tree, signed_in):
    browser = signed_in(tree.office_admin)
    member = members_path(tree.office.id, f"/{tree.agent.id}")
    confirm = document(browser.get(member + "/remove"))
    assert confirm.xpath("//form[@method='post'][@action!='/logout']/@action") == [member + "/remove"]
    assert app.extensions["idp"].store.membership(tree.agent.id, tree.office.id) is not None  # asking changed nothing
    answer = post(browser, member + "/remove", from_page=member + "/remove")
    assert urlsplit(answer.headers["Location"]).path == members_path(tree.office.id)
    assert notice_after(browser, answer) == f"The member was removed from {tree.office.name}."
    assert app.extensions["idp"].store.membership(tree.agent.id, tree.office.id) is None
    assert user_in(app, tree.agent).is_active
    assert browser.get(member).status_code == 404


def test_disabling_ends_the_members_sessions_and_enabling_lets_them_in_again(app, tree, signed_in):
    agent_browser = signed_in(tree.agent)
    browser = signed_in(tree.office_admin)
    member = members_path(tree.office.id, f"/{tree.agent.id}")
    answer = post(browser, member + "/disable", from_page=member)
    assert notice_after(browser, answer).startswith(f"{tree.agent.email} is disabled")
    assert not user_in(app, tree.agent).is_active
    assert not is_signed_in(agent_browser)
    page = document(browser.get(member))
    assert page.xpath("//form[contains(@action, '/disable')]") == []
    answer = post(browser, member + "/enable", from_page=member)
    assert notice_after(browser, answer) == f"{tree.agent.email} can sign in again."
    assert user_in(app, tree.agent).is_active
    assert is_signed_in(signed_in(tree.agent))


def test_a_password_reset_link_is_mailed(tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    member = members_path(tree.office.id, f"/{tree.agent.id}")
    answer = post(browser, member + "/password-reset", from_page=member)
    assert notice_after(browser, answer) == f"A password reset link was sent to {tree.agent.email}."
    (mail,) = smtp.mailbox.to(tree.agent.email)
    assert LINK.search(mail.message.get_body(("plain",)).get_content())
    assert "token" not in answer.headers["Location"]


def test_an_account_of_brands_the_admin_does_not_administer_is_shown_as_out_of_reach(app, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    member = members_path(tree.office.id, f"/{tree.shared.id}")
    page = document(browser.get(member))
    refusal = page.xpath("string(//p[@class='refusal'])")
    assert "cannot be changed here" in refusal and "also belongs to brands you do not administer" in refusal
    assert page.xpath("//form[contains(@action, '/disable') or contains(@action, '/password-reset')]") == []
    for action in ("/disable", "/password-reset"):
        answer = post(browser, member + action, from_page=member)
        assert answer.status_code == 403
        assert "also belongs to brands you do not administer" in document(answer).xpath("string(//p[@class='error'])")
    assert user_in(app, tree.shared).is_active
    assert smtp.mailbox.received == []
    # The membership of the office is still the office admin's to change.
    assert post(browser, member + "/role", {"role": "Admin"}, from_page=member).status_code == 303


def test_an_admin_cannot_disable_their_own_account_here(app, tree, signed_in):
    browser = signed_in(tree.office_admin)
    member = members_path(tree.office.id, f"/{tree.office_admin.id}")
    assert "your own account" in document(browser.get(member)).xpath("string(//p[@class='refusal'])")
    assert post(browser, member + "/disable", from_page=member).status_code == 403
    assert user_in(app, tree.office_admin).is_active


# --- MFA reset behind the admin's own second factor -----------------------------------------------------------------


def test_an_mfa_reset_asks_for_the_admins_own_totp_code(app, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    admin_totp = with_mfa(app, tree.office_admin)  # after signing in: the session stays
    with_mfa(app, tree.agent)
    mfa = members_path(tree.office.id, f"/{tree.agent.id}/mfa")
    page = document(browser.get(mfa))
    assert "authenticator app" in page.xpath("string(//label[@for='code'])")
    wrong = post(browser, mfa, {"code": "000000" if admin_totp.now() != "000000" else "111111"})
    assert wrong.status_code == 403
    assert "Nothing was changed" in document(wrong).xpath("string(//p[@role='alert'])")
    assert user_in(app, tree.agent).mfa_enabled
    # The agent's own code is no code of the admin's.
    assert post(browser, mfa, {"code": pyotp.TOTP(pyotp.random_base32()).now()}).status_code == 403
    answer = post(browser, mfa, {"code": admin_totp.now()})
    assert notice_after(browser, answer).startswith(f"MFA was reset for {tree.agent.email}")
    assert not user_in(app, tree.agent).mfa_enabled


def test_guessing_the_admins_code_is_throttled_on_the_page(app, tree, signed_in):
    browser = signed_in(tree.office_admin)
    admin_totp = with_mfa(app, tree.office_admin)
    with_mfa(app, tree.agent)
    mfa = members_path(tree.office.id, f"/{tree.agent.id}/mfa")
    token = document(browser.get(mfa)).xpath("//input[@name='csrf_token']/@value")[0]
    near = {admin_totp.at(time.time() + drift) for drift in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "123456", "999999") if code not in near)
    answers = [
        browser.post(mfa, data={"csrf_token": token, "code": wrong}, headers=SAME_ORIGIN).status_code for _ in range(11)
    ]
    assert answers == [403] * 10 + [429]
    refused = browser.post(mfa, data={"csrf_token": token, "code": admin_totp.now()}, headers=SAME_ORIGIN)
    assert refused.status_code == 429
    assert "Too many wrong codes" in document(refused).xpath("string(//p[@role='alert'])")
    assert user_in(app, tree.agent).mfa_enabled


def test_a_recovery_code_of_the_admins_is_taken_once(app, make, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    with_mfa(app, tree.office_admin)
    (code, *_) = app.extensions["idp"].accounts.mfa.recovery.issue(tree.office_admin.id)
    second = make.user(brand=tree.office, role="Agent", password=None)  # type: ignore[arg-type]
    for user in (tree.agent, second):
        with_mfa(app, user)
    assert post(browser, members_path(tree.office.id, f"/{tree.agent.id}/mfa"), {"code": code}).status_code == 303
    assert not user_in(app, tree.agent).mfa_enabled
    assert post(browser, members_path(tree.office.id, f"/{second.id}/mfa"), {"code": code}).status_code == 403
    assert user_in(app, second).mfa_enabled


def test_an_admin_without_mfa_confirms_with_their_password(app, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    with_mfa(app, tree.agent)
    mfa = members_path(tree.office.id, f"/{tree.agent.id}/mfa")
    assert document(browser.get(mfa)).xpath("//input[@id='code']/@type") == ["password"]
    assert post(browser, mfa, {"code": "not my password"}).status_code == 403
    assert user_in(app, tree.agent).mfa_enabled
    assert post(browser, mfa, {"code": PASSWORD}).status_code == 303
    assert not user_in(app, tree.agent).mfa_enabled


def test_an_admin_with_email_codes_gets_one_mailed_and_enters_it(app, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    app.extensions["idp"].store.save_user(dataclasses.replace(user_in(app, tree.office_admin), email_2fa_enabled=True))
    with_mfa(app, tree.agent)
    mfa = members_path(tree.office.id, f"/{tree.agent.id}/mfa")
    assert "emailed" in document(browser.get(mfa)).xpath("string(//label[@for='code'])")
    sent = post(browser, mfa + "/code", from_page=mfa)
    assert sent.status_code == 200
    (mail,) = smtp.mailbox.to(tree.office_admin.email)
    assert post(browser, mfa, {"code": "000000" if mail.code() != "000000" else "111111"}).status_code == 403
    assert user_in(app, tree.agent).mfa_enabled
    assert post(browser, mfa, {"code": mail.code()}).status_code == 303
    assert not user_in(app, tree.agent).mfa_enabled


def test_a_member_with_only_a_passkey_shows_it_and_the_reset_removes_it(app, tree, signed_in, smtp):
    store = app.extensions["idp"].store
    store.save_passkey(passkey(tree.agent.id, "cred-1", name="Ada's YubiKey"))
    browser = signed_in(tree.office_admin)
    member = document(browser.get(members_path(tree.office.id, f"/{tree.agent.id}")))
    facts = dict(zip(member.xpath("//dl/dt/text()"), member.xpath("//dl/dd"), strict=True))
    assert facts["Authenticator app"].text_content() == "Off"
    assert facts["Passkeys"].text_content() == "Ada's YubiKey"
    mfa = members_path(tree.office.id, f"/{tree.agent.id}/mfa")
    assert member.xpath(f"//a[@href='{mfa}']/text()") == ["Reset MFA…"]
    assert "1 passkey (Ada's YubiKey) will stop working" in document(browser.get(mfa)).xpath(
        "string(//p[@id='mfa-help'])"
    )
    assert post(browser, mfa, {"code": PASSWORD}).status_code == 303
    assert store.passkeys_of(tree.agent.id) == []
    after = document(browser.get(members_path(tree.office.id, f"/{tree.agent.id}")))
    assert after.xpath(f"//a[@href='{mfa}']") == []


# --- cross-site posts and other brands -------------------------------------------------------------------------------


def test_an_admin_with_both_factors_chooses_which_to_give(app, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    admin_totp = with_mfa(app, tree.office_admin)
    store = app.extensions["idp"].store
    store.save_user(dataclasses.replace(user_in(app, tree.office_admin), email_2fa_enabled=True))
    with_mfa(app, tree.agent)
    mfa = members_path(tree.office.id, f"/{tree.agent.id}/mfa")
    page = document(browser.get(mfa))
    assert page.xpath("//fieldset/legend/text()") == ["Your second factor"]
    assert page.xpath("//input[@name='method']/@value") == ["totp", "email"]
    post(browser, mfa + "/code", from_page=mfa)
    (mail,) = smtp.mailbox.to(tree.office_admin.email)
    # The emailed code is no TOTP code, and a TOTP code is no emailed one.
    assert post(browser, mfa, {"method": "totp", "code": mail.code()}).status_code == 403
    assert post(browser, mfa, {"method": "email", "code": admin_totp.now()}).status_code == 403
    assert user_in(app, tree.agent).mfa_enabled
    assert post(browser, mfa, {"method": "email", "code": mail.code()}).status_code == 303
    assert not user_in(app, tree.agent).mfa_enabled


def test_every_members_form_refuses_a_cross_site_post(app, tree, signed_in, smtp):
    browser = signed_in(tree.office_admin)
    with_mfa(app, tree.agent)
    member = members_path(tree.office.id, f"/{tree.agent.id}")
    token = document(browser.get(member)).xpath("//input[@name='csrf_token']/@value")[0]
    forms = {
        members_path(tree.office.id, "/invite"): {"email": "x@acme.example", "first_name": "X", "role": "Agent"},
        member + "/role": {"role": "Admin"},
        member + "/disable": {},
        member + "/enable": {},
        member + "/password-reset": {},
        member + "/remove": {},
        member + "/mfa": {"code": "whatever"},
        member + "/mfa/code": {},
    }  # fmt: skip
    for path, fields in forms.items():
        cross_site = browser.post(path, data={"csrf_token": token, **fields}, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross_site.status_code == 403, path
        no_token = browser.post(path, data=fields, headers=SAME_ORIGIN)
        assert no_token.status_code == 403, path
    store = app.extensions["idp"].store
    assert store.membership(tree.agent.id, tree.office.id).role == "Agent"
    assert user_in(app, tree.agent).is_active and user_in(app, tree.agent).mfa_enabled
    assert store.user_by_email("x@acme.example") is None
    assert smtp.mailbox.received == []


def test_no_admin_sees_the_members_of_a_brand_they_do_not_administer(make, tree, signed_in):
    office_admin = signed_in(tree.office_admin)
    for brand in (tree.root, tree.other):
        assert office_admin.get(members_path(brand.id)).status_code == 404
        assert office_admin.get(members_path(brand.id, "/invite")).status_code == 404
    # A member of another brand, asked for under the office: not found, whatever the action.
    for user in (tree.outsider, tree.root_admin):
        base = members_path(tree.office.id, f"/{user.id}")
        assert office_admin.get(base).status_code == 404
        assert office_admin.get(base + "/remove").status_code == 404
        assert office_admin.get(base + "/mfa").status_code == 404
        assert post(office_admin, base + "/disable", from_page=members_path(tree.office.id)).status_code == 404
    root_admin = signed_in(tree.root_admin)
    assert root_admin.get(members_path(tree.other.id)).status_code == 404
    assert root_admin.get(members_path(tree.root.id, f"/{tree.agent.id}")).status_code == 404  # not a member of root


def test_a_crafted_notice_names_no_one_the_admin_cannot_see(tree, signed_in):
    page = document(
        signed_in(tree.office_admin).get(members_path(tree.office.id) + f"?done=invited&user={tree.outsider.id}")
    )
    assert page.xpath("string(//p[@class='notice'])") == "Invitation sent to the member."
    assert tree.outsider.email not in page.text_content()


def test_the_list_and_forms_are_labelled_and_in_the_console_nav(tree, signed_in):
    browser = signed_in(tree.root_admin)
    page = document(browser.get(members_path(tree.office.id, f"/{tree.agent.id}")))
    assert page.xpath("//nav[@class='sections']//a[@aria-current='page']/text()") == ["Members"]
    for control in page.xpath("//form//select | //form//input[not(@type='hidden')]"):
        assert page.xpath(f"//label[@for='{control.get('id')}']"), control.get("name")

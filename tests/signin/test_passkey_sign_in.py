"""Signing in with a passkey through Flask's test client, a software authenticator answering the pages'
WebAuthn options: as the second factor after the password (instead of the TOTP code), alone from the
login page for users who turn it on, and to step up for an SP that asks for MFA or an app with
`require_mfa`. Assertions are judged by python3-saml (strict); failures are throttled and audited."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from lxml import html

from idp.accounts.passkeys import Purpose
from idp.accounts.throttle import DEFAULT_RULES
from tests.api.helpers import Apps, saml_app
from tests.api.mfa_helpers import Mfa
from tests.api.test_authn_requests_answered import (
    ACS_URL,
    MAPPINGS,
    MFA,
    SP_ENTITY_ID,
    accepted,
    asserted_class,
    follow,
    posted,
    python3_saml_request,
    request_key,
    send,
)
from tests.authenticator import SoftwareAuthenticator
from tests.conftest import BASE_URL
from tests.hostile.front import SAME_ORIGIN, sign_in

STEP = "/login/totp"


@pytest.fixture
def services(app):
    return app.extensions["idp"]


@pytest.fixture
def brand(make):
    return make.brand("Acme Realty")


@pytest.fixture
def admin(make, brand):
    return make.user(brand=brand, role="Admin")


@pytest.fixture
def agent(make, brand):
    return make.user(brand=brand, role="Agent")


@pytest.fixture
def sp_app(client, api, admin, brand) -> dict:
    return Apps(client, api).created(admin, brand, saml_app(entity_id=SP_ENTITY_ID, acs_url=ACS_URL, mappings=MAPPINGS))


@pytest.fixture
def idp_certificate(app) -> tuple[bytes, str]:
    keyring = app.extensions["idp"].keyring
    return keyring.certificate_pem, keyring.certificate_base64


@pytest.fixture
def events(store):
    """The audit events kept from now on, oldest first."""
    started = len(store.audit_keys())

    def kept() -> list[dict]:
        return store.audit_events(store.audit_keys()[started:])

    return kept


def with_passkey(services, user, *, sign_in_alone: bool = False) -> SoftwareAuthenticator:
    """A passkey registered for the user straight through the service, as the passkeys page would."""
    passkeys = services.accounts.passkeys
    authenticator = SoftwareAuthenticator()
    created = authenticator.create(passkeys.registration_options(user), BASE_URL)
    passkeys.register(user, created, name="Laptop", now=time.time())
    if sign_in_alone:
        passkeys.allow_sign_in(services.store.user(user.id), True)
    return authenticator


def forms_of(response) -> dict[str, html.FormElement]:
    return {form.action: form for form in html.fromstring(response.get_data(as_text=True)).forms}


def passkey_answer(client, page: str, form_action: str, authenticator: SoftwareAuthenticator, **kwargs):
    """What the page's script does: fetch the options named by the form, ask the authenticator, post the form."""
    form = forms_of(client.get(page))[form_action]
    assert form.get("data-passkey") == "get"
    fields = dict(form.form_values())
    got = client.post(form.get("data-options"), data={"csrf_token": fields["csrf_token"]}, headers=SAME_ORIGIN)
    assert got.status_code == 200, got.get_data(as_text=True)
    fields["credential"] = authenticator.get(got.json, BASE_URL, **kwargs)
    return client.post(form_action, data=fields, headers=SAME_ORIGIN)


def session_of(services, client):
    cookie = client.get_cookie("idp_session")
    return services.accounts.sessions.load(cookie.value if cookie else None)


def test_after_the_password_a_user_with_a_passkey_is_asked_for_it(client, services, agent):
    authenticator = with_passkey(services, agent)
    assert sign_in(client, agent).headers["Location"] == STEP

    page = html.fromstring(client.get(STEP).get_data(as_text=True))
    assert page.xpath("string(//h1)") == "Use your passkey"
    assert page.xpath("//input[@name='code']") == [], "no code is asked of a user without TOTP"
    answer = passkey_answer(client, STEP, "/login/totp/passkey", authenticator)

    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    assert session_of(services, client).mfa is True
    assert client.get("/").status_code == 200


def test_a_user_with_totp_and_a_passkey_may_use_either(client, services, app, api, agent):
    Mfa(client, api).enable(agent)
    authenticator = with_passkey(services, agent)
    sign_in(client, agent)
    page = html.fromstring(client.get(STEP).get_data(as_text=True))
    assert page.xpath("string(//h1)") == "Enter your code"
    assert page.xpath("//input[@name='code']")
    assert [b.text_content() for b in page.xpath("//form[@action='/login/totp/passkey']//button")] == ["Use a passkey"]

    answer = passkey_answer(client, STEP, "/login/totp/passkey", authenticator)
    assert answer.headers["Location"] == "/"
    assert session_of(services, client).mfa is True


def test_a_wrong_passkey_at_the_step_is_refused_counted_and_audited(client, services, agent, events):
    authenticator = with_passkey(services, agent)
    sign_in(client, agent)

    refused = passkey_answer(client, STEP, "/login/totp/passkey", authenticator, verified=False)
    assert refused.status_code == 401
    assert "did not sign you in" in html.fromstring(refused.get_data(as_text=True)).xpath("string(//p[@role='alert'])")
    assert session_of(services, client) is None
    failures = [e for e in events() if e["action"] == "sign_in" and e["outcome"] == "failure"]
    assert [(e["target"], e["details"]) for e in failures] == [(f"user:{agent.id}", {"method": "passkey"})]
    rule, key = next((r, k) for r, k in _throttle_keys(agent.id) if r.scope == "account+address")
    assert len(services.store.events_since(key, time.time() - rule.window)) == 1

    assert passkey_answer(client, STEP, "/login/totp/passkey", authenticator).headers["Location"] == "/"


def _throttle_keys(user_id: str):
    from idp.accounts.throttle import Attempt

    return Attempt("passkey", user_id, "127.0.0.1").keys(DEFAULT_RULES)


def test_the_step_without_a_password_first_is_refused(client, services, agent):
    with_passkey(services, agent)
    form = forms_of(client.get("/login"))["/login"]
    token = dict(form.form_values())["csrf_token"]
    assert (
        client.post("/login/totp/passkey/options", data={"csrf_token": token}, headers=SAME_ORIGIN).status_code == 403
    )
    assert client.post("/login/totp/passkey", data={"csrf_token": token}, headers=SAME_ORIGIN).status_code == 403


def test_a_passkey_alone_signs_in_from_the_login_page_with_mfa(client, services, agent, events):
    authenticator = with_passkey(services, agent, sign_in_alone=True)

    answer = passkey_answer(client, "/login?next=/account/passkeys", "/login/passkey", authenticator)

    assert answer.status_code == 303 and answer.headers["Location"] == "/account/passkeys"
    assert session_of(services, client).mfa is True
    assert session_of(services, client).user_id == agent.id
    signed = [e for e in events() if e["action"] == "sign_in"]
    assert [(e["outcome"], e["actor"], e["details"]) for e in signed] == [("success", agent.id, {"method": "passkey"})]


def test_a_passkey_alone_does_not_sign_in_a_user_who_has_not_turned_it_on(client, services, agent, events):
    authenticator = with_passkey(services, agent)

    refused = passkey_answer(client, "/login", "/login/passkey", authenticator)

    assert refused.status_code == 401
    alert = html.fromstring(refused.get_data(as_text=True)).xpath("string(//p[@role='alert'])")
    assert "not set up for signing in without a password" in alert
    assert session_of(services, client) is None
    assert [e["outcome"] for e in events() if e["action"] == "sign_in"] == ["failure"]


def test_a_disabled_accounts_passkey_signs_in_nowhere(client, services, agent, admin):
    authenticator = with_passkey(services, agent, sign_in_alone=True)
    services.accounts.lifecycle.disable(services.store.user(agent.id), now=time.time())

    assert passkey_answer(client, "/login", "/login/passkey", authenticator).status_code == 401
    assert session_of(services, client) is None


def test_an_sp_asking_for_mfa_is_answered_after_a_passwordless_sign_in_with_the_mfa_class(
    client, services, agent, sp_app, idp_certificate
):
    authenticator = with_passkey(services, agent, sign_in_alone=True)
    key = request_key(send(client, python3_saml_request(context=[MFA])))

    resumed = passkey_answer(client, f"/login?request={key}", "/login/passkey", authenticator)
    assert resumed.headers["Location"].startswith("/saml/resume?request=")
    _, encoded, _ = posted(follow(client, resumed))

    assert accepted(encoded, idp_certificate).name_id == agent.email
    assert asserted_class(encoded) == MFA


def test_a_password_only_session_steps_up_with_a_passkey_for_an_sp_asking_for_mfa(
    client, services, agent, sp_app, idp_certificate
):
    sign_in(client, agent)  # a password-only session; the passkey is registered afterwards
    authenticator = with_passkey(services, agent)

    step = send(client, python3_saml_request(context=[MFA], comparison="minimum"))
    assert step.status_code == 303 and step.headers["Location"] == STEP, "no password asked again"
    resumed = passkey_answer(client, STEP, "/login/totp/passkey", authenticator)
    _, encoded, _ = posted(follow(client, resumed))

    accepted(encoded, idp_certificate)
    assert asserted_class(encoded) == MFA


def test_require_mfa_is_met_by_a_passkey_at_the_step(
    client, api, services, admin, brand, agent, sp_app, idp_certificate
):
    Apps(client, api).update(admin, brand, sp_app["id"], {"require_mfa": True})
    sign_in(client, agent)
    authenticator = with_passkey(services, agent)

    assert send(client, python3_saml_request()).headers["Location"] == STEP
    _, encoded, _ = posted(follow(client, passkey_answer(client, STEP, "/login/totp/passkey", authenticator)))

    assert accepted(encoded, idp_certificate).name_id == agent.email
    assert asserted_class(encoded) == MFA


def test_options_for_signing_in_alone_name_no_credential(services):
    options = services.accounts.passkeys.authentication_options(Purpose.SIGN_IN)
    assert options.get("allowCredentials", []) == []
    assert options["userVerification"] == "required"


def test_a_launch_link_of_a_require_mfa_app_is_finished_with_a_passkey(
    client, api, services, admin, brand, agent, sp_app, idp_certificate
):
    apps = Apps(client, api)
    apps.update(admin, brand, sp_app["id"], {"require_mfa": True})
    authenticator = with_passkey(services, agent)
    link = urlsplit(next(item["open_url"] for item in apps.listed(agent, brand) if item["id"] == sp_app["id"]))

    step = client.get(f"{link.path}?{link.query}")
    assert step.status_code == 303 and step.headers["Location"] == STEP
    _, encoded, _ = posted(follow(client, passkey_answer(client, STEP, "/login/totp/passkey", authenticator)))

    assert asserted_class(encoded) == MFA
    assert accepted(encoded, idp_certificate, issuer=sp_app["issuer"]).name_id == agent.email


def test_an_admins_mfa_reset_removes_the_passkeys_too(app, client, services, admin, agent):
    authenticator = with_passkey(services, agent, sign_in_alone=True)
    services.accounts.people.reset_mfa(admin, agent.id)

    assert services.store.passkeys_of(agent.id) == []
    assert services.store.user(agent.id).passkey_sign_in is False
    assert sign_in(client, agent).headers["Location"] == "/", "the password alone signs in again"
    elsewhere = app.test_client()
    assert passkey_answer(elsewhere, "/login", "/login/passkey", authenticator).status_code == 401


HOSTILE = [
    "",
    "null",
    "[]",
    '"text"',
    '{"id": 1}',
    '{"id": "a", "rawId": "a", "type": "public-key", "response": {}}',
    '{"id": "a", "rawId": "!!", "type": "public-key", "response": {"clientDataJSON": "!!",'
    ' "authenticatorData": "", "signature": "", "userHandle": "%%%"}}',
    '{"id": "a", "rawId": "a", "type": "x", "response": {"clientDataJSON": "e30", "authenticatorData": "",'
    ' "signature": ""}}',
    "{" * 50_000,
    '{"id": "\\ud800", "rawId": "\\u0000", "type": "public-key", "response": {"clientDataJSON": "\\u0000"}}',
]


@pytest.mark.parametrize("credential", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_answer_is_refused_without_a_server_error(client, services, agent, credential):
    with_passkey(services, agent, sign_in_alone=True)
    token = dict(forms_of(client.get("/login"))["/login/passkey"].form_values())["csrf_token"]
    alone = client.post("/login/passkey", data={"csrf_token": token, "credential": credential}, headers=SAME_ORIGIN)
    sign_in(client, agent)
    step = client.post("/login/totp/passkey", data={"csrf_token": token, "credential": credential}, headers=SAME_ORIGIN)

    assert alone.status_code == 401 and step.status_code == 401
    assert session_of(services, client) is None

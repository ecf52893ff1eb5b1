"""The passkey service through whole WebAuthn ceremonies with a software authenticator (tests/authenticator.py):
registration, the second factor, signing in without a password, and every way an assertion is refused."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from idp.accounts.lifecycle import Lifecycle
from idp.accounts.passkeys import Passkeys, Purpose, RelyingParty, has_second_factor
from idp.accounts.sessions import Sessions
from idp.accounts.throttle import Rule, Throttle
from idp.errors import Conflict, InvalidCode, NotFound, Throttled, ValidationError
from idp.telemetry import audit
from tests.authenticator import SoftwareAuthenticator, b64url, unb64url
from tests.conftest import BASE_URL

ORIGIN = BASE_URL  # http://127.0.0.1:5000


@pytest.fixture
def passkeys(store) -> Passkeys:
    return Passkeys(store, Throttle(store), RelyingParty.of(BASE_URL, "Acme sign-in"))


@pytest.fixture
def events():
    seen: list[audit.AuditEvent] = []
    audit.keep_with(seen.append)
    yield seen
    audit.keep_with(None)


def register(passkeys: Passkeys, user, authenticator: SoftwareAuthenticator, name: str = "Laptop"):
    options = passkeys.registration_options(user)
    return passkeys.register(user, authenticator.create(options, ORIGIN), name=name, now=time.time())


def second_factor(passkeys: Passkeys, user, authenticator: SoftwareAuthenticator, **kwargs):
    options = passkeys.authentication_options(Purpose.SECOND_FACTOR, user)
    answer = authenticator.get(options, ORIGIN, **kwargs)
    return passkeys.authenticate(answer, Purpose.SECOND_FACTOR, user=user, address="10.0.0.1", now=time.time())


def sign_in(passkeys: Passkeys, authenticator: SoftwareAuthenticator, **kwargs):
    options = passkeys.authentication_options(Purpose.SIGN_IN)
    answer = authenticator.get(options, ORIGIN, **kwargs)
    return passkeys.authenticate(answer, Purpose.SIGN_IN, address="10.0.0.1", now=time.time())


def test_registration_options_name_this_service_and_require_a_verified_discoverable_credential(passkeys, make):
    user = make.user(password=None, first_name="Ada", last_name="Agent")
    options = passkeys.registration_options(user)

    assert options["rp"] == {"id": "127.0.0.1", "name": "Acme sign-in"}
    assert unb64url(options["user"]["id"]) == user.id.encode()
    assert options["user"]["name"] == user.email
    assert options["user"]["displayName"] == "Ada Agent"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"]
    assert len(unb64url(options["challenge"])) >= 32


def test_a_registered_passkey_is_kept_with_its_key_counter_transports_and_name(passkeys, make, store, events):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    passkey = register(passkeys, user, authenticator, name="  Work   laptop ")

    [credential] = authenticator.credentials
    assert passkey.credential_id == b64url(credential.id)
    assert passkey.name == "Work   laptop"
    assert passkey.sign_count == 0
    assert passkey.transports == ["internal"]
    assert passkey.last_used_at is None
    assert store.passkeys_of(user.id) == [passkey]
    assert has_second_factor(store, user)
    assert [(e.action, e.actor) for e in events] == [("passkey.register", user.id)]


def test_the_next_registration_excludes_the_passkeys_held(passkeys, make):
    user = make.user(password=None)
    first = register(passkeys, user, SoftwareAuthenticator())

    options = passkeys.registration_options(user)
    assert [item["id"] for item in options["excludeCredentials"]] == [first.credential_id]


def test_a_registration_answers_its_own_challenge_once(passkeys, make):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    options = passkeys.registration_options(user)
    answer = authenticator.create(options, ORIGIN)
    passkeys.register(user, answer, name="Laptop", now=time.time())

    with pytest.raises(InvalidCode, match="expired or was answered already"):
        passkeys.register(user, answer, name="Again", now=time.time())


def test_a_registration_for_another_user_or_made_up_challenge_is_refused(passkeys, make):
    ann, bob = make.user(password=None), make.user(password=None)
    authenticator = SoftwareAuthenticator()
    for_ann = passkeys.registration_options(ann)
    with pytest.raises(InvalidCode):
        passkeys.register(bob, authenticator.create(for_ann, ORIGIN), name="Laptop", now=time.time())
    with pytest.raises(InvalidCode):
        passkeys.register(ann, authenticator.create(for_ann, ORIGIN, challenge=b64url(b"x" * 32)), name="L", now=0)


@pytest.mark.parametrize(
    ("origin", "verified"),
    [("https://evil.example", True), ("http://127.0.0.1:5001", True), (ORIGIN, False)],
    ids=["other-site", "other-port", "user-not-verified"],
)
def test_a_registration_from_another_origin_or_without_user_verification_is_refused(
    passkeys, make, store, origin, verified
):
    user = make.user(password=None)
    options = passkeys.registration_options(user)
    answer = SoftwareAuthenticator().create(options, origin, verified=verified)

    with pytest.raises(ValidationError) as refused:
        passkeys.register(user, answer, name="Laptop", now=time.time())
    assert refused.value.field == "credential"
    assert store.passkeys_of(user.id) == []


@pytest.mark.parametrize("answer", ["", "not json", "[]", json.dumps({"id": "x"}), "{" * 40_000])
def test_an_unreadable_registration_is_a_validation_error(passkeys, make, answer):
    user = make.user(password=None)
    passkeys.registration_options(user)
    with pytest.raises(ValidationError):
        passkeys.register(user, answer, name="Laptop", now=time.time())


def test_a_passkey_needs_a_name(passkeys, make):
    user = make.user(password=None)
    options = passkeys.registration_options(user)
    with pytest.raises(ValidationError) as refused:
        passkeys.register(user, SoftwareAuthenticator().create(options, ORIGIN), name=" ", now=time.time())
    assert refused.value.field == "name"


def test_as_a_second_factor_the_options_allow_the_users_passkeys_only(passkeys, make):
    user, other = make.user(password=None), make.user(password=None)
    mine = register(passkeys, user, SoftwareAuthenticator())
    register(passkeys, other, SoftwareAuthenticator())

    options = passkeys.authentication_options(Purpose.SECOND_FACTOR, user)
    assert options["rpId"] == "127.0.0.1"
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == [{"id": mine.credential_id, "type": "public-key", "transports": ["internal"]}]


def test_a_second_factor_assertion_signs_the_user_in_and_moves_the_counter(passkeys, make, store):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    passkey = register(passkeys, user, authenticator)

    assert second_factor(passkeys, user, authenticator).id == user.id
    assert second_factor(passkeys, user, authenticator).id == user.id
    used = store.passkey(passkey.credential_id)
    assert used.sign_count == 2
    assert used.last_used_at is not None


def test_an_authenticator_without_a_counter_signs_in_each_time(passkeys, make, store):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator(counts=False)
    passkey = register(passkeys, user, authenticator)
    for _ in range(3):
        assert second_factor(passkeys, user, authenticator).id == user.id
    assert store.passkey(passkey.credential_id).sign_count == 0


def test_a_counter_that_goes_back_is_refused_and_recorded(passkeys, make, store, events):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    passkey = register(passkeys, user, authenticator)
    for _ in range(3):
        second_factor(passkeys, user, authenticator)

    with pytest.raises(InvalidCode):
        second_factor(passkeys, user, authenticator, sign_count=2)  # a copy of the key, used less
    with pytest.raises(InvalidCode):
        second_factor(passkeys, user, authenticator, sign_count=3)  # not moved at all
    assert store.passkey(passkey.credential_id).sign_count == 3, "the stored counter is kept"
    regressions = [e for e in events if e.action == "passkey.counter_regressed"]
    assert [(e.outcome, e.target, e.details["received"]) for e in regressions] == [
        ("refused", f"user:{user.id}", 2),
        ("refused", f"user:{user.id}", 3),
    ]
    assert second_factor(passkeys, user, authenticator, sign_count=4).id == user.id


def test_an_assertion_answers_its_challenge_once(passkeys, make):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator(counts=False)
    register(passkeys, user, authenticator)
    options = passkeys.authentication_options(Purpose.SECOND_FACTOR, user)
    answer = authenticator.get(options, ORIGIN)
    passkeys.authenticate(answer, Purpose.SECOND_FACTOR, user=user, address=None, now=time.time())

    with pytest.raises(InvalidCode):
        passkeys.authenticate(answer, Purpose.SECOND_FACTOR, user=user, address=None, now=time.time())


def test_a_challenge_of_one_ceremony_does_not_serve_another(passkeys, make, store):
    user = make.user(password=None)
    store.save_user(dataclasses.replace(user, passkey_sign_in=True))
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    options = passkeys.authentication_options(Purpose.SECOND_FACTOR, user)
    with pytest.raises(InvalidCode):
        passkeys.authenticate(authenticator.get(options, ORIGIN), Purpose.SIGN_IN, address=None, now=time.time())


def test_another_users_passkey_is_no_second_factor(passkeys, make):
    ann, bob = make.user(password=None), make.user(password=None)
    anns = SoftwareAuthenticator()
    register(passkeys, ann, anns)
    register(passkeys, bob, SoftwareAuthenticator())
    options = passkeys.authentication_options(Purpose.SECOND_FACTOR, bob)

    with pytest.raises(InvalidCode):
        passkeys.authenticate(
            anns.get(options, ORIGIN, credential=anns.credentials[0]),
            Purpose.SECOND_FACTOR,
            user=bob,
            address=None,
            now=time.time(),
        )


@pytest.mark.parametrize(
    "change",
    [
        {"verified": False},
        {"rp_id": "evil.example"},
    ],
    ids=["user-not-verified", "other-rp-id"],
)
def test_an_assertion_without_user_verification_or_for_another_rp_is_refused(passkeys, make, change):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    with pytest.raises(InvalidCode):
        second_factor(passkeys, user, authenticator, **change)


def test_an_assertion_from_another_origin_is_refused(passkeys, make):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    options = passkeys.authentication_options(Purpose.SECOND_FACTOR, user)
    with pytest.raises(InvalidCode):
        passkeys.authenticate(
            authenticator.get(options, "https://phish.example"),
            Purpose.SECOND_FACTOR,
            user=user,
            address=None,
            now=time.time(),
        )


def test_a_forged_signature_is_refused(passkeys, make):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    options = passkeys.authentication_options(Purpose.SECOND_FACTOR, user)
    answer = json.loads(authenticator.get(options, ORIGIN))
    signature = bytearray(unb64url(answer["response"]["signature"]))
    signature[-1] ^= 1
    answer["response"]["signature"] = b64url(bytes(signature))
    with pytest.raises(InvalidCode):
        passkeys.authenticate(json.dumps(answer), Purpose.SECOND_FACTOR, user=user, address=None, now=time.time())


def test_signing_in_with_a_passkey_alone_needs_the_setting(passkeys, make, store):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)

    with pytest.raises(InvalidCode, match="not set up for signing in without a password"):
        sign_in(passkeys, authenticator)
    user = passkeys.allow_sign_in(store.user(user.id), True)
    assert user.passkey_sign_in is True
    options = passkeys.authentication_options(Purpose.SIGN_IN)
    assert "allowCredentials" not in options or options["allowCredentials"] == []
    assert sign_in(passkeys, authenticator).id == user.id


def test_the_setting_needs_a_passkey_and_goes_with_the_last_one(passkeys, make, store):
    user = make.user(password=None)
    with pytest.raises(ValidationError):
        passkeys.allow_sign_in(user, True)
    first = register(passkeys, user, SoftwareAuthenticator())
    second = register(passkeys, user, SoftwareAuthenticator())
    user = passkeys.allow_sign_in(user, True)

    user = passkeys.remove(user, first.credential_id)
    assert store.user(user.id).passkey_sign_in is True
    passkeys.remove(user, second.credential_id)
    assert store.user(user.id).passkey_sign_in is False
    assert not has_second_factor(store, store.user(user.id))


def test_a_disabled_accounts_passkeys_never_work_and_a_deleted_ones_are_gone(passkeys, make, store):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    user = passkeys.allow_sign_in(user, True)
    lifecycle = Lifecycle(store, tokens=_NoTokens(), sessions=Sessions(store, ttl=60))

    disabled = lifecycle.disable(user, now=time.time())
    with pytest.raises(InvalidCode):
        sign_in(passkeys, authenticator)
    with pytest.raises(InvalidCode):
        second_factor(passkeys, disabled, authenticator)
    enabled = lifecycle.enable(store.user(user.id), now=time.time())
    assert sign_in(passkeys, authenticator).id == user.id

    lifecycle.delete(enabled, now=time.time())
    assert store.passkeys_of(user.id) == []
    with pytest.raises(InvalidCode):
        sign_in(passkeys, authenticator)


class _NoTokens:
    def revoke_user(self, user_id: str) -> None:
        pass


def test_failed_passkey_sign_ins_are_throttled_per_account_and_address(store, make):
    rules = (Rule("account+address", 3, 600), Rule("address", 100, 600))
    passkeys = Passkeys(store, Throttle(store, rules), RelyingParty.of(BASE_URL, "idp"))
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    for _ in range(3):
        with pytest.raises(InvalidCode):
            second_factor(passkeys, user, authenticator, verified=False)

    with pytest.raises(Throttled):
        second_factor(passkeys, user, authenticator)


def test_rename_and_remove_only_the_users_own(passkeys, make, store, events):
    ann, bob = make.user(password=None), make.user(password=None)
    passkey = register(passkeys, ann, SoftwareAuthenticator())

    with pytest.raises(NotFound):
        passkeys.rename(bob, passkey.credential_id, "Mine now")
    with pytest.raises(NotFound):
        passkeys.remove(bob, passkey.credential_id)
    renamed = passkeys.rename(ann, passkey.credential_id, "Phone")
    assert store.passkey(passkey.credential_id) == renamed
    assert renamed.name == "Phone"
    passkeys.remove(ann, passkey.credential_id)
    assert store.passkeys_of(ann.id) == []
    assert [e.action for e in events][-2:] == ["passkey.rename", "passkey.remove"]


def test_a_credential_registered_twice_is_a_conflict(passkeys, make, store):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    options = passkeys.registration_options(user)
    answer = json.loads(authenticator.create(options, ORIGIN))
    first_id = b64url(authenticator.credentials[0].id)
    # The same credential id again (an authenticator ignoring excludeCredentials).
    answer["id"] = answer["rawId"] = first_id
    attestation = unb64url(answer["response"]["attestationObject"])
    new_id = authenticator.credentials[1].id
    answer["response"]["attestationObject"] = b64url(attestation.replace(new_id, unb64url(first_id)))
    with pytest.raises(Conflict):
        passkeys.register(user, json.dumps(answer), name="Again", now=time.time())


def test_whether_passkey_sign_in_is_on_is_told_only_to_a_good_signature(passkeys, make):
    user = make.user(password=None)
    authenticator = SoftwareAuthenticator()
    register(passkeys, user, authenticator)
    options = passkeys.authentication_options(Purpose.SIGN_IN)
    answer = json.loads(authenticator.get(options, ORIGIN))
    answer["response"]["signature"] = b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")

    with pytest.raises(InvalidCode) as refused:
        passkeys.authenticate(json.dumps(answer), Purpose.SIGN_IN, address=None, now=time.time())
    assert "not set up" not in refused.value.message

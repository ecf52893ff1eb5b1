"""Passkeys (WebAuthn, with the `webauthn` library): registering them, and signing in with one, as the
second factor after a password or, for users who turn it on, alone.

The relying party is this service: its id is the host of `IDP_BASE_URL`, its origin that URL's
origin. User verification is required in every ceremony, and registered credentials are
discoverable (resident), so that a passkey can also name its user. Each challenge answers one
ceremony of one kind, once, within `CHALLENGE_TTL` seconds. A signature counter that does not move
forward (WebAuthn §6.1.1: a sign of a cloned authenticator) refuses the sign-in and is an audit event.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.accounts.secrets import new_token
from idp.accounts.throttle import Throttle
from idp.errors import Conflict, InvalidCode, NotFound, ValidationError
from idp.models import Passkey, User
from idp.store import Store
from idp.telemetry.audit import AuditDetail, AuditEvent, record
from idp.text import clean_text

log = logging.getLogger(__name__)

CHALLENGE_TTL = 300  # seconds a ceremony may take, from its options to its answer
CEREMONY_TIMEOUT_MS = 120_000  # what the browser is told it may take (a hint)
MAX_PASSKEYS = 20  # per user
MAX_NAME = 64
MAX_CREDENTIAL_JSON = 32 * 1024  # a registration with an attestation certificate chain fits well within
_REFUSED = "the passkey could not be verified; please try again"
# Errors the library and its decoders raise on a malformed or false credential.
_UNREADABLE = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)


class Purpose(StrEnum):
    REGISTER = "register"
    SECOND_FACTOR = "second-factor"  # after a password, or to step a session up to MFA
    SIGN_IN = "sign-in"  # a passkey alone


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host of IDP_BASE_URL
    origin: str  # scheme://host[:port] of IDP_BASE_URL
    name: str

    @classmethod
    def of(cls, base_url: str, name: str) -> RelyingParty:
        parts = urlsplit(base_url)
        return cls(id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}", name=name)


def has_second_factor(store: Store, user: User) -> bool:
    """Whether the user has a second factor to sign in with: TOTP, or a passkey."""
    return user.mfa_enabled or bool(store.passkeys_of(user.id))


def _name(name: object) -> str:
    return clean_text("name", name, max_length=MAX_NAME)


def _credential_text(credential: object) -> str:
    if not isinstance(credential, str) or not credential:
        raise ValidationError("no passkey was sent (this needs JavaScript in the browser)", field="credential")
    if len(credential) > MAX_CREDENTIAL_JSON:
        raise ValidationError("the passkey's answer is too large", field="credential")
    return credential


def _challenge_of(client_data_json: bytes) -> str:
    return bytes_to_base64url(parse_client_data_json(client_data_json).challenge)


class Passkeys:
    def __init__(self, store: Store, throttle: Throttle, rp: RelyingParty) -> None:
        self.store = store
        self.throttle = throttle
        self.rp = rp

    # registering

    def registration_options(self, user: User) -> dict[str, Any]:
        """What navigator.credentials.create() takes (as JSON), for one more passkey of the user."""
        held = self.store.passkeys_of(user.id)
        if len(held) >= MAX_PASSKEYS:
            raise Conflict(f"you have {MAX_PASSKEYS} passkeys already; remove one first", field="passkey")
        options = generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_id=user.id.encode(),
            user_name=user.email,
            user_display_name=user.display_name or user.email,
            timeout=CEREMONY_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[self._descriptor(passkey) for passkey in held],
        )
        self._keep(options.challenge, Purpose.REGISTER, user.id)
        return options_to_json_dict(options)

    def register(self, user: User, credential: object, *, name: object, now: float) -> Passkey:
        """Verify what navigator.credentials.create() answered to our options, and keep the passkey."""
        name = _name(name)
        try:
            parsed: RegistrationCredential = parse_registration_credential_json(_credential_text(credential))
            challenge = _challenge_of(parsed.response.client_data_json)
        except _UNREADABLE as error:
            raise ValidationError("the passkey's answer is not readable", field="credential") from error
        self._take(challenge, Purpose.REGISTER, user.id)
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                require_user_verification=True,
            )
        except _UNREADABLE as error:
            log.info("a passkey registration was refused: %s", error)
            raise ValidationError("the passkey could not be registered; please try again", field="credential") from None
        credential_id = bytes_to_base64url(verified.credential_id)
        if self.store.passkey(credential_id) is not None:
            raise Conflict("that passkey is registered already", field="credential")
        passkey = Passkey(
            credential_id=credential_id,
            user_id=user.id,
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            name=name,
            created_at=now,
            version=new_token(),
            transports=[transport.value for transport in parsed.response.transports or []],
            backed_up=verified.credential_backed_up,
        )
        self.store.save_passkey(passkey)
        record(
            AuditEvent(
                "passkey.register",
                actor=user.id,
                target=f"user:{user.id}",
                details={
                    "passkey": credential_id,
                    "synced": verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE,
                },
            )
        )
        return passkey

    # signing in

    def authentication_options(self, purpose: Purpose, user: User | None = None) -> dict[str, Any]:
        """What navigator.credentials.get() takes (as JSON): for `user`'s passkeys as a second factor,
        or (no user) for any discoverable passkey of this site."""
        allowed = [self._descriptor(passkey) for passkey in self.store.passkeys_of(user.id)] if user else []
        options = generate_authentication_options(
            rp_id=self.rp.id,
            timeout=CEREMONY_TIMEOUT_MS,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        self._keep(options.challenge, purpose, user.id if user else None)
        return options_to_json_dict(options)

    def authenticate(
        self, credential: object, purpose: Purpose, *, user: User | None = None, address: str | None, now: float
    ) -> User:
        """The user a passkey assertion signs in: `user` itself for a second factor (their own passkey
        only), else the passkey's owner, who must have turned passkey sign-in on. The account must be
        active. Failures raise InvalidCode and count towards the throttle (per account once known)."""
        parsed, passkey = self._read_assertion(credential)
        account = user.id if user else passkey.user_id if passkey else None
        with self.throttle.attempt("passkey", account, address, now=now):
            if parsed is None or passkey is None:
                raise InvalidCode(_REFUSED, field="credential")
            return self._verify(parsed, passkey, purpose, user, now=now)

    def _read_assertion(self, credential: object) -> tuple[AuthenticationCredential | None, Passkey | None]:
        try:
            parsed = parse_authentication_credential_json(_credential_text(credential))
        except (*_UNREADABLE, ValidationError):
            return None, None
        return parsed, self.store.passkey(bytes_to_base64url(parsed.raw_id))

    def _verify(
        self, parsed: AuthenticationCredential, passkey: Passkey, purpose: Purpose, user: User | None, *, now: float
    ) -> User:
        try:
            challenge = _challenge_of(parsed.response.client_data_json)
        except _UNREADABLE:
            raise InvalidCode(_REFUSED, field="credential") from None
        self._take(challenge, purpose, user.id if user else None)
        owner = self.store.user(passkey.user_id)
        if owner is None or not owner.is_active or (user is not None and owner.id != user.id):
            raise InvalidCode(_REFUSED, field="credential")
        handle = parsed.response.user_handle
        if handle is not None and handle != owner.id.encode():
            raise InvalidCode(_REFUSED, field="credential")  # the authenticator names someone else
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=0,  # judged below, once the signature is known to be good
                require_user_verification=True,
            )
        except _UNREADABLE as error:
            log.info("a passkey assertion was refused: %s", error)
            raise InvalidCode(_REFUSED, field="credential") from None
        if user is None and not owner.passkey_sign_in:
            # Said only to whoever holds the key: the signature is good.
            raise InvalidCode("this passkey is not set up for signing in without a password", field="credential")
        counted = verified.new_sign_count
        if (counted > 0 or passkey.sign_count > 0) and counted <= passkey.sign_count:
            self._counter_went_back(passkey, counted)
            raise InvalidCode(_REFUSED, field="credential")
        used = dataclasses.replace(
            passkey,
            sign_count=counted,
            last_used_at=now,
            backed_up=verified.credential_backed_up,
            version=new_token(),
        )
        if not self.store.replace_passkey_if(used, passkey.version):
            raise InvalidCode(_REFUSED, field="credential")  # used at the same moment elsewhere, or removed
        return owner

    def _counter_went_back(self, passkey: Passkey, counted: int) -> None:
        """WebAuthn §6.1.1: a counter at or below the stored one hints that the key was copied. The
        sign-in is refused, the stored counter kept, and the event recorded for the admins."""
        log.warning(
            "passkey %s of user %s: counter %d after %d",
            passkey.credential_id,
            passkey.user_id,
            counted,
            passkey.sign_count,
        )
        details: dict[str, AuditDetail] = {
            "passkey": passkey.credential_id,
            "stored": passkey.sign_count,
            "received": counted,
        }
        record(
            AuditEvent(
                "passkey.counter_regressed", outcome="refused", target=f"user:{passkey.user_id}", details=details
            )
        )

    # managing

    def of(self, user: User) -> list[Passkey]:
        return self.store.passkeys_of(user.id)

    def rename(self, user: User, credential_id: str, name: object) -> Passkey:
        passkey = self._own(user, credential_id)
        renamed = dataclasses.replace(passkey, name=_name(name), version=new_token())
        if not self.store.replace_passkey_if(renamed, passkey.version):
            raise Conflict("the passkey changed meanwhile; please try again", field="passkey")
        record(
            AuditEvent("passkey.rename", actor=user.id, target=f"user:{user.id}", details={"passkey": credential_id})
        )
        return renamed

    def remove(self, user: User, credential_id: str) -> User:
        """Remove one of the user's passkeys; with the last one goes passkey sign-in."""
        self._own(user, credential_id)
        self.store.drop_passkey(credential_id)
        record(
            AuditEvent("passkey.remove", actor=user.id, target=f"user:{user.id}", details={"passkey": credential_id})
        )
        if user.passkey_sign_in and not self.store.passkeys_of(user.id):
            return self._save_sign_in(user, False)
        return user

    def allow_sign_in(self, user: User, allowed: bool) -> User:
        """Turn signing in with a passkey alone on or off."""
        if allowed and not self.store.passkeys_of(user.id):
            raise ValidationError("register a passkey first", field="passkey_sign_in")
        changed = self._save_sign_in(user, allowed)
        record(
            AuditEvent("passkey.sign_in_setting", actor=user.id, target=f"user:{user.id}", details={"enabled": allowed})
        )
        return changed

    def drop_all(self, user_id: str) -> None:
        self.store.drop_passkeys_of(user_id)

    def _save_sign_in(self, user: User, allowed: bool) -> User:
        current = self.store.user(user.id) or user
        changed = dataclasses.replace(current, passkey_sign_in=allowed)
        self.store.save_user(changed)
        return changed

    def _own(self, user: User, credential_id: str) -> Passkey:
        passkey = self.store.passkey(credential_id) if credential_id else None
        if passkey is None or passkey.user_id != user.id:
            raise NotFound("there is no such passkey of yours", field="passkey")
        return passkey

    # challenges

    def _keep(self, challenge: bytes, purpose: Purpose, user_id: str | None) -> None:
        doc = {"purpose": purpose.value, "user_id": user_id}
        self.store.save_passkey_challenge(bytes_to_base64url(challenge), doc, CHALLENGE_TTL)

    def _take(self, challenge: str, purpose: Purpose, user_id: str | None) -> None:
        """The challenge, once, for the ceremony and user it was made for; InvalidCode otherwise."""
        doc = self.store.take_passkey_challenge(challenge)
        if doc is None or doc.get("purpose") != purpose.value or doc.get("user_id") != user_id:
            raise InvalidCode(
                "the passkey prompt has expired or was answered already; please try again", field="credential"
            )

    @staticmethod
    def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
        transports = [
            AuthenticatorTransport(t) for t in passkey.transports if t in AuthenticatorTransport._value2member_map_
        ]
        return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id), transports=transports)

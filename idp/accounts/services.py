"""The account services, built once at start and shared by the web layer, the flows and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from idp.accounts.audit_log import AuditLog
from idp.accounts.lifecycle import Lifecycle
from idp.accounts.mail import mailer_for
from idp.accounts.mfa import Mfa
from idp.accounts.notices import Notices
from idp.accounts.passkeys import Passkeys, RelyingParty
from idp.accounts.password_links import PasswordLinks
from idp.accounts.passwords import Passwords
from idp.accounts.people import People
from idp.accounts.recovery_codes import RecoveryCodes
from idp.accounts.second_factor import SecondFactor
from idp.accounts.sessions import Sessions
from idp.accounts.throttle import Throttle
from idp.accounts.token_endpoint import TokenEndpoint
from idp.accounts.tokens import Tokens
from idp.config import Settings
from idp.keyring import KeyRing
from idp.store import Store


@dataclass(frozen=True)
class Accounts:
    throttle: Throttle
    tokens: Tokens
    passwords: Passwords
    mfa: Mfa
    second_factor: SecondFactor
    sessions: Sessions
    token_endpoint: TokenEndpoint
    lifecycle: Lifecycle
    password_links: PasswordLinks
    people: People
    audit_log: AuditLog
    passkeys: Passkeys

    @classmethod
    def build(cls, settings: Settings, store: Store, keyring: KeyRing) -> Accounts:
        throttle = Throttle(store)
        tokens = Tokens(store, settings, keyring)
        mailer = mailer_for(settings)
        notices = Notices(store, mailer, settings.issuer_name)
        recovery = RecoveryCodes(store, keyring)
        mfa = Mfa(store, keyring, throttle, tokens, issuer=settings.issuer_name, recovery=recovery, notices=notices)
        sessions = Sessions(store, ttl=settings.session_ttl)
        lifecycle = Lifecycle(store, tokens, sessions)
        passwords = Passwords(store, throttle, tokens, lifecycle)
        password_links = PasswordLinks(
            store,
            throttle,
            lifecycle,
            notices,
            base_url=settings.base_url,
            reset_ttl=settings.password_reset_ttl,
            invitation_ttl=settings.invitation_ttl,
        )
        audit_log = AuditLog(store, settings.audit_retention_days * 24 * 3600)
        return cls(
            throttle=throttle,
            tokens=tokens,
            passwords=passwords,
            mfa=mfa,
            second_factor=SecondFactor(store, keyring, settings, throttle, mailer, mfa),
            sessions=sessions,
            token_endpoint=TokenEndpoint(tokens, passwords),
            lifecycle=lifecycle,
            password_links=password_links,
            people=People(store, lifecycle, mfa, password_links, notices, audit_log),
            audit_log=audit_log,
            passkeys=Passkeys(store, throttle, RelyingParty.of(settings.base_url, settings.issuer_name)),
        )

"""The account services, built once at start and shared by the web layer, the flows and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from idp.accounts.mail import mailer_for
from idp.accounts.mfa import Mfa
from idp.accounts.passwords import Passwords
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

    @classmethod
    def build(cls, settings: Settings, store: Store, keyring: KeyRing) -> Accounts:
        throttle = Throttle(store)
        tokens = Tokens(store, settings, keyring)
        mfa = Mfa(store, keyring, throttle, tokens, issuer=settings.issuer_name)
        passwords = Passwords(store, throttle, tokens)
        return cls(
            throttle=throttle,
            tokens=tokens,
            passwords=passwords,
            mfa=mfa,
            second_factor=SecondFactor(store, keyring, settings, throttle, mailer_for(settings), mfa),
            sessions=Sessions(store, ttl=settings.session_ttl),
            token_endpoint=TokenEndpoint(tokens, passwords),
        )

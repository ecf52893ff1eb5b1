"""The token endpoint's grants (RFC 6749 sections 4.3 and 6): which one, its parameters, its answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from idp.accounts.passwords import Passwords
from idp.accounts.tokens import TokenPair, Tokens
from idp.errors import InvalidRequest, UnsupportedGrantType
from idp.models import User


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str | None
    client_secret: str | None
    used_basic: bool  # sent by HTTP Basic, so a refusal challenges for Basic


@dataclass(frozen=True)
class Granted:
    pair: TokenPair
    signed_in: User | None  # the password grant also answers who signed in


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidRequest(f"{name} is required")
    return value


class TokenEndpoint:
    def __init__(self, tokens: Tokens, passwords: Passwords) -> None:
        self.tokens = tokens
        self.passwords = passwords

    def grant(
        self, params: Mapping[str, str], credentials: ClientCredentials, *, address: str | None, now: float
    ) -> Granted:
        grant_type = _required(params, "grant_type")
        if grant_type not in ("password", "refresh_token"):
            raise UnsupportedGrantType(f"grant_type {grant_type} is not supported")
        client = self.tokens.authenticate_client(
            credentials.client_id, credentials.client_secret, used_basic=credentials.used_basic
        )
        if grant_type == "refresh_token":
            return Granted(self.tokens.refresh(client, _required(params, "refresh_token")), None)
        user = self.passwords.sign_in(
            _required(params, "username"), _required(params, "password"), address=address, now=now
        )
        return Granted(self.tokens.issue(user, client), user)

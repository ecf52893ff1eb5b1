"""The pages of people signed in, over the same services as the API: the admin console, where brand
admins manage their brands' apps and people, and a user's own passkeys.

Like the sign-in flows, each console flow takes plain values (a `Browser`, what a form sent) and
returns an `Outcome`; refusals are errors of `idp.errors` (a browser without a session is sent to
sign in first).
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.accounts.services import Accounts
from idp.applications.service import Applications
from idp.console.brands import BrandsConsole
from idp.console.passkeys import PasskeysConsole
from idp.console.seat import Seats
from idp.store import Store


@dataclass(frozen=True)
class Console:
    seats: Seats
    brands: BrandsConsole
    passkeys: PasskeysConsole

    @classmethod
    def build(cls, store: Store, accounts: Accounts, apps: Applications) -> Console:
        seats = Seats(store, accounts.sessions, accounts.people)
        return cls(
            seats=seats,
            brands=BrandsConsole(seats, store),
            passkeys=PasskeysConsole(store, accounts.sessions, accounts.passkeys),
        )

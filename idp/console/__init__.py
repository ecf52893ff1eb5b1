"""The pages of people signed in, over the same services as the API: the admin console, where brand
admins manage their brands' apps and people, and the account page, where anyone manages their own sign-in.

Like the sign-in flows, each console flow takes plain values (a `Browser`, what a form sent) and
returns an `Outcome`; refusals are errors of `idp.errors` (a browser without a session is sent to
sign in first).
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.accounts.services import Accounts
from idp.applications.service import Applications
from idp.console.account import AccountConsole
from idp.console.brands import BrandsConsole
from idp.console.seat import Seats
from idp.store import Store


@dataclass(frozen=True)
class Console:
    seats: Seats
    brands: BrandsConsole
    account: AccountConsole

    @classmethod
    def build(cls, store: Store, accounts: Accounts, apps: Applications) -> Console:
        seats = Seats(store, accounts.sessions, accounts.people)
        account = AccountConsole(store, accounts.sessions, accounts.passwords, accounts.mfa, accounts.second_factor)
        return cls(seats=seats, brands=BrandsConsole(seats, store), account=account)

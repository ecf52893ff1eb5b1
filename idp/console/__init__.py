"""The pages of people signed in, over the same services as the API: the admin console, where brand
admins manage their brands' apps and people, and the account page, where anyone manages their own sign-in
(their passkeys among it).

Like the sign-in flows, each console flow takes plain values (a `Browser`, what a form sent) and
returns an `Outcome`; refusals are errors of `idp.errors` (a browser without a session is sent to
sign in first).
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.accounts.services import Accounts
from idp.applications.brand_settings import BrandSettings
from idp.applications.service import Applications
from idp.config import Settings
from idp.console.account import AccountConsole
from idp.console.applications import ApplicationsConsole, IdpFacts
from idp.console.brands import BrandsConsole
from idp.console.events import EventsConsole
from idp.console.members import MembersConsole
from idp.console.passkeys import PasskeysConsole
from idp.console.seat import Seats
from idp.console.settings import SettingsConsole
from idp.keyring import KeyRing
from idp.store import Store


@dataclass(frozen=True)
class Console:
    seats: Seats
    brands: BrandsConsole
    applications: ApplicationsConsole
    members: MembersConsole
    events: EventsConsole
    account: AccountConsole
    settings: SettingsConsole
    passkeys: PasskeysConsole

    @classmethod
    def build(
        cls,
        store: Store,
        accounts: Accounts,
        apps: Applications,
        *,
        settings: Settings,
        keyring: KeyRing,
        brand_settings: BrandSettings,
    ) -> Console:
        seats = Seats(store, accounts.sessions, accounts.people)
        idp = IdpFacts(settings.base_url, settings.entity_id, certificate_pem=lambda: keyring.certificate_pem)
        return cls(
            seats=seats,
            brands=BrandsConsole(seats, store),
            applications=ApplicationsConsole(seats, apps, idp),
            members=MembersConsole(seats, store, accounts.people, accounts.second_factor),
            events=EventsConsole(seats, store, accounts.people),
            account=AccountConsole(store, accounts.sessions, accounts.passwords, accounts.mfa, accounts.second_factor),
            settings=SettingsConsole(seats, store, brand_settings),
            passkeys=PasskeysConsole(store, accounts.sessions, accounts.passkeys),
        )

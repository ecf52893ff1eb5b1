"""The sign-in conversations, as plain code without Flask: launch from a link, answer an AuthnRequest
(and resume it after sign-in), the front-door sign-in, and single logout both ways.

Each flow takes plain values (a `Browser`, a received message) and returns an `Outcome`: a form
to post, a redirect, or one of our pages with its data.  Refusals are errors of `idp.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.accounts.services import Accounts
from idp.applications.links import LaunchLinks
from idp.applications.service import Applications
from idp.config import Settings
from idp.saml.assertions import IdpIdentity
from idp.signin.front_door import FrontDoor
from idp.signin.launch import LaunchFlow
from idp.signin.logout import LogoutFlow
from idp.signin.passwords import PasswordFlow
from idp.signin.sp_initiated import AuthnRequestFlow
from idp.store import Store


@dataclass(frozen=True)
class Flows:
    launch: LaunchFlow
    authn_requests: AuthnRequestFlow
    front_door: FrontDoor
    logout: LogoutFlow
    passwords: PasswordFlow

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: Store,
        accounts: Accounts,
        apps: Applications,
        links: LaunchLinks,
        idp: IdpIdentity,
    ) -> Flows:
        sessions = accounts.sessions
        return cls(
            launch=LaunchFlow(store, links, sessions, idp, single_use=settings.link_single_use),
            authn_requests=AuthnRequestFlow(store, sessions, idp, skew=settings.clock_skew),
            front_door=FrontDoor(
                store,
                accounts.passwords,
                accounts.mfa,
                sessions,
                apps,
                links,
                accounts.passkeys,
                base_url=settings.base_url,
            ),
            logout=LogoutFlow(store, sessions, idp, skew=settings.clock_skew),
            passwords=PasswordFlow(accounts.password_links),
        )

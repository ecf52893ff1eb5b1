"""A signed-in user's passkeys (/account/passkeys): list them, register one more, rename and remove them,
and choose whether a passkey alone may sign them in.

A user who has a second factor already (TOTP or a passkey) manages passkeys only from a session that
gave it: a password-only session (begun before the factor was added) is sent through the
second-factor step first, so that a session without it cannot plant a key of its own."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any
from urllib.parse import urlencode

from idp.accounts.passkeys import Passkeys, has_second_factor
from idp.accounts.sessions import Sessions, SignedIn
from idp.errors import Conflict, Forbidden, InvalidCode, SignInRequired, ValidationError
from idp.models import Passkey, User
from idp.signin.front_door import totp_step
from idp.signin.outcomes import Browser, Outcome, Page, Redirect
from idp.store import Store

PATH = "/account/passkeys"
# What the page says after a change; the query names one of these, never free text.
NOTICES = {
    "added": "Your passkey was added.",
    "renamed": "The passkey was renamed.",
    "removed": "The passkey was removed.",
    "sign-in-on": "You can now sign in with a passkey alone.",
    "sign-in-off": "Signing in now asks for your password first.",
}


def _when(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _row(passkey: Passkey) -> dict[str, Any]:
    return {
        "id": passkey.credential_id,
        "name": passkey.name,
        "added": _when(passkey.created_at),
        "last_used": _when(passkey.last_used_at),
        "synced": passkey.backed_up,
    }


class PasskeysConsole:
    def __init__(self, store: Store, sessions: Sessions, passkeys: Passkeys) -> None:
        self.store = store
        self.sessions = sessions
        self.passkeys = passkeys

    def _session(self, browser: Browser) -> SignedIn:
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            raise SignInRequired(PATH)
        return signed_in

    def _needs_step_up(self, signed_in: SignedIn) -> bool:
        return not signed_in.session.mfa and has_second_factor(self.store, signed_in.user)

    def _signed_in(self, browser: Browser) -> SignedIn:
        """The session a change is made from: one that gave the user's second factor, if they have one."""
        signed_in = self._session(browser)
        if self._needs_step_up(signed_in):
            raise Forbidden("Confirm it is you with your second factor first: open your passkeys page again.")
        return signed_in

    def page(self, browser: Browser, *, done: str | None = None) -> Outcome:
        signed_in = self._session(browser)
        if self._needs_step_up(signed_in):
            return totp_step(self.store, signed_in.user, destination=PATH)
        return self._page(signed_in.user, notice=NOTICES.get(done or ""))

    def _page(self, user: User, *, status: int = 200, **data: Any) -> Outcome:
        passkeys = self.passkeys.of(user)
        view = {
            "user": user,
            "passkeys": [_row(passkey) for passkey in passkeys],
            "suggested_name": f"Passkey {len(passkeys) + 1}",
            **data,
        }
        return Outcome(Page("passkeys.html", view, status))

    def registration_options(self, browser: Browser) -> dict[str, Any]:
        """What the page's script hands to navigator.credentials.create()."""
        return self.passkeys.registration_options(self._signed_in(browser).user)

    def register(self, browser: Browser, *, credential: str | None, name: str | None) -> Outcome:
        signed_in = self._signed_in(browser)
        try:
            self.passkeys.register(signed_in.user, credential, name=name, now=browser.now)
        except (ValidationError, InvalidCode, Conflict) as refused:
            field = "name" if refused.field == "name" else "credential"
            return self._page(
                signed_in.user, status=refused.status, error=refused.message, error_field=field, name=name
            )
        if not signed_in.session.mfa:
            # The first second factor, just proven by the ceremony (user verified): the session now
            # counts as MFA, as verifying a TOTP setup validates the token pair it was made with.
            return self._with_mfa(signed_in, browser, self._done("added"))
        return self._done("added")

    def _with_mfa(self, signed_in: SignedIn, browser: Browser, outcome: Outcome) -> Outcome:
        session = signed_in.session
        upgraded = self.sessions.start(signed_in.user, mfa=True, now=browser.now, participants=session.participants)
        self.sessions.end(signed_in.token)
        return dataclasses.replace(outcome, new_session=upgraded.token)

    def rename(self, browser: Browser, *, credential_id: str, name: str | None) -> Outcome:
        signed_in = self._signed_in(browser)
        try:
            self.passkeys.rename(signed_in.user, credential_id, name)
        except (ValidationError, Conflict) as refused:
            return self._page(
                signed_in.user, status=refused.status, rename_error=refused.message, renaming=credential_id
            )
        return self._done("renamed")

    def remove(self, browser: Browser, *, credential_id: str) -> Outcome:
        self.passkeys.remove(self._signed_in(browser).user, credential_id)
        return self._done("removed")

    def sign_in_setting(self, browser: Browser, *, enabled: bool) -> Outcome:
        user = self._signed_in(browser).user
        try:
            self.passkeys.allow_sign_in(user, enabled)
        except ValidationError as refused:
            return self._page(user, status=refused.status, setting_error=refused.message)
        return self._done("sign-in-on" if enabled else "sign-in-off")

    @staticmethod
    def _done(notice: str) -> Outcome:
        return Outcome(Redirect(f"{PATH}?{urlencode({'done': notice})}", 303))

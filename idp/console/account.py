"""The account page (/account), for anyone signed in: change the password, set up or turn off TOTP MFA,
replace recovery codes, and see the user's sessions and end the others.

Every rule is the account services' (`idp.accounts`): the password rules and throttle, the MFA setup
and its codes, the second factor asked before new recovery codes; this module only turns their
answers into pages, with each refusal next to the field it names.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from idp.accounts.mfa import Mfa
from idp.accounts.passwords import MIN_LENGTH, Passwords
from idp.accounts.second_factor import SecondFactor
from idp.accounts.sessions import OpenSession, Sessions, SignedIn
from idp.errors import IdpError, InvalidCode, SecondFactorInvalid, SecondFactorRequired, SignInRequired, ValidationError
from idp.signin.outcomes import Browser, Outcome, Page, Redirect
from idp.store import Store
from idp.telemetry.audit import AuditDetail, AuditEvent, record

ACCOUNT = "/account"
MFA = "/account/mfa"
PASSKEYS = "/account/passkeys"

# What the overview says after a change, chosen by a fixed key in its address (never text from it).
NOTICES = {
    "password": "Your password is changed. Every other browser and app signed in as you was signed out.",
    "mfa-off": "Two-step verification is off. Your recovery codes no longer work.",
    "sessions": "Your other sessions are signed out.",
}

# The services name fields as the API does; the page names them as its labels do.
_FORM_FIELDS = {"old_password": "current_password", "new_password": "new_password", "token": "code"}
_WORDS = {"old_password": "the current password", "new_password": "the new password"}


def _sentence(message: str) -> str:
    for name, words in _WORDS.items():
        message = message.replace(name, words)
    text = message[:1].upper() + message[1:]
    return text if text.endswith(".") else text + "."


def _field_error(error: IdpError, default: str) -> dict[str, str]:
    return {_FORM_FIELDS.get(error.field or "", error.field or default): _sentence(error.message)}


def _moment(instant: float) -> dict[str, str]:
    moment = datetime.datetime.fromtimestamp(instant, datetime.UTC)
    return {"iso": moment.isoformat(timespec="seconds"), "text": moment.strftime("%Y-%m-%d %H:%M UTC")}


@dataclass(frozen=True)
class AccountConsole:
    store: Store
    sessions: Sessions
    passwords: Passwords
    mfa: Mfa
    second_factor: SecondFactor

    def _signed_in(self, browser: Browser, path: str = ACCOUNT) -> SignedIn:
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            raise SignInRequired(path)
        return signed_in

    def _session_rows(self, signed_in: SignedIn) -> list[dict[str, Any]]:
        rows = []
        for open_session in self.sessions.of(signed_in.user.id, current_token=signed_in.token):
            rows.append(
                {
                    "started": _moment(open_session.session.authn_instant),
                    "mfa": open_session.session.mfa,
                    "apps": self._app_names(open_session),
                    "current": open_session.current,
                }
            )
        return rows

    def _app_names(self, open_session: OpenSession) -> list[str]:
        names = []
        for participant in open_session.session.participants:
            app = self.store.app(participant.app_id)
            names.append(app.name if app else "An application no longer registered")
        return sorted(names, key=str.lower)

    def _overview(self, signed_in: SignedIn, *, status: int = 200, **data: Any) -> Outcome:
        user = signed_in.user
        page = {
            "user": user,
            "min_length": MIN_LENGTH,
            "mfa_enabled": user.mfa_enabled,
            "mfa_pending": bool(user.mfa_pending_secret) and not user.mfa_enabled,
            "recovery_left": self.mfa.recovery.remaining(user.id) if user.mfa_enabled else 0,
            "sessions": self._session_rows(signed_in),
            "passkeys_path": PASSKEYS,
            "errors": {},
            **data,
        }
        return Outcome(Page("account.html", page, status))

    def overview(self, browser: Browser, *, notice: str | None = None) -> Outcome:
        return self._overview(self._signed_in(browser), notice=NOTICES.get(notice or ""))

    def change_password(self, browser: Browser, *, current: str, new: str, confirm: str) -> Outcome:
        """The current password (a wrong one counts toward the throttle), the new one twice and its rules;
        then, as a reset link does, every session and token of the user ends and this browser gets a new one."""
        signed_in = self._signed_in(browser)
        try:
            if new != confirm:
                raise ValidationError("The two new passwords are not the same.", field="confirm_password")
            self.passwords.change_everywhere(
                signed_in.user, old_password=current, new_password=new, address=browser.address, now=browser.now
            )
        except ValidationError as error:
            return self._overview(signed_in, status=400, errors=_field_error(error, "new_password"))
        fresh = self.sessions.start(
            signed_in.user, mfa=signed_in.session.mfa, now=browser.now, participants=signed_in.session.participants
        )
        return Outcome(Redirect(f"{ACCOUNT}?done=password", 303), new_session=fresh.token)

    def mfa_page(self, browser: Browser) -> Outcome:
        """MFA's page: on (and how to turn it off), a setup waiting for its first code, or nothing yet."""
        signed_in = self._signed_in(browser, MFA)
        return self._mfa(signed_in)

    def _mfa(self, signed_in: SignedIn, *, status: int = 200, **data: Any) -> Outcome:
        user = signed_in.user
        page = {"user": user, "setup": self.mfa.pending_setup(user), "errors": {}, **data}
        return Outcome(Page("account_mfa.html", page, status))

    def begin_mfa(self, browser: Browser) -> Outcome:
        """A new secret (replacing one not yet verified); MFA stays off until a code from it is entered."""
        signed_in = self._signed_in(browser, MFA)
        self.mfa.begin_setup(signed_in.user)
        return Outcome(Redirect(MFA, 303))

    def verify_mfa(self, browser: Browser, *, code: str) -> Outcome:
        """MFA on with a code of the new secret; this browser's session now counts as having passed MFA,
        and the recovery codes are shown, once."""
        signed_in = self._signed_in(browser, MFA)
        try:
            enabled = self.mfa.verify_setup(signed_in.user, None, code, address=browser.address, now=browser.now)
        except (ValidationError, InvalidCode) as error:
            return self._mfa(signed_in, status=400, errors=_field_error(error, "code"))
        fresh = self.sessions.restart(signed_in, mfa=True, now=browser.now)
        page = {"user": enabled.user, "codes": enabled.recovery_codes, "first": True}
        return Outcome(Page("account_codes.html", page), new_session=fresh.token)

    def disable_mfa(self, browser: Browser, *, code: str) -> Outcome:
        """MFA off with a current code (or a recovery code), as the API's DELETE /users/self/mfa."""
        signed_in = self._signed_in(browser, MFA)
        try:
            self.mfa.remove(signed_in.user, code, address=browser.address, now=browser.now)
        except (ValidationError, InvalidCode) as error:
            return self._mfa(signed_in, status=400, errors=_field_error(error, "code"))
        return Outcome(Redirect(f"{ACCOUNT}?done=mfa-off", 303))

    def replace_recovery_codes(self, browser: Browser, *, code: str) -> Outcome:
        """Ten new recovery codes, shown once, after the second factor the API asks for the same change."""
        signed_in = self._signed_in(browser)
        user = signed_in.user
        try:
            if not user.mfa_enabled:
                raise ValidationError("Turn on two-step verification first.", field="recovery_code")
            if not code.strip():
                raise ValidationError("Enter a code from your authenticator app.", field="recovery_code")
            self.second_factor.require(user, code=code, method=None, address=browser.address, now=browser.now)
            codes = self.mfa.new_recovery_codes(user)
        except ValidationError as error:
            return self._overview(signed_in, status=400, errors=_field_error(error, "recovery_code"))
        except (SecondFactorInvalid, SecondFactorRequired):
            errors = {"recovery_code": "The code is wrong, expired or already used."}
            return self._overview(signed_in, status=400, errors=errors)
        return Outcome(Page("account_codes.html", {"user": user, "codes": codes, "first": False}))

    def end_other_sessions(self, browser: Browser) -> Outcome:
        """Every other session of the user ends in the store: those browsers are sent to sign in again."""
        signed_in = self._signed_in(browser)
        ended = self.sessions.end_all_of(signed_in.user.id, keep_token=signed_in.token)
        details: dict[str, AuditDetail] = {"sessions": ended}
        record(
            AuditEvent(
                "session.end_others", actor=signed_in.user.id, target=f"user:{signed_in.user.id}", details=details
            )
        )
        return Outcome(Redirect(f"{ACCOUNT}?done=sessions", 303))

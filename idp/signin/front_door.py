"""The front door for people: sign in (password, then the second factor when the user has one: a TOTP
code or a passkey; or a passkey alone, for those who turn it on), the app launcher."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from idp.accounts.branding import BrandLook, Looks
from idp.accounts.mfa import Mfa
from idp.accounts.passkeys import Passkeys, Purpose, has_second_factor
from idp.accounts.passwords import Passwords
from idp.accounts.secrets import new_token
from idp.accounts.sessions import Sessions
from idp.applications.links import LaunchLinks
from idp.applications.service import Applications
from idp.errors import Forbidden, InvalidCode, InvalidGrant
from idp.models import User
from idp.presenters import icon_url
from idp.signin.outcomes import Browser, Outcome, Page, Redirect
from idp.store import Store
from idp.telemetry import metrics

HALF_LOGIN = "half-login"  # a password accepted, the second factor (the TOTP step) still to come
HALF_LOGIN_TTL = 300
# Past this many apps, the launcher offers a search field.
LAUNCHER_SEARCH_FROM = 13
_EXPIRED = "your sign-in has expired; please start again"


def local_path(target: str | None) -> str:
    """Only paths on this site are followed after sign-in: never another host, whatever the spelling.

    Browsers strip tabs and newlines from URLs and read a backslash as a slash, so `/\t/evil` and
    `/\\evil` would both become `//evil`; a newline would also reach the Location header. Anything
    but printable ASCII without spaces is refused (percent-encode the rest), then the target is
    parsed and only a rooted path and its query are kept.
    """
    if not target or not target.isascii() or not target.isprintable() or " " in target or "\\" in target:
        return "/"
    try:
        parts = urlsplit(target)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return urlunsplit(("", "", parts.path, parts.query, ""))


def totp_step(store: Store, user: User, *, destination: str, brand_hint: str | None = None) -> Outcome:
    """The TOTP step for `user`, after which the browser goes on to `destination` (a local path)
    signed in with MFA: after the password, or to step up a password-only sign-in. The login
    page's `?brand=` hint, when it had one, dresses the step in the same brand."""
    key = new_token()
    half = {"user_id": user.id, "destination": destination, "brand": brand_hint}
    store.save_transient(HALF_LOGIN, key, half, HALF_LOGIN_TTL)
    return Outcome(Redirect("/login/totp", 303), half_login=key)


def _after_login(request_key: str | None, next_path: str | None) -> str:
    if request_key:
        return "/saml/resume?" + urlencode({"request": request_key})
    return local_path(next_path)


class FrontDoor:
    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        mfa: Mfa,
        sessions: Sessions,
        apps: Applications,
        links: LaunchLinks,
        passkeys: Passkeys,
        *,
        base_url: str,
    ) -> None:
        self.store = store
        self.passwords = passwords
        self.mfa = mfa
        self.passkeys = passkeys
        self.sessions = sessions
        self.apps = apps
        self.links = links
        self.base_url = base_url
        self.looks = Looks(store)

    def _dressed(self, host: str | None, brand_hint: str | None) -> dict[str, Any]:
        """The brand a sign-in page shows (`look`), and the hint to carry on (only one that names a brand)."""
        look = self.looks.for_request(host=host, hint=brand_hint)
        kept = brand_hint if brand_hint and self.looks.by_id(brand_hint) is not None else ""
        return {"look": look, "brand_hint": kept}

    def login_form(
        self,
        browser: Browser,
        *,
        request_key: str | None,
        next_path: str | None,
        host: str | None = None,
        brand_hint: str | None = None,
    ) -> Outcome:
        # A kept SP request brings the user here only when a (fresh) sign-in is needed: show the form.
        if self.sessions.signed_in(browser.session_token) is not None and not request_key:
            return Outcome(Redirect(local_path(next_path), 303))
        data = {"request_key": request_key or "", "next": next_path or "", **self._dressed(host, brand_hint)}
        return Outcome(Page("login.html", data))

    def sign_in(
        self,
        browser: Browser,
        *,
        email: str,
        password: str,
        request_key: str | None,
        next_path: str | None,
        host: str | None = None,
        brand_hint: str | None = None,
    ) -> Outcome:
        with metrics.signing_in("password") as attempt:
            try:
                user = self.passwords.sign_in(email, password, address=browser.address, now=browser.now)
                attempt.user_id = user.id
            except InvalidGrant as refused:
                attempt.failed(refused.account_id)
                user = None
        if user is None:
            data = {
                "error": "The email or password is not right.",
                "email": email,
                "request_key": request_key or "",
                "next": next_path or "",
                **self._dressed(host, brand_hint),
            }
            return Outcome(Page("login.html", data, 401))
        destination = _after_login(request_key, next_path)
        if not has_second_factor(self.store, user):
            return self._signed_in(user, mfa_done=False, destination=destination, browser=browser)
        kept = self._dressed(host, brand_hint)["brand_hint"] or None
        return totp_step(self.store, user, destination=destination, brand_hint=kept)

    def totp_form(self, browser: Browser, *, host: str | None = None) -> Outcome:
        half = self._half_login(browser)
        return self._second_factor_page(self._user_of(half), self._look(half, host))

    def _look(self, half: dict[str, Any], host: str | None) -> BrandLook | None:
        """The brand the second-factor step shows: the one the sign-in began with (host or hint)."""
        return self.looks.for_request(host=host, hint=half.get("brand"))

    def _second_factor_page(
        self, user: User, look: BrandLook | None, error: str | None = None, status: int = 200
    ) -> Outcome:
        """The second-factor step: the code form when the user has TOTP, "Use a passkey" when they have one."""
        data = {"totp": user.mfa_enabled, "passkey": bool(self.passkeys.of(user)), "error": error, "look": look}
        return Outcome(Page("totp.html", data, status))

    def totp(self, browser: Browser, *, code: str | None, host: str | None = None) -> Outcome:
        half = self._half_login(browser)
        user = self._user_of(half)
        with metrics.signing_in("totp") as attempt:
            attempt.user_id = user.id
            try:
                left = self.mfa.check_code(user, user.mfa_secret, code, address=browser.address, now=browser.now)
            except InvalidCode:
                attempt.failed()
                return self._second_factor_page(
                    user, self._look(half, host), "That code is not right, or was used already.", 401
                )
        self.store.drop_transient(HALF_LOGIN, browser.half_login_token or "")
        signed_in = self._signed_in(user, mfa_done=True, destination=half["destination"], browser=browser)
        if left is None:
            return signed_in
        # A recovery code: say how many are left before going on.
        page = Page("recovery_code_used.html", {"remaining": left, "destination": half["destination"]})
        return dataclasses.replace(signed_in, view=page)

    def second_factor_options(self, browser: Browser) -> dict[str, Any]:
        """What navigator.credentials.get() takes at the second-factor step: the user's own passkeys."""
        return self.passkeys.authentication_options(Purpose.SECOND_FACTOR, self._half_login_user(browser))

    def passkey_second_factor(self, browser: Browser, *, credential: str | None, host: str | None = None) -> Outcome:
        """A passkey instead of the code: signed in with MFA, on to where the sign-in was going."""
        half = self._half_login(browser)
        user = self._user_of(half)
        with metrics.signing_in("passkey") as attempt:
            attempt.user_id = user.id
            try:
                self.passkeys.authenticate(
                    credential, Purpose.SECOND_FACTOR, user=user, address=browser.address, now=browser.now
                )
            except InvalidCode as refused:
                attempt.failed()
                error = f"The passkey did not sign you in: {refused.message}."
                return self._second_factor_page(user, self._look(half, host), error, 401)
        self.store.drop_transient(HALF_LOGIN, browser.half_login_token or "")
        return self._signed_in(user, mfa_done=True, destination=half["destination"], browser=browser)

    def passkey_options(self) -> dict[str, Any]:
        """What navigator.credentials.get() takes to sign in with a passkey alone: any of this site's."""
        return self.passkeys.authentication_options(Purpose.SIGN_IN)

    def passkey_sign_in(
        self,
        browser: Browser,
        *,
        credential: str | None,
        request_key: str | None,
        next_path: str | None,
        host: str | None = None,
        brand_hint: str | None = None,
    ) -> Outcome:
        """A passkey alone (discoverable, user verified): something the user has and is or knows, so MFA."""
        with metrics.signing_in("passkey") as attempt:
            try:
                user = self.passkeys.authenticate(credential, Purpose.SIGN_IN, address=browser.address, now=browser.now)
                attempt.user_id = user.id
            except InvalidCode as refused:
                attempt.failed()
                data = {
                    "error": f"The passkey did not sign you in: {refused.message}.",
                    "request_key": request_key or "",
                    "next": next_path or "",
                    **self._dressed(host, brand_hint),
                }
                return Outcome(Page("login.html", data, 401))
        destination = _after_login(request_key, next_path)
        return self._signed_in(user, mfa_done=True, destination=destination, browser=browser)

    def launcher(self, browser: Browser, *, query: str | None = None) -> Outcome:
        """The agent's apps as tiles in `order`, under a heading per brand when they belong to several,
        dressed in their brand; past a dozen apps, `query` keeps those whose name contains it."""
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            return Outcome(Redirect("/login", 303))
        user = signed_in.user
        launchable = self.apps.launchable(user)
        searchable = len(launchable) >= LAUNCHER_SEARCH_FROM
        needle = (query or "").strip().casefold() if searchable else ""
        tiles = [
            {"app": app, "brand_id": brand_id, "icon": icon_url(self.base_url, app)}
            for app, brand_id in launchable
            if needle in app.name.casefold()
        ]
        data = {
            "user": user,
            "tiles": tiles,
            "groups": self._groups(user, tiles),
            "look": self.looks.of_user(user),
            "searchable": searchable,
            "query": (query or "").strip() if searchable else "",
            "total": len(launchable),
        }
        return Outcome(Page("launcher.html", data))

    def _groups(self, user: User, tiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tiles under their brand, brands by name, when the agent belongs to more than one; else none."""
        brand_ids = {m.brand_id for m in self.store.memberships_of(user.id)}
        if len(brand_ids) < 2:
            return []
        looks: dict[str, BrandLook] = {}
        groups: dict[str, list[dict[str, Any]]] = {}
        for tile in tiles:
            brand_id = tile["brand_id"]
            if brand_id not in looks:
                look = self.looks.by_id(brand_id)
                if look is None:
                    continue
                looks[brand_id] = look
            groups.setdefault(brand_id, []).append(tile)
        ordered = sorted(groups, key=lambda brand_id: (looks[brand_id].name.lower(), brand_id))
        return [{"look": looks[brand_id], "tiles": groups[brand_id]} for brand_id in ordered]

    def open_tile(self, browser: Browser, *, app_id: str, brand_id: str) -> Outcome:
        """Mint a fresh link when a tile is clicked, so a tile never goes stale."""
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            return Outcome(Redirect("/login", 303))
        url = self.links.url(
            user_id=signed_in.user.id, app_id=app_id, brand_id=brand_id, mfa=signed_in.session.mfa, now=browser.now
        )
        return Outcome(Redirect(url, 303))

    def _half_login(self, browser: Browser) -> dict[str, Any]:
        key = browser.half_login_token
        half = self.store.transient(HALF_LOGIN, key) if key else None
        if half is None:
            raise Forbidden(_EXPIRED)
        return half

    def _half_login_user(self, browser: Browser) -> User:
        return self._user_of(self._half_login(browser))

    def _user_of(self, half: dict[str, Any]) -> User:
        """The user a sign-in half done is for, while their account is active."""
        user = self.store.user(half["user_id"])
        if user is None or not user.is_active:
            raise Forbidden(_EXPIRED)
        return user

    def _signed_in(self, user: User, *, mfa_done: bool, destination: str, browser: Browser) -> Outcome:
        """A new session (a new cookie, whatever the browser held), keeping the SPs of the one it
        replaces when that was the same user's, so single logout still reaches them."""
        previous = self.sessions.signed_in(browser.session_token)
        kept = previous.session.participants if previous is not None and previous.user.id == user.id else []
        signed_in = self.sessions.start(user, mfa=mfa_done, now=browser.now, participants=kept)
        if previous is not None:
            self.sessions.end(previous.token)
        return Outcome(Redirect(destination, 303), new_session=signed_in.token, end_half_login=True)

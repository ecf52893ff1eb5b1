"""Opening a launch link: from the `hash` to the auto-posted Response (or the plain link).

A user with a second factor (TOTP or a passkey), or anyone opening an app with `require_mfa`, needs
an MFA sign-in: a link minted from a token pair that is not MFA-validated (and no MFA session in the
browser) leads to the second-factor step first, then on to the app; a user without one is told the
app needs it.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from idp.accounts.passkeys import has_second_factor
from idp.accounts.sessions import Sessions, SignedIn
from idp.applications.access import Placement, may_launch
from idp.applications.links import LaunchLinks
from idp.errors import AccessRevoked, LinkInvalid, MfaSetupNeeded
from idp.models import SsoApplication, User
from idp.saml.assertions import Answering, IdpIdentity, Login, issue
from idp.signin.front_door import totp_step
from idp.signin.outcomes import Browser, Outcome, PostForm, Redirect
from idp.store import Store
from idp.telemetry import metrics

PENDING_LAUNCH = "pending-launch"  # a link opened, waiting for the TOTP step
PENDING_LAUNCH_TTL = 5 * 60


def _mfa_session_of(signed_in: SignedIn | None, user: User) -> bool:
    return signed_in is not None and signed_in.user.id == user.id and signed_in.session.mfa


class LaunchFlow:
    def __init__(
        self, store: Store, links: LaunchLinks, sessions: Sessions, idp: IdpIdentity, *, single_use: bool
    ) -> None:
        self.store = store
        self.links = links
        self.sessions = sessions
        self.idp = idp
        self.single_use = single_use

    def open(self, link_hash: str | None, browser: Browser) -> Outcome:
        with metrics.launching() as launch:
            outcome = self._open(link_hash, browser, launch)
            view = outcome.view
            launch.outcome = "saml" if isinstance(view, PostForm) else "link" if isinstance(view, Redirect) else "step"
            return outcome

    def _open(self, link_hash: str | None, browser: Browser, launch: metrics.Launch) -> Outcome:
        """Each step takes the last one's output: the link, its one use, the access it still gives, the answer."""
        if not link_hash:
            raise LinkInvalid("no hash")
        now = browser.now
        link = self.links.open(link_hash, now=now)
        launch.app, launch.user, launch.brand = link.app_id, link.user_id, link.brand_id
        if self.single_use and not self.store.claim_once(f"link:{link.nonce}", link.expires_at - now + 60):
            raise LinkInvalid("the link was used already")
        app, user = self.store.app(link.app_id), self.store.user(link.user_id)
        placement = may_launch(self.store, app, user, self.store.brand(link.brand_id))
        assert app is not None and user is not None  # may_launch refused otherwise
        if user.access_revoked_at is not None and self.links.minted_before(link, user.access_revoked_at):
            raise AccessRevoked("this application or account is no longer available")  # minted before revocation
        # The browser's IdP session, read once: it may stand for the MFA, and the SP joins it.
        signed_in = self.sessions.signed_in(browser.session_token) if browser.session_token else None
        mfa = link.mfa or _mfa_session_of(signed_in, user)
        if not mfa:
            has_factor = has_second_factor(self.store, user)  # TOTP, or a passkey
            if app.require_mfa and not has_factor:
                raise MfaSetupNeeded(app.name)
            if has_factor:
                key = secrets.token_urlsafe(24)
                pending = {"user_id": user.id, "app_id": app.id, "brand_id": placement.brand.id}
                self.store.save_transient(PENDING_LAUNCH, key, pending, PENDING_LAUNCH_TTL)
                return totp_step(
                    self.store, user, destination="/sso_applications/open/resume?" + urlencode({"launch": key})
                )
        return self._launch(app, user, placement, mfa, browser, signed_in)

    def resume(self, key: str | None, browser: Browser) -> Outcome:
        """Back from the TOTP step: the launch that was kept, once, for the user now signed in with MFA."""
        doc = self.store.transient(PENDING_LAUNCH, key) if key else None
        if key is None or doc is None or not self.store.claim_once(f"pending-launch:{key}", 3600):
            raise LinkInvalid("the launch was finished or has expired")
        self.store.drop_transient(PENDING_LAUNCH, key)
        app, user = self.store.app(doc["app_id"]), self.store.user(doc["user_id"])
        placement = may_launch(self.store, app, user, self.store.brand(doc["brand_id"]))
        assert app is not None and user is not None
        signed_in = self.sessions.signed_in(browser.session_token)
        if not _mfa_session_of(signed_in, user):
            raise LinkInvalid("the second factor was not given in this browser")
        return self._launch(app, user, placement, True, browser, signed_in)

    def _launch(
        self,
        app: SsoApplication,
        user: User,
        placement: Placement,
        mfa: bool,
        browser: Browser,
        signed_in: SignedIn | None,
    ) -> Outcome:
        if not app.is_saml:
            return Outcome(Redirect(app.url or ""))
        now = browser.now
        login = Login(user, placement.brand, placement.role, mfa, now, placement.member_of)
        issued = issue(app, login, self.idp, Answering(relay_state=app.start_url), now=now)
        # When the browser has an IdP session of the same user, the SP joins it, for single logout.
        if signed_in is not None and signed_in.user.id == user.id:
            self.sessions.add_participant(signed_in, issued.participant)
        return Outcome(issued.form)

"""Opening a launch link: from the `hash` to the auto-posted Response (or the plain link)."""

from __future__ import annotations

from idp.accounts.sessions import Sessions
from idp.applications.access import may_launch
from idp.applications.links import LaunchLinks
from idp.errors import AccessRevoked, LinkInvalid
from idp.saml.assertions import Answering, IdpIdentity, Login, issue
from idp.signin.outcomes import Browser, Outcome, Redirect
from idp.store import Store


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
        """Each step takes the last one's output: the link, its one use, the access it still gives, the answer."""
        if not link_hash:
            raise LinkInvalid("no hash")
        now = browser.now
        link = self.links.open(link_hash, now=now)
        if self.single_use and not self.store.claim_once(f"link:{link.nonce}", link.expires_at - now + 60):
            raise LinkInvalid("the link was used already")
        app, user = self.store.app(link.app_id), self.store.user(link.user_id)
        placement = may_launch(self.store, app, user, self.store.brand(link.brand_id))
        assert app is not None and user is not None  # may_launch refused otherwise
        if user.mfa_enabled and not link.mfa:
            raise AccessRevoked("sign in with your second factor, then open the application again")
        if not app.is_saml:
            return Outcome(Redirect(app.url or ""))
        login = Login(user, placement.brand, placement.role, link.mfa, now, placement.member_of)
        issued = issue(app, login, self.idp, Answering(relay_state=app.start_url), now=now)
        # When the browser has an IdP session of the same user, the SP joins it, for single logout.
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is not None and signed_in.user.id == user.id:
            self.sessions.add_participant(signed_in, issued.participant)
        return Outcome(issued.form)

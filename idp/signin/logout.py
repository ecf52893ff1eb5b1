"""Single Logout, both ways (Profiles 4.4): LogoutRequests and LogoutResponses from SPs, and the chain
of LogoutRequests that signing out in the launcher sends to the session's SPs, one after another."""

from __future__ import annotations

import dataclasses

from idp.accounts.secrets import new_token
from idp.accounts.sessions import Sessions
from idp.applications.access import sender_apps
from idp.errors import SamlRequestRefused
from idp.models import Participant, SsoApplication
from idp.saml import inbound, logout, outbound
from idp.saml.assertions import IdpIdentity
from idp.saml.bindings import ReceivedMessage
from idp.signin.outcomes import Browser, Outcome, Page, Redirect
from idp.store import Store

CHAIN = "logout-chain"
CHAIN_TTL = 10 * 60
SIGNED_OUT = Outcome(Page("signed_out.html"), end_session=True)


class LogoutFlow:
    def __init__(self, store: Store, sessions: Sessions, idp: IdpIdentity, *, skew: int) -> None:
        self.store = store
        self.sessions = sessions
        self.idp = idp
        self.skew = skew

    def sign_out(self, browser: Browser) -> Outcome:
        """End the IdP session now, then visit each SP that has an SLO endpoint, one after another."""
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            return SIGNED_OUT
        self.sessions.end(signed_in.token)
        # A LogoutRequest must name the subject (Core 3.7.1): SPs told no NameID (name_id_format none) are not visited.
        remaining = [
            p for p in signed_in.session.participants if p.name_id and (app := self.store.app(p.app_id)) and app.slo_url
        ]
        if not remaining:
            return SIGNED_OUT
        key = new_token()
        self.store.save_transient(CHAIN, key, {"remaining": [dataclasses.asdict(p) for p in remaining]}, CHAIN_TTL)
        return Outcome(Redirect("/saml/slo/next?chain=" + key, 303), end_session=True)

    def next_in_chain(self, key: str | None, browser: Browser) -> Outcome:
        """Send the next SP still to visit its LogoutRequest; when none is left, the signed-out page."""
        chain = self.store.transient(CHAIN, key) if key else None
        remaining = [Participant(**p) for p in chain["remaining"]] if chain else []
        while key and remaining:
            participant, *remaining = remaining
            app = self.store.app(participant.app_id)
            if app is not None and app.slo_url:
                issuer = app.idp_entity_id(self.idp.entity_id)
                root = logout.logout_request(issuer, app.slo_url, participant, now=browser.now)
                state = {
                    "remaining": [dataclasses.asdict(p) for p in remaining],
                    "awaiting": root.get("ID"),
                    "awaiting_app": app.id,
                }
                self.store.save_transient(CHAIN, key, state, CHAIN_TTL)
                view = outbound.deliver(
                    root, location=app.slo_url, binding=app.slo_binding, relay_state=key, signer=self.idp.signer
                )
                return Outcome(view)
        if key:
            self.store.drop_transient(CHAIN, key)
        return SIGNED_OUT

    def receive(
        self,
        message: ReceivedMessage,
        kind: inbound.Kind,
        browser: Browser,
        *,
        destination: str,
        endpoint_app_id: str | None,
    ) -> Outcome:
        verified = inbound.verify(
            message,
            kind,
            find_senders=lambda issuer: sender_apps(self.store, issuer, endpoint_app_id=endpoint_app_id),
            claim_once=self.store.claim_once,
            destination=destination,
            now=browser.now,
            skew=self.skew,
        )
        if kind is inbound.Kind.LOGOUT_RESPONSE:
            return self._answered(verified, browser)
        return self._asked(verified, browser)

    def _answered(self, verified: inbound.Verified, browser: Browser) -> Outcome:
        """An SP answered our LogoutRequest: on to the next SP of the chain it names."""
        answer = logout.read_response(verified.root)
        key = verified.relay_state
        chain = self.store.transient(CHAIN, key) if key else None
        awaited = chain is not None and chain.get("awaiting") == answer.in_response_to
        if not awaited or chain is None or chain.get("awaiting_app") not in {app.id for app in verified.apps}:
            raise SamlRequestRefused("this LogoutResponse answers no logout of ours")
        return self.next_in_chain(key, browser)

    def _requester(self, verified: inbound.Verified, request: logout.LogoutRequest, browser: Browser) -> SsoApplication:
        """Of the apps registered for the SP, the one whose login the request ends: the one that holds
        the SP session it names, or that the browser's session signed in to."""
        if len(verified.apps) == 1:
            return verified.apps[0]
        signed_in = self.sessions.signed_in(browser.session_token)
        in_session = {p.app_id for p in signed_in.session.participants} if signed_in else set()
        holding = [
            app for app in verified.apps if app.id in in_session or self.sessions.holds(app.id, request.session_indexes)
        ]
        if len(holding) != 1:
            raise SamlRequestRefused("this LogoutRequest matches no sign-in of ours")
        return holding[0]

    def _asked(self, verified: inbound.Verified, browser: Browser) -> Outcome:
        """An SP signs its user out: end the IdP session, and answer it when it has an SLO endpoint."""
        request = logout.read_request(verified.root)
        app = self._requester(verified, request, browser)
        # The session is found by the SP session it names (a cross-site POST may lack our cookie) and by cookie.
        self.sessions.end_by_sp_session(app.id, request.session_indexes)
        self.sessions.end(browser.session_token)
        if not app.slo_url:
            return SIGNED_OUT
        issuer = app.idp_entity_id(self.idp.entity_id)
        answer = logout.logout_response(issuer, app.slo_url, request.id, now=browser.now)
        view = outbound.deliver(
            answer,
            location=app.slo_url,
            binding=app.slo_binding,
            relay_state=verified.relay_state,
            signer=self.idp.signer,
        )
        return Outcome(view, end_session=True)

"""Single Logout, both ways (Core 3.7, Profiles 4.4): LogoutRequests and LogoutResponses from SPs, and
the chain of LogoutRequests the IdP sends to a session's SPs, one after another, when a user signs out
in the launcher or at one of those SPs."""

from __future__ import annotations

import dataclasses
from typing import Any

from idp.accounts.secrets import new_token
from idp.accounts.sessions import HeldSession, Sessions
from idp.applications.access import sender_apps
from idp.errors import SamlRequestRefused
from idp.models import Participant, SsoApplication
from idp.saml import inbound, logout, outbound
from idp.saml.assertions import IdpIdentity
from idp.saml.bindings import ReceivedMessage
from idp.saml.names import (
    STATUS_PARTIAL_LOGOUT,
    STATUS_REQUEST_DENIED,
    STATUS_REQUESTER,
    STATUS_SUCCESS,
    STATUS_UNKNOWN_PRINCIPAL,
)
from idp.signin.outcomes import Browser, Outcome, Page, Redirect
from idp.store import Store

CHAIN = "logout-chain"
CHAIN_TTL = 10 * 60
SIGNED_OUT = Outcome(Page("signed_out.html"), end_session=True)
NO_SUCH_LOGIN = (
    "this LogoutRequest names no sign-in of ours: its NameID (with its Format and qualifiers) and "
    "SessionIndex must be those asserted to this service provider in a live session"
)


@dataclasses.dataclass(frozen=True)
class Chain:
    """A logout under way, kept between the browser's visits to each SP.

    `remaining`: the participants still to send a LogoutRequest to; `awaiting`/`awaiting_app`: the one
    sent last, whose LogoutResponse brings the browser back; `partial`: some participant could not be
    signed out; `origin`: the SP whose LogoutRequest started it, answered once the chain is done.
    """

    remaining: list[Participant]
    awaiting: str | None = None
    awaiting_app: str | None = None
    partial: bool = False
    origin: dict[str, str | None] | None = None  # {"app_id", "request_id", "relay_state"}

    def doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Chain:
        return cls(**{**doc, "remaining": [Participant(**p) for p in doc.get("remaining", [])]})


class LogoutFlow:
    def __init__(self, store: Store, sessions: Sessions, idp: IdpIdentity, *, skew: int) -> None:
        self.store = store
        self.sessions = sessions
        self.idp = idp
        self.skew = skew

    def sign_out(self, browser: Browser) -> Outcome:
        """End the IdP session now, then visit each SP that has an SLO endpoint, one after another; the
        signed-out page says so when some SP (one without an SLO endpoint, say) could not be signed out."""
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            return SIGNED_OUT
        self.sessions.end(signed_in.token)
        if not signed_in.session.participants:
            return SIGNED_OUT
        key = new_token()
        self.store.save_transient(CHAIN, key, Chain(signed_in.session.participants).doc(), CHAIN_TTL)
        return Outcome(Redirect("/saml/slo/next?chain=" + key, 303), end_session=True)

    def next_in_chain(self, key: str | None, browser: Browser) -> Outcome:
        """Send the next SP still to visit its LogoutRequest; when none is left, the signed-out page."""
        doc = self.store.transient(CHAIN, key) if key else None
        if key is None or doc is None:
            return SIGNED_OUT
        return self._advance(key, Chain.of(doc), browser)

    def _advance(self, key: str, chain: Chain, browser: Browser, *, failed: bool = False) -> Outcome:
        """On to the next SP; `failed`: the SP just visited may not have signed out."""
        chain = dataclasses.replace(chain, awaiting=None, awaiting_app=None, partial=chain.partial or failed)
        remaining, partial = list(chain.remaining), chain.partial
        while remaining:
            participant, *remaining = remaining
            app = self.store.app(participant.app_id)
            if app is None or not app.slo_url or not participant.name_id:
                # Gone, no longer reachable, or told no NameID (name_id_format none), which a LogoutRequest
                # must name (Core 3.7.1): that SP's session outlives ours.
                partial = True
                continue
            issuer = participant.idp_issuer or app.idp_entity_id(self.idp.entity_id)
            root = logout.logout_request(
                issuer, app.slo_url, participant, now=browser.now, lifetime=self.idp.assertion_ttl
            )
            waiting = dataclasses.replace(
                chain, remaining=remaining, awaiting=root.get("ID"), awaiting_app=app.id, partial=partial
            )
            self.store.save_transient(CHAIN, key, waiting.doc(), CHAIN_TTL)
            view = outbound.deliver(
                root, location=app.slo_url, binding=app.slo_binding, relay_state=key, signer=self.idp.signer
            )
            return Outcome(view)
        self.store.drop_transient(CHAIN, key)
        return self._answer_origin(dataclasses.replace(chain, remaining=[], partial=partial), browser)

    def _answer_origin(self, chain: Chain, browser: Browser) -> Outcome:
        """The end of a chain: the signed-out page, or for a logout an SP started, its LogoutResponse:
        Success, with PartialLogout when another SP of the session could not be signed out (Core 3.7.3.2)."""
        origin = chain.origin
        app = self.store.app(origin["app_id"] or "") if origin else None
        if origin is None or app is None or not app.slo_url:
            return Outcome(Page("signed_out.html", {"partial": chain.partial}), end_session=True)
        sub_status = STATUS_PARTIAL_LOGOUT if chain.partial else None
        return self._respond(
            app, origin["request_id"] or "", origin["relay_state"], browser, STATUS_SUCCESS, sub_status, None
        )

    def receive(
        self,
        message: ReceivedMessage,
        kind: inbound.Kind,
        browser: Browser,
        *,
        destination: str,
        endpoint_app_id: str | None,
    ) -> Outcome:
        try:
            verified = inbound.verify(
                message,
                kind,
                find_senders=lambda issuer: sender_apps(self.store, issuer, endpoint_app_id=endpoint_app_id),
                claim_once=self.store.claim_once,
                destination=destination,
                now=browser.now,
                skew=self.skew,
            )
        except SamlRequestRefused:
            if kind is inbound.Kind.LOGOUT_RESPONSE and (found := self._refused_answer(message)):
                # An answer we cannot trust from the SP being signed out: its session may live on, but
                # the logout goes on to the other SPs, and the end says it was partial.
                return self._advance(*found, browser, failed=True)
            raise
        if kind is inbound.Kind.LOGOUT_RESPONSE:
            return self._answered(verified, browser)
        return self._asked(verified, browser)

    def _refused_answer(self, message: ReceivedMessage) -> tuple[str, Chain] | None:
        """The logout a refused LogoutResponse would answer: its RelayState names a chain (a key only
        our browser and that SP saw) waiting for an answer to the request it says it answers."""
        found = self._chain(message.relay_state)
        if found is None:
            return None
        try:
            parsed = inbound.parse(message, inbound.Kind.LOGOUT_RESPONSE)
        except SamlRequestRefused:
            return None
        return found if parsed.root.get("InResponseTo") == found[1].awaiting else None

    def _chain(self, key: str | None) -> tuple[str, Chain] | None:
        """The logout under way that this RelayState names, when it is waiting for an SP's answer."""
        doc = self.store.transient(CHAIN, key) if key else None
        chain = Chain.of(doc) if doc else None
        return (key, chain) if key and chain and chain.awaiting else None

    def _answered(self, verified: inbound.Verified, browser: Browser) -> Outcome:
        """An SP answered our LogoutRequest: on to the next SP of the chain it names. An answer other
        than Success means that SP's session may live on."""
        answer = logout.read_response(verified.root)
        found = self._chain(verified.relay_state)
        if found is None:
            raise SamlRequestRefused("this LogoutResponse answers no logout of ours")
        key, chain = found
        if chain.awaiting != answer.in_response_to or chain.awaiting_app not in {app.id for app in verified.apps}:
            raise SamlRequestRefused("this LogoutResponse answers no logout of ours")
        return self._advance(key, chain, browser, failed=not answer.success)

    def _asked(self, verified: inbound.Verified, browser: Browser) -> Outcome:
        """An SP signs its user out. Only an authenticated request naming a login we asserted to that SP
        ends anything: then the IdP session ends, the session's other SPs are signed out, and the SP is
        answered last. Any other request is answered with a refusal, and nothing ends."""
        request = logout.read_request(verified.root)
        if not verified.apps:
            return self._refuse(
                verified.unauthenticated, request, verified, browser, STATUS_REQUEST_DENIED, verified.refusal
            )
        if request.not_on_or_after is not None and request.not_on_or_after.timestamp() <= browser.now:
            return self._refuse(
                verified.apps, request, verified, browser, STATUS_REQUEST_DENIED, "this LogoutRequest has expired"
            )
        found = [(app, held) for app in verified.apps if (held := self._login_ended(app, request)) is not None]
        if not found:
            return self._refuse(verified.apps, request, verified, browser, STATUS_UNKNOWN_PRINCIPAL, NO_SUCH_LOGIN)
        app, held = found[0]
        self.sessions.end_held(held)
        # The browser forgets its session only when it was this one (its cookie may name another's).
        end_cookie = browser.session_token is not None and self.sessions.load(browser.session_token) is None
        others = [p for p in held.session.participants if p.app_id != app.id]
        origin = {"app_id": app.id, "request_id": request.id, "relay_state": verified.relay_state}
        key = new_token()
        outcome = self._advance(key, Chain(others, origin=origin), browser)
        return dataclasses.replace(outcome, end_session=end_cookie)

    def _login_ended(self, app: SsoApplication, request: logout.LogoutRequest) -> HeldSession | None:
        """The live session in which we asserted to this app the NameID and a SessionIndex the request names."""
        if request.name_id is None:
            return None
        for index in request.session_indexes:
            for held in self.sessions.holding(app.id, index):
                if logout.names_participant(
                    request.name_id,
                    held.participant,
                    idp_entity_id=app.idp_entity_id(self.idp.entity_id),
                    sp_entity_id=app.entity_id or "",
                ):
                    return held
        return None

    def _refuse(
        self,
        apps: tuple[SsoApplication, ...],
        request: logout.LogoutRequest,
        verified: inbound.Verified,
        browser: Browser,
        sub_status: str,
        reason: str | None,
    ) -> Outcome:
        """A LogoutRequest not honoured: answered Requester with `sub_status` at the SP's SLO endpoint when
        its registrations agree on one; otherwise (no endpoint to answer at) an error page."""
        reason = reason or "this LogoutRequest is refused"
        places = {(app.slo_url, app.slo_binding, app.idp_entity_id(self.idp.entity_id)) for app in apps}
        answerable = [app for app in apps if app.slo_url]
        if len(places) != 1 or not answerable:
            raise SamlRequestRefused(reason)
        outcome = self._respond(
            answerable[0], request.id, verified.relay_state, browser, STATUS_REQUESTER, sub_status, reason
        )
        return dataclasses.replace(outcome, end_session=False)

    def _respond(
        self,
        app: SsoApplication,
        in_response_to: str,
        relay_state: str | None,
        browser: Browser,
        status: str,
        sub_status: str | None,
        message: str | None,
    ) -> Outcome:
        slo_url = app.slo_url or ""
        answer = logout.logout_response(
            app.idp_entity_id(self.idp.entity_id),
            slo_url,
            in_response_to,
            now=browser.now,
            status=status,
            sub_status=sub_status,
            message=message,
        )
        view = outbound.deliver(
            answer, location=slo_url, binding=app.slo_binding, relay_state=relay_state, signer=self.idp.signer
        )
        return Outcome(view, end_session=status == STATUS_SUCCESS)

"""Answering an SP's AuthnRequest: check it, keep it while the user signs in, then answer it.

The app is found by the request's Issuer and every check of the one way in applies
(`idp.saml.inbound`); the answer goes only to an ACS registered for the app.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from idp.accounts.sessions import Sessions, SignedIn
from idp.applications.access import placement_for, sender_apps
from idp.errors import AccessRevoked, AnsweredInSaml, SamlRequestRefused
from idp.saml import authn_request, inbound
from idp.saml.assertions import Answering, IdpIdentity, Login, issue, refuse
from idp.saml.bindings import ReceivedMessage
from idp.saml.names import BINDING_HTTP_POST, STATUS_NO_PASSIVE, STATUS_RESPONDER
from idp.saml.subject_policy import SubjectRequest, SubjectTerms, subject_terms
from idp.signin.outcomes import Browser, Outcome, Page, Redirect
from idp.store import Store

PENDING = "pending-request"
PENDING_TTL = 15 * 60
MAX_RELAY_STATE = 1024


@dataclass(frozen=True)
class Candidate:
    """An application the request may be for, and the ACS registered for it that the request names."""

    app_id: str
    acs_url: str


@dataclass(frozen=True)
class PendingRequest:
    """An accepted AuthnRequest, waiting for the user to be signed in (and, when brands share the SP,
    for the user's choice of application)."""

    candidates: tuple[Candidate, ...]
    request_id: str
    relay_state: str | None
    force_authn: bool
    is_passive: bool
    name_id_format: str | None
    received_at: float
    sp_name_qualifier: str | None = None
    attribute_consuming_service_index: int | None = None

    def answering(self, candidate: Candidate, terms: SubjectTerms | None = None) -> Answering:
        terms = terms or SubjectTerms()
        return Answering(candidate.acs_url, self.request_id, terms.name_id_format, self.relay_state, terms.affiliation)

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PendingRequest:
        candidates = tuple(Candidate(**candidate) for candidate in doc["candidates"])
        return cls(**{**doc, "candidates": candidates})


def usable_session(sessions: Sessions, browser: Browser) -> SignedIn | None:
    """The browser's IdP session, unless MFA was turned on after it began (then: sign in again)."""
    signed_in = sessions.signed_in(browser.session_token)
    if signed_in is not None and signed_in.user.mfa_enabled and not signed_in.session.mfa:
        return None
    return signed_in


def login_url(request_key: str) -> str:
    return "/login?" + urlencode({"request": request_key})


class AuthnRequestFlow:
    def __init__(self, store: Store, sessions: Sessions, idp: IdpIdentity, *, skew: int) -> None:
        self.store = store
        self.sessions = sessions
        self.idp = idp
        self.skew = skew

    def receive(
        self, message: ReceivedMessage, browser: Browser, *, destination: str, endpoint_app_id: str | None
    ) -> Outcome:
        """`destination` is the URL the request arrived at; `endpoint_app_id` the app whose own endpoint it is."""
        pending = self._accept(message, browser, destination=destination, endpoint_app_id=endpoint_app_id)
        signed_in = usable_session(self.sessions, browser)
        if signed_in is not None and not pending.force_authn:
            return self._answer(pending, signed_in, browser.now)
        if pending.is_passive:
            return self._refuse(pending, STATUS_RESPONDER, STATUS_NO_PASSIVE, browser.now)
        return Outcome(Redirect(login_url(self._keep(pending)), 303))

    def resume(self, request_key: str | None, browser: Browser) -> Outcome:
        """Back from the login page: answer the request that was kept."""
        signed_in = usable_session(self.sessions, browser)
        if signed_in is None:
            return Outcome(Redirect(login_url(request_key or ""), 303))
        pending = self._take(request_key)
        if pending.force_authn and signed_in.session.authn_instant < pending.received_at:
            raise SamlRequestRefused("the application asked for a fresh sign-in; start again at the application")
        return self._answer(pending, signed_in, browser.now)

    def choose(self, request_key: str | None, app_id: str, browser: Browser) -> Outcome:
        """The user picked one of the applications the request may be for (brands sharing one SP)."""
        signed_in = usable_session(self.sessions, browser)
        if signed_in is None:
            return Outcome(Redirect(login_url(request_key or ""), 303))
        pending = self._take(request_key)
        chosen = tuple(c for c in pending.candidates if c.app_id == app_id)
        if not chosen:
            raise AccessRevoked("you do not have access to this application")
        return self._answer(dataclasses.replace(pending, candidates=chosen), signed_in, browser.now)

    def _accept(
        self, message: ReceivedMessage, browser: Browser, *, destination: str, endpoint_app_id: str | None
    ) -> PendingRequest:
        verified = inbound.verify(
            message,
            inbound.Kind.AUTHN_REQUEST,
            find_senders=lambda issuer: sender_apps(self.store, issuer, endpoint_app_id=endpoint_app_id),
            claim_once=self.store.claim_once,
            destination=destination,
            now=browser.now,
            skew=self.skew,
        )
        request = authn_request.read(verified.parsed)
        candidates = tuple(
            Candidate(app.id, acs)
            for app in verified.apps
            if (acs := app.registered_acs(url=request.acs_url, index=request.acs_index)) is not None
        )
        if not candidates:
            raise SamlRequestRefused("the request asks for an assertion consumer service that is not registered")
        if request.protocol_binding not in (None, BINDING_HTTP_POST):
            raise SamlRequestRefused("only the HTTP-POST binding is offered for responses")
        if message.relay_state is not None and len(message.relay_state) > MAX_RELAY_STATE:
            raise SamlRequestRefused("RelayState is too long")
        return PendingRequest(
            candidates=candidates,
            request_id=request.id,
            relay_state=message.relay_state,
            force_authn=request.force_authn,
            is_passive=request.is_passive,
            name_id_format=request.name_id_format,
            received_at=browser.now,
            sp_name_qualifier=request.sp_name_qualifier,
            attribute_consuming_service_index=request.attribute_consuming_service_index,
        )

    def _answer(self, pending: PendingRequest, signed_in: SignedIn, now: float) -> Outcome:
        """The signed Response for a signed-in user, a status Response when the NameID policy cannot be
        met, or the choice of application when the user may open several registered for this SP."""
        open_to_user = [
            (candidate, app, placement)
            for candidate in pending.candidates
            if (app := self.store.app(candidate.app_id)) is not None
            and (placement := placement_for(self.store, signed_in.user, app)) is not None
        ]
        if not open_to_user:
            raise AccessRevoked("you do not have access to this application")
        if len(open_to_user) > 1:
            if pending.is_passive:
                return self._refuse(pending, STATUS_RESPONDER, STATUS_NO_PASSIVE, now)
            choices = [
                {"app_id": app.id, "name": app.name, "brand": placement.brand.name}
                for _, app, placement in open_to_user
            ]
            return Outcome(Page("choose_app.html", {"request_key": self._keep(pending), "choices": choices}))
        [(candidate, app, placement)] = open_to_user
        asked = SubjectRequest(
            pending.name_id_format, pending.sp_name_qualifier, pending.attribute_consuming_service_index
        )
        try:
            terms = subject_terms(app, asked)
        except AnsweredInSaml as refusal:
            answering = pending.answering(candidate)
            return Outcome(refuse(app, self.idp, answering, refusal.saml_status, refusal.saml_sub_status, now=now))
        session = signed_in.session
        login = Login(
            signed_in.user, placement.brand, placement.role, session.mfa, session.authn_instant, placement.member_of
        )
        issued = issue(app, login, self.idp, pending.answering(candidate, terms), now=now)
        self.sessions.add_participant(signed_in, issued.participant)
        return Outcome(issued.form)

    def _refuse(self, pending: PendingRequest, status: str, sub_status: str, now: float) -> Outcome:
        """A signed status Response, under the first application the request may be for."""
        candidate = pending.candidates[0]
        app = self.store.app(candidate.app_id)
        if app is None:
            raise AccessRevoked("this application is no longer available")
        return Outcome(refuse(app, self.idp, pending.answering(candidate), status, sub_status, now=now))

    def _keep(self, pending: PendingRequest) -> str:
        """Store the request while the user signs in; returns its id for the login page."""
        key = secrets.token_urlsafe(24)
        self.store.save_transient(PENDING, key, pending.to_doc(), PENDING_TTL)
        return key

    def _take(self, key: str | None) -> PendingRequest:
        """The kept request, once: it is removed as it is read; refused when gone or answered already."""
        doc = self.store.transient(PENDING, key) if key else None
        if key is None or doc is None or not self.store.claim_once(f"pending-request:{key}", 3600):
            raise SamlRequestRefused(
                "this sign-in request has expired or was answered already; start again at the application"
            )
        self.store.drop_transient(PENDING, key)
        return PendingRequest.from_doc(doc)

"""Answering an SP's AuthnRequest: check it, keep it while the user signs in, then answer it.

The app is found by the request's Issuer and every check of the one way in applies
(`idp.saml.inbound`); the answer goes only to an ACS registered for the app.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from idp.accounts.passkeys import has_second_factor
from idp.accounts.sessions import Sessions, SignedIn
from idp.applications.access import placement_for, sender_apps
from idp.errors import AnsweredInSaml, MfaSetupNeeded, SamlRequestRefused
from idp.models import SsoApplication
from idp.saml import authn_context, authn_request, inbound
from idp.saml.assertions import Answering, IdpIdentity, Login, issue, refuse, subject_for
from idp.saml.authn_context import Comparison, RequestedContext, Strength
from idp.saml.authn_request import AuthnRequest, RequestedSubject
from idp.saml.bindings import ReceivedMessage
from idp.saml.names import (
    BINDING_HTTP_POST,
    NAMEID_UNSPECIFIED,
    STATUS_NO_AUTHN_CONTEXT,
    STATUS_NO_PASSIVE,
    STATUS_REQUEST_DENIED,
    STATUS_REQUEST_UNSUPPORTED,
    STATUS_REQUEST_VERSION_TOO_HIGH,
    STATUS_REQUEST_VERSION_TOO_LOW,
    STATUS_REQUESTER,
    STATUS_RESPONDER,
    STATUS_UNKNOWN_PRINCIPAL,
    STATUS_UNSUPPORTED_BINDING,
    STATUS_VERSION_MISMATCH,
)
from idp.saml.subject_policy import SubjectRequest, SubjectTerms, subject_terms
from idp.signin.front_door import totp_step
from idp.signin.outcomes import Browser, Outcome, Page, Redirect
from idp.store import Store
from idp.telemetry import metrics

PENDING = "pending-request"
PENDING_TTL = 15 * 60
MAX_RELAY_STATE = 1024


@dataclass(frozen=True)
class Candidate:
    """An application the request may be for, and the ACS registered for it that the request names."""

    app_id: str
    acs_url: str


@dataclass(frozen=True)
class Refusal:
    """A status the request is answered with, in a signed Response without an assertion."""

    status: str
    sub_status: str | None
    message: str
    notice: str | None = None  # shown to the person, who then continues to the SP by hand


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
    issuer: str | None = None  # the IdP entityID the SP addressed; None: each app's own `issuer`
    requested_context: RequestedContext | None = None
    subject: RequestedSubject | None = None
    shared: bool = False  # several brands register this SP's entityID
    sp_name_qualifier: str | None = None
    attribute_consuming_service_index: int | None = None

    def answering(
        self, candidate: Candidate, terms: SubjectTerms | None = None, authn_context: str | None = None
    ) -> Answering:
        terms = terms or SubjectTerms()
        return Answering(
            candidate.acs_url,
            self.request_id,
            terms.name_id_format,
            self.relay_state,
            self.issuer,
            authn_context,
            terms.affiliation,
        )

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PendingRequest:
        candidates = tuple(Candidate(**candidate) for candidate in doc["candidates"])
        context, subject = doc.get("requested_context"), doc.get("subject")
        return cls(
            **{
                **doc,
                "candidates": candidates,
                "requested_context": RequestedContext(
                    tuple(context["class_refs"]), Comparison(context["comparison"]), context["declaration_refs"]
                )
                if context
                else None,
                "subject": RequestedSubject(**subject) if subject else None,
            }
        )


def login_url(request_key: str, brand_id: str | None = None) -> str:
    """The login page for a kept request; `brand_id`, the brand it shows unless the host names one."""
    return "/login?" + urlencode({"request": request_key, **({"brand": brand_id} if brand_id else {})})


def owning_brand(apps: Iterable[SsoApplication], candidates: tuple[Candidate, ...]) -> str | None:
    """The brand that registered the application a request is for, when one brand did: the login page
    shows it. Brands that share an SP's entityID each registered theirs, and then none is shown."""
    wanted = {candidate.app_id for candidate in candidates}
    owners = {app.owner_brand_id for app in apps if app.id in wanted}
    return owners.pop() if len(owners) == 1 else None


def resume_path(request_key: str) -> str:
    return "/saml/resume?" + urlencode({"request": request_key})


def delivery_refusal(message: ReceivedMessage, request: AuthnRequest) -> Refusal | None:
    """What a trusted request asks that cannot be given, before anyone signs in."""
    if request.version != "2.0":
        too_high = tuple(int(part) for part in request.version.split(".")) > (2, 0)
        sub_status = STATUS_REQUEST_VERSION_TOO_HIGH if too_high else STATUS_REQUEST_VERSION_TOO_LOW
        return Refusal(STATUS_VERSION_MISMATCH, sub_status, "only SAML 2.0 is supported")
    if request.protocol_binding not in (None, BINDING_HTTP_POST):
        return Refusal(STATUS_REQUESTER, STATUS_UNSUPPORTED_BINDING, "responses are sent by HTTP-POST only")
    if message.relay_state is not None and len(message.relay_state) > MAX_RELAY_STATE:
        return Refusal(STATUS_REQUESTER, None, "RelayState is too long")
    return None


class AuthnRequestFlow:
    def __init__(self, store: Store, sessions: Sessions, idp: IdpIdentity, *, skew: int) -> None:
        self.store = store
        self.sessions = sessions
        self.idp = idp
        self.skew = skew

    def receive(
        self, message: ReceivedMessage, browser: Browser, *, destination: str, endpoint_app_id: str | None
    ) -> Outcome:
        """`destination` is the URL the request arrived at; `endpoint_app_id` the app whose own endpoint
        it is (answers then carry that app's `issuer`; at /saml/sso, the entityID of /metadata)."""
        verified = inbound.authenticate(
            message,
            inbound.Kind.AUTHN_REQUEST,
            find_senders=lambda issuer: sender_apps(self.store, issuer, endpoint_app_id=endpoint_app_id),
        )
        request = authn_request.read(verified.parsed)
        candidates = tuple(
            Candidate(app.id, acs)
            for app in verified.apps
            if (acs := app.registered_acs(url=request.acs_url, index=request.acs_index)) is not None
        )
        if not candidates:
            raise SamlRequestRefused("the request asks for an assertion consumer service that is not registered")
        relay_state = (
            message.relay_state if message.relay_state and len(message.relay_state) <= MAX_RELAY_STATE else None
        )
        pending = PendingRequest(
            candidates=candidates,
            request_id=request.id,
            relay_state=relay_state,
            force_authn=request.force_authn,
            is_passive=request.is_passive,
            name_id_format=request.name_id_format,
            received_at=browser.now,
            issuer=None if endpoint_app_id else self.idp.entity_id,
            requested_context=request.requested_context,
            subject=request.subject,
            shared=len(verified.apps) > 1,
            sp_name_qualifier=request.sp_name_qualifier,
            attribute_consuming_service_index=request.attribute_consuming_service_index,
        )
        try:
            inbound.check_delivery(
                verified, claim_once=self.store.claim_once, destination=destination, now=browser.now, skew=self.skew
            )
        except SamlRequestRefused as stale:
            return self._refuse(pending, Refusal(STATUS_REQUESTER, None, stale.message), browser.now)
        refusal = delivery_refusal(message, request)
        if refusal is not None:
            return self._refuse(pending, refusal, browser.now)
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None and self._inactive_account(browser):
            denied = Refusal(STATUS_RESPONDER, STATUS_REQUEST_DENIED, "the account is not active")
            return self._refuse(pending, denied, browser.now)
        if signed_in is not None and not pending.force_authn:
            return self._answer(pending, signed_in, browser)
        if pending.is_passive:
            return self._refuse(pending, Refusal(STATUS_RESPONDER, STATUS_NO_PASSIVE, "no sign-in"), browser.now)
        return Outcome(Redirect(login_url(self._keep(pending), owning_brand(verified.apps, candidates)), 303))

    def resume(self, request_key: str | None, browser: Browser) -> Outcome:
        """Back from the login page (or the TOTP step): answer the request that was kept."""
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            return Outcome(Redirect(login_url(request_key or ""), 303))
        pending = self._take(request_key)
        if pending.force_authn and signed_in.session.authn_instant < pending.received_at:
            raise SamlRequestRefused("the application asked for a fresh sign-in; start again at the application")
        return self._answer(pending, signed_in, browser)

    def choose(self, request_key: str | None, app_id: str, browser: Browser) -> Outcome:
        """The user picked one of the applications the request may be for (brands sharing one SP)."""
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            return Outcome(Redirect(login_url(request_key or ""), 303))
        pending = self._take(request_key)
        chosen = tuple(c for c in pending.candidates if c.app_id == app_id)
        if not chosen:
            raise SamlRequestRefused("that application is not one this request may be answered for")
        return self._answer(dataclasses.replace(pending, candidates=chosen), signed_in, browser)

    def _inactive_account(self, browser: Browser) -> bool:
        """Whether the browser holds a live session whose account has since been deactivated."""
        session = self.sessions.load(browser.session_token)
        user = self.store.user(session.user_id) if session is not None else None
        return user is not None and not user.is_active

    def _answer(self, pending: PendingRequest, signed_in: SignedIn, browser: Browser) -> Outcome:
        """The signed Response for a signed-in user; the TOTP step first when the request (or the app)
        needs MFA the session lacks; a status Response when it cannot be met; or the choice of
        application when the user may open several registered for this SP."""
        now = browser.now
        open_to_user = [
            (candidate, app, placement)
            for candidate in pending.candidates
            if (app := self.store.app(candidate.app_id)) is not None
            and (placement := placement_for(self.store, signed_in.user, app)) is not None
        ]
        if not open_to_user and pending.shared:
            # Brands share this entityID: a registration the user may not open is another brand's,
            # perhaps a rogue one, and its ACS is never sent anything for this user.
            raise SamlRequestRefused("you do not have access to this application")
        if not open_to_user:
            denied = Refusal(STATUS_RESPONDER, STATUS_REQUEST_DENIED, "the user may not open this application")
            return self._refuse(pending, denied, now)
        if len(open_to_user) > 1:
            if pending.is_passive:
                return self._refuse(pending, Refusal(STATUS_RESPONDER, STATUS_NO_PASSIVE, "a choice is needed"), now)
            choices = [
                {"app_id": app.id, "name": app.name, "brand": placement.brand.name}
                for _, app, placement in open_to_user
            ]
            return Outcome(Page("choose_app.html", {"request_key": self._keep(pending), "choices": choices}))
        [(candidate, app, placement)] = open_to_user
        pending = dataclasses.replace(pending, candidates=(candidate,))
        asked = SubjectRequest(
            pending.name_id_format, pending.sp_name_qualifier, pending.attribute_consuming_service_index
        )
        try:
            terms = subject_terms(app, asked)
        except AnsweredInSaml as unmet:  # InvalidNameIDPolicy, an unknown AttributeConsumingServiceIndex
            return self._refuse(pending, Refusal(unmet.saml_status, unmet.saml_sub_status, unmet.message), now)
        user, session = signed_in.user, signed_in.session
        login = Login(user, placement.brand, placement.role, session.mfa, session.authn_instant, placement.member_of)
        refusal = self._subject_refusal(pending, app, login, terms)
        if refusal is not None:
            return self._refuse(pending, refusal, now)
        # A user with a second factor (TOTP or a passkey) always answers with it; an app with
        # require_mfa asks it of everyone.
        has_factor = has_second_factor(self.store, user)
        floor = Strength.MFA if has_factor or app.require_mfa else Strength.PASSWORD_PROTECTED_TRANSPORT
        asserted = authn_context.answer(pending.requested_context, login.strength) if login.strength >= floor else None
        if asserted is None:
            if has_factor and not login.mfa and authn_context.answer(pending.requested_context, Strength.MFA):
                if pending.is_passive:
                    passive = Refusal(STATUS_RESPONDER, STATUS_NO_PASSIVE, "the second factor is needed")
                    return self._refuse(pending, passive, now)
                return totp_step(self.store, user, destination=resume_path(self._keep(pending)))
            return self._refuse(pending, self._unmet(pending, app, has_factor), now)
        answering = pending.answering(candidate, terms, asserted)
        issued = issue(app, login, self.idp, answering, now=now)
        self.sessions.add_participant(signed_in, issued.participant)
        metrics.sp_answered("Success", app=app.id, user=user.id, brand=placement.brand.id)
        return Outcome(issued.form)

    def _unmet(self, pending: PendingRequest, app: SsoApplication, has_mfa: bool) -> Refusal:
        """NoAuthnContext; when it is MFA the user lacks, the person is told (unless the SP asked for no prompt)."""
        needs_mfa = app.require_mfa or authn_context.answer(pending.requested_context, Strength.MFA) is not None
        notice = MfaSetupNeeded(app.name).page_text() if needs_mfa and not has_mfa and not pending.is_passive else None
        return Refusal(STATUS_REQUESTER, STATUS_NO_AUTHN_CONTEXT, "the authentication context cannot be met", notice)

    def _subject_refusal(
        self, pending: PendingRequest, app: SsoApplication, login: Login, terms: SubjectTerms
    ) -> Refusal | None:
        """A request naming its Subject must be answered for that principal only (Core 3.4.1)."""
        asked = pending.subject
        if asked is None:
            return None
        if asked.name_id is None:
            return Refusal(STATUS_REQUESTER, STATUS_REQUEST_UNSUPPORTED, "only a Subject with a NameID is understood")
        ours = subject_for(app, login, self.idp, pending.answering(pending.candidates[0], terms))
        same_format = asked.name_id_format in (None, NAMEID_UNSPECIFIED, ours.name_id_format)
        if asked.name_id != ours.name_id or not same_format:
            return Refusal(STATUS_REQUESTER, STATUS_UNKNOWN_PRINCIPAL, "the Subject is not the signed-in user")
        return None

    def _refuse(self, pending: PendingRequest, refusal: Refusal, now: float) -> Outcome:
        """A signed status Response to the request's ACS. When brands share the SP and their
        registrations name different ACS URLs, nobody is known yet to pick one: the refusal is a page."""
        if len({candidate.acs_url for candidate in pending.candidates}) > 1:
            raise SamlRequestRefused(refusal.message)
        candidate = pending.candidates[0]
        app = self.store.app(candidate.app_id)
        if app is None:
            raise SamlRequestRefused("this application is no longer available")
        answering = pending.answering(candidate)
        status = f"{refusal.status.rsplit(':', 1)[-1]}/{(refusal.sub_status or '').rsplit(':', 1)[-1]}"
        metrics.sp_answered(status, app=app.id, brand=app.owner_brand_id)
        # The StatusMessage names the status too: some SPs (python3-saml) report only the message.
        message = f"{(refusal.sub_status or refusal.status).rsplit(':', 1)[-1]}: {refusal.message}"
        form = refuse(app, self.idp, answering, refusal.status, refusal.sub_status, now=now, message=message)
        if refusal.notice:
            return Outcome(Page("post_form.html", {"form": form, "notice": refusal.notice, "app_name": app.name}))
        return Outcome(form)

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

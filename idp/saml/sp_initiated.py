"""SP-initiated SSO: check an AuthnRequest, keep it while the user signs in, then answer it.

The app is found by the request's Issuer; the answer goes only to an ACS registered for it.
Requests are refused when unsigned and the app requires signatures, badly signed, older than
the allowed clock skew, or seen before.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import secrets
from dataclasses import dataclass

from lxml import etree

from idp.errors import SamlRequestRefused
from idp.models import SsoApplication
from idp.saml import authn_request, bindings
from idp.saml.bindings import ReceivedMessage
from idp.saml.names import BINDING_HTTP_POST, NAMEID_FORMATS, NAMEID_UNSPECIFIED, SAML, SAMLP
from idp.saml.response import new_id, saml_instant
from idp.saml.sso import Issued, Login, PostForm, Signing, app_issuer, issue
from idp.store import Store

PENDING = "pending-request"
MAX_RELAY_STATE = 1024
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_INVALID_NAMEID_POLICY = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"


@dataclass(frozen=True)
class PendingRequest:
    """An accepted AuthnRequest, waiting for the user to be signed in."""

    app_id: str
    request_id: str
    acs_url: str
    relay_state: str | None
    force_authn: bool
    is_passive: bool
    name_id_format: str | None
    received_at: float


def receive(
    message: ReceivedMessage,
    *,
    store: Store,
    skew: int,
    now: float,
    destination: str,
    app_id: str | None = None,
) -> PendingRequest:
    """`destination` is the URL the request arrived at; a request addressed elsewhere is refused."""
    request = authn_request.parse(message)
    if app_id:
        app = store.app(app_id)
    else:
        candidates = store.apps_by_entity_id(request.issuer)
        if len(candidates) > 1:
            raise SamlRequestRefused(
                "several applications are registered for this service provider: it must use its own "
                "application's SSO endpoint, from that application's metadata"
            )
        app = candidates[0] if candidates else None
    if app is None or not app.is_saml or app.entity_id != request.issuer:
        raise SamlRequestRefused(f"no application is registered for the service provider {request.issuer}")
    _check_signature(message, request, app)
    if request.destination is not None and request.destination != destination:
        raise SamlRequestRefused("the request is addressed to another endpoint (Destination)")
    age = now - request.issue_instant.timestamp()
    if age > skew or age < -skew:
        raise SamlRequestRefused("the request is too old, or from a clock too far off")
    if not store.claim_once(f"authn-request:{app.id}:{request.id}", 2 * skew + 60):
        raise SamlRequestRefused("this request was seen before")
    acs = app.registered_acs(url=request.acs_url, index=request.acs_index)
    if acs is None:
        raise SamlRequestRefused("the request asks for an assertion consumer service that is not registered")
    if request.protocol_binding not in (None, BINDING_HTTP_POST):
        raise SamlRequestRefused("only the HTTP-POST binding is offered for responses")
    if message.relay_state is not None and len(message.relay_state) > MAX_RELAY_STATE:
        raise SamlRequestRefused("RelayState is too long")
    return PendingRequest(
        app_id=app.id,
        request_id=request.id,
        acs_url=acs,
        relay_state=message.relay_state,
        force_authn=request.force_authn,
        is_passive=request.is_passive,
        name_id_format=request.name_id_format,
        received_at=now,
    )


def _check_signature(message: ReceivedMessage, request: authn_request.AuthnRequest, app: SsoApplication) -> None:
    if not bindings.has_signature(message, request.root):
        if app.require_signed_requests:
            raise SamlRequestRefused("this service provider must sign its requests")
        return
    if not app.sp_certificates:
        raise SamlRequestRefused("the request is signed, but no certificate is registered to check it")
    if not bindings.signature_valid(message, request.root, app.sp_certificates):
        raise SamlRequestRefused("the request's signature does not verify")


def keep(store: Store, pending: PendingRequest, ttl: int) -> str:
    """Store the request while the user signs in; returns its id for the login page."""
    key = secrets.token_urlsafe(24)
    store.save_transient(PENDING, key, dataclasses.asdict(pending), ttl)
    return key


def take(store: Store, key: str | None) -> PendingRequest | None:
    """The kept request, once: it is removed as it is read."""
    doc = store.transient(PENDING, key) if key else None
    if doc is None or not store.claim_once(f"pending-request:{key}", 3600):
        return None
    store.drop_transient(PENDING, key)
    return PendingRequest(**doc)


def answer(
    pending: PendingRequest, app: SsoApplication, login: Login, signing: Signing, *, now: float
) -> Issued | PostForm:
    """The signed Response for a signed-in user, or a status Response when the NameID policy cannot be met."""
    requested = pending.name_id_format
    name_id_format = None
    if requested and requested != NAMEID_UNSPECIFIED:
        if requested not in NAMEID_FORMATS or (app.name_id_format and app.name_id_format != requested):
            return status_response(pending, app, signing, STATUS_REQUESTER, STATUS_INVALID_NAMEID_POLICY, now=now)
        name_id_format = requested
    return issue(
        app,
        login,
        signing,
        now=now,
        acs_url=pending.acs_url,
        in_response_to=pending.request_id,
        name_id_format=name_id_format,
        relay_state=pending.relay_state,
    )


def status_response(
    pending: PendingRequest, app: SsoApplication, signing: Signing, status: str, sub_status: str, *, now: float
) -> PostForm:
    """A signed Response with no assertion, carrying an error status (e.g. NoPassive)."""
    root = etree.Element(
        f"{{{SAMLP}}}Response",
        {
            "ID": new_id(),
            "Version": "2.0",
            "IssueInstant": saml_instant(datetime.datetime.fromtimestamp(now, datetime.UTC)),
            "Destination": pending.acs_url,
            "InResponseTo": pending.request_id,
        },
        nsmap={"samlp": SAMLP, "saml": SAML},
    )
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = app_issuer(app, signing.settings)
    status_element = etree.SubElement(root, f"{{{SAMLP}}}Status")
    code = etree.SubElement(status_element, f"{{{SAMLP}}}StatusCode", {"Value": status})
    etree.SubElement(code, f"{{{SAMLP}}}StatusCode", {"Value": sub_status})
    signing.signer.sign(root)
    fields = {"SAMLResponse": base64.b64encode(etree.tostring(root, xml_declaration=True, encoding="UTF-8")).decode()}
    if pending.relay_state:
        fields["RelayState"] = pending.relay_state
    return PostForm(pending.acs_url, fields)


def no_passive(pending: PendingRequest, app: SsoApplication, signing: Signing, *, now: float) -> PostForm:
    return status_response(pending, app, signing, STATUS_RESPONDER, STATUS_NO_PASSIVE, now=now)

"""AuthnRequests from service providers (SAML Core 3.4.1): what they ask for, read from the XML."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lxml import etree

from idp.errors import SamlRequestRefused
from idp.saml import authn_context
from idp.saml.authn_context import RequestedContext
from idp.saml.bindings import ReceivedMessage
from idp.saml.inbound import Kind, Parsed
from idp.saml.inbound import parse as parse_envelope
from idp.saml.names import SAML, SAMLP


@dataclass(frozen=True)
class AuthnRequest:
    id: str
    issuer: str
    issue_instant: datetime.datetime
    destination: str | None
    acs_url: str | None
    acs_index: int | None
    protocol_binding: str | None
    force_authn: bool
    is_passive: bool
    name_id_format: str | None
    root: etree._Element
    version: str = "2.0"
    requested_context: RequestedContext | None = None
    subject: RequestedSubject | None = None
    sp_name_qualifier: str | None = None
    attribute_consuming_service_index: int | None = None


@dataclass(frozen=True)
class RequestedSubject:
    """The principal a request's Subject names (Core 3.4.1): only a NameID is understood."""

    name_id: str | None  # None: the Subject names its principal otherwise (BaseID, EncryptedID)
    name_id_format: str | None = None


def _subject(root: etree._Element) -> RequestedSubject | None:
    subject = root.find(f"{{{SAML}}}Subject")
    if subject is None:
        return None
    name_id = subject.find(f"{{{SAML}}}NameID")
    if name_id is None or len(name_id):
        return RequestedSubject(None)
    return RequestedSubject((name_id.text or "").strip(), name_id.get("Format"))


def _bool(value: str | None) -> bool:
    return value in ("true", "1")


def parse(message: ReceivedMessage) -> AuthnRequest:
    """The request's contents, before its sender is known or its signature checked."""
    return read(parse_envelope(message, Kind.AUTHN_REQUEST))


def read(parsed: Parsed) -> AuthnRequest:
    root = parsed.root
    index = root.get("AssertionConsumerServiceIndex")
    policy = root.find(f"{{{SAMLP}}}NameIDPolicy")
    try:
        acs_index = int(index) if index is not None else None
    except ValueError:
        raise SamlRequestRefused("AssertionConsumerServiceIndex is not a number") from None
    attribute_index = root.get("AttributeConsumingServiceIndex")
    if attribute_index is not None and not (attribute_index.isascii() and attribute_index.strip().isdigit()):
        raise SamlRequestRefused("AttributeConsumingServiceIndex is not a number")
    try:
        requested_context = authn_context.read(root)
    except authn_context.UnreadableContext as error:
        raise SamlRequestRefused(str(error)) from None
    return AuthnRequest(
        id=parsed.id,
        issuer=parsed.issuer,
        issue_instant=parsed.issue_instant,
        destination=root.get("Destination"),
        acs_url=root.get("AssertionConsumerServiceURL"),
        acs_index=acs_index,
        protocol_binding=root.get("ProtocolBinding"),
        force_authn=_bool(root.get("ForceAuthn")),
        is_passive=_bool(root.get("IsPassive")),
        name_id_format=policy.get("Format") if policy is not None else None,
        root=root,
        sp_name_qualifier=policy.get("SPNameQualifier") if policy is not None else None,
        attribute_consuming_service_index=int(attribute_index) if attribute_index is not None else None,
        version=parsed.version,
        requested_context=requested_context,
        subject=_subject(root),
    )

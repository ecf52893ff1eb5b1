"""Builds SAML 2.0 protocol messages: the envelope they share, and the Response carrying one bearer Assertion."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from lxml import etree

from idp.saml.attributes import Subject
from idp.saml.names import (
    CONFIRMATION_BEARER,
    SAML,
    SAMLP,
    STATUS_SUCCESS,
    XS,
    XSI,
)
from idp.text import xml_safe

NSMAP = {"samlp": SAMLP, "saml": SAML}
_ATTRIBUTE_NSMAP = {"xs": XS, "xsi": XSI}


def new_id() -> str:
    """An xs:ID: starts with a letter or underscore, and carries 160 random bits."""
    return "_" + secrets.token_hex(20)


def utc(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC)


def saml_instant(moment: datetime.datetime) -> str:
    """xs:dateTime in UTC with a Z, whole seconds, as SAML Core 1.3.3 asks."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AssertionSpec:
    issuer: str
    destination: str
    recipient: str
    audience: str
    subject: Subject
    authn_context: str
    session_index: str
    issued_at: datetime.datetime
    lifetime: int
    authn_instant: datetime.datetime | None = None
    in_response_to: str | None = None


@dataclass(frozen=True)
class BuiltResponse:
    root: etree._Element
    assertion: etree._Element | None  # None for a Response that only carries an error status


def protocol_message(
    tag: str,
    *,
    issuer: str,
    destination: str,
    issued_at: datetime.datetime,
    in_response_to: str | None = None,
) -> etree._Element:
    """The envelope every message we send shares (SAML Core 3.2.1/3.2.2): ID, Version, IssueInstant,
    Destination, InResponseTo when answering, and the Issuer; a StatusResponseType's Status follows."""
    attributes = {
        "ID": new_id(),
        "Version": "2.0",
        "IssueInstant": saml_instant(issued_at),
        "Destination": xml_safe(destination),
    }
    if in_response_to:
        attributes["InResponseTo"] = xml_safe(in_response_to)
    root = etree.Element(f"{{{SAMLP}}}{tag}", attributes, nsmap=NSMAP)
    element(root, f"{{{SAML}}}Issuer", issuer)
    return root


def add_status(root: etree._Element, status: str, sub_status: str | None = None, message: str | None = None) -> None:
    status_element = element(root, f"{{{SAMLP}}}Status")
    code = element(status_element, f"{{{SAMLP}}}StatusCode", Value=status)
    if sub_status:
        element(code, f"{{{SAMLP}}}StatusCode", Value=sub_status)
    if message:
        element(status_element, f"{{{SAMLP}}}StatusMessage", message)


def status_response(
    *,
    issuer: str,
    destination: str,
    in_response_to: str,
    status: str,
    sub_status: str | None,
    issued_at: datetime.datetime,
    message: str | None = None,
) -> BuiltResponse:
    """A Response with no assertion, carrying an error status (e.g. Responder/NoPassive)."""
    root = protocol_message(
        "Response", issuer=issuer, destination=destination, issued_at=issued_at, in_response_to=in_response_to
    )
    add_status(root, status, sub_status, message)
    return BuiltResponse(root=root, assertion=None)


def element(parent: etree._Element, tag: str, text: str | None = None, **attrs: str | None) -> etree._Element:
    """A child element; text and attribute values pass through `xml_safe`, so no stored value breaks a message."""
    child = etree.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        child.text = xml_safe(text)
    return child


def build_response(spec: AssertionSpec) -> BuiltResponse:
    issued = saml_instant(spec.issued_at)
    expires = saml_instant(spec.issued_at + datetime.timedelta(seconds=spec.lifetime))
    response = protocol_message(
        "Response",
        issuer=spec.issuer,
        destination=spec.destination,
        issued_at=spec.issued_at,
        in_response_to=spec.in_response_to,
    )
    add_status(response, STATUS_SUCCESS)

    assertion = element(response, f"{{{SAML}}}Assertion", ID=new_id(), Version="2.0", IssueInstant=issued)
    element(assertion, f"{{{SAML}}}Issuer", spec.issuer)

    subject = element(assertion, f"{{{SAML}}}Subject")
    if spec.subject.name_id is not None:  # without one, the SP knows the user by the attributes (Core 2.4.1)
        element(
            subject,
            f"{{{SAML}}}NameID",
            spec.subject.name_id,
            Format=spec.subject.name_id_format,
            NameQualifier=spec.subject.name_qualifier,
            SPNameQualifier=spec.subject.sp_name_qualifier,
        )
    confirmation = element(subject, f"{{{SAML}}}SubjectConfirmation", Method=CONFIRMATION_BEARER)
    element(
        confirmation,
        f"{{{SAML}}}SubjectConfirmationData",
        NotOnOrAfter=expires,
        Recipient=spec.recipient,
        InResponseTo=spec.in_response_to,
    )

    conditions = element(assertion, f"{{{SAML}}}Conditions", NotBefore=issued, NotOnOrAfter=expires)
    restriction = element(conditions, f"{{{SAML}}}AudienceRestriction")
    element(restriction, f"{{{SAML}}}Audience", spec.audience)

    authn = element(
        assertion,
        f"{{{SAML}}}AuthnStatement",
        AuthnInstant=saml_instant(spec.authn_instant or spec.issued_at),
        SessionIndex=spec.session_index,
    )
    context = element(authn, f"{{{SAML}}}AuthnContext")
    element(context, f"{{{SAML}}}AuthnContextClassRef", spec.authn_context)

    if spec.subject.attributes:
        statement = element(assertion, f"{{{SAML}}}AttributeStatement")
        for mapped in spec.subject.attributes:
            attribute = element(
                statement,
                f"{{{SAML}}}Attribute",
                Name=mapped.name,
                NameFormat=mapped.name_format,
                FriendlyName=mapped.friendly_name,
            )
            for value in mapped.values:  # one AttributeValue per value (Core 2.7.3.1)
                typed = etree.SubElement(
                    attribute, f"{{{SAML}}}AttributeValue", {f"{{{XSI}}}type": "xs:string"}, nsmap=_ATTRIBUTE_NSMAP
                )
                typed.text = xml_safe(value)
    return BuiltResponse(root=response, assertion=assertion)

"""AuthnRequests from service providers: their contents, read from a received message."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lxml import etree

from idp.errors import SamlRequestRefused
from idp.saml.bindings import ReceivedMessage
from idp.saml.names import SAML, SAMLP
from idp.saml.xml import parse_untrusted


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


def parse_instant(value: str | None) -> datetime.datetime:
    if not value:
        raise SamlRequestRefused("IssueInstant is missing")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SamlRequestRefused("IssueInstant is not a dateTime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _bool(value: str | None) -> bool:
    return value in ("true", "1")


def parse(message: ReceivedMessage) -> AuthnRequest:
    root = parse_untrusted(message.xml, what="the AuthnRequest")
    if root.tag != f"{{{SAMLP}}}AuthnRequest":
        raise SamlRequestRefused("the message is not an AuthnRequest")
    if root.get("Version") != "2.0":
        raise SamlRequestRefused("only SAML 2.0 requests are accepted")
    request_id, issuer = root.get("ID"), root.findtext(f"{{{SAML}}}Issuer")
    if not request_id or not issuer or not issuer.strip():
        raise SamlRequestRefused("the AuthnRequest has no ID or no Issuer")
    index = root.get("AssertionConsumerServiceIndex")
    policy = root.find(f"{{{SAMLP}}}NameIDPolicy")
    try:
        acs_index = int(index) if index is not None else None
    except ValueError:
        raise SamlRequestRefused("AssertionConsumerServiceIndex is not a number") from None
    return AuthnRequest(
        id=request_id,
        issuer=issuer.strip(),
        issue_instant=parse_instant(root.get("IssueInstant")),
        destination=root.get("Destination"),
        acs_url=root.get("AssertionConsumerServiceURL"),
        acs_index=acs_index,
        protocol_binding=root.get("ProtocolBinding"),
        force_authn=_bool(root.get("ForceAuthn")),
        is_passive=_bool(root.get("IsPassive")),
        name_id_format=policy.get("Format") if policy is not None else None,
        root=root,
    )

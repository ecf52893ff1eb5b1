"""The one way in: every message an SP sends (AuthnRequest, LogoutRequest, LogoutResponse) is read and
checked here, in one order, before anything trusts its contents.

1. decode the binding and parse the XML safely (no DTD, bounded size): malformed is a SAML refusal;
2. the element must be the kind expected, SAML 2.0, with an ID and an Issuer;
3. the sender is the application registered for that Issuer;
4. the signature policy (`signature_required`, decided here and nowhere else);
5. Destination, when present, is the endpoint the message arrived at;
6. IssueInstant within the allowed clock skew;
7. the message ID is claimed once, so a replay is refused.

Finding the app and claiming the ID need storage, which this package knows nothing of: the
caller passes them in as two plain functions.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from idp.errors import SamlRequestRefused
from idp.models import SsoApplication
from idp.saml import bindings
from idp.saml.bindings import ReceivedMessage
from idp.saml.names import SAML, SAMLP
from idp.saml.xml import parse_untrusted


class Kind(StrEnum):
    AUTHN_REQUEST = "AuthnRequest"
    LOGOUT_REQUEST = "LogoutRequest"
    LOGOUT_RESPONSE = "LogoutResponse"

    @property
    def noun(self) -> str:
        """How refusals name the message to the person who reads them."""
        return "request" if self is Kind.AUTHN_REQUEST else "logout message"

    @property
    def param(self) -> str:
        """The form or query parameter that carries it (Bindings 3.4.4 and 3.5.4)."""
        return "SAMLResponse" if self is Kind.LOGOUT_RESPONSE else "SAMLRequest"


@dataclass(frozen=True)
class Parsed:
    """A message's envelope as it reads, before anything in it is trusted."""

    kind: Kind
    root: etree._Element
    id: str
    issuer: str
    issue_instant: datetime.datetime


@dataclass(frozen=True)
class Verified:
    """A message whose sender, signature, addressing, age and uniqueness have been checked."""

    parsed: Parsed
    app: SsoApplication
    relay_state: str | None

    @property
    def root(self) -> etree._Element:
        return self.parsed.root


FindSender = Callable[[str], SsoApplication | None]
ClaimOnce = Callable[[str, float], bool]


def read(kind: Kind, *, query: str | None = None, form: dict[str, str] | None = None) -> ReceivedMessage:
    """The message as the request carries it: HTTP-Redirect in the raw query string, HTTP-POST in the form."""
    if form is None:
        return bindings.from_redirect(query or "", kind.param)
    return bindings.from_post(form, kind.param)


def parse_instant(value: str | None) -> datetime.datetime:
    if not value:
        raise SamlRequestRefused("IssueInstant is missing")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SamlRequestRefused("IssueInstant is not a dateTime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def parse(message: ReceivedMessage, kind: Kind) -> Parsed:
    """Steps 1 and 2: safe XML, the expected element, SAML 2.0, an ID, an Issuer and an IssueInstant."""
    root = parse_untrusted(message.xml, what=f"the {kind.value}", refusal=SamlRequestRefused)
    if root.tag != f"{{{SAMLP}}}{kind.value}":
        raise SamlRequestRefused(f"the message is not a {kind.value}")
    if root.get("Version") != "2.0":
        raise SamlRequestRefused("only SAML 2.0 messages are accepted")
    issuer_element = root.find(f"{{{SAML}}}Issuer")
    if issuer_element is not None and len(issuer_element):
        # Its text would stop at a comment (`<Issuer>https://sp<!---->.example</Issuer>` reads as
        # https://sp), while a signature covers the whole of it.
        raise SamlRequestRefused(f"the {kind.value}'s Issuer must be plain text")
    message_id = root.get("ID")
    issuer = (issuer_element.text or "").strip() if issuer_element is not None else ""
    if not message_id or not issuer:
        raise SamlRequestRefused(f"the {kind.value} has no ID or no Issuer")
    return Parsed(kind, root, message_id, issuer, parse_instant(root.get("IssueInstant")))


def signature_required(app: SsoApplication, kind: Kind) -> bool:
    """AuthnRequests must be signed when the app says so (its metadata's AuthnRequestsSigned);
    logout messages whenever the SP has a registered key (an unsigned one would let anyone sign users out)."""
    if kind is Kind.AUTHN_REQUEST:
        return app.require_signed_requests
    return bool(app.sp_certificates)


def verify(
    message: ReceivedMessage,
    kind: Kind,
    *,
    find_sender: FindSender,
    claim_once: ClaimOnce,
    destination: str,
    now: float,
    skew: int,
) -> Verified:
    parsed = parse(message, kind)
    issuer, root = parsed.issuer, parsed.root
    app = find_sender(issuer)
    if app is None or not app.is_saml or app.entity_id != issuer:
        raise SamlRequestRefused(f"no application is registered for the service provider {issuer}")
    _check_signature(message, root, app, kind)
    if root.get("Destination") is not None and root.get("Destination") != destination:
        raise SamlRequestRefused(f"the {kind.noun} is addressed to another endpoint (Destination)")
    age = now - parsed.issue_instant.timestamp()
    if abs(age) > skew:
        raise SamlRequestRefused(f"the {kind.noun} is too old, or from a clock too far off")
    if not claim_once(f"{kind.value}:{app.id}:{parsed.id}", 2 * skew + 60):
        raise SamlRequestRefused(f"this {kind.noun} was seen before")
    return Verified(parsed, app, message.relay_state)


def _check_signature(message: ReceivedMessage, root: etree._Element, app: SsoApplication, kind: Kind) -> None:
    if not bindings.has_signature(message, root):
        if signature_required(app, kind):
            raise SamlRequestRefused(f"this service provider must sign its {kind.noun}s")
        return
    if not app.sp_certificates:
        raise SamlRequestRefused(f"the {kind.noun} is signed, but no certificate is registered to check it")
    if not bindings.signature_valid(message, root, app.sp_certificates):
        raise SamlRequestRefused(f"the {kind.noun}'s signature does not verify")

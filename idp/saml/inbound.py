"""The one way in: every message an SP sends (AuthnRequest, LogoutRequest, LogoutResponse) is read and
checked here, in one order, before anything trusts its contents.

1. decode the binding and parse the XML safely (no DTD, bounded size): malformed is a SAML refusal;
2. the element must be the kind expected, with an ID and an Issuer, and SAML 2.0 (an AuthnRequest
   of another Version is read, so that its sender can be answered VersionMismatch once trusted);
3. the sender is an application registered for that Issuer (several brands may register one SP);
4. the signature policy (`signature_policy`, decided here and nowhere else), for each such app: whether
   a signature is required, and which algorithms it may use (SHA-1 only for an app that allows it).
   A LogoutRequest must always be authenticated; one that is not (unsigned, or from an app with no
   key to check it by) goes on through the checks below so that it can be answered with a refusal;
5. Destination, when present, is the endpoint the message arrived at;
6. IssueInstant within the allowed clock skew;
7. the message ID is claimed once, so a replay is refused.

Steps 1-4 (`authenticate`) say whether the sender can be trusted at all; steps 5-7 (`check_delivery`)
judge a trusted message, so that an AuthnRequest failing them can still be answered in SAML.
`verify` runs both. Finding the app and claiming the ID need storage, which this package knows
nothing of: the caller passes them in as two plain functions.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from idp.errors import SamlRequestRefused, SenderUnauthenticated
from idp.models import SsoApplication
from idp.saml import algorithms, bindings
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
    version: str = "2.0"


@dataclass(frozen=True)
class Verified:
    """A message whose sender, signature, addressing, age and uniqueness have been checked.

    `apps` are the applications registered for its Issuer that it satisfies (signature policy
    and all): usually one; several when brands share one SP entityID, and then the flow picks
    by what the signed-in user may open.
    """

    parsed: Parsed
    apps: tuple[SsoApplication, ...]
    relay_state: str | None
    # A LogoutRequest none of whose apps could authenticate it (`apps` is then empty): the apps
    # registered for its Issuer that it may be answered at, with a refusal, and why it is refused.
    unauthenticated: tuple[SsoApplication, ...] = ()
    refusal: str | None = None

    @property
    def root(self) -> etree._Element:
        return self.parsed.root


_VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}")

FindSenders = Callable[[str], list[SsoApplication]]
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
    version = root.get("Version") or ""
    if version != "2.0" and (kind is not Kind.AUTHN_REQUEST or not _VERSION.fullmatch(version)):
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
    return Parsed(kind, root, message_id, issuer, parse_instant(root.get("IssueInstant")), version)


@dataclass(frozen=True)
class SignaturePolicy:
    """What an app's messages of one kind must carry: whether a signature, and by which algorithms."""

    required: bool
    accepted: algorithms.Accepted


def accepted_algorithms(app: SsoApplication) -> algorithms.Accepted:
    """SHA-1 only when the app's admin opted in (allow_sha1_signatures): collisions for it are
    practical, so by default a SHA-1 signature is refused rather than trusted."""
    return algorithms.accepted(allow_sha1=app.allow_sha1_signatures)


def signature_policy(app: SsoApplication, kind: Kind) -> SignaturePolicy:
    """AuthnRequests must be signed when the app says so (its metadata's AuthnRequestsSigned).
    A LogoutRequest always (Profiles 4.4.4.1: over HTTP-Redirect and HTTP-POST it MUST be signed; an
    unsigned one would let any page sign users out), so an app without `sp_certificates` cannot end
    a session. LogoutResponses whenever the SP has a registered key."""
    if kind is Kind.AUTHN_REQUEST:
        required = app.require_signed_requests
    else:
        required = kind is Kind.LOGOUT_REQUEST or bool(app.sp_certificates)
    return SignaturePolicy(required=required, accepted=accepted_algorithms(app))


def verify(
    message: ReceivedMessage,
    kind: Kind,
    *,
    find_senders: FindSenders,
    claim_once: ClaimOnce,
    destination: str,
    now: float,
    skew: int,
) -> Verified:
    verified = authenticate(message, kind, find_senders=find_senders)
    check_delivery(verified, claim_once=claim_once, destination=destination, now=now, skew=skew)
    return verified


def authenticate(message: ReceivedMessage, kind: Kind, *, find_senders: FindSenders) -> Verified:
    """Steps 1-4: well formed, from a registered sender, signed as that sender's policy says."""
    parsed = parse(message, kind)
    issuer, root = parsed.issuer, parsed.root
    candidates = [app for app in find_senders(issuer) if app.is_saml and app.entity_id == issuer]
    if not candidates:
        raise SamlRequestRefused(f"no application is registered for the service provider {issuer}")
    # Each registration is judged by its own keys and policy: one brand's app never decides
    # whether another brand's app accepts the message.
    apps: list[SsoApplication] = []
    unauthenticated: list[SsoApplication] = []
    refusals: list[SamlRequestRefused] = []
    for app in candidates:
        try:
            _check_signature(message, root, app, kind)
        except SenderUnauthenticated as refusal:
            refusals.append(refusal)
            unauthenticated.append(app)
        except SamlRequestRefused as refusal:
            refusals.append(refusal)
        else:
            apps.append(app)
    answer_unauthenticated = kind is Kind.LOGOUT_REQUEST and not apps and len(unauthenticated) == len(candidates)
    if not apps and not answer_unauthenticated:
        raise refusals[0]
    if answer_unauthenticated:
        return Verified(parsed, (), message.relay_state, tuple(unauthenticated), refusals[0].message)
    return Verified(parsed, tuple(apps), message.relay_state)


def check_delivery(verified: Verified, *, claim_once: ClaimOnce, destination: str, now: float, skew: int) -> None:
    """Steps 5-7, on a message whose sender is trusted: meant for this endpoint, timely, and new."""
    parsed, root, kind = verified.parsed, verified.root, verified.parsed.kind
    if root.get("Destination") is not None and root.get("Destination") != destination:
        raise SamlRequestRefused(f"the {kind.noun} is addressed to another endpoint (Destination)")
    age = now - parsed.issue_instant.timestamp()
    if abs(age) > skew:
        raise SamlRequestRefused(f"the {kind.noun} is too old, or from a clock too far off")
    if not claim_once(f"{kind.value}:{parsed.issuer}:{parsed.id}", 2 * skew + 60):
        raise SamlRequestRefused(f"this {kind.noun} was seen before")


def _check_signature(message: ReceivedMessage, root: etree._Element, app: SsoApplication, kind: Kind) -> None:
    policy = signature_policy(app, kind)
    if not bindings.has_signature(message, root):
        if policy.required and kind is Kind.LOGOUT_REQUEST and not app.sp_certificates:
            raise SenderUnauthenticated(
                "a LogoutRequest must be signed, and the application must register the service provider's "
                "signing certificate (sp_certificates) to check it"
            )
        if policy.required:
            raise SenderUnauthenticated(f"this service provider must sign its {kind.noun}s")
        return
    if not app.sp_certificates:
        raise SenderUnauthenticated(f"the {kind.noun} is signed, but no certificate is registered to check it")
    if not policy.accepted.includes_sha1 and bindings.uses_sha1(message, root):
        raise SamlRequestRefused(
            f"the {kind.noun} is signed with SHA-1, which is refused: the service provider should sign with "
            "RSA-SHA256 and SHA-256 digests; an administrator can allow SHA-1 for this application by "
            "setting allow_sha1_signatures to true"
        )
    if not bindings.signature_valid(message, root, app.sp_certificates, policy.accepted):
        raise SamlRequestRefused(f"the {kind.noun}'s signature does not verify")

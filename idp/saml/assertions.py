"""Web SSO answers (SAML Profiles 4.1): the signed Response that signs a user in, and the status
Response that tells the SP why not.  Both leave through `outbound`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from idp.models import Brand, Participant, SsoApplication, User
from idp.saml import outbound
from idp.saml.algorithms import signature_algorithm
from idp.saml.attributes import Subject, resolve_subject
from idp.saml.authn_context import Strength, default_class
from idp.saml.certificates import certificate_pem
from idp.saml.outbound import Encryption, PostForm, Sign
from idp.saml.response import AssertionSpec, build_response, new_id, status_response, utc
from idp.saml.xmlsig import Signer


@dataclass(frozen=True)
class IdpIdentity:
    """What this IdP signs with and asserts under, as the settings and key ring give it."""

    entity_id: str  # the global entityID; an app may have its own `issuer`
    signer: Signer
    pairwise_secret: bytes
    assertion_ttl: int


@dataclass(frozen=True)
class Login:
    """Who is being signed in, in which brand, and how they authenticated."""

    user: User
    brand: Brand
    role: str
    mfa: bool
    authn_instant: float
    member_of: tuple[tuple[Brand, str], ...] = ()  # every brand the user is a member of, with the role there

    @property
    def strength(self) -> Strength:
        return Strength.MFA if self.mfa else Strength.PASSWORD_PROTECTED_TRANSPORT


@dataclass(frozen=True)
class Issued:
    form: PostForm
    participant: Participant


@dataclass(frozen=True)
class Answering:
    """Where and to what an answer goes: the ACS, and the request it answers when the SP started."""

    acs_url: str | None = None  # None: the app's own acs_url, destination and recipient
    in_response_to: str | None = None
    name_id_format: str | None = None  # a format the request's NameIDPolicy asked for
    relay_state: str | None = None
    issuer: str | None = None  # the IdP entityID the SP addressed; None: the app's own `issuer`
    authn_context: str | None = None  # the class chosen for the request; None: the sign-in's own
    affiliation: str | None = None  # an SPNameQualifier the request asked for and the app is a member of

    def issuer_for(self, app: SsoApplication, idp: IdpIdentity) -> str:
        return self.issuer or app.idp_entity_id(idp.entity_id)


def subject_for(app: SsoApplication, login: Login, idp: IdpIdentity, answering: Answering) -> Subject:
    """The NameID and attributes this login gives the app, under the Issuer the answer carries."""
    if answering.name_id_format:
        app = dataclasses.replace(app, name_id_format=answering.name_id_format)
    issuer = answering.issuer_for(app, idp)
    return resolve_subject(
        app,
        login.user,
        login.brand,
        login.role,
        pairwise_secret=idp.pairwise_secret,
        idp_entity_id=issuer,
        sp_entity_id=answering.affiliation or app.entity_id or "",
        member_of=login.member_of,
    )


def issue(app: SsoApplication, login: Login, idp: IdpIdentity, answering: Answering, *, now: float) -> Issued:
    """The signed (and, for an SP with an encryption certificate, encrypted) Response, as a form to post."""
    issuer = answering.issuer_for(app, idp)
    subject = subject_for(app, login, idp, answering)
    acs = answering.acs_url or app.acs_url or ""
    spec = AssertionSpec(
        issuer=issuer,
        destination=app.destination if app.destination and not answering.acs_url else acs,
        recipient=app.recipient if app.recipient and not answering.acs_url else acs,
        audience=app.audience or app.entity_id or "",
        subject=subject,
        authn_context=answering.authn_context or default_class(login.strength),
        session_index=new_id(),
        issued_at=utc(now),
        authn_instant=utc(login.authn_instant),
        lifetime=idp.assertion_ttl,
        in_response_to=answering.in_response_to,
    )
    encryption = None
    if app.encryption_certificate:
        encryption = Encryption(
            certificate_pem(app.encryption_certificate), app.encryption_algorithm or Encryption.algorithm
        )
    algorithm = signature_algorithm(app.signature_algorithm)
    root = outbound.protect(build_response(spec), Sign.of(app.signed), idp.signer, encryption, algorithm)
    form = outbound.post(root, location=acs, relay_state=answering.relay_state)
    participant = Participant(
        app.id,
        subject.name_id or "",
        subject.name_id_format,
        spec.session_index,
        name_qualifier=subject.name_qualifier,
        sp_name_qualifier=subject.sp_name_qualifier,
        idp_issuer=issuer,
    )
    return Issued(form, participant)


def refuse(
    app: SsoApplication,
    idp: IdpIdentity,
    answering: Answering,
    status: str,
    sub_status: str | None,
    *,
    now: float,
    message: str | None = None,
) -> PostForm:
    """A signed Response with no assertion, carrying an error status (and a StatusMessage saying why),
    to the ACS the request named."""
    built = status_response(
        issuer=answering.issuer_for(app, idp),
        destination=answering.acs_url or app.acs_url or "",
        in_response_to=answering.in_response_to or "",
        status=status,
        sub_status=sub_status,
        issued_at=utc(now),
        message=message,
    )
    root = outbound.protect(built, Sign.RESPONSE, idp.signer, algorithm=signature_algorithm(app.signature_algorithm))
    return outbound.post(root, location=answering.acs_url or app.acs_url or "", relay_state=answering.relay_state)

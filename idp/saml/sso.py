"""Signing a user in to a service provider: from a launch link, or in answer to an AuthnRequest.

Both paths end in `issue`: resolve the subject, build the Response, sign (and encrypt) it as the
app says, and hand back the form the browser posts to the ACS.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import time
from dataclasses import dataclass
from urllib.parse import quote

from lxml import etree

from idp.applications.access import standing
from idp.config import Settings
from idp.errors import AccessRevoked, LinkInvalid
from idp.keyring import KeyRing
from idp.models import Brand, SsoApplication, User
from idp.saml.attributes import resolve_subject
from idp.saml.certificates import certificate_pem
from idp.saml.encryption import build_signed_encrypted_response
from idp.saml.launch import open_link, seal_link
from idp.saml.names import AC_PASSWORD_PROTECTED_TRANSPORT, AC_REFEDS_MFA
from idp.saml.response import AssertionSpec, build_response, new_id
from idp.saml.xmlsig import Signer
from idp.store import Store

SIGNED_DEFAULT = "both"


@dataclass(frozen=True)
class PostForm:
    """An HTML form the browser posts to the SP's ACS."""

    action: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Redirect:
    location: str


@dataclass(frozen=True)
class Login:
    """Who is being signed in, in which brand, and how they authenticated."""

    user: User
    brand: Brand
    role: str
    mfa: bool
    authn_instant: float


@dataclass(frozen=True)
class Issued:
    form: PostForm
    app_id: str
    user_id: str
    name_id: str
    name_id_format: str
    session_index: str

    def participant(self) -> dict[str, str]:
        """What single logout needs to remember of this login."""
        return {
            "app_id": self.app_id,
            "name_id": self.name_id,
            "name_id_format": self.name_id_format,
            "session_index": self.session_index,
        }


@dataclass(frozen=True)
class Signing:
    """What signs: the key ring, the in-process signer and the settings."""

    keyring: KeyRing
    signer: Signer
    settings: Settings


def app_issuer(app: SsoApplication, settings: Settings) -> str:
    """The IdP entityID this application sees."""
    return app.issuer or settings.entity_id


def open_url(
    settings: Settings, keyring: KeyRing, *, user_id: str, app_id: str, brand_id: str, mfa: bool = False
) -> str:
    link_hash = seal_link(
        keyring.link_keys,
        keyring.current_link_key_id,
        user_id=user_id,
        app_id=app_id,
        brand_id=brand_id,
        expires_at=int(time.time()) + settings.link_ttl,
        mfa=mfa,
    )
    return f"{settings.base_url}/sso_applications/open?hash={quote(link_hash, safe='')}"


def check_access(store: Store, app: SsoApplication | None, user: User | None, brand: Brand | None) -> str:
    """The user's role in the brand when they may still open the app; AccessRevoked otherwise."""
    if app is None or user is None or brand is None or not user.is_active:
        raise AccessRevoked("this application or account is no longer available")
    where = standing(store, user.id, brand.id)
    if not where.may_open(app):
        raise AccessRevoked("you no longer have access to this application")
    return where.role or ""


def launch(
    link_hash: str,
    *,
    store: Store,
    keyring: KeyRing,
    signer: Signer,
    settings: Settings,
    now: float | None = None,
) -> tuple[PostForm | Redirect, Issued | None]:
    now = time.time() if now is None else now
    link = open_link(keyring.link_keys, link_hash, now=now)
    if settings.link_single_use and not store.claim_once(f"link:{link.nonce}", link.expires_at - now + 60):
        raise LinkInvalid("the link was used already")
    app, user, brand = store.app(link.app_id), store.user(link.user_id), store.brand(link.brand_id)
    role = check_access(store, app, user, brand)
    if user.mfa_enabled and not link.mfa:
        raise AccessRevoked("sign in with your second factor, then open the application again")
    if not app.is_saml:
        return Redirect(app.url or ""), None
    issued = issue(
        app,
        Login(user, brand, role, link.mfa, now),
        Signing(keyring, signer, settings),
        now=now,
        relay_state=app.start_url,
    )
    return issued.form, issued


def issue(
    app: SsoApplication,
    login: Login,
    signing: Signing,
    *,
    now: float,
    acs_url: str | None = None,
    in_response_to: str | None = None,
    name_id_format: str | None = None,
    relay_state: str | None = None,
) -> Issued:
    issuer = app_issuer(app, signing.settings)
    if name_id_format:
        app = dataclasses.replace(app, name_id_format=name_id_format)
    subject = resolve_subject(
        app,
        login.user,
        login.brand,
        login.role,
        pairwise_secret=signing.keyring.pairwise_secret,
        idp_entity_id=issuer,
        sp_entity_id=app.entity_id or "",
    )
    acs = acs_url or app.acs_url or ""
    spec = AssertionSpec(
        issuer=issuer,
        destination=app.destination if app.destination and not acs_url else acs,
        recipient=app.recipient if app.recipient and not acs_url else acs,
        audience=app.audience or app.entity_id or "",
        subject=subject,
        authn_context=AC_REFEDS_MFA if login.mfa else AC_PASSWORD_PROTECTED_TRANSPORT,
        session_index=new_id(),
        issued_at=datetime.datetime.fromtimestamp(now, datetime.UTC),
        authn_instant=datetime.datetime.fromtimestamp(login.authn_instant, datetime.UTC),
        lifetime=signing.settings.assertion_ttl,
        in_response_to=in_response_to,
    )
    if app.encryption_certificate:
        xml = build_signed_encrypted_response(
            spec, app.signed, signing.signer, certificate_pem(app.encryption_certificate), app.encryption_algorithm
        )
    else:
        xml = sign_response(spec, app.signed, signing.signer)
    fields = {"SAMLResponse": base64.b64encode(xml).decode()}
    if relay_state:
        fields["RelayState"] = relay_state
    return Issued(
        PostForm(acs, fields), app.id, login.user.id, subject.name_id, subject.name_id_format, spec.session_index
    )


def sign_response(spec: AssertionSpec, signed: str | None, signer: Signer) -> bytes:
    """The serialized Response, signed as the app's `signed` says (null means both)."""
    built = build_response(spec)
    signed = signed or SIGNED_DEFAULT
    # The assertion is signed first, so that a response signature covers it whole.
    if signed in ("assertion", "both"):
        signer.sign(built.assertion)
    if signed in ("response", "both"):
        signer.sign(built.root)
    return etree.tostring(built.root, xml_declaration=True, encoding="UTF-8")

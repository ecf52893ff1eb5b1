"""A launch, start to finish: open the link, check access, build, sign, and say where to post."""

from __future__ import annotations

import base64
import datetime
import time
from dataclasses import dataclass
from urllib.parse import quote

from lxml import etree

from idp.applications.access import standing
from idp.config import Settings
from idp.errors import AccessRevoked, LinkInvalid
from idp.keyring import KeyRing
from idp.models import SsoApplication
from idp.saml.attributes import resolve_subject
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


def launch(
    link_hash: str,
    *,
    store: Store,
    keyring: KeyRing,
    signer: Signer,
    settings: Settings,
    now: float | None = None,
) -> PostForm | Redirect:
    now = time.time() if now is None else now
    link = open_link(keyring.link_keys, link_hash, now=now)
    if settings.link_single_use and not store.claim_once(f"link:{link.nonce}", link.expires_at - now + 60):
        raise LinkInvalid("the link was used already")

    app, user = store.app(link.app_id), store.user(link.user_id)
    brand = store.brand(link.brand_id)
    if app is None or user is None or brand is None or not user.is_active:
        raise AccessRevoked("this application or account is no longer available")
    where = standing(store, user.id, brand.id)
    if not where.may_open(app):
        raise AccessRevoked("you no longer have access to this application")
    if user.mfa_enabled and not link.mfa:
        raise AccessRevoked("sign in with your second factor, then open the application again")

    if not app.is_saml:
        return Redirect(app.url or "")

    issued_at = datetime.datetime.fromtimestamp(now, datetime.UTC)
    issuer = app_issuer(app, settings)
    subject = resolve_subject(
        app,
        user,
        brand,
        where.role or "",
        pairwise_secret=keyring.pairwise_secret,
        idp_entity_id=issuer,
        sp_entity_id=app.entity_id or "",
    )
    spec = AssertionSpec(
        issuer=issuer,
        destination=app.destination or app.acs_url or "",
        recipient=app.recipient or app.acs_url or "",
        audience=app.audience or app.entity_id or "",
        subject=subject,
        authn_context=AC_REFEDS_MFA if link.mfa else AC_PASSWORD_PROTECTED_TRANSPORT,
        session_index=new_id(),
        issued_at=issued_at,
        lifetime=settings.assertion_ttl,
    )
    return PostForm(action=app.acs_url or "", fields=_post_fields(sign_response(spec, app.signed, signer), app))


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


def _post_fields(response_xml: bytes, app: SsoApplication) -> dict[str, str]:
    fields = {"SAMLResponse": base64.b64encode(response_xml).decode()}
    if app.start_url:
        fields["RelayState"] = app.start_url
    return fields

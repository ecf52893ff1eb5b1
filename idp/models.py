"""The values that cross layers: brands, users, clients, SSO applications, tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The keys of a user's custom attributes (mlsid, nar_number, ...): mappings name them as attributes.KEY.
CUSTOM_ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


class BrandType(StrEnum):
    BROKERAGE = "Brokerage"
    OFFICE = "Office"
    TEAM = "Team"


class Role(StrEnum):
    ADMIN = "Admin"
    AGENT = "Agent"


@dataclass(frozen=True)
class Brand:
    id: str
    name: str
    brand_type: str
    parent_id: str | None
    created_at: float
    updated_at: float
    # The host names the brand's agents reach the service by (Rechat's `hostnames`), each held by one brand.
    hostnames: list[str] = field(default_factory=list)
    # How the brand shows itself on the login page, the launcher and in mails; None: as its parent shows.
    display_name: str | None = None
    accent_color: str | None = None  # "#rrggbb"
    logo_version: int = 0  # 0: no logo of its own; each upload counts up, so a logo's URL changes with it


@dataclass(frozen=True)
class User:
    id: str
    email: str
    first_name: str
    last_name: str
    password_hash: str | None
    created_at: float
    updated_at: float
    phone_number: str | None = None
    is_active: bool = True
    email_confirmed: bool = True  # addresses provisioned by an admin are taken as verified
    # TOTP secrets are stored sealed (idp.sealing with the data keys), never in the clear.
    mfa_secret: str | None = None
    mfa_pending_secret: str | None = None
    email_2fa_enabled: bool = False
    deleted_at: float | None = None  # soft deletion: kept for history, gone for every lookup
    # Every token, session and launch link from before this moment is void (disable, delete, password reset).
    access_revoked_at: float | None = None
    # Custom attributes: a flat object of strings or lists of strings (accounts.custom_attributes checks them).
    attributes: dict[str, str | list[str]] = field(default_factory=dict)
    # Whether a passkey alone (a discoverable credential with user verification) may sign this user in.
    passkey_sign_in: bool = False

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_secret is not None

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class Membership:
    user_id: str
    brand_id: str
    role: str


@dataclass(frozen=True)
class Passkey:
    """A WebAuthn credential registered by a user: what verifies its assertions, and what the user calls it.

    `credential_id` and `public_key` (COSE) are base64url; `version` changes with every write, so that
    two sign-ins with the same credential at once never both move its counter (the store swaps on it).
    """

    credential_id: str
    user_id: str
    public_key: str
    sign_count: int
    name: str
    created_at: float
    version: str
    transports: list[str] = field(default_factory=list)
    last_used_at: float | None = None
    backed_up: bool = False  # a synced (multi-device) passkey


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    secret_hash: str
    created_at: float


@dataclass(frozen=True)
class SsoApplication:
    id: str
    owner_brand_id: str
    name: str
    authentication_type: str
    created_at: float
    updated_at: float
    url: str | None = None
    acs_url: str | None = None
    entity_id: str | None = None
    start_url: str | None = None
    signed: str | None = None
    name_id: str | None = None
    name_id_format: str | None = None
    mappings: dict[str, Any] | None = None  # attribute name -> mapping (saml.attributes.parse_mapping)
    audience: str | None = None
    destination: str | None = None
    recipient: str | None = None
    issuer: str | None = None
    extra: dict[str, Any] | None = None
    order: int = 0
    brands: list[str] = field(default_factory=list)
    icon_type: str | None = None
    icon_version: int = 0
    deleted_at: float | None = None
    # From the SP's metadata, or set through the API:
    acs_endpoints: list[dict[str, Any]] = field(default_factory=list)  # {"url", "index", "is_default"}
    sp_certificates: list[str] = field(default_factory=list)  # signing, base64 DER
    encryption_certificate: str | None = None  # base64 DER; when set, assertions are encrypted
    encryption_algorithm: str | None = None  # "aes256-gcm" (default) or "aes128-cbc"
    require_signed_requests: bool = False
    allow_sha1_signatures: bool = False  # accept RSA-SHA1 and SHA-1 digests on the SP's messages
    require_mfa: bool = False  # every sign-in to this app must be MFA (launch links and AuthnRequests)
    slo_url: str | None = None
    slo_binding: str | None = None
    signature_algorithm: str | None = None  # "rsa-sha256" (None), "rsa-sha384", "rsa-sha512" or "ecdsa-sha256"
    affiliations: list[str] = field(default_factory=list)  # affiliation entityIDs a NameIDPolicy may name
    # AttributeConsumingService indexes from the SP's metadata that its AuthnRequests may name.
    attribute_consuming_services: list[int] = field(default_factory=list)

    @property
    def is_saml(self) -> bool:
        return self.authentication_type == "SAML"

    def registered_acs(self, *, url: str | None = None, index: int | None = None) -> str | None:
        """The ACS URL to answer at: the one asked for if registered, else the default; None if refused."""
        endpoints = self.acs_endpoints or []
        if url is not None:
            known = {self.acs_url, *(e["url"] for e in endpoints)}
            return url if url in known else None
        if index is not None:
            return next((e["url"] for e in endpoints if e.get("index") == index), None)
        default = next((e["url"] for e in endpoints if e.get("is_default")), None)
        return self.acs_url or default

    def idp_entity_id(self, default: str) -> str:
        """The IdP entityID this application sees: its own `issuer`, else the global one."""
        return self.issuer or default


@dataclass(frozen=True)
class Participant:
    """What single logout needs to remember of one SP's login in an IdP session: the NameID exactly as
    it was asserted (value, Format and qualifiers) and the assertion's SessionIndex."""

    app_id: str
    name_id: str
    name_id_format: str
    session_index: str
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None
    # The IdP entityID the assertion was issued under (the endpoint the SP addressed decides it):
    # our LogoutRequest to that SP comes from the same Issuer.  None in sessions kept before it was.
    idp_issuer: str | None = None


@dataclass(frozen=True)
class Icon:
    content_type: str
    data: bytes
    # True once written by idp.applications.icons; icons stored before uploads were re-encoded are not.
    reencoded: bool = False


class GrantKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"
    ROTATED = "rotated"  # a refresh token already exchanged: kept only to detect its reuse


@dataclass(frozen=True)
class Grant:
    """What an access or refresh token stands for; stored under the token's hash.

    A pair (one access and one refresh token) shares a pair id; every pair descended from
    one sign-in by refreshing shares a family id.
    """

    user_id: str
    client_id: str
    family_id: str
    expires_at: float
    kind: str
    pair_id: str = ""
    mfa_validated: bool = False
    # Set when a refresh token is exchanged: when, and the pair that replaced it.
    rotated_at: float = 0.0
    successor_pair_id: str = ""


@dataclass(frozen=True)
class About:
    """What the IdP's metadata says of it beyond its endpoints and keys (from settings, read by idp.saml.metadata)."""

    valid_for: int  # seconds from now to validUntil
    cache_duration: int  # seconds
    organization_name: str
    organization_display_name: str
    organization_url: str
    contact_email: str
    contact_name: str | None
    display_name: str
    logo_url: str | None
    logo_width: int
    logo_height: int
    language: str
    error_url: str
    scopes: tuple[str, ...]

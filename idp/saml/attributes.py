"""Who the service provider is told logged in: the NameID and the attributes an app maps."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from idp.errors import LaunchError
from idp.models import Brand, SsoApplication, User
from idp.saml.names import NAMEID_EMAIL, NAMEID_PERSISTENT, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED

# The user fields an app may use as its NameID or map to attributes.
USER_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "phone_number",
    "brand_id",
    "brand_name",
    "role",
)
DEFAULT_NAME_ID_FIELD = "email"


@dataclass(frozen=True)
class Subject:
    name_id: str
    name_id_format: str
    attributes: dict[str, str]
    # Set for persistent identifiers, which are only meaningful between this IdP and this SP.
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None


def user_fields(user: User, brand: Brand, role: str) -> dict[str, str | None]:
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name,
        "phone_number": user.phone_number,
        "brand_id": brand.id,
        "brand_name": brand.name,
        "role": role,
    }


def default_name_id_format(name_id_field: str | None) -> str:
    return NAMEID_EMAIL if (name_id_field or DEFAULT_NAME_ID_FIELD) == "email" else NAMEID_UNSPECIFIED


def pairwise_id(secret: bytes, user_id: str, sp_entity_id: str) -> str:
    """A persistent NameID: stable for one user at one SP, unlinkable across SPs, and opaque."""
    digest = hmac.new(secret, f"{user_id}\n{sp_entity_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


def resolve_subject(
    app: SsoApplication,
    user: User,
    brand: Brand,
    role: str,
    *,
    pairwise_secret: bytes,
    idp_entity_id: str,
    sp_entity_id: str,
) -> Subject:
    fields = user_fields(user, brand, role)
    name_id_format = app.name_id_format or default_name_id_format(app.name_id)
    if name_id_format == NAMEID_PERSISTENT:
        return Subject(
            name_id=pairwise_id(pairwise_secret, user.id, sp_entity_id),
            name_id_format=name_id_format,
            attributes=_attributes(app, fields),
            name_qualifier=idp_entity_id,
            sp_name_qualifier=sp_entity_id,
        )
    if name_id_format == NAMEID_TRANSIENT:
        name_id = "_" + secrets.token_hex(20)
    else:
        field = app.name_id or DEFAULT_NAME_ID_FIELD
        name_id = fields.get(field) or ""
        if not name_id:
            raise LaunchError(f"this application identifies you by your {field}, and your account has none")
    return Subject(name_id=name_id, name_id_format=name_id_format, attributes=_attributes(app, fields))


def _attributes(app: SsoApplication, fields: dict[str, str | None]) -> dict[str, str]:
    mapped = {name: fields.get(field) for name, field in (app.mappings or {}).items()}
    return {name: value for name, value in mapped.items() if value}

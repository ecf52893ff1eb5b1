"""Who the service provider is told logged in: the NameID and the attributes an app maps."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idp.errors import LaunchError, ValidationError
from idp.models import CUSTOM_ATTRIBUTE_KEY, Brand, SsoApplication, User
from idp.saml.names import (
    ATTRNAME_BASIC,
    ATTRNAME_UNSPECIFIED,
    ATTRNAME_URI,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_TRANSIENT,
    NAMEID_UNSPECIFIED,
)
from idp.text import clean_text

# The user fields holding one value, which may also be the NameID.
SINGLE_VALUED_FIELDS = (
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
# Fields holding a list: every brand the user is a member of, and the distinct roles held in them.
MULTI_VALUED_FIELDS = ("brand_ids", "brand_names", "roles")
USER_FIELDS = SINGLE_VALUED_FIELDS + MULTI_VALUED_FIELDS
# A user's custom attribute, by its key: "attributes.mlsid".
CUSTOM_PREFIX = "attributes."
DEFAULT_NAME_ID_FIELD = "email"
# The app's name_id_format for an assertion without NameID, for SPs that identify users by attributes.
NO_NAME_ID = "none"

NAME_FORMATS = {"uri": ATTRNAME_URI, "basic": ATTRNAME_BASIC, "unspecified": ATTRNAME_UNSPECIFIED}
_MAPPING_KEYS = ("field", "value", "values", "name_format", "friendly_name")
MAX_MAPPED_FIELDS = 20
MAX_CONSTANT_VALUES = 50
MAX_VALUE_LENGTH = 1024
MAX_FRIENDLY_NAME = 256

FieldValue = str | list[str] | None

# Attribute names SPs ask for in their metadata (RequestedAttribute) that an import maps by itself:
# name -> (user field, FriendlyName).  eduPerson/X.500 OIDs (the SAML2 URI profile, saml2int), their
# LDAP names, and the claim URIs some SPs use.
_OID_ATTRIBUTES = {
    "urn:oid:0.9.2342.19200300.100.1.3": ("email", "mail"),
    "urn:oid:2.5.4.42": ("first_name", "givenName"),
    "urn:oid:2.5.4.4": ("last_name", "sn"),
    "urn:oid:2.16.840.1.113730.3.1.241": ("display_name", "displayName"),
    "urn:oid:2.5.4.3": ("display_name", "cn"),
    "urn:oid:2.5.4.20": ("phone_number", "telephoneNumber"),
    "urn:oid:2.5.4.10": ("brand_name", "o"),
}
WELL_KNOWN_ATTRIBUTES: dict[str, tuple[str, str | None]] = {
    **_OID_ATTRIBUTES,
    **{friendly: (field, None) for field, friendly in _OID_ATTRIBUTES.values()},
    "email": ("email", None),
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ("email", None),
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": ("first_name", None),
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": ("last_name", None),
    "http://schemas.microsoft.com/identity/claims/displayname": ("display_name", None),
}


@dataclass(frozen=True)
class Attribute:
    """One SAML Attribute: its name, NameFormat URI, optional FriendlyName, and one or more values."""

    name: str
    values: tuple[str, ...]
    name_format: str
    friendly_name: str | None = None


@dataclass(frozen=True)
class Subject:
    name_id: str | None  # None: the assertion carries no NameID (name_id_format "none")
    name_id_format: str
    attributes: tuple[Attribute, ...] = ()
    # Set for persistent identifiers, which are only meaningful between this IdP and this SP (or affiliation).
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None


@dataclass(frozen=True)
class AttributeRule:
    """A mapping, read: the user fields or the constants it sends, under which NameFormat and FriendlyName."""

    name: str
    fields: tuple[str, ...] = ()
    constants: tuple[str, ...] = ()
    name_format: str | None = None  # a URI; None: uri for URI-like names, basic otherwise
    friendly_name: str | None = None


def is_field_name(name: str, *, single_valued: bool = False) -> bool:
    """A user field a mapping (or, single-valued, the NameID) may name, custom attributes included."""
    if name.startswith(CUSTOM_PREFIX):
        return CUSTOM_ATTRIBUTE_KEY.fullmatch(name[len(CUSTOM_PREFIX) :]) is not None
    return name in (SINGLE_VALUED_FIELDS if single_valued else USER_FIELDS)


def _mapping_error(name: str, problem: str) -> ValidationError:
    return ValidationError(f"mappings.{name} {problem}", field=f"mappings.{name}")


def _field_names(name: str, value: Any) -> tuple[str, ...]:
    fields = [value] if isinstance(value, str) else value
    if not isinstance(fields, list) or not fields or len(fields) > MAX_MAPPED_FIELDS:
        raise _mapping_error(name, f"must name a user field, or list 1 to {MAX_MAPPED_FIELDS} of them")
    for field in fields:
        if not isinstance(field, str) or not is_field_name(field):
            shown = field if isinstance(field, str) else type(field).__name__
            raise _mapping_error(
                name, f"names {shown!r}, which is not a user field: {', '.join(USER_FIELDS)} or attributes.KEY"
            )
    return tuple(dict.fromkeys(fields))


def _constants(name: str, value: Any, *, many: bool) -> tuple[str, ...]:
    items = value if many else [value]
    if not isinstance(items, list) or not items or len(items) > MAX_CONSTANT_VALUES:
        raise _mapping_error(name, f"values must be a list of 1 to {MAX_CONSTANT_VALUES} strings")
    if not all(isinstance(item, str) for item in items):
        raise _mapping_error(name, "constant values must be strings")
    return tuple(clean_text(f"mappings.{name}", item, max_length=MAX_VALUE_LENGTH) for item in items)


def parse_mapping(name: str, value: Any) -> AttributeRule:
    """One mapping: a field name, a list of field names, {"value": ...}, {"values": [...]}, or an
    object {"field" | "value" | "values", "name_format"?, "friendly_name"?}; ValidationError naming it otherwise."""
    if isinstance(value, (str, list)):
        return AttributeRule(name, fields=_field_names(name, value))
    if not isinstance(value, Mapping):
        raise _mapping_error(name, "must be a user field name, a list of them, or an object")
    unknown = [key for key in value if key not in _MAPPING_KEYS]
    if unknown:
        raise _mapping_error(name, f"has an unknown key {unknown[0]!r} (known: {', '.join(_MAPPING_KEYS)})")
    sources = [key for key in ("field", "value", "values") if key in value]
    if len(sources) != 1:
        raise _mapping_error(name, "must have exactly one of field, value or values")
    name_format = value.get("name_format")
    if name_format is not None and name_format not in NAME_FORMATS:
        raise _mapping_error(name, f"name_format must be one of: {', '.join(NAME_FORMATS)}")
    friendly_name = value.get("friendly_name")
    if friendly_name is not None:
        friendly_name = clean_text(f"mappings.{name}", friendly_name, max_length=MAX_FRIENDLY_NAME)
    [source] = sources
    return AttributeRule(
        name,
        fields=_field_names(name, value["field"]) if source == "field" else (),
        constants=_constants(name, value[source], many=source == "values") if source != "field" else (),
        name_format=NAME_FORMATS[name_format] if name_format else None,
        friendly_name=friendly_name,
    )


def user_fields(
    user: User, brand: Brand, role: str, member_of: Sequence[tuple[Brand, str]] = ()
) -> dict[str, FieldValue]:
    """The fields a NameID or mapping may name; `member_of` is every (brand, role) the user holds."""
    brands = list(member_of) or [(brand, role)]
    fields: dict[str, FieldValue] = {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name,
        "phone_number": user.phone_number,
        "brand_id": brand.id,
        "brand_name": brand.name,
        "role": role,
        "brand_ids": [b.id for b, _ in brands],
        "brand_names": [b.name for b, _ in brands],
        "roles": list(dict.fromkeys(r for _, r in brands)),
    }
    for key, value in (user.attributes or {}).items():
        fields[CUSTOM_PREFIX + key] = value
    return fields


def default_name_id_format(name_id_field: str | None) -> str:
    return NAMEID_EMAIL if (name_id_field or DEFAULT_NAME_ID_FIELD) == "email" else NAMEID_UNSPECIFIED


def pairwise_id(secret: bytes, user_id: str, sp_entity_id: str) -> str:
    """A persistent NameID: stable for one user at one SP (or affiliation), unlinkable across them, and opaque."""
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
    member_of: Sequence[tuple[Brand, str]] = (),
) -> Subject:
    """`sp_entity_id` is the namespace of a persistent NameID: the SP's entityID, or the affiliation it asked for."""
    fields = user_fields(user, brand, role, member_of)
    attributes = mapped_attributes(app.mappings or {}, fields)
    name_id_format = app.name_id_format or default_name_id_format(app.name_id)
    if name_id_format == NO_NAME_ID:
        return Subject(name_id=None, name_id_format=NO_NAME_ID, attributes=attributes)
    if name_id_format == NAMEID_PERSISTENT:
        return Subject(
            name_id=pairwise_id(pairwise_secret, user.id, sp_entity_id),
            name_id_format=name_id_format,
            attributes=attributes,
            name_qualifier=idp_entity_id,
            sp_name_qualifier=sp_entity_id,
        )
    if name_id_format == NAMEID_TRANSIENT:
        name_id = "_" + secrets.token_hex(20)
    else:
        field = app.name_id or DEFAULT_NAME_ID_FIELD
        values = _values(fields.get(field))
        if not values:
            raise LaunchError(f"this application identifies you by your {field}, and your account has none")
        if len(values) > 1:
            raise LaunchError(f"this application identifies you by your {field}, and your account has several")
        [name_id] = values
    return Subject(name_id=name_id, name_id_format=name_id_format, attributes=attributes)


def _values(value: FieldValue) -> list[str]:
    """A field's non-empty values: a list gives each item, a string itself."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str) and item]


def mapped_attributes(mappings: Mapping[str, Any], fields: Mapping[str, FieldValue]) -> tuple[Attribute, ...]:
    """The attributes the mappings give for these fields; an attribute with no value is left out."""
    attributes: list[Attribute] = []
    for name, value in mappings.items():
        rule = parse_mapping(name, value)
        found = [item for field in rule.fields for item in _values(fields.get(field))] + list(rule.constants)
        values = tuple(found)
        if values:
            name_format = rule.name_format or attribute_name_format(name)
            attributes.append(Attribute(name, values, name_format, rule.friendly_name))
    return tuple(attributes)


def attribute_name_format(name: str) -> str:
    """URI-named attributes (urn:oid:..., https://...) say so; SPs such as Shibboleth map by it."""
    return ATTRNAME_URI if name.startswith(("urn:", "http://", "https://")) else ATTRNAME_BASIC

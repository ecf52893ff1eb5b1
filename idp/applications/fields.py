"""Validation of SSO application fields; every refusal names its field."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from idp.config import is_loopback_host
from idp.errors import ValidationError
from idp.saml.algorithms import SIGNATURE_ALGORITHM_NAMES
from idp.saml.attributes import NO_NAME_ID, SINGLE_VALUED_FIELDS, is_field_name, parse_mapping
from idp.saml.certificates import normalise_certificate
from idp.saml.encryption import ALGORITHMS as ENCRYPTION_ALGORITHMS
from idp.saml.names import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, NAMEID_FORMATS
from idp.text import clean_text

AUTHENTICATION_TYPES = ("SAML", "None")
SIGNED_VALUES = ("assertion", "response", "both")
NAME_ID_FORMAT_ALIASES = {urn.rsplit(":", 1)[1]: urn for urn in NAMEID_FORMATS}
NAME_ID_FORMAT_VALUES = (*NAMEID_FORMATS, NO_NAME_ID)
EDITABLE = (
    "name",
    "authentication_type",
    "url",
    "acs_url",
    "entity_id",
    "start_url",
    "signed",
    "name_id",
    "name_id_format",
    "mappings",
    "audience",
    "destination",
    "recipient",
    "issuer",
    "extra",
    "order",
    "brands",
    "sp_certificates",
    "encryption_certificate",
    "encryption_algorithm",
    "require_signed_requests",
    "allow_sha1_signatures",
    "require_mfa",
    "slo_url",
    "slo_binding",
    "signature_algorithm",
    "affiliations",
    "attribute_consuming_services",
)
# Fields of the answer that clients send back unchanged; they are ignored, not refused.
READ_ONLY = ("id", "type", "open_url", "icon", "created_at", "updated_at", "deleted_at", "acs_endpoints")
MAX_URL = 2048
MAX_EXTRA_BYTES = 16 * 1024
MAX_BRANDS = 1000
MAX_MAPPINGS = 100
MAX_AFFILIATIONS = 50
# Bindings 3.4.3 and 3.5.3: RelayState "MUST NOT exceed 80 bytes"; start_url is the RelayState we create.
MAX_RELAY_STATE_BYTES = 80


def _text(field: str, value: Any, max_length: int = 255) -> str:
    return clean_text(field, value, max_length=max_length)


def _url(field: str, value: Any, *, allow_http: bool) -> str:
    url = _text(field, value, MAX_URL)
    if any(character.isspace() for character in url):
        raise ValidationError(f"{field} must be a URL without spaces (percent-encode them)", field=field)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it is what checks it
    except ValueError:
        raise ValidationError(f"{field} must be an absolute http(s) URL", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{field} must be an absolute http(s) URL", field=field)
    if parts.username or parts.password or parts.fragment:
        raise ValidationError(f"{field} must not carry credentials or a fragment", field=field)
    if parts.scheme == "http" and not (allow_http or is_loopback_host(parts.hostname)):
        raise ValidationError(f"{field} must use https", field=field)
    return url


def _uri(field: str, value: Any) -> str:
    """An entityID-like identifier: an absolute http(s) URL or a URN."""
    uri = _text(field, value, 1024)
    try:
        parts = urlsplit(uri)
    except ValueError:
        parts = urlsplit("")
    if any(character.isspace() for character in uri):
        raise ValidationError(f"{field} must be an absolute URI without spaces", field=field)
    if (parts.scheme in ("http", "https") and parts.hostname) or (parts.scheme == "urn" and ":" in parts.path):
        return uri
    raise ValidationError(f"{field} must be an absolute URI (an http(s) URL or a urn:)", field=field)


def _choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(f"{field} must be one of: {', '.join(choices)}", field=field)
    return value


def _mappings(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("mappings must be an object of attribute name to mapping", field="mappings")
    if len(value) > MAX_MAPPINGS:
        raise ValidationError(f"mappings may hold at most {MAX_MAPPINGS} attributes", field="mappings")
    clean: dict[str, Any] = {}
    for name, mapping in value.items():
        clean_name = _text("mappings", name, 256)
        parse_mapping(clean_name, mapping)  # refuses, naming mappings.NAME, what is not a mapping
        clean[clean_name] = _clean_json(mapping, f"mappings.{clean_name}")
    return clean


def _name_id(field: str, value: Any) -> str:
    if not isinstance(value, str) or not is_field_name(value, single_valued=True):
        raise ValidationError(
            f"{field} must be one of: {', '.join(SINGLE_VALUED_FIELDS)}, or attributes.KEY (a custom attribute)",
            field=field,
        )
    return value


def _start_url(field: str, value: Any, *, allow_http: bool) -> str:
    url = _url(field, value, allow_http=allow_http)
    size = len(url.encode())
    if size > MAX_RELAY_STATE_BYTES:
        raise ValidationError(
            f"{field} is sent to the SP as RelayState, which SAML limits to {MAX_RELAY_STATE_BYTES} bytes "
            f"(Bindings 3.5.3); this one is {size} bytes: use a shorter URL, e.g. one that redirects",
            field=field,
        )
    return url


def _affiliations(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_AFFILIATIONS:
        problem = f"{field} must be a list of at most {MAX_AFFILIATIONS} affiliation entityIDs"
        raise ValidationError(problem, field=field)
    return list(dict.fromkeys(_uri(field, item) for item in value))


def _indexes(field: str, value: Any) -> list[int]:
    if not isinstance(value, list) or len(value) > 50:
        raise ValidationError(f"{field} must be a list of at most 50 indexes", field=field)
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 65535:
            raise ValidationError(f"{field} must hold whole numbers from 0 to 65535", field=field)
    return sorted(set(value))


def _extra(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("extra must be an object", field="extra")
    cleaned = _clean_json(value, "extra")
    if len(json.dumps(cleaned)) > MAX_EXTRA_BYTES:
        raise ValidationError(f"extra must be at most {MAX_EXTRA_BYTES} bytes of JSON", field="extra")
    return dict(cleaned)


def _clean_json(value: Any, field: str) -> Any:
    """Free JSON kept for clients: every string in it (keys too) follows the stored-text rules, lines allowed."""
    if isinstance(value, str):
        return clean_text(field, value, max_length=MAX_EXTRA_BYTES, multiline=True, required=False)
    if isinstance(value, Mapping):
        return {_clean_json(key, field): _clean_json(item, field) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_json(item, field) for item in value]
    return value


def _brands(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_BRANDS or not all(isinstance(b, str) and b for b in value):
        raise ValidationError(f"brands must be a list of at most {MAX_BRANDS} brand ids", field="brands")
    return list(dict.fromkeys(clean_text("brands", b, max_length=64) for b in value))


def normalise_certificate_field(field: str, value: Any) -> str:
    return normalise_certificate(value, field=field)


def _certificates(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 10:
        raise ValidationError(f"{field} must be a list of at most 10 certificates", field=field)
    return [normalise_certificate(item, field=field) for item in value]


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be true or false", field=field)
    return value


def _order(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise ValidationError("order must be a whole number between -2147483648 and 2147483647", field="order")
    return value


def _checks(allow_http: bool) -> dict[str, Callable[[str, Any], Any]]:
    def url(field: str, value: Any) -> str:
        return _url(field, value, allow_http=allow_http)

    return {
        "name": lambda field, value: _text(field, value, 200),
        "authentication_type": lambda field, value: _choice(field, value, AUTHENTICATION_TYPES),
        "url": url,
        "acs_url": url,
        "start_url": lambda field, value: _start_url(field, value, allow_http=allow_http),
        "destination": url,
        "recipient": url,
        "entity_id": _uri,
        "audience": _uri,
        "issuer": _uri,
        "signed": lambda field, value: _choice(field, value, SIGNED_VALUES),
        "name_id": _name_id,
        "name_id_format": lambda field, value: _choice(
            field, NAME_ID_FORMAT_ALIASES.get(value, value) if isinstance(value, str) else value, NAME_ID_FORMAT_VALUES
        ),
        "mappings": lambda field, value: _mappings(value),
        "extra": lambda field, value: _extra(value),
        "order": lambda field, value: _order(value),
        "brands": lambda field, value: _brands(value),
        "sp_certificates": _certificates,
        "encryption_certificate": normalise_certificate_field,
        "encryption_algorithm": lambda field, value: _choice(field, value, ENCRYPTION_ALGORITHMS),
        "require_signed_requests": _flag,
        "allow_sha1_signatures": _flag,
        "require_mfa": _flag,
        "slo_url": url,
        "slo_binding": lambda field, value: _choice(field, value, (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)),
        "signature_algorithm": lambda field, value: _choice(field, value, SIGNATURE_ALGORITHM_NAMES),
        "affiliations": _affiliations,
        "attribute_consuming_services": _indexes,
    }


REQUIRED_NOT_NULL = ("name", "authentication_type", "brands")
NULL_MEANS: dict[str, Any] = {
    "order": 0,
    "sp_certificates": [],
    "require_signed_requests": False,
    "allow_sha1_signatures": False,
    "affiliations": [],
    "attribute_consuming_services": [],
    "require_mfa": False,
}


def clean_fields(payload: Mapping[str, Any], *, allow_http: bool) -> dict[str, Any]:
    """The editable fields present in `payload`, checked and normalised one by one."""
    unknown = [key for key in payload if key not in EDITABLE and key not in READ_ONLY]
    if unknown:
        raise ValidationError(f"unknown field: {unknown[0]}", field=unknown[0])
    checks = _checks(allow_http)
    clean: dict[str, Any] = {}
    for field in EDITABLE:
        if field not in payload:
            continue
        value = payload[field]
        if field == "name_id" and value == "null":
            value = None  # the documented example sends the string "null" for "use the default"
        if value is None:
            if field in REQUIRED_NOT_NULL:
                raise ValidationError(f"{field} is required", field=field)
            clean[field] = NULL_MEANS.get(field)
        else:
            clean[field] = checks[field](field, value)
    return clean


def check_complete(fields: Mapping[str, Any]) -> None:
    """The rules that tie fields together, checked on the application as it will be saved."""
    for required in ("name", "authentication_type"):
        if not fields.get(required):
            raise ValidationError(f"{required} is required", field=required)
    if fields["authentication_type"] == "SAML":
        for required in ("acs_url", "entity_id"):
            if not fields.get(required):
                raise ValidationError(f"{required} is required for a SAML application", field=required)
    elif not fields.get("url"):
        raise ValidationError("url is required for an application without SAML", field="url")

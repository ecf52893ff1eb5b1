"""The application fields a service provider's own metadata decides."""

from __future__ import annotations

from typing import Any

from idp.applications.fields import clean_fields
from idp.models import SsoApplication
from idp.saml.algorithms import signature_algorithm_for
from idp.saml.attributes import NAME_FORMATS, WELL_KNOWN_ATTRIBUTES
from idp.saml.names import BINDING_HTTP_REDIRECT, NAMEID_FORMATS
from idp.saml.sp_metadata import SpMetadata

_NAME_FORMAT_NAMES = {uri: name for name, uri in NAME_FORMATS.items()}


def fields_from_metadata(
    meta: SpMetadata,
    *,
    allow_http: bool,
    existing: SsoApplication | None = None,
    key_types: frozenset[str] = frozenset({"rsa"}),
) -> dict[str, Any]:
    """The app fields the metadata decides: entityID, ACS URLs, certificates, SLO endpoint, the
    signature algorithm (one the IdP has a key for: `key_types`), the attribute consuming services;
    and, where the app (`existing`, or a new one) has none yet, the NameID format and the mappings of
    the well-known attributes it requests."""
    acs = meta.assertion_consumer_services
    slo = sorted(meta.single_logout_services, key=lambda e: e.binding != BINDING_HTTP_REDIRECT)
    mappings = _mappings(meta, (existing.mappings if existing else None) or {})
    checked = clean_fields(
        {
            "entity_id": meta.entity_id,
            "acs_url": acs[0].location,
            **({"slo_url": slo[0].location} if slo else {}),
            **({"mappings": mappings} if mappings else {}),
        },
        allow_http=allow_http,
    )
    for endpoint in acs[1:]:
        clean_fields({"acs_url": endpoint.location}, allow_http=allow_http)
    fields: dict[str, Any] = {
        "entity_id": checked["entity_id"],
        "acs_url": checked["acs_url"],
        "acs_endpoints": [{"url": e.location, "index": e.index, "is_default": e.is_default} for e in acs],
        "sp_certificates": meta.signing_certificates,
        "encryption_certificate": meta.encryption_certificates[0] if meta.encryption_certificates else None,
        "require_signed_requests": meta.authn_requests_signed,
        "slo_url": checked.get("slo_url"),
        "slo_binding": slo[0].binding if slo else None,
        "attribute_consuming_services": meta.attribute_consuming_services,
    }
    if mappings:
        fields["mappings"] = checked["mappings"]
    algorithm = signature_algorithm_for(meta.signing_methods, meta.digest_methods, key_types=key_types)
    if algorithm is not None:
        fields["signature_algorithm"] = algorithm
    name_id_format = next((f for f in meta.name_id_formats if f in NAMEID_FORMATS), None)
    if name_id_format is not None and (existing is None or existing.name_id_format is None):
        fields["name_id_format"] = name_id_format
    return fields


def _mappings(meta: SpMetadata, current: dict[str, Any]) -> dict[str, Any]:
    """The app's mappings plus one for each well-known attribute the SP requests and the app does not map."""
    added: dict[str, Any] = {}
    for requested in meta.requested_attributes:
        known = WELL_KNOWN_ATTRIBUTES.get(requested.name)
        if known is None or requested.name in current:
            continue
        field, friendly_name = known
        mapping: dict[str, Any] = {"field": field}
        name_format = _NAME_FORMAT_NAMES.get(requested.name_format or "")
        if name_format:
            mapping["name_format"] = name_format
        if requested.friendly_name or friendly_name:
            mapping["friendly_name"] = requested.friendly_name or friendly_name
        added[requested.name] = mapping
    return {**current, **added} if added else {}

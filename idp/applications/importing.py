"""The application fields a service provider's own metadata decides."""

from __future__ import annotations

from typing import Any

from idp.applications.fields import clean_fields
from idp.saml.names import BINDING_HTTP_REDIRECT
from idp.saml.sp_metadata import SpMetadata


def fields_from_metadata(meta: SpMetadata, *, allow_http: bool) -> dict[str, Any]:
    """The app fields the metadata decides: entityID, ACS URLs, certificates, SLO endpoint."""
    acs = meta.assertion_consumer_services
    slo = sorted(meta.single_logout_services, key=lambda e: e.binding != BINDING_HTTP_REDIRECT)
    checked = clean_fields(
        {
            "entity_id": meta.entity_id,
            "acs_url": acs[0].location,
            **({"slo_url": slo[0].location} if slo else {}),
        },
        allow_http=allow_http,
    )
    for endpoint in acs[1:]:
        clean_fields({"acs_url": endpoint.location}, allow_http=allow_http)
    return {
        "entity_id": checked["entity_id"],
        "acs_url": checked["acs_url"],
        "acs_endpoints": [{"url": e.location, "index": e.index, "is_default": e.is_default} for e in acs],
        "sp_certificates": meta.signing_certificates,
        "encryption_certificate": meta.encryption_certificates[0] if meta.encryption_certificates else None,
        "require_signed_requests": meta.authn_requests_signed,
        "slo_url": checked.get("slo_url"),
        "slo_binding": slo[0].binding if slo else None,
    }

"""Creating or updating a brand's SSO application from the service provider's own metadata."""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.applications.fields import clean_fields
from idp.applications.service import new_app, require_manager
from idp.config import Settings
from idp.errors import NotFound
from idp.models import SsoApplication, User
from idp.saml.names import BINDING_HTTP_REDIRECT
from idp.saml.sp_metadata import SpMetadata, parse_sp_metadata
from idp.store import Store


@dataclass(frozen=True)
class Imported:
    app: SsoApplication
    created: bool


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


def import_metadata(
    store: Store,
    settings: Settings,
    brand_id: str,
    xml: bytes,
    *,
    actor: User | None,
    name: str | None = None,
    entity_id: str | None = None,
) -> Imported:
    """The app of this brand with the metadata's entityID, updated; or a new one allowed for the brand.

    `actor` None means the operator at the command line, who needs no brand role.
    """
    if actor is not None:
        require_manager(store, actor, brand_id)
    elif store.brand(brand_id) is None:
        raise NotFound("no such brand", field="brand")
    meta = parse_sp_metadata(xml, entity_id=entity_id)
    fields = fields_from_metadata(meta, allow_http=settings.allow_http_urls)
    if name is not None:
        fields["name"] = clean_fields({"name": name}, allow_http=False)["name"]
    now = time.time()
    existing = next((app for app in store.apps_owned_by(brand_id) if app.entity_id == meta.entity_id), None)
    if existing is not None:
        app = dataclasses.replace(existing, **fields, updated_at=now)
        store.save_app(app)
        return Imported(app, created=False)
    fields.setdefault("name", urlsplit(meta.entity_id).hostname or meta.entity_id)
    app = new_app(
        settings, str(uuid.uuid4()), brand_id, {"authentication_type": "SAML", "brands": [brand_id], **fields}, now=now
    )
    store.save_app(app)
    return Imported(app, created=True)

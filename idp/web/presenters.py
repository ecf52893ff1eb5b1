"""JSON shapes of the public API, as Rechat documents them."""

from __future__ import annotations

from typing import Any

from idp.models import Brand, SsoApplication, User
from idp.saml.sso import open_url
from idp.web import Services


def user_json(user: User) -> dict[str, Any]:
    return {
        "type": "user",
        "username": None,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": user.display_name,
        "email": user.email,
        "phone_number": user.phone_number,
        "created_at": user.created_at,
        "id": user.id,
        "updated_at": user.updated_at,
        "user_status": "Active" if user.is_active else "Disabled",
        "email_confirmed": user.email_confirmed,
        "mfa_enabled": user.mfa_enabled,
        "email_2fa_enabled": user.email_2fa_enabled,
        "deleted_at": None,
    }


def brand_json(brand: Brand, lineage: list[Brand] | None = None) -> dict[str, Any]:
    """A brand with its `parent` expanded (recursively) and `parents` as ids, nearest first."""
    parents = (lineage or [brand])[1:]
    return {
        "id": brand.id,
        "created_at": brand.created_at,
        "updated_at": brand.updated_at,
        "parent": brand_json(parents[0], parents) if parents else None,
        "name": brand.name,
        "deleted_at": None,
        "brand_type": brand.brand_type,
        "parents": [parent.id for parent in parents] or None,
        "type": "brand",
    }


def icon_url(services: Services, app: SsoApplication) -> str | None:
    if not app.icon_type:
        return None
    return f"{services.settings.base_url}/sso_applications/{app.id}/icon?v={app.icon_version}"


def app_json(
    services: Services,
    app: SsoApplication,
    *,
    user: User,
    brand_id: str,
    launchable: bool = True,
    mfa: bool = False,
    brands: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": app.id,
        "created_at": app.created_at,
        "updated_at": app.updated_at,
        "deleted_at": app.deleted_at,
        "authentication_type": app.authentication_type,
        "url": app.url,
        "acs_url": app.acs_url,
        "entity_id": app.entity_id,
        "start_url": app.start_url,
        "signed": app.signed,
        "name": app.name,
        "name_id": app.name_id,
        "name_id_format": app.name_id_format,
        "mappings": app.mappings,
        "audience": app.audience,
        "destination": app.destination,
        "recipient": app.recipient,
        "order": app.order,
        "issuer": app.issuer,
        "extra": app.extra,
        "type": "sso_application",
        "open_url": open_url(
            services.settings, services.keyring, user_id=user.id, app_id=app.id, brand_id=brand_id, mfa=mfa
        )
        if launchable
        else None,
        "icon": icon_url(services, app),
        "brands": brands if brands is not None else app.brands,
        "acs_endpoints": app.acs_endpoints,
        "sp_certificates": app.sp_certificates,
        "encryption_certificate": app.encryption_certificate,
        "encryption_algorithm": app.encryption_algorithm,
        "require_signed_requests": app.require_signed_requests,
        "slo_url": app.slo_url,
        "slo_binding": app.slo_binding,
    }
    return body

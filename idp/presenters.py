"""JSON shapes of the public API, as Rechat documents them; shared by the web layer and the `idp` command."""

from __future__ import annotations

from typing import Any

from idp.accounts.branding import logo_path
from idp.applications.service import ShownApp
from idp.models import Brand, Client, Membership, SsoApplication, User


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
        "user_status": "Deleted" if user.deleted_at is not None else ("Active" if user.is_active else "Disabled"),
        "email_confirmed": user.email_confirmed,
        "mfa_enabled": user.mfa_enabled,
        "email_2fa_enabled": user.email_2fa_enabled,
        "deleted_at": user.deleted_at,
        "attributes": user.attributes,
    }


def member_json(user: User, membership: Membership) -> dict[str, Any]:
    """A brand member: the user, with their role in that brand."""
    return {**user_json(user), "brand": membership.brand_id, "role": membership.role}


def client_json(client: Client) -> dict[str, Any]:
    """An API client, without its secret (shown once, at creation, and stored hashed)."""
    return {"type": "client", "client_id": client.id, "name": client.name, "created_at": client.created_at}


def brand_json(brand: Brand, lineage: list[Brand] | None = None, *, base_url: str = "") -> dict[str, Any]:
    """A brand with its `parent` expanded (recursively) and `parents` as ids, nearest first.

    Its own appearance in Rechat's objects: the accent colour as `palette.primary`, the display name
    as `messages.display_name`, the logo's URL as `assets.logo` (each null when the brand sets none).
    """
    parents = (lineage or [brand])[1:]
    logo = f"{base_url}{logo_path(brand.id, brand.logo_version)}" if brand.logo_version > 0 else None
    return {
        "id": brand.id,
        "created_at": brand.created_at,
        "updated_at": brand.updated_at,
        "palette": {"primary": brand.accent_color, "type": "brand_palette"},
        "assets": {"logo": logo, "type": "brand_assets"},
        "messages": {"display_name": brand.display_name, "type": "brand_messages"},
        "parent": brand_json(parents[0], parents, base_url=base_url) if parents else None,
        "name": brand.name,
        "deleted_at": None,
        "brand_type": brand.brand_type,
        "parents": [parent.id for parent in parents] or None,
        "type": "brand",
        "hostnames": list(brand.hostnames) or None,
    }


def icon_url(base_url: str, app: SsoApplication) -> str | None:
    if not app.icon_type:
        return None
    return f"{base_url}/sso_applications/{app.id}/icon?v={app.icon_version}"


def brands_json(lineages: list[list[Brand]]) -> list[dict[str, Any]]:
    """Allowed brands expanded, each with its `parent` expanded."""
    return [brand_json(lineage[0], lineage) for lineage in lineages]


def app_json(shown: ShownApp, *, base_url: str, brands: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    app = shown.app
    return {
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
        "open_url": shown.open_url,
        "icon": icon_url(base_url, app),
        "brands": brands if brands is not None else app.brands,
        "acs_endpoints": app.acs_endpoints,
        "sp_certificates": app.sp_certificates,
        "encryption_certificate": app.encryption_certificate,
        "encryption_algorithm": app.encryption_algorithm,
        "require_signed_requests": app.require_signed_requests,
        "allow_sha1_signatures": app.allow_sha1_signatures,
        "require_mfa": app.require_mfa,
        "slo_url": app.slo_url,
        "slo_binding": app.slo_binding,
        "signature_algorithm": app.signature_algorithm,
        "affiliations": app.affiliations,
        "attribute_consuming_services": app.attribute_consuming_services,
    }

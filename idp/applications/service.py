"""Creating, changing, listing and deleting a brand's SSO applications, with the brand rules applied."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idp.applications.access import standing
from idp.applications.fields import check_complete, clean_fields
from idp.config import Settings
from idp.errors import Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationError
from idp.models import Icon, SsoApplication, User
from idp.store import Store


@dataclass(frozen=True)
class ListedApp:
    app: SsoApplication
    launchable: bool  # allowed for the listing brand, so the caller gets an open_url


@dataclass(frozen=True)
class AppPage:
    items: list[ListedApp]
    total: int


def _require_brand(store: Store, brand_id: str) -> None:
    if store.brand(brand_id) is None:
        raise NotFound("no such brand", field="brand")


def require_manager(store: Store, actor: User, brand_id: str) -> None:
    _require_brand(store, brand_id)
    if not standing(store, actor.id, brand_id).is_admin:
        raise Forbidden("only an admin of this brand or of a parent brand may change its applications")


def owned_app(store: Store, brand_id: str, app_id: str) -> SsoApplication:
    app = store.app(app_id)
    if app is None or app.owner_brand_id != brand_id:
        raise NotFound("no such application in this brand", field="id")
    return app


def _check_brands(store: Store, actor: User, brand_ids: list[str]) -> None:
    """Apps may be shared only with brands the actor administers (directly or from above)."""
    for brand_id in brand_ids:
        if store.brand(brand_id) is None:
            raise ValidationError(f"brands: no brand {brand_id}", field="brands")
        if not standing(store, actor.id, brand_id).is_admin:
            raise ValidationError(f"brands: you do not administer brand {brand_id}", field="brands")


def create_app(
    store: Store, settings: Settings, actor: User, brand_id: str, payload: Mapping[str, Any]
) -> SsoApplication:
    require_manager(store, actor, brand_id)
    fields = {"brands": [brand_id], **clean_fields(payload, allow_http=settings.allow_http_urls)}
    check_complete(fields)
    _check_brands(store, actor, fields["brands"])
    now = time.time()
    app_id = str(uuid.uuid4())
    app = new_app(settings, app_id, brand_id, fields, now=now)
    store.save_app(app)
    return app


def new_app(settings: Settings, app_id: str, brand_id: str, fields: dict[str, Any], *, now: float) -> SsoApplication:
    if fields.get("issuer") is None:
        # Each app gets an IdP entityID of its own, fixed at creation so SPs can rely on it.
        fields = {**fields, "issuer": f"{settings.base_url}/sso_applications/{app_id}/metadata"}
    return SsoApplication(id=app_id, owner_brand_id=brand_id, created_at=now, updated_at=now, **fields)


def update_app(
    store: Store, settings: Settings, actor: User, brand_id: str, app_id: str, payload: Mapping[str, Any]
) -> SsoApplication:
    """Fields present in the body replace the stored ones; absent fields keep their value."""
    require_manager(store, actor, brand_id)
    app = owned_app(store, brand_id, app_id)
    changes = clean_fields(payload, allow_http=settings.allow_http_urls)
    if "issuer" in changes and changes["issuer"] is None:
        changes["issuer"] = app.issuer
    merged = {**dataclasses.asdict(app), **changes}
    check_complete(merged)
    if "brands" in changes:
        _check_brands(store, actor, [b for b in changes["brands"] if b not in app.brands])
    if "acs_url" in changes and changes["acs_url"] not in {e["url"] for e in app.acs_endpoints}:
        # A new ACS typed by hand replaces the ones the SP's metadata listed: none stays registered unseen.
        changes["acs_endpoints"] = []
    updated = dataclasses.replace(app, **changes, updated_at=time.time())
    store.save_app(updated)
    return updated


def delete_app(store: Store, actor: User, brand_id: str, app_id: str) -> None:
    require_manager(store, actor, brand_id)
    app = owned_app(store, brand_id, app_id)
    store.save_app(dataclasses.replace(app, deleted_at=time.time()))


def set_app_brands(store: Store, actor: User, brand_id: str, app_id: str, brands: Any) -> SsoApplication:
    require_manager(store, actor, brand_id)
    app = owned_app(store, brand_id, app_id)
    if brands is None:
        raise ValidationError("brands is required", field="brands")
    new_brands = clean_fields({"brands": brands}, allow_http=False)["brands"]
    _check_brands(store, actor, [b for b in new_brands if b not in app.brands])
    updated = dataclasses.replace(app, brands=new_brands, updated_at=time.time())
    store.save_app(updated)
    return updated


def list_apps(store: Store, actor: User, brand_id: str, *, start: int = 0, limit: int | None = None) -> AppPage:
    """What a member of the brand sees, ordered by `order` then name.

    Everyone sees the apps allowed for the brand or a parent brand (with an
    open_url); admins also see the apps the brand owns but shares elsewhere.
    """
    _require_brand(store, brand_id)
    where = standing(store, actor.id, brand_id)
    if not where.is_member:
        raise Forbidden("you are not a member of this brand")
    allowed = {app.id: app for app in store.apps_allowed_for(where.lineage)}
    listed = [ListedApp(app, True) for app in allowed.values()]
    if where.is_admin:
        listed += [ListedApp(app, False) for app in store.apps_owned_by(brand_id) if app.id not in allowed]
    listed.sort(key=lambda item: (item.app.order, item.app.name.lower(), item.app.id))
    end = None if limit is None else start + limit
    return AppPage(items=listed[start:end], total=len(listed))


_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image_type(data: bytes) -> str | None:
    """The content type of a raster image, from its first bytes; SVG is refused (it can carry script)."""
    for signature, content_type in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def set_app_icon(
    store: Store, settings: Settings, actor: User, brand_id: str, app_id: str, data: bytes
) -> SsoApplication:
    require_manager(store, actor, brand_id)
    app = owned_app(store, brand_id, app_id)
    if len(data) > settings.icon_max_bytes:
        raise PayloadTooLarge(f"icon must be at most {settings.icon_max_bytes} bytes", field="icon")
    content_type = sniff_image_type(data)
    if content_type is None:
        raise UnsupportedMediaType("icon must be a PNG, JPEG, GIF or WebP image", field="icon")
    store.save_icon(app.id, Icon(content_type, data))
    updated = dataclasses.replace(
        app, icon_type=content_type, icon_version=app.icon_version + 1, updated_at=time.time()
    )
    store.save_app(updated)
    return updated


def app_icon(store: Store, app_id: str) -> Icon:
    app = store.app(app_id)
    icon = store.icon(app_id) if app is not None and app.icon_type else None
    if icon is None:
        raise NotFound("no icon for this application")
    return icon

"""A brand's settings as its admins change them: its name, host names and appearance (display name,
logo, accent colour), each value checked and refusals naming the field."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.applications.access import standing
from idp.applications.icons import reencode_icon
from idp.config import Settings
from idp.contrast import HEX_COLOR
from idp.errors import Conflict, Forbidden, NotFound, ValidationError
from idp.models import Brand, Icon, User
from idp.store import Store
from idp.telemetry.audit import AuditEvent, record
from idp.text import clean_text

MAX_HOSTNAMES = 20
# A DNS name as RFC 1123 allows a host's: labels of letters, digits and inner hyphens, 63 at most, 253 in all,
# with at least two labels and a last one that is not all digits (so that no IP address passes for one).
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@dataclass(frozen=True)
class Appearance:
    """What a settings form or an API call may change; a field left None is kept as it is.

    `display_name` and `accent_color` are cleared by an empty string; `hostnames` by an empty list.
    """

    name: str | None = None
    display_name: str | None = None
    accent_color: str | None = None
    hostnames: list[str] | None = None


def clean_hostname(value: object, *, field: str = "hostnames") -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field}: each host name must be a string", field=field)
    name = value.strip().lower().removesuffix(".")
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError(
            f"{field}: {value!r} is not a valid DNS host name (such as login.example.com)", field=field
        )
    return name


def clean_hostnames(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError("hostnames must be a list of host names", field="hostnames")
    names: list[str] = []
    for item in value:
        name = clean_hostname(item)
        if name not in names:
            names.append(name)
    if len(names) > MAX_HOSTNAMES:
        raise ValidationError(f"hostnames: at most {MAX_HOSTNAMES} host names", field="hostnames")
    return names


def clean_color(value: object, *, field: str = "accent_color") -> str | None:
    """A colour as "#rrggbb" (lower case); an empty value clears it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not HEX_COLOR.fullmatch(value.strip()):
        raise ValidationError(f"{field} must be a colour written #rrggbb, such as #0b57d0", field=field)
    return value.strip().lower()


class BrandSettings:
    def __init__(self, store: Store, *, logo_max_bytes: int, service_hostname: str | None = None) -> None:
        """`service_hostname`: the host of the service's own URL, which no brand may claim (its login
        page, reached without a brand's host name, would otherwise show that brand to everyone)."""
        self.store = store
        self.logo_max_bytes = logo_max_bytes
        self.service_hostname = (service_hostname or "").lower().removesuffix(".") or None

    @classmethod
    def of(cls, store: Store, settings: Settings) -> BrandSettings:
        return cls(store, logo_max_bytes=settings.icon_max_bytes, service_hostname=urlsplit(settings.base_url).hostname)

    def brand(self, actor: User | None, brand_id: str) -> Brand:
        """The brand, to its admins (directly or through a brand above it); the `idp` command (None) may see any."""
        brand = self.store.brand(brand_id)
        if brand is None:
            raise NotFound("no such brand", field="brand")
        if actor is not None and not standing(self.store, actor.id, brand.id).is_admin:
            raise Forbidden("only an admin of this brand or of a parent brand may see or change its settings")
        return brand

    def update(self, actor: User | None, brand_id: str, changes: Appearance) -> Brand:
        brand = self.brand(actor, brand_id)
        values: dict[str, Any] = {}
        if changes.name is not None:
            values["name"] = clean_text("name", changes.name, max_length=200)
        if changes.display_name is not None:
            shown = clean_text("display_name", changes.display_name, max_length=200, required=False)
            values["display_name"] = shown or None
        if changes.accent_color is not None:
            values["accent_color"] = clean_color(changes.accent_color)
        if changes.hostnames is not None:
            values["hostnames"] = clean_hostnames(changes.hostnames)
            if self.service_hostname in values["hostnames"]:
                raise ValidationError(
                    f"hostnames: {self.service_hostname} is the service's own host name; no brand may claim it",
                    field="hostnames",
                )
        updated = dataclasses.replace(brand, **values, updated_at=time.time())
        self._save(updated)
        changed = sorted(name for name, value in values.items() if getattr(brand, name) != value)
        _audit(actor, "brand.update", brand, fields=",".join(changed))
        return updated

    def set_logo(self, actor: User | None, brand_id: str, data: bytes) -> Brand:
        brand = self.brand(actor, brand_id)
        logo = reencode_icon(data, max_bytes=self.logo_max_bytes, field="logo")
        self.store.save_brand_logo(brand.id, logo)
        updated = dataclasses.replace(brand, logo_version=abs(brand.logo_version) + 1, updated_at=time.time())
        self._save(updated)
        _audit(actor, "brand.logo", brand, change="set")
        return updated

    def drop_logo(self, actor: User | None, brand_id: str) -> Brand:
        brand = self.brand(actor, brand_id)
        self.store.drop_brand_logo(brand.id)
        # The version is kept negative, not reset, so that a later logo never reuses a URL a cache still holds.
        updated = dataclasses.replace(brand, logo_version=-abs(brand.logo_version), updated_at=time.time())
        self._save(updated)
        _audit(actor, "brand.logo", brand, change="removed")
        return updated

    def logo(self, brand_id: str) -> Icon:
        """The logo to serve (anyone may fetch it: the login page shows it before sign-in)."""
        brand = self.store.brand(brand_id)
        logo = self.store.brand_logo(brand_id) if brand is not None and brand.logo_version > 0 else None
        if logo is None:
            raise NotFound("no logo for this brand")
        return logo

    def _save(self, brand: Brand) -> None:
        try:
            self.store.save_brand(brand)
        except Conflict as taken:
            name = (taken.field or "").partition(":")[2]
            raise Conflict(f"hostnames: {name} is already a host name of another brand", field="hostnames") from None


def _audit(actor: User | None, action: str, brand: Brand, **details: str) -> None:
    record(
        AuditEvent(
            action, actor=actor.id if actor else None, target=f"brand:{brand.id}", brand_ids=[brand.id], details=details
        )
    )


def appearance_from_api(body: Mapping[str, Any]) -> Appearance:
    """The changes a PUT /brands/:brand body asks for, in Rechat's brand shape.

    `name`, `hostnames`, `palette.primary` (the accent colour) and `messages.display_name` may be
    changed; the read-only fields of the shape, sent back as GET gave them, are ignored; anything
    else is refused naming it.
    """
    unknown = sorted(set(body) - _API_FIELDS - _READ_ONLY)
    if unknown:
        raise ValidationError(f"{unknown[0]} cannot be changed here", field=unknown[0])
    palette = _object(body, "palette", {"primary"})
    messages = _object(body, "messages", {"display_name"})
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ValidationError("name must be a string", field="name")
    shown = messages.get("display_name", _KEEP)
    if shown not in (_KEEP, None):
        clean_text("messages.display_name", shown, max_length=200, required=False)
    accent = palette.get("primary", _KEEP)
    if accent not in (_KEEP, None):
        clean_color(accent, field="palette.primary")
    return Appearance(
        name=name,
        display_name=None if shown is _KEEP else (shown or ""),
        accent_color=None if accent is _KEEP else (accent or ""),
        hostnames=clean_hostnames(body["hostnames"]) if "hostnames" in body else None,
    )


_KEEP: Any = object()
_API_FIELDS = {"name", "hostnames", "palette", "messages"}
_READ_ONLY = {
    "id", "type", "created_at", "updated_at", "deleted_at", "parent", "parents", "brand_type", "assets",
    "training", "member_count", "base_url",
}  # fmt: skip


def _object(body: Mapping[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object", field=name)
    unknown = sorted(set(value) - allowed - {"type"})
    if unknown:
        raise ValidationError(f"{name}.{unknown[0]} cannot be changed here", field=f"{name}.{unknown[0]}")
    return value

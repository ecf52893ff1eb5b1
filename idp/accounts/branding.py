"""How a brand shows itself to its people: its name, logo and accent colour, on pages and in mails.

A brand shows what it set, and what it left unset as the nearest brand above it shows it: an office
of a brokerage that set only a logo keeps the brokerage's accent colour and its own name.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.contrast import Palette, palette
from idp.models import Brand, User
from idp.store import Store


@dataclass(frozen=True)
class BrandLook:
    brand_id: str
    name: str  # the display name, else the brand's name
    logo_url: str | None  # same-origin, so that the pages' CSP (img-src 'self') holds
    palette: Palette


def logo_path(brand_id: str, version: int) -> str:
    return f"/brands/{brand_id}/logo?v={version}"


def look_of(store: Store, brand: Brand) -> BrandLook:
    lineage = store.brand_lineage(brand.id) or [brand]
    name = next((b.display_name for b in lineage if b.display_name), None) or brand.name
    accent = next((b.accent_color for b in lineage if b.accent_color), None)
    with_logo = next((b for b in lineage if b.logo_version > 0), None)
    logo = logo_path(with_logo.id, with_logo.logo_version) if with_logo is not None else None
    return BrandLook(brand.id, name, logo, palette(accent))


def normal_hostname(host: str | None) -> str | None:
    """The host name of a Host header value: lower case, without a port or a final dot; None if it has none."""
    if not host:
        return None
    name = host.strip().lower()
    if name.startswith("["):  # an IPv6 literal never names a brand
        return None
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return name.rstrip(".") or None


class Looks:
    """The brand a page or mail is dressed in."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def by_id(self, brand_id: str | None) -> BrandLook | None:
        brand = self.store.brand(brand_id) if brand_id else None
        return look_of(self.store, brand) if brand is not None else None

    def for_request(self, *, host: str | None, hint: str | None) -> BrandLook | None:
        """The login page's brand: the brand whose `hostnames` include the request's host; on a host no
        brand lists, the brand the `?brand=` hint names (an unknown id shows no brand)."""
        hostname = normal_hostname(host)
        brand = self.store.brand_by_hostname(hostname) if hostname else None
        if brand is not None:
            return look_of(self.store, brand)
        return self.by_id(hint)

    def of_user(self, user: User) -> BrandLook | None:
        """A user's brand: of their memberships, the first by brand name (then id); None for no brand."""
        brands = [b for m in self.store.memberships_of(user.id) if (b := self.store.brand(m.brand_id)) is not None]
        if not brands:
            return None
        first = min(brands, key=lambda b: (b.name.lower(), b.id))
        return look_of(self.store, first)

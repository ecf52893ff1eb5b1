"""The console's brand pages: the tree of brands an admin administers, the switcher, and one brand's overview."""

from __future__ import annotations

from urllib.parse import quote

from idp.console.seat import Seats
from idp.signin.outcomes import Browser, Outcome, Redirect
from idp.store import Store


def brand_path(brand_id: str, section: str = "") -> str:
    """The console's address of a brand (and of one of its sections)."""
    return f"/admin/brands/{quote(brand_id, safe='')}" + (f"/{section}" if section else "")


class BrandsConsole:
    def __init__(self, seats: Seats, store: Store) -> None:
        self.seats = seats
        self.store = store

    def tree(self, browser: Browser) -> Outcome:
        seat = self.seats.take(browser, path="/admin")
        return seat.page("admin/brands.html")

    def switch(self, browser: Browser, *, brand_id: str) -> Outcome:
        """The switcher's choice (a plain GET form, so it works without script): on to that brand."""
        seat = self.seats.take(browser, path="/admin", brand_id=brand_id)
        assert seat.brand is not None
        return Outcome(Redirect(brand_path(seat.brand.id), 303))

    def overview(self, browser: Browser, *, brand_id: str) -> Outcome:
        seat = self.seats.take(browser, path=brand_path(brand_id), brand_id=brand_id)
        assert seat.brand is not None
        brand = seat.brand
        parent = self.store.brand(brand.parent_id) if brand.parent_id else None
        return seat.page(
            "admin/brand.html",
            parent=parent,
            children=sorted(self.store.child_brands(brand.id), key=lambda b: b.name.lower()),
            app_count=len(self.store.apps_owned_by(brand.id)),
            member_count=len(self.store.memberships_in(brand.id)),
        )

"""The console's Settings section of a brand: its display name, host names, logo and accent colour."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from idp.accounts.branding import look_of
from idp.applications.brand_settings import Appearance, BrandSettings, clean_color, clean_hostnames
from idp.console.brands import brand_path
from idp.console.seat import Seat, Seats
from idp.errors import IdpError
from idp.models import Brand
from idp.signin.outcomes import Browser, Outcome, Redirect
from idp.store import Store
from idp.text import clean_text

SECTION = "settings"
NOTICES = {
    "saved": "The settings are saved.",
    "logo": "The logo is saved.",
    "logo-removed": "The logo is removed.",
}


@dataclass(frozen=True)
class SettingsForm:
    """What the settings form sent. The colour comes twice: from the colour picker and from the text
    field beside it; whichever the admin changed from the colour the form was shown with wins."""

    display_name: str
    hostnames: str  # one a line (commas separate them too)
    accent_color: str
    accent_color_shown: str  # the text field's value when the form was shown
    accent_picker: str
    accent_picker_shown: str  # the picker's (it cannot show "none": an unset colour shows the default)

    @property
    def accent(self) -> str:
        text, picked = self.accent_color.strip(), self.accent_picker.strip()
        if (
            text.lower() == self.accent_color_shown.strip().lower()
            and picked.lower() != self.accent_picker_shown.lower()
        ):
            return picked
        return text


def _hostname_list(text: str) -> list[str]:
    """One name a line (or between commas): a line with a space in it is one bad name, said as typed."""
    return [name.strip() for name in re.split(r"[\r\n,]+", text) if name.strip()]


class SettingsConsole:
    def __init__(self, seats: Seats, store: Store, brand_settings: BrandSettings) -> None:
        self.seats = seats
        self.store = store
        self.brand_settings = brand_settings

    def _seat(self, browser: Browser, brand_id: str) -> tuple[Seat, Brand]:
        seat = self.seats.take(browser, path=brand_path(brand_id, SECTION), brand_id=brand_id)
        assert seat.brand is not None
        return seat, seat.brand

    def _page(
        self,
        seat: Seat,
        brand: Brand,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        notice: str | None = None,
        status: int = 200,
    ) -> Outcome:
        shown = values or {
            "display_name": brand.display_name or "",
            "hostnames": "\n".join(brand.hostnames),
            "accent_color": brand.accent_color or "",
        }
        look = look_of(self.store, brand)
        return seat.page(
            "admin/settings.html",
            status,
            settings=brand,
            values=shown,
            errors=errors or {},
            notice=notice,
            look=look,
            # What the colour picker starts at: it cannot show "none", so an unset colour shows the one in use.
            picker=clean_or_none(shown["accent_color"]) or look.palette.accent,
        )

    def show(self, browser: Browser, *, brand_id: str, notice: str | None = None) -> Outcome:
        seat, brand = self._seat(browser, brand_id)
        return self._page(seat, brand, notice=NOTICES.get(notice or ""))

    def save(self, browser: Browser, *, brand_id: str, form: SettingsForm) -> Outcome:
        seat, brand = self._seat(browser, brand_id)
        values = {"display_name": form.display_name, "hostnames": form.hostnames, "accent_color": form.accent}
        errors: dict[str, str] = {}
        checks: list[tuple[str, Any]] = [
            ("display_name", lambda: clean_text("display_name", form.display_name, max_length=200, required=False)),
            ("hostnames", lambda: clean_hostnames(_hostname_list(form.hostnames))),
            ("accent_color", lambda: clean_color(form.accent)),
        ]
        for field, check in checks:
            try:
                check()
            except IdpError as refused:
                errors[field] = _sentence(refused.message)
        if not errors:
            changes = Appearance(
                display_name=form.display_name, accent_color=form.accent, hostnames=_hostname_list(form.hostnames)
            )
            try:
                self.brand_settings.update(seat.user, brand.id, changes)
            except IdpError as refused:
                errors[refused.field or "display_name"] = _sentence(refused.message)
        if errors:
            return self._page(seat, brand, values=values, errors=errors, status=400)
        return Outcome(Redirect(brand_path(brand.id, SECTION) + "?done=saved", 303))

    def upload_logo(self, browser: Browser, *, brand_id: str, data: bytes | None) -> Outcome:
        seat, brand = self._seat(browser, brand_id)
        try:
            if not data:
                raise _NoFile()
            self.brand_settings.set_logo(seat.user, brand.id, data)
        except _NoFile:
            return self._page(seat, brand, errors={"logo": "Choose an image file to upload."}, status=400)
        except IdpError as refused:
            return self._page(seat, brand, errors={"logo": _sentence(refused.message)}, status=refused.status)
        return Outcome(Redirect(brand_path(brand.id, SECTION) + "?done=logo", 303))

    def remove_logo(self, browser: Browser, *, brand_id: str) -> Outcome:
        seat, brand = self._seat(browser, brand_id)
        self.brand_settings.drop_logo(seat.user, brand.id)
        return Outcome(Redirect(brand_path(brand.id, SECTION) + "?done=logo-removed", 303))


class _NoFile(Exception):
    pass


def clean_or_none(color: str) -> str | None:
    try:
        return clean_color(color)
    except IdpError:
        return None


# How a refusal's message names its field, and how the form says it instead.
_NAMED = {
    "hostnames: ": "",
    "hostnames ": "The host names ",
    "display_name ": "The display name ",
    "accent_color ": "The accent colour ",
    "logo ": "The logo ",
}


def _sentence(message: str) -> str:
    """A refusal as the form shows it next to its field: in words rather than field names, capitalised,
    with a full stop."""
    for named, said in _NAMED.items():
        if message.startswith(named):
            message = said + message[len(named) :]
            break
    text = message[:1].upper() + message[1:]
    return text if text.endswith(".") else text + "."

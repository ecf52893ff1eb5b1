"""Colour contrast as WCAG 2 defines it, and an accent colour made readable whatever was picked.

A brand admin picks any accent colour; the pages use it for buttons (text on the accent) and for
links and headings (the accent on a light page). Each use is held to WCAG AA for normal text, a
contrast ratio of 4.5:1: the text on a button is black or white, whichever contrasts more (one of
the two always reaches 4.58:1), and an accent used as text, or as a background that still falls
short, is darkened or lightened just enough. Colours are "#rrggbb", lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AA_NORMAL_TEXT = 4.5
BLACK = "#000000"
WHITE = "#ffffff"
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _channels(color: str) -> tuple[int, int, int]:
    if not HEX_COLOR.fullmatch(color):
        raise ValueError(f"not a #rrggbb colour: {color!r}")
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _hex(red: int, green: int, blue: int) -> str:
    return f"#{red:02x}{green:02x}{blue:02x}"


def _linear(channel: int) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG 2's relative luminance of an sRGB colour, from 0 (black) to 1 (white)."""
    red, green, blue = (_linear(c) for c in _channels(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter colour's luminance over the darker's: from 1 to 21."""
    one, two = relative_luminance(first), relative_luminance(second)
    return (max(one, two) + 0.05) / (min(one, two) + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (ties go to white)."""
    return BLACK if contrast_ratio(BLACK, background) > contrast_ratio(WHITE, background) else WHITE


def _mix(color: str, toward: str, step: int) -> str:
    """`step` 256ths of the way from `color` to `toward`, each channel rounded: monotone in `step`."""
    start, end = _channels(color), _channels(toward)
    red, green, blue = (a + ((b - a) * step + 128) // 256 for a, b in zip(start, end, strict=True))
    return _hex(red, green, blue)


def readable_against(color: str, other: str, minimum: float = AA_NORMAL_TEXT) -> str:
    """`color`, or the nearest shade of it toward black or white that has `minimum` contrast with `other`.

    The shade moves away from `other`'s luminance (darker against a light colour, lighter against a
    dark one), by the fewest 256ths of the way that reach the ratio; when that direction cannot reach
    it, the other one is tried, and at worst black or white (whichever contrasts more) is the answer.
    """
    color = color.lower()
    if contrast_ratio(color, other) >= minimum:
        return color
    first = BLACK if relative_luminance(color) <= relative_luminance(other) else WHITE
    for toward in (first, WHITE if first == BLACK else BLACK):
        if contrast_ratio(toward, other) < minimum:
            continue
        # Moving toward an extreme on the far side of `other`, contrast only grows: the least step is a bisection.
        low, high = 0, 256
        while high - low > 1:
            middle = (low + high) // 2
            if contrast_ratio(_mix(color, toward, middle), other) >= minimum:
                high = middle
            else:
                low = middle
        shade = _mix(color, toward, high)
        if contrast_ratio(shade, other) >= minimum:
            return shade
    return text_on(other)


@dataclass(frozen=True)
class Palette:
    """The colours a page or mail uses for one accent, each pair at AA contrast or better."""

    accent: str  # the colour as picked
    button: str  # a button's background (the accent, or a shade of it)
    on_button: str  # the text on it: black or white
    text: str  # the accent as the colour of links and headings on the page's light background


DEFAULT_ACCENT = "#0b57d0"
# The lightest background accent-coloured text sits on (base.html's page grey; white is lighter still).
PAGE_BACKGROUND = "#f3f4f6"


def palette(accent: str | None, *, page: str = PAGE_BACKGROUND) -> Palette:
    accent = (accent or DEFAULT_ACCENT).lower()
    on_button = text_on(accent)
    button = readable_against(accent, on_button)
    text = readable_against(accent, page)
    return Palette(accent=accent, button=button, on_button=on_button, text=text)

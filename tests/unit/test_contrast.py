"""Contrast math held to WCAG 2's own formula (written here again from the text, apart from the code
under test), and the promise that whatever accent an admin picks, text keeps AA contrast."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idp.contrast import (
    AA_NORMAL_TEXT,
    BLACK,
    PAGE_BACKGROUND,
    WHITE,
    contrast_ratio,
    palette,
    readable_against,
    relative_luminance,
    text_on,
)

colors = st.integers(min_value=0, max_value=0xFFFFFF).map(lambda value: f"#{value:06x}")


def wcag_luminance(color: str) -> float:
    """WCAG 2.2, "relative luminance": sRGB channels over 255, linearised, weighted 0.2126/0.7152/0.0722.
    The spec's threshold is 0.03928 (0.04045 in the sRGB standard): no 8-bit value lies between them."""

    def linear(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = linear(color[1:3]), linear(color[3:5]), linear(color[5:7])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def wcag_ratio(one: str, two: str) -> float:
    lighter, darker = sorted((wcag_luminance(one), wcag_luminance(two)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@given(colors)
def test_relative_luminance_is_wcag_s(color):
    assert relative_luminance(color) == pytest.approx(wcag_luminance(color), abs=1e-12)


@given(colors, colors)
def test_contrast_ratio_is_wcag_s_and_symmetric(one, two):
    assert contrast_ratio(one, two) == pytest.approx(wcag_ratio(one, two), rel=1e-12)
    assert contrast_ratio(one, two) == contrast_ratio(two, one)
    assert 1 <= contrast_ratio(one, two) <= 21


@pytest.mark.parametrize(
    ("one", "two", "ratio"),
    [
        (BLACK, WHITE, 21.0),
        (WHITE, WHITE, 1.0),
        ("#767676", WHITE, 4.54),  # the lightest grey that passes AA on white, as tools quote it
        ("#777777", WHITE, 4.48),  # one step lighter fails
        ("#ff0000", WHITE, 4.0),
    ],
)
def test_known_ratios(one, two, ratio):
    assert contrast_ratio(one, two) == pytest.approx(ratio, abs=0.01)


@given(colors)
def test_text_on_an_accent_is_black_or_white_and_passes_aa(accent):
    text = text_on(accent)
    assert text in (BLACK, WHITE)
    # Black or white always reaches 4.58:1 against some colour; the better of the two is chosen.
    assert wcag_ratio(text, accent) >= AA_NORMAL_TEXT
    assert wcag_ratio(text, accent) >= wcag_ratio(WHITE if text == BLACK else BLACK, accent)


@given(colors, st.sampled_from([WHITE, PAGE_BACKGROUND, "#e5e7eb", BLACK, "#1a1a1a", "#808080"]))
def test_a_shade_made_readable_passes_aa_and_is_the_colour_itself_when_it_already_did(color, background):
    shade = readable_against(color, background)
    assert wcag_ratio(shade, background) >= AA_NORMAL_TEXT
    if wcag_ratio(color, background) >= AA_NORMAL_TEXT:
        assert shade == color


@given(colors)
def test_a_shade_on_a_light_page_is_a_darkening_of_the_accent(color):
    """Darkened toward black: no channel grows, so the hue is kept as far as contrast allows."""
    shade = readable_against(color, WHITE)
    pairs = zip((color[1:3], color[3:5], color[5:7]), (shade[1:3], shade[3:5], shade[5:7]), strict=True)
    assert all(int(after, 16) <= int(before, 16) for before, after in pairs)


@given(colors)
def test_every_pair_of_a_palette_passes_aa_whatever_the_accent(accent):
    colours = palette(accent)
    assert colours.accent == accent
    assert wcag_ratio(colours.on_button, colours.button) >= AA_NORMAL_TEXT
    assert wcag_ratio(colours.text, PAGE_BACKGROUND) >= AA_NORMAL_TEXT
    assert wcag_ratio(colours.text, WHITE) >= AA_NORMAL_TEXT  # white is lighter than the page still


def test_the_least_change_is_made():
    """A yellow that fails on white is darkened only until it passes: one step less would fail."""
    shade = readable_against("#ffd700", WHITE)
    assert wcag_ratio(shade, WHITE) >= AA_NORMAL_TEXT
    lighter = "#" + "".join(f"{min(255, int(shade[i : i + 2], 16) + 2):02x}" for i in (1, 3, 5))
    assert wcag_ratio(lighter, WHITE) < AA_NORMAL_TEXT


def test_no_accent_is_the_default_one():
    assert palette(None) == palette("#0b57d0")
    assert palette("#0B57D0").accent == "#0b57d0"

"""PUT /brands/<brand>/sso_applications/<id>/icon, and the icon URL it answers.

Icons are decoded and re-encoded: what is served is a fresh PNG of the upload's pixels, so a polyglot
(an image that is also HTML or SVG) loses everything but its picture.
"""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from idp.applications.icons import MAX_PIXELS, MAX_SIDE, STORED_SIDE
from idp.models import Icon
from tests.api.helpers import Org

ICON_MAX_BYTES = 1024

HTML_PAYLOAD = b"<html><body><script>alert(document.domain)</script></body></html>"
SVG_PAYLOAD = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"></svg>'


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "IDP_ICON_MAX_BYTES": str(ICON_MAX_BYTES)}


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int = 1, height: int = 1, *, noise: bool = False) -> bytes:
    """A valid RGB PNG built by hand; with `noise` its pixels are random, so it does not compress."""
    row = (lambda: os.urandom(width * 3)) if noise else (lambda: b"\xff\x80\x00" * width)
    pixels = b"".join(b"\x00" + row() for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def png_declaring(width: int, height: int) -> bytes:
    """A few dozen bytes claiming width x height 1-bit pixels: a decompression bomb's header, with one row."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    first_row = zlib.compress(b"\x00" + bytes((width + 7) // 8))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", first_row) + chunk(b"IEND", b"")


def png_with_idat(data: bytes, width: int = 4, height: int = 4) -> bytes:
    """A PNG whose chunks are all well formed (CRCs right) but whose image data is `data`."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def png_with_text(key: str, text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, text)
    return encoded(Image.new("RGB", (3, 3)), "PNG", pnginfo=info)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    """The served bytes as Pillow reads them, fully decoded (a truncated or corrupt file raises here)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_clean_png(data: bytes) -> Image.Image:
    """A PNG that decodes, with no markup and none of an upload's metadata anywhere in its bytes."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    lowered = data.lower()
    for marker in (b"<script", b"<svg", b"<html", b"onload", b"alert("):
        assert marker not in lowered
    image = decoded(data)
    assert image.format == "PNG"
    assert not {"exif", "icc_profile", "comment"} & set(image.info)
    assert data.endswith(chunk(b"IEND", b"")), "nothing may follow the image data"
    return image


@pytest.fixture
def sso_app(apps, org: Org) -> dict:
    return apps.created(org.admin, org.brand)


def served(apps, client, org: Org, sso_app: dict, upload: bytes, filename: str = "icon.png") -> bytes:
    response = apps.set_icon(org.admin, org.brand, sso_app["id"], upload, filename)
    assert response.status_code == 200, response.json
    answer = client.get(response.json["data"]["icon"])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/png"
    return answer.data


def test_an_uploaded_png_is_served_as_a_png_of_the_same_pixels(apps, client, org: Org, sso_app):
    upload = png(2, 2)
    response = apps.set_icon(org.admin, org.brand, sso_app["id"], upload)
    assert response.status_code == 200, response.json
    icon_url = response.json["data"]["icon"]
    assert icon_url.startswith("http")
    answer = client.get(icon_url)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    image = assert_clean_png(answer.data)
    assert image.size == (2, 2)
    assert {image.convert("RGB").getpixel((x, y)) for x in range(2) for y in range(2)} == {(0xFF, 0x80, 0x00)}


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "WEBP"])
def test_jpeg_gif_and_webp_are_accepted_and_served_as_png(apps, client, org: Org, sso_app, fmt):
    upload = encoded(Image.new("RGB", (8, 4), (0, 90, 200)), fmt)
    image = assert_clean_png(served(apps, client, org, sso_app, upload))
    assert image.size == (8, 4)
    red, green, blue = image.convert("RGB").getpixel((4, 2))
    assert abs(red - 0) < 12 and abs(green - 90) < 12 and abs(blue - 200) < 12  # JPEG and WebP are lossy


def test_transparency_is_kept(apps, client, org: Org, sso_app):
    upload = encoded(Image.new("RGBA", (4, 4), (10, 20, 30, 0)), "PNG")
    image = assert_clean_png(served(apps, client, org, sso_app, upload))
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0


def test_sixteen_bit_grey_keeps_its_shade(apps, client, org: Org, sso_app):
    upload = encoded(Image.new("I;16", (4, 4), 40000), "PNG")  # 40000 of 65535: 156 of 255
    image = assert_clean_png(served(apps, client, org, sso_app, upload))
    assert image.convert("RGB").getpixel((1, 1)) == (156, 156, 156)


@pytest.mark.parametrize(
    ("upload", "filename"),
    [
        (png(3, 3) + HTML_PAYLOAD, "icon.png"),
        (encoded(Image.new("P", (3, 3)), "GIF") + SVG_PAYLOAD, "icon.gif"),
        (encoded(Image.new("P", (3, 3)), "GIF", comment=SVG_PAYLOAD), "icon.gif"),
        (encoded(Image.new("RGB", (3, 3)), "JPEG", comment=HTML_PAYLOAD), "icon.jpg"),
        (png_with_text("Comment", HTML_PAYLOAD.decode()), "icon.png"),
    ],
    ids=["png-then-html", "gif-then-svg", "gif-comment-svg", "jpeg-comment-html", "png-text-chunk-html"],
)
def test_a_polyglot_is_stored_and_served_without_its_markup(apps, client, org: Org, sso_app, upload, filename):
    assert b"<script" in upload or b"<svg" in upload
    image = assert_clean_png(served(apps, client, org, sso_app, upload, filename))
    assert image.size == (3, 3)


def test_an_icon_larger_than_a_tile_is_stored_shrunk_to_fit(apps, client, org: Org, sso_app):
    upload = encoded(Image.new("P", (STORED_SIDE * 2, STORED_SIDE)), "PNG")
    image = assert_clean_png(served(apps, client, org, sso_app, upload))
    assert image.size == (STORED_SIDE, STORED_SIDE // 2)


# As the service runs (idp.applications.icons makes it so for the process): Pillow's warning is an error.
@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("width", "height"),
    [(20000, 20000), (10000, 10000), (4001, 4001), (MAX_SIDE + 1, 1)],
    ids=["bomb-400-megapixels", "where-pillow-only-warns", "just-over-the-pixel-limit", "too-wide"],
)
def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(apps, org: Org, sso_app, width, height):
    upload = png_declaring(width, height)
    assert len(upload) < ICON_MAX_BYTES
    assert width * height > MAX_PIXELS or width > MAX_SIDE
    response = apps.set_icon(org.admin, org.brand, sso_app["id"], upload)
    assert response.status_code == 413
    assert response.json["field"] == "icon"
    assert "pixels" in response.json["message"]
    assert [listed["icon"] for listed in apps.listed(org.agent, org.brand)] == [None]


@pytest.mark.parametrize(
    "upload",
    [
        png(8, 8, noise=True)[:150],
        png_with_idat(b"this is not zlib data"),
        png_with_idat(zlib.compress(b"\x00" * 5)),
        encoded(Image.new("RGB", (16, 16), (1, 2, 3)), "JPEG")[:200],
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    ],
    ids=["png-cut-short", "png-data-not-zlib", "png-data-too-short", "jpeg-cut-short", "png-signature-only"],
)
def test_a_truncated_or_corrupt_image_is_refused_naming_the_field(apps, org: Org, sso_app, upload):
    response = apps.set_icon(org.admin, org.brand, sso_app["id"], upload)
    assert response.status_code in (400, 415), response.json
    assert response.json["field"] == "icon"
    assert [listed["icon"] for listed in apps.listed(org.agent, org.brand)] == [None]


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "icon.svg"),
        (b"just some text", "icon.png"),
    ],
    ids=["svg", "text"],
)
def test_a_file_that_is_not_a_raster_image_is_refused_with_415_naming_the_field(
    apps, client, org: Org, sso_app, data, filename
):
    response = apps.set_icon(org.admin, org.brand, sso_app["id"], data, filename)
    assert response.status_code == 415
    assert response.json["field"] == "icon"
    assert [listed["icon"] for listed in apps.listed(org.agent, org.brand)] == [None]


def test_an_oversize_image_is_refused_with_413(apps, org: Org, sso_app):
    image = png(32, 32, noise=True)
    assert len(image) > ICON_MAX_BYTES
    response = apps.set_icon(org.admin, org.brand, sso_app["id"], image)
    assert response.status_code == 413
    assert response.json["field"] == "icon"


def test_an_icon_stored_before_reencoding_is_served_reencoded(apps, client, store, org: Org, sso_app):
    """An upload kept as sent by an older version is never served as is: it is cleaned when first asked for."""
    polyglot = png(3, 3) + HTML_PAYLOAD
    store.save_icon(sso_app["id"], Icon("image/png", polyglot))
    store.save_app(dataclasses.replace(store.app(sso_app["id"]), icon_type="image/png", icon_version=1))

    answer = client.get(f"/sso_applications/{sso_app['id']}/icon?v=1")

    assert answer.status_code == 200
    assert assert_clean_png(answer.data).size == (3, 3)
    assert store.icon(sso_app["id"]) == Icon("image/png", answer.data, reencoded=True)


def test_the_icon_url_is_listed_with_the_app(apps, org: Org, sso_app):
    icon_url = apps.set_icon(org.admin, org.brand, sso_app["id"], png()).json["data"]["icon"]
    assert [listed["icon"] for listed in apps.listed(org.agent, org.brand)] == [icon_url]


def test_a_new_icon_gets_a_new_url_serving_the_new_image(apps, client, org: Org, sso_app):
    first = apps.set_icon(org.admin, org.brand, sso_app["id"], png(1, 1)).json["data"]["icon"]
    second = apps.set_icon(org.admin, org.brand, sso_app["id"], png(3, 1)).json["data"]["icon"]
    assert second != first
    assert decoded(client.get(second).data).size == (3, 1)


def test_an_agent_cannot_set_an_icon(apps, org: Org, sso_app):
    assert apps.set_icon(org.agent, org.brand, sso_app["id"], png()).status_code == 403


def test_an_app_without_an_icon_has_no_icon_to_serve(client, sso_app):
    assert sso_app["icon"] is None
    assert client.get(f"/sso_applications/{sso_app['id']}/icon").status_code == 404

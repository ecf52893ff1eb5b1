"""PUT /brands/<brand>/sso_applications/<id>/icon, and the icon URL it answers."""

from __future__ import annotations

import os
import struct
import zlib

import pytest

from tests.api.helpers import Org

ICON_MAX_BYTES = 1024


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "IDP_ICON_MAX_BYTES": str(ICON_MAX_BYTES)}


def png(width: int = 1, height: int = 1, *, noise: bool = False) -> bytes:
    """A valid RGB PNG; with `noise` its pixels are random, so it does not compress."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = (lambda: os.urandom(width * 3)) if noise else (lambda: b"\xff\x80\x00" * width)
    pixels = b"".join(b"\x00" + row() for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


@pytest.fixture
def sso_app(apps, org: Org) -> dict:
    return apps.created(org.admin, org.brand)


def test_an_uploaded_png_is_served_byte_for_byte_at_the_apps_icon_url(apps, client, org: Org, sso_app):
    image = png(2, 2)
    response = apps.set_icon(org.admin, org.brand, sso_app["id"], image)
    assert response.status_code == 200, response.json
    icon_url = response.json["data"]["icon"]
    assert icon_url.startswith("http")
    served = client.get(icon_url)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.data == image


def test_the_icon_url_is_listed_with_the_app(apps, org: Org, sso_app):
    icon_url = apps.set_icon(org.admin, org.brand, sso_app["id"], png()).json["data"]["icon"]
    assert [listed["icon"] for listed in apps.listed(org.agent, org.brand)] == [icon_url]


def test_a_new_icon_gets_a_new_url_serving_the_new_bytes(apps, client, org: Org, sso_app):
    first = apps.set_icon(org.admin, org.brand, sso_app["id"], png(1, 1)).json["data"]["icon"]
    second_image = png(3, 1)
    second = apps.set_icon(org.admin, org.brand, sso_app["id"], second_image).json["data"]["icon"]
    assert second != first
    assert client.get(second).data == second_image


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


def test_an_agent_cannot_set_an_icon(apps, org: Org, sso_app):
    assert apps.set_icon(org.agent, org.brand, sso_app["id"], png()).status_code == 403


def test_an_app_without_an_icon_has_no_icon_to_serve(client, sso_app):
    assert sso_app["icon"] is None
    assert client.get(f"/sso_applications/{sso_app['id']}/icon").status_code == 404

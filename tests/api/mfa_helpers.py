"""What the MFA API tests share: token pairs, the MFA calls, codes made by pyotp, a live server.

Codes always come from pyotp, never from idp's own TOTP module.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pyotp
from werkzeug.serving import make_server

from idp.models import User
from tests.support import free_port, http_ok, wait_until

STEP = 30
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Pair:
    """An access and refresh token from one answer of /oauth2/token."""

    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass(frozen=True)
class MfaUser:
    """A user who enabled MFA with `secret`, through `pair` (validated by the verify call)."""

    user: User
    secret: str
    pair: Pair


class Mfa:
    """Signs a user in through /oauth2/token and calls /users/self and its MFA endpoints with a given pair."""

    def __init__(self, client, api) -> None:
        self.client = client
        self.api = api

    def pair(self, user: User) -> Pair:
        body = self.api.token(user)
        return Pair(body["access_token"], body["refresh_token"])

    def refresh(self, pair: Pair) -> Pair:
        response = self.client.post(
            "/oauth2/token",
            json={
                "grant_type": "refresh_token",
                "refresh_token": pair.refresh_token,
                "client_id": self.api.oauth_client.client.id,
                "client_secret": self.api.oauth_client.secret,
            },
        )
        assert response.status_code == 200, response.json
        return Pair(response.json["access_token"], response.json["refresh_token"])

    def me(self, pair: Pair):
        return self.client.get("/users/self", headers=pair.headers)

    def setup(self, pair: Pair):
        return self.client.post("/users/self/mfa/setup", headers=pair.headers)

    def set_up(self, pair: Pair) -> str:
        """Begin setup and answer the pending secret, read from mfa_url by pyotp."""
        response = self.setup(pair)
        assert response.status_code == 200, response.json
        return secret_of(response.json["data"]["mfa_url"])

    def verify(self, pair: Pair, code: object):
        return self.client.post("/users/self/mfa/verify", json={"token": code}, headers=pair.headers)

    def validate(self, pair: Pair, code: object):
        return self.client.post("/users/self/mfa/validate", json={"token": code}, headers=pair.headers)

    def remove(self, pair: Pair, code: object):
        return self.client.delete("/users/self/mfa", json={"token": code}, headers=pair.headers)

    def enable(self, user: User) -> MfaUser:
        """Set MFA up and verify it with the current code; the pair used is validated."""
        pair = self.pair(user)
        secret = self.set_up(pair)
        response = self.verify(pair, pyotp.TOTP(secret).now())
        assert response.status_code == 200, response.json
        return MfaUser(user, secret, pair)


def secret_of(mfa_url: str) -> str:
    return pyotp.parse_uri(mfa_url).secret


def code(secret: str, offset: float = 0) -> str:
    """The code of the step `offset` seconds from now, made by pyotp."""
    return pyotp.TOTP(secret).at(time.time() + offset)


def next_code(secret: str) -> str:
    """The code of the next step: accepted now (one step of drift), and not the step a `now()` code claimed.

    Should the clock reach that step meanwhile, it is then the current step, still accepted.
    """
    return code(secret, STEP)


def wrong_code(secret: str) -> str:
    """Six digits that no step within three of now has as its code."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    near = {totp.at(now + k * STEP) for k in range(-3, 4)}
    return next(candidate for candidate in (f"{n:06d}" for n in range(10**6)) if candidate not in near)


def pin_mfa_clock(monkeypatch, at: float) -> None:
    """Pin the clock the MFA endpoints (idp.web.users) read, so that step boundaries cannot move mid-test."""
    import idp.web.users

    monkeypatch.setattr(idp.web.users, "time", SimpleNamespace(time=lambda: at))


def middle_of_current_step() -> float:
    return (time.time() // STEP) * STEP + STEP / 2


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    bit_depth: int
    color_type: int
    pixels: bytes  # the decompressed, still filtered, scanlines


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def read_png(data: bytes) -> Png:
    """Parse a PNG with the standard library: signature, chunk CRCs, IHDR, IDAT, IEND (ISO/IEC 15948)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG signature"
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r} chunk"
        chunks.append((kind, body))
        position += 12 + length
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds, kinds
    width, height, bit_depth, color_type = struct.unpack(">IIBB", chunks[0][1][:10])
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    row = 1 + (width * _CHANNELS[color_type] * bit_depth + 7) // 8  # a filter byte, then the samples
    assert len(pixels) == height * row, "IDAT does not hold the image IHDR describes"
    return Png(width, height, bit_depth, color_type, pixels)


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Serve `app` on a real loopback port in a thread; answer its base URL; always shut it down."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="idp-live-server", daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_port}"
        wait_until(http_ok(f"{base_url}/healthz"), timeout=10, what="the loopback idp server")
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

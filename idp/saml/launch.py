"""Launch links: a user, an app and a brand, sealed with AES-256-GCM under a rotating key.

The hash is `<key id>.<base64url(iv || ciphertext || tag)>`.  The key id leads so
that keys can rotate: the newest key seals, every key on the ring opens.  The
key id is bound into the ciphertext as associated data, so it cannot be swapped.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.errors import LinkExpired, LinkInvalid

_IV_BYTES = 12


@dataclass(frozen=True)
class LaunchLink:
    user_id: str
    app_id: str
    brand_id: str
    expires_at: int
    nonce: str


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_link(keys: dict[str, bytes], key_id: str, *, user_id: str, app_id: str, brand_id: str, expires_at: int) -> str:
    """A fresh, single-use hash for this user, app and brand."""
    payload = {"u": user_id, "a": app_id, "b": brand_id, "e": expires_at, "n": secrets.token_hex(16)}
    iv = secrets.token_bytes(_IV_BYTES)
    sealed = AESGCM(keys[key_id]).encrypt(iv, json.dumps(payload, separators=(",", ":")).encode(), key_id.encode())
    return f"{key_id}.{_b64encode(iv + sealed)}"


def open_link(keys: dict[str, bytes], link_hash: str, *, now: float) -> LaunchLink:
    """The link's contents; LinkInvalid when it was not sealed by us, LinkExpired when too old."""
    key_id, _, body = link_hash.partition(".")
    key = keys.get(key_id)
    if key is None or not body:
        raise LinkInvalid("unknown key id or malformed link")
    try:
        raw = _b64decode(body)
        plain = AESGCM(key).decrypt(raw[:_IV_BYTES], raw[_IV_BYTES:], key_id.encode())
        payload = json.loads(plain)
        link = LaunchLink(
            user_id=payload["u"],
            app_id=payload["a"],
            brand_id=payload["b"],
            expires_at=int(payload["e"]),
            nonce=payload["n"],
        )
    except (InvalidTag, ValueError, binascii.Error, KeyError, TypeError) as exc:
        raise LinkInvalid("the link does not decrypt") from exc
    if now >= link.expires_at:
        raise LinkExpired("the link has expired")
    return link

"""Authenticated encryption under a rotating key ring: AES-256-GCM, the key id leading the output.

`KEYID.BASE64URL(iv || ciphertext || tag)`.  The newest key seals; every key on the ring opens.
The key id and the caller's context are bound in as associated data, so a sealed value cannot
be moved to another key id or another context (another user, another purpose).
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.errors import SealBroken

__all__ = ["SealBroken", "newest", "seal", "unseal"]

_IV_BYTES = 12


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(keys: dict[str, bytes], key_id: str, plaintext: bytes, *, context: bytes = b"") -> str:
    iv = secrets.token_bytes(_IV_BYTES)
    sealed = AESGCM(keys[key_id]).encrypt(iv, plaintext, key_id.encode() + b"\0" + context)
    return f"{key_id}.{_b64encode(iv + sealed)}"


def unseal(keys: dict[str, bytes], token: str, *, context: bytes = b"") -> bytes:
    key_id, _, body = token.partition(".")
    key = keys.get(key_id)
    if key is None or not body:
        raise SealBroken("unknown key id or malformed value")
    try:
        raw = _b64decode(body)
        return AESGCM(key).decrypt(raw[:_IV_BYTES], raw[_IV_BYTES:], key_id.encode() + b"\0" + context)
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise SealBroken("the value does not decrypt") from exc


def newest(keys: dict[str, bytes]) -> str:
    """The key id that seals: the last one added."""
    return next(reversed(keys))
